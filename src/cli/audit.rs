//! `closure-audit audit export`, `audit verify` and `audit verify-receipt`.

use super::VerifyArgs;
use closure_audit::audit::cosignature::Note;
use closure_audit::audit::policy::Policy;
use closure_audit::audit::receipt::Receipt;
use closure_audit::audit::{export, verify};
use closure_audit::error::AppError;
use closure_audit::{Settings, app};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Streams the log, in one snapshot, to `out` (or standard output).
pub fn export_log(settings: &Settings, format: &str, out: Option<PathBuf>) -> Result<(), String> {
    let sink: Box<dyn std::io::Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut writer = export::EntryWriter::new(format, sink)?;
    let db = app::open_database(settings)?;
    db.snapshot_blocking(|c| {
        export::for_each_entry(c, |e| writer.write(&e).map_err(AppError::internal))
    })
    .map_err(|e| e.to_string())?;
    writer.finish()
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Keys given inline or as files.
fn read_keys(keys: &[String]) -> Result<Vec<closure_audit::audit::checkpoint::TrustedKey>, String> {
    keys.iter()
        .map(|k| {
            if Path::new(k).is_file() {
                export::read_key(&read(Path::new(k))?)
            } else {
                export::read_key(k)
            }
        })
        .collect()
}

/// Checks a receipt; prints what it proves as JSON. Exit 0 when it holds,
/// 1 when it does not, 2 on bad input.
pub fn verify_receipt(receipt: &Path, keys: &[String], policy: Option<&Path>) -> ExitCode {
    let run = || -> Result<Result<serde_json::Value, String>, String> {
        let text = read(receipt)?;
        let r = Receipt::parse(&text)?;
        let keys = read_keys(keys)?;
        let policy = policy
            .map(|p| {
                read(p).and_then(|t| Policy::parse(&t).map_err(|e| format!("{}: {e}", p.display())))
            })
            .transpose()?;
        Ok(r.verify(&keys, policy.as_ref()).map(|proven| {
            // The event, as the extra line carries it: the leaf format's name,
            // then canonical JSON.
            let event = r
                .extra
                .as_deref()
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|t| t.split_once('\n'))
                .and_then(|(_, json)| serde_json::from_str::<serde_json::Value>(json).ok())
                .unwrap_or_default();
            serde_json::json!({
                "ok": true,
                "origin": proven.origin,
                "tree_size": proven.tree_size,
                "leaf_index": proven.index,
                "witnessed_by": proven.cosigners,
                "event": {
                    "seq": event["seq"],
                    "action": event["action"],
                    "closure_id": event["closure_id"],
                    "force_id": event["force_id"],
                    "at": event["at"],
                },
            })
        }))
    };
    match run() {
        Ok(Ok(report)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            eprintln!("the receipt holds");
            ExitCode::SUCCESS
        }
        Ok(Err(why)) => {
            println!("{}", serde_json::json!({"ok": false, "detail": why}));
            eprintln!("the receipt does NOT hold: {why}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("closure-audit: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints the report as JSON; exit 0 when intact, 1 when not, 2 on bad input.
pub fn verify_offline(args: &VerifyArgs) -> ExitCode {
    let run = || -> Result<verify::Report, String> {
        let mut cps = Vec::new();
        for p in &args.checkpoint {
            cps.extend(export::read_checkpoints(&read(p)?)?);
        }
        let entries = match (&args.log, &args.tiles) {
            (Some(log), _) => export::read_export(&read(log)?)?,
            (None, Some(url)) => {
                let log = super::tiles::read(url, args.token.as_deref())?;
                cps.push(log.checkpoint);
                log.entries
            }
            (None, None) => return Err("give --log or --tiles".into()),
        };
        let keys = read_keys(&args.public_key)?;
        let closures = args
            .closures
            .as_deref()
            .map(|p| {
                read(p).and_then(|t| export::read_closures(&t, closure_audit::api::drafts::closure))
            })
            .transpose()?;
        let policy = args
            .policy
            .as_deref()
            .map(|p| {
                read(p).and_then(|t| Policy::parse(&t).map_err(|e| format!("{}: {e}", p.display())))
            })
            .transpose()?;
        let mut report = verify::verify(&entries, &cps, &keys, closures.as_deref()).report();
        if let Some(policy) = policy
            && report.ok
        {
            // The latest checkpoint given must carry the quorum.
            let latest = cps.iter().max_by_key(|c| c.size);
            let met = latest
                .and_then(|c| Note::parse(&c.note).ok())
                .is_some_and(|n| policy.note_meets_quorum(&n));
            if !met {
                report.ok = false;
                report.detail = format!(
                    "the latest checkpoint ({} leaves) does not carry the policy's quorum ({}) of witness cosignatures",
                    latest.map_or(0, |c| c.size),
                    policy.quorum_name()
                );
            }
        }
        Ok(report)
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
