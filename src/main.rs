//! The `closure-audit` command line: `serve` (the default), `migrate`,
//! `migrate-data`, `user add`, `openapi`, `export`, `audit`, `witness`.
//!
//! The commands are in `cli/`: its `mod.rs` the definitions, one file per
//! command for what it does.

mod cli;

use clap::Parser;
use cli::{AuditCommand, Cli, Command, UserCommand, WitnessCommand};
use closure_audit::{Settings, app, telemetry};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: many threads allocate and free
/// small JSON and row values at once, where glibc's malloc spends a fifth of a
/// request's time (measured with perf under ingest load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's option numbers (its `mimalloc.h`, v3), which its crate does not name.
const MI_OPTION_ARENA_EAGER_COMMIT: i32 = 4;
const MI_OPTION_PURGE_DELAY: i32 = 15;
const MI_OPTION_ALLOW_THP: i32 = 43;

/// Memory freed goes back to the system at once, arenas are committed as
/// they are used rather than whole, and no transparent huge pages. mimalloc's
/// defaults keep freed pages for a later allocation of the same thread, so a
/// thread that goes idle after a burst kept all of it: the two password
/// threads after one argon2 hash each (19 MiB apiece), ingest after a large
/// batch, an export's pages. And it asks the kernel for huge pages on its
/// arenas (`MADV_HUGEPAGE`), where the kernel's `khugepaged` fills each 2 MiB
/// range back in around what was freed: a server at rest after ingesting
/// 1,000,000 closures crept from 34 to 75–110 MiB with nothing to do, and
/// back to 34 MiB without huge pages, at the same ingest rate (BENCHMARKS.md,
/// issue 15, memory). Defaults only: `MIMALLOC_PURGE_DELAY`,
/// `MIMALLOC_ARENA_EAGER_COMMIT` and `MIMALLOC_ALLOW_THP` in the environment
/// still win.
fn return_freed_memory() {
    // (mimalloc reads its options at load time, so `mi_option_set_default`
    // would come too late: the environment is looked at here instead.)
    for (option, env) in [
        (MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY"),
        (MI_OPTION_ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT"),
        (MI_OPTION_ALLOW_THP, "MIMALLOC_ALLOW_THP"),
    ] {
        if std::env::var_os(env).is_none() {
            // SAFETY: sets one of mimalloc's documented options to a documented
            // value, before any thread other than this one exists.
            unsafe { libmimalloc_sys::mi_option_set(option, 0) };
        }
    }
    // mimalloc turns huge pages off for the process itself only when the
    // option is off at load time; the arena it made then is already marked
    // for them, so the process says so to the kernel here (this covers every
    // mapping, that arena included).
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

fn main() -> ExitCode {
    return_freed_memory();
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("closure-audit: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_logging(&settings);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => cli::serve::run(settings),
        Command::Migrate => app::open_database(&settings).map(|_| ()),
        Command::MigrateData { from, to } => cli::migrate_data::run(&settings, &from, &to),
        Command::User {
            command: UserCommand::Add(args),
        } => cli::user::add(&settings, args),
        Command::Openapi => app::openapi()
            .to_pretty_json()
            .map(|j| println!("{j}"))
            .map_err(|e| e.to_string()),
        Command::Audit {
            command: AuditCommand::Export { format, out },
        } => cli::audit::export_log(&settings, &format, out),
        Command::Export { what } => cli::export::export_offline(&settings, what),
        Command::Witness { command: None } => cli::witness::run(&settings),
        Command::Witness {
            command: Some(WitnessCommand::Pin { note }),
        } => cli::witness::pin(&settings, &note),
        Command::Audit {
            command: AuditCommand::Verify(args),
        } => return cli::audit::verify_offline(&args),
        Command::Audit {
            command:
                AuditCommand::VerifyReceipt {
                    receipt,
                    key,
                    policy,
                },
        } => return cli::audit::verify_receipt(&receipt, &key, policy.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("closure-audit: {e}");
            ExitCode::FAILURE
        }
    }
}
