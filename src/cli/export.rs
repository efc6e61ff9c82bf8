//! `closure-audit export`: an export's CSV straight from the database.

use super::ExportWhat;
use super::audit::export_log;
use closure_audit::{Settings, app};
use std::path::PathBuf;

fn sink(out: &Option<PathBuf>) -> Result<Box<dyn std::io::Write>, String> {
    Ok(match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

pub fn export_offline(settings: &Settings, what: ExportWhat) -> Result<(), String> {
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
        let rows = run(&mut |cells: &[&str]| {
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
