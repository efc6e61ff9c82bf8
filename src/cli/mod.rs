//! The command line's definitions (clap); each command's work is in its own
//! file: `serve`, `user`, `export`, `audit`, `migrate_data`, `witness`.

pub mod audit;
pub mod export;
pub mod migrate_data;
pub mod serve;
pub mod tiles;
pub mod user;
pub mod witness;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "closure-audit",
    version,
    about = "Inspector sign-off and audit of VAWG closures under outcomes 15 and 16"
)]
pub struct Cli {
    /// A TOML file of settings, read after the defaults and before the environment.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
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
    /// Run a C2SP tlog-witness server (add-checkpoint) for the logs in
    /// CLOSURE_AUDIT_WITNESS_LOGS, or, with `pin`, record a log's starting checkpoint.
    Witness {
        #[command(subcommand)]
        command: Option<WitnessCommand>,
    },
}

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Record a checkpoint obtained out of band (a signed note file) as the
    /// starting state of its log, so that the first add-checkpoint must be
    /// consistent with it. Only for a log the witness has no state for yet.
    Pin {
        /// The checkpoint note, signed by a key in CLOSURE_AUDIT_WITNESS_LOGS.
        note: PathBuf,
    },
}

#[derive(Args, Default)]
pub struct ExportFilters {
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
pub enum ExportWhat {
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
pub enum AuditCommand {
    /// Write the whole log, in leaf order, straight from the database (no server needed).
    Export {
        /// `ndjson` or `csv`.
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// The file to write; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Verify the log offline, from an export or straight from its tiles URL:
    /// no database.
    Verify(VerifyArgs),
    /// Check a receipt (GET /closures/{id}/receipt, a C2SP tlog-proof) offline:
    /// the log's signature, the inclusion of its event and, with a policy, the
    /// quorum of witness cosignatures.
    VerifyReceipt {
        /// The receipt file.
        receipt: PathBuf,
        /// The log's verifier key (or a file holding it, or the JSON of
        /// GET /audit/public-key). May be given more than once (rotations).
        #[arg(long, required = true)]
        key: Vec<String>,
        /// A C2SP tlog-policy file whose quorum of cosignatures is required.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct VerifyArgs {
    /// An export of the log (CSV or NDJSON, `audit export`).
    #[arg(long, conflicts_with = "tiles", required_unless_present = "tiles")]
    pub log: Option<PathBuf>,
    /// The log's tlog-tiles prefix URL (`<base URL>/log`): its checkpoint, hash
    /// tiles and entry bundles are read from there.
    #[arg(long)]
    pub tiles: Option<String>,
    /// A token sent with `--tiles` requests: entry bundles need a national
    /// auditor's (POST /api/v1/auth/login).
    #[arg(long, env = "CLOSURE_AUDIT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A checkpoint kept outside: a signed note, or NDJSON of checkpoints (the
    /// witness file). May be given more than once; with `--tiles`, the log's
    /// own latest checkpoint counts as one.
    #[arg(long, required_unless_present = "tiles")]
    pub checkpoint: Vec<PathBuf>,
    /// The log's public key: a C2SP verifier key, or a file holding one (or
    /// the JSON of GET /audit/public-key). May be given more than once.
    #[arg(long, required = true)]
    pub public_key: Vec<String>,
    /// Optional: the closures' current state (NDJSON of closures, or a
    /// closures CSV export), to catch a change with no event.
    #[arg(long)]
    pub closures: Option<PathBuf>,
    /// A C2SP tlog-policy file: the latest checkpoint must carry its quorum of
    /// witness cosignatures.
    #[arg(long)]
    pub policy: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user. The password is read from the first line of standard input.
    Add(UserAdd),
}

#[derive(Args)]
pub struct UserAdd {
    #[arg(long)]
    username: String,
    /// force_system, officer, auditor, admin or witness.
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
