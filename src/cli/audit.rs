//! `closure-audit audit export` and `closure-audit audit verify`.

use closure_audit::audit::{export, verify};
use closure_audit::{Settings, app};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn export_log(settings: &Settings, format: &str, out: Option<PathBuf>) -> Result<(), String> {
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
pub fn verify_offline(
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
            .map(|p| {
                read(p).and_then(|t| export::read_closures(&t, closure_audit::api::drafts::closure))
            })
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
