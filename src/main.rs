//! The `closure-audit` command line: `serve` (the default), `migrate`,
//! `user add`, `openapi`.

use clap::{Args, Parser, Subcommand};
use closure_audit::audit::Actor;
use closure_audit::auth::accounts;
use closure_audit::domain::users::parse_new_user;
use closure_audit::{Application, Settings, app, telemetry};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
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
        Command::User {
            command: UserCommand::Add(args),
        } => add_user(&settings, args),
        Command::Openapi => app::openapi()
            .to_pretty_json()
            .map(|j| println!("{j}"))
            .map_err(|e| e.to_string()),
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
    let row = accounts::create_blocking(&db, new, &Actor::system("command-line"))
        .map_err(|e| e.to_string())?;
    println!(
        "created user {} ({}) with id {}",
        row.username, row.role, row.id
    );
    Ok(())
}
