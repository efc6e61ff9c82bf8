//! Exports (closures, the audit log, trend tables) and what reports share with
//! them: who may have them, and the events each download leaves: `export.downloaded` before its first
//! byte, `export.completed` when it ends.

use super::audit::{EventSearch, entry, event_filter};
use super::{Context, Parsed};
use crate::audit::export::csv_record;
use crate::audit::{self, Action, Event};
use crate::auth::AuthUser;
use crate::db::closures::ClosureFilter;
use crate::db::{Db, events};
use crate::domain::access::{Scope, closure_scope};
use crate::domain::authorize::{self, Resource};
use crate::error::{AppError, AppResult};
use crate::export::months::Months;
use crate::export::produce::{self, TrendSpec};
use crate::export::stream::Sink;
use crate::export::trends::{parse_group_by, suppress_threshold};
use crate::service::permit::permit;
use serde_json::{Value, json};

/// The auditor's scope; 403 for anyone else.
pub fn auditor_scope(caller: &AuthUser) -> AppResult<Scope> {
    permit(caller, authorize::Action::Export, Resource::Any)?;
    Ok(closure_scope(caller.force_id.as_deref()))
}

/// An export on the record, ready to stream: `produce` writes its rows to a
/// sink (blocking), and `download.finish` records how it ended.
pub struct Export<P> {
    pub download: Download,
    pub produce: P,
}

/// `GET /exports/closures.csv`: every closure the auditor may see that
/// matches `filter`, oldest received first. `filters` is recorded as asked.
pub async fn closures(
    ctx: &Context,
    caller: &AuthUser,
    filter: Parsed<ClosureFilter>,
    filters: Value,
) -> AppResult<Export<impl FnOnce(&mut Sink) -> AppResult<()> + Send + 'static>> {
    let scope = auditor_scope(caller)?;
    let mut filter = filter?;
    let visible = scope.narrow(filter.force_id.as_deref());
    if let Ok(force) = &visible {
        filter.force_id = force.clone();
    }
    let download = start_download(&ctx.db, caller, "closures.csv", filters).await?;
    let db = ctx.db.clone();
    Ok(Export {
        download,
        produce: move |sink: &mut Sink| {
            if visible.is_err() {
                return Ok(());
            }
            produce::closures(&db, &filter, &mut |cells| sink.record(cells)).map(drop)
        },
    })
}

/// How many events the audit export reads at a time.
const AUDIT_EXPORT_PAGE: i64 = 5000;

/// `GET /exports/audit.csv`: the events the auditor may read that match
/// `search`, oldest first, each with its leaf; read page by page.
pub async fn audit_log(
    ctx: &Context,
    caller: &AuthUser,
    search: Parsed<EventSearch>,
    filters: Value,
) -> AppResult<Export<impl FnOnce(&mut Sink) -> AppResult<()> + Send + 'static>> {
    auditor_scope(caller)?;
    let mut filter = event_filter(caller, search)?;
    let download = start_download(&ctx.db, caller, "audit.csv", filters).await?;
    let db = ctx.db.clone();
    Ok(Export {
        download,
        produce: move |sink: &mut Sink| loop {
            let page = db.read_blocking(|c| events::page(c, &filter, AUDIT_EXPORT_PAGE))?;
            for e in &page {
                if !sink.record(csv_record(&entry(e))) {
                    return Ok(());
                }
            }
            match page.last() {
                Some((e, _, _)) if page.len() as i64 == AUDIT_EXPORT_PAGE => {
                    filter.search.after_seq = Some(e.seq)
                }
                _ => return Ok(()),
            }
        },
    })
}

/// What a trend table is asked for.
#[derive(Debug, Clone, Default)]
pub struct TrendQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub group_by: Option<String>,
    pub suppress_below: Option<u64>,
    pub force_id: Option<String>,
    pub division: Option<String>,
    pub offence_category: Option<String>,
    pub outcome_code: Option<i32>,
}

/// `GET /exports/trends.csv`: the table's header and its rows, one per group.
pub async fn trends(
    ctx: &Context,
    caller: &AuthUser,
    q: Parsed<TrendQuery>,
) -> AppResult<(
    Vec<String>,
    Export<impl FnOnce(&mut Sink) -> AppResult<()> + Send + 'static>,
)> {
    let (spec, visible, download) = trend_spec(ctx, caller, q, "trends.csv").await?;
    let (db, cache) = (ctx.db.clone(), ctx.trends.clone());
    let header = spec.header();
    Ok((
        header,
        Export {
            download,
            produce: move |sink: &mut Sink| {
                if !visible {
                    return Ok(());
                }
                produce::trends(&db, &spec, Some(&cache), &mut |row| sink.record(row)).map(drop)
            },
        },
    ))
}

/// The trend table as the pages show it (header, rows), read like
/// [`trends`] and on the record like it (as the export `trends.table`).
pub async fn trend_table(
    ctx: &Context,
    caller: &AuthUser,
    q: Parsed<TrendQuery>,
) -> AppResult<(Vec<String>, Vec<Vec<String>>)> {
    let (spec, visible, download) = trend_spec(ctx, caller, q, "trends.table").await?;
    let (db, cache) = (ctx.db.clone(), ctx.trends.clone());
    let header = spec.header();
    crate::db::blocking(move || {
        let mut rows = Vec::new();
        let result = if visible {
            produce::trends(&db, &spec, Some(&cache), &mut |row| {
                rows.push(row.iter().map(|c| c.to_string()).collect());
                true
            })
            .map(drop)
        } else {
            Ok(())
        };
        download.finish(rows.len() as u64, result.is_ok());
        result.map(|_| (header, rows))
    })
    .await
}

/// The checked trend query, whether its force is the caller's to see, and
/// its download on the record.
async fn trend_spec(
    ctx: &Context,
    caller: &AuthUser,
    q: Parsed<TrendQuery>,
    export: &'static str,
) -> AppResult<(TrendSpec, bool, Download)> {
    let scope = auditor_scope(caller)?;
    let q = q?;
    let months = Months::parse(q.from.as_deref(), q.to.as_deref())?;
    let group_by = parse_group_by(q.group_by.as_deref())?;
    if q.suppress_below == Some(0) {
        return Err(AppError::field(
            "suppress_below",
            crate::domain::validation::FieldRule::OutOfRange,
            "must be at least 1",
        ));
    }
    let below = suppress_threshold(q.suppress_below, &group_by);
    let force = scope.narrow(q.force_id.as_deref());
    let filters = json!({"from": months.from, "to": months.to, "group_by": group_by, "suppress_below": below,
                         "force_id": q.force_id, "division": q.division, "offence_category": q.offence_category,
                         "outcome_code": q.outcome_code});
    let spec = TrendSpec {
        months,
        group_by,
        suppress_below: below,
        filter: ClosureFilter {
            force_id: force.clone().unwrap_or(None),
            division: q.division,
            outcome_code: q.outcome_code,
            offence_category: q.offence_category,
            ..Default::default()
        },
    };
    let download = start_download(&ctx.db, caller, export, filters).await?;
    Ok((spec, force.is_ok(), download))
}

/// A download on the record: its `export.downloaded` event is committed, and
/// [`Download::finish`] follows it with `export.completed` when it ends.
pub struct Download {
    db: Db,
    caller: AuthUser,
    export: &'static str,
    /// The `seq` of the `export.downloaded` event.
    pub seq: i64,
}

/// Commits the `export.downloaded` event (the export's name and `filters`)
/// before anything of the export is sent, so that a download cut off by a
/// crash is still on the record. An error here (503 when the database is
/// unavailable) is answered instead of the data.
pub async fn start_download(
    db: &Db,
    caller: &AuthUser,
    export: &'static str,
    filters: Value,
) -> AppResult<Download> {
    let (db, caller) = (db.clone(), caller.clone());
    crate::db::blocking(move || {
        let seq = db.write_blocking(|c| {
            let actor = caller.actor();
            let details = json!({"export": export, "filters": filters});
            let ev = Event::new(
                Action::ExportDownloaded,
                &actor,
                Some(&caller.request_id),
                details,
            )
            .force(caller.force_id.as_deref());
            audit::append(c, ev)
        })?;
        Ok(Download {
            db,
            caller,
            export,
            seq,
        })
    })
    .await
}

impl Download {
    /// Records how the download ended (blocking: call it off the async
    /// workers): `rows` data rows written, `completed` false when the client
    /// went away or the export failed part way. The data has gone out by
    /// now, so a failure to record this is logged, not answered; the
    /// `export.downloaded` event stands either way.
    pub fn finish(self, rows: u64, completed: bool) {
        let actor = self.caller.actor();
        let details = json!({"export": self.export, "rows": rows, "completed": completed,
                             "downloaded_seq": self.seq});
        let res = self.db.write_blocking(|c| {
            let ev = Event::new(
                Action::ExportCompleted,
                &actor,
                Some(&self.caller.request_id),
                details,
            )
            .force(self.caller.force_id.as_deref());
            audit::append(c, ev).map(|_| ())
        });
        if let Err(e) = res {
            tracing::error!(error = %e, export = self.export, downloaded_seq = self.seq,
                            rows, completed, "could not record the end of a download");
        }
    }
}
