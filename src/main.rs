//! The `closure-audit` command line: `serve` (the default), `migrate`,
//! `migrate-data`, `user add`, `openapi`, `export`, `audit`.

use clap::{Args, Parser, Subcommand};
use closure_audit::audit::Actor;
use closure_audit::audit::{export, verify};
use closure_audit::domain::users::parse_new_user;
use closure_audit::{Application, Settings, app, telemetry};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: many threads allocate and free
/// small JSON and row values at once, where glibc's malloc spends a fifth of a
/// request's time (measured with perf under ingest load).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "closure-audit",
    version,
    about = "Inspector sign-off and audit of VAWG closures under outcomes 15 and 16"
)]
struct Cli {
    /// A TOML file of settings, read after the defaults and before the environment.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Move a whole deployment to another, empty database (SQLite to PostgreSQL,
    /// or back) and verify its audit log there. The source is not modified; the
    /// data dir (signing key, witness file) must be the one of the source.
    MigrateData {
        /// The database to copy: sqlite://PATH or postgres://URL (read only).
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to fill: it must hold no data (its schema is created).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Write an export's CSV straight from the database, without a server, for
    /// offline audit (the same columns as the HTTP exports).
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// The tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Args, Default)]
struct ExportFilters {
    #[arg(long)]
    force_id: Option<String>,
    #[arg(long)]
    division: Option<String>,
    #[arg(long)]
    offence_category: Option<String>,
    #[arg(long)]
    outcome_code: Option<i32>,
    /// The file to write; standard output when absent.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ExportWhat {
    /// closures.csv: filters as the closure list.
    Closures {
        #[command(flatten)]
        f: ExportFilters,
        #[arg(long)]
        status: Option<String>,
        /// On closure_proposed_at, inclusive (RFC 3339 timestamp or date).
        #[arg(long)]
        from: Option<String>,
        /// On closure_proposed_at, exclusive.
        #[arg(long)]
        to: Option<String>,
    },
    /// audit.csv: the whole log in leaf order.
    Audit {
        /// The file to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// trends.csv.
    Trends {
        #[command(flatten)]
        f: ExportFilters,
        /// First month, YYYY-MM.
        #[arg(long)]
        from: Option<String>,
        /// Last month, YYYY-MM (inclusive).
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        group_by: Option<String>,
        #[arg(long)]
        suppress_below: Option<u64>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Write the whole log, in leaf order, straight from the database (no server needed).
    Export {
        /// `ndjson` or `csv`.
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// The file to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify an export of the log offline: no server, no database.
    Verify {
        /// The export (CSV or NDJSON).
        #[arg(long)]
        log: PathBuf,
        /// A checkpoint kept outside: a signed note, or NDJSON of checkpoints (the
        /// witness file). May be given more than once.
        #[arg(long, required = true)]
        checkpoint: Vec<PathBuf>,
        /// The log's public key: a C2SP verifier key, or a file holding one (or
        /// the JSON of GET /audit/public-key). May be given more than once.
        #[arg(long, required = true)]
        public_key: Vec<String>,
        /// Optional: the closures' current state (NDJSON of closures, or a
        /// closures CSV export), to catch a change with no event.
        #[arg(long)]
        closures: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from the first line of standard input.
    Add(UserAdd),
}

#[derive(Args)]
struct UserAdd {
    #[arg(long)]
    username: String,
    /// force_system, officer, auditor or admin.
    #[arg(long)]
    role: String,
    #[arg(long)]
    display_name: Option<String>,
    /// Officers only, e.g. inspector.
    #[arg(long)]
    rank: Option<String>,
    /// Officers only.
    #[arg(long)]
    officer_id: Option<String>,
    /// Required for force_system and officer; optional for auditor.
    #[arg(long)]
    force_id: Option<String>,
}

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
        Command::Serve => serve(settings),
        Command::Migrate => app::open_database(&settings).map(|_| ()),
        Command::MigrateData { from, to } => {
            closure_audit::migrate_data::run(&settings, &from, &to).map(|s| print!("{s}"))
        }
        Command::User {
            command: UserCommand::Add(args),
        } => add_user(&settings, args),
        Command::Openapi => app::openapi()
            .to_pretty_json()
            .map(|j| println!("{j}"))
            .map_err(|e| e.to_string()),
        Command::Audit {
            command: AuditCommand::Export { format, out },
        } => export_log(&settings, &format, out),
        Command::Export { what } => export_offline(&settings, what),
        Command::Audit {
            command:
                AuditCommand::Verify {
                    log,
                    checkpoint,
                    public_key,
                    closures,
                },
        } => {
            return verify_offline(&log, &checkpoint, &public_key, closures.as_deref());
        }
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

fn serve(settings: Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        app.run_until_stopped().await.map_err(|e| e.to_string())?;
        tracing::info!("stopped");
        Ok(())
    })
}

fn add_user(settings: &Settings, a: UserAdd) -> Result<(), String> {
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let body = serde_json::json!({
        "username": a.username,
        "password": password.trim_end_matches(['\r', '\n']),
        "display_name": a.display_name.clone().unwrap_or_else(|| a.username.clone()),
        "role": a.role,
        "rank": a.rank,
        "officer_id": a.officer_id,
        "force_id": a.force_id,
    });
    let new = parse_new_user(&body).map_err(|errs| {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let db = app::open_database(settings)?;
    let row =
        closure_audit::service::users::create_blocking(&db, new, &Actor::system("command-line"))
            .map_err(|e| e.to_string())?;
    println!(
        "created user {} ({}) with id {}",
        row.username, row.role, row.id
    );
    Ok(())
}

fn export_log(settings: &Settings, format: &str, out: Option<PathBuf>) -> Result<(), String> {
    let db = app::open_database(settings)?;
    let entries = db
        .read_blocking(export::entries_from_db)
        .map_err(|e| e.to_string())?;
    let mut sink: Box<dyn std::io::Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match format {
        "ndjson" => export::write_ndjson(&entries, &mut sink).map_err(|e| e.to_string())?,
        "csv" => export::write_csv(&entries, &mut sink)?,
        other => return Err(format!("unknown format {other:?}: use ndjson or csv")),
    }
    sink.flush().map_err(|e| e.to_string())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Prints the report as JSON; exit 0 when intact, 1 when not, 2 on bad input.
fn verify_offline(
    log: &Path,
    checkpoints: &[PathBuf],
    keys: &[String],
    closures: Option<&Path>,
) -> ExitCode {
    let run = || -> Result<verify::Report, String> {
        let entries = export::read_export(&read(log)?)?;
        let mut cps = Vec::new();
        for p in checkpoints {
            cps.extend(export::read_checkpoints(&read(p)?)?);
        }
        let keys = keys
            .iter()
            .map(|k| {
                if Path::new(k).is_file() {
                    export::read_key(&read(Path::new(k))?)
                } else {
                    export::read_key(k)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let closures = closures
            .map(|p| read(p).and_then(|t| export::read_closures(&t)))
            .transpose()?;
        Ok(verify::verify(&entries, &cps, &keys, closures.as_deref()).report())
    };
    match run() {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            if report.ok {
                eprintln!("intact");
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "NOT intact: first bad event seq {:?}: {}",
                    report.first_bad_seq, report.detail
                );
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("closure-audit: {e}");
            ExitCode::from(2)
        }
    }
}

fn sink(out: &Option<PathBuf>) -> Result<Box<dyn std::io::Write>, String> {
    Ok(match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

fn export_offline(settings: &Settings, what: ExportWhat) -> Result<(), String> {
    use closure_audit::domain::filters::ClosureFilter;
    use closure_audit::export::months::Months;
    use closure_audit::export::produce::{self, TrendSpec};
    use closure_audit::export::{closures_csv, trends};
    use closure_audit::service::filters::{ClosureParams, closure_filter};
    let e = |e: closure_audit::AppError| match e {
        closure_audit::AppError::Validation(errs) => errs
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    let db = app::open_database(settings)?;
    let write = |out: &Option<PathBuf>,
                 header: Vec<String>,
                 run: &dyn Fn(produce::Out) -> closure_audit::AppResult<u64>|
     -> Result<(), String> {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(sink(out)?);
        w.write_record(&header).map_err(|e| e.to_string())?;
        let mut failed = None;
        let rows = run(&mut |cells: Vec<String>| {
            let res = w.write_record(
                cells
                    .iter()
                    .map(|c| closure_audit::export::neutralize(c).into_owned()),
            );
            if let Err(err) = res {
                failed = Some(err.to_string());
            }
            failed.is_none()
        })
        .map_err(e)?;
        if let Some(err) = failed {
            return Err(err);
        }
        w.flush().map_err(|e| e.to_string())?;
        eprintln!("{rows} rows");
        Ok(())
    };
    match what {
        ExportWhat::Audit { out } => export_log(settings, "csv", out),
        ExportWhat::Closures {
            f,
            status,
            from,
            to,
        } => {
            let q = ClosureParams {
                status,
                force_id: f.force_id,
                division: f.division,
                outcome_code: f.outcome_code,
                offence_category: f.offence_category,
                from,
                to,
            };
            let filter = closure_filter(&q).map_err(e)?;
            write(
                &f.out,
                closures_csv::COLUMNS
                    .iter()
                    .map(|c| c.to_string())
                    .collect(),
                &|out| produce::closures(&db, &filter, out),
            )
        }
        ExportWhat::Trends {
            f,
            from,
            to,
            group_by,
            suppress_below,
        } => {
            let group_by =
                trends::parse_group_by(group_by.as_deref()).map_err(|errs| e(errs.into()))?;
            let spec = TrendSpec {
                months: Months::parse(from.as_deref(), to.as_deref()).map_err(e)?,
                suppress_below: trends::suppress_threshold(suppress_below, &group_by),
                group_by,
                filter: ClosureFilter {
                    force_id: f.force_id,
                    division: f.division,
                    offence_category: f.offence_category,
                    outcome_code: f.outcome_code,
                    ..Default::default()
                },
            };
            write(&f.out, spec.header(), &|out| {
                produce::trends(&db, &spec, None, out)
            })
        }
    }
}
