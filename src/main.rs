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

fn main() -> ExitCode {
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
