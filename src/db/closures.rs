//! The `closures` and `decisions` tables.

use super::schema::{closures, decisions};
use super::{Conn, Db, with_conn};
use crate::domain::Rank;
use crate::domain::closures::{ClosureInput, Evidence, ProposedBy, Victim};
use crate::domain::signoff::Status;
use crate::error::{AppError, AppResult};
use diesel::PgConnection;
use diesel::prelude::*;

/// Keys per `IN (…)` lookup, well under SQLite's limit of 32,766 bound values.
const KEYS_CHUNK: usize = 400;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = closures)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct ClosureRow {
    pub id: String,
    pub force_id: String,
    pub source_event_id: String,
    pub division: Option<String>,
    pub crime_reference: String,
    pub offence_category: String,
    pub home_office_offence_code: Option<String>,
    pub domestic_abuse_flag: bool,
    pub outcome_code: i32,
    pub named_suspect: bool,
    pub crime_recorded_at: i64,
    pub closure_proposed_at: i64,
    pub proposed_by_officer_id: String,
    pub proposed_by_rank: String,
    pub rationale: String,
    pub victim_wishes_recorded: Option<bool>,
    pub evidence_led_prosecution_considered: Option<bool>,
    pub safeguarding_in_place: Option<bool>,
    pub victim_informed: Option<bool>,
    pub risk_level: Option<String>,
    pub evidence_references: String,
    pub victim_sex: Option<String>,
    pub victim_age_band: Option<String>,
    pub victim_ethnicity: Option<String>,
    pub victim_disability: Option<String>,
    pub victim_religion_or_belief: Option<String>,
    pub victim_sexual_orientation: Option<String>,
    pub victim_gender_reassignment: Option<String>,
    pub victim_marriage_or_civil_partnership: Option<String>,
    pub victim_pregnancy_or_maternity: Option<String>,
    pub review_flags: String,
    pub content_hash: String,
    pub status: String,
    pub version: i64,
    pub received_at: i64,
    pub received_by_user_id: String,
    pub decision: Option<String>,
    pub decided_by_user_id: Option<String>,
    pub decided_by_officer_id: Option<String>,
    pub decided_by_rank: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_rationale: Option<String>,
}

impl ClosureRow {
    /// A new closure, pending sign-off, from a checked input.
    pub fn new(
        c: ClosureInput,
        id: String,
        received_at: i64,
        by_user_id: &str,
        flags: &[&str],
        hash: String,
    ) -> Self {
        let [sex, age, eth, dis, rel, orient, gender, marriage, preg] = c.victim.0;
        ClosureRow {
            id,
            force_id: c.force_id,
            source_event_id: c.source_event_id,
            division: c.division,
            crime_reference: c.crime_reference,
            offence_category: c.offence_category,
            home_office_offence_code: c.home_office_offence_code,
            domestic_abuse_flag: c.domestic_abuse_flag,
            outcome_code: c.outcome_code as i32,
            named_suspect: c.named_suspect,
            crime_recorded_at: c.crime_recorded_at,
            closure_proposed_at: c.closure_proposed_at,
            proposed_by_officer_id: c.proposed_by.officer_id,
            proposed_by_rank: c.proposed_by.rank.as_str().to_string(),
            rationale: c.rationale,
            victim_wishes_recorded: c.evidence.victim_wishes_recorded,
            evidence_led_prosecution_considered: c.evidence.evidence_led_prosecution_considered,
            safeguarding_in_place: c.evidence.safeguarding_in_place,
            victim_informed: c.evidence.victim_informed,
            risk_level: c.evidence.risk_level,
            evidence_references: serde_json::to_string(&c.evidence.references)
                .unwrap_or_else(|_| "[]".into()),
            victim_sex: sex,
            victim_age_band: age,
            victim_ethnicity: eth,
            victim_disability: dis,
            victim_religion_or_belief: rel,
            victim_sexual_orientation: orient,
            victim_gender_reassignment: gender,
            victim_marriage_or_civil_partnership: marriage,
            victim_pregnancy_or_maternity: preg,
            review_flags: flags.join(";"),
            content_hash: hash,
            status: Status::PendingSignoff.as_str().to_string(),
            version: 1,
            received_at,
            received_by_user_id: by_user_id.to_string(),
            decision: None,
            decided_by_user_id: None,
            decided_by_officer_id: None,
            decided_by_rank: None,
            decided_at: None,
            decision_rationale: None,
        }
    }

    /// The closure as it was posted, rebuilt from the row: what `content_hash`
    /// covers, so verification can recompute it. `None` when a stored value is
    /// not one the service ever writes (an unknown rank, references that are
    /// not a JSON list), which is itself a sign of tampering.
    pub fn input(&self) -> Option<ClosureInput> {
        Some(ClosureInput {
            source_event_id: self.source_event_id.clone(),
            force_id: self.force_id.clone(),
            division: self.division.clone(),
            crime_reference: self.crime_reference.clone(),
            offence_category: self.offence_category.clone(),
            home_office_offence_code: self.home_office_offence_code.clone(),
            domestic_abuse_flag: self.domestic_abuse_flag,
            outcome_code: self.outcome_code.into(),
            named_suspect: self.named_suspect,
            crime_recorded_at: self.crime_recorded_at,
            closure_proposed_at: self.closure_proposed_at,
            proposed_by: ProposedBy {
                officer_id: self.proposed_by_officer_id.clone(),
                rank: Rank::parse(&self.proposed_by_rank)?,
            },
            rationale: self.rationale.clone(),
            evidence: Evidence {
                victim_wishes_recorded: self.victim_wishes_recorded,
                evidence_led_prosecution_considered: self.evidence_led_prosecution_considered,
                safeguarding_in_place: self.safeguarding_in_place,
                victim_informed: self.victim_informed,
                risk_level: self.risk_level.clone(),
                references: serde_json::from_str(&self.evidence_references).ok()?,
            },
            victim: Victim(self.victim().map(|v| v.map(str::to_owned))),
        })
    }

    pub fn victim(&self) -> [Option<&str>; 9] {
        [
            self.victim_sex.as_deref(),
            self.victim_age_band.as_deref(),
            self.victim_ethnicity.as_deref(),
            self.victim_disability.as_deref(),
            self.victim_religion_or_belief.as_deref(),
            self.victim_sexual_orientation.as_deref(),
            self.victim_gender_reassignment.as_deref(),
            self.victim_marriage_or_civil_partnership.as_deref(),
            self.victim_pregnancy_or_maternity.as_deref(),
        ]
    }
}

/// Inserts the closures whose (force, `source_event_id`) is not taken yet;
/// returns the ids of those inserted. Concurrent posts of one key leave one row.
pub fn insert_new(conn: &mut Conn, rows: &[ClosureRow]) -> AppResult<Vec<String>> {
    let mut inserted = Vec::with_capacity(rows.len());
    match conn {
        // SQLite runs in-process: one prepared statement per row costs little,
        // and diesel cannot combine RETURNING with a multi-row insert there.
        Conn::Sqlite(c) => {
            for row in rows {
                let n = diesel::insert_into(closures::table)
                    .values(row)
                    .on_conflict((closures::force_id, closures::source_event_id))
                    .do_nothing()
                    .execute(*c)?;
                if n == 1 {
                    inserted.push(row.id.clone());
                }
            }
            if !inserted.is_empty() {
                super::trend_versions::bump(conn)?;
            }
        }
        // PostgreSQL: one round trip, one prepared statement (which also bumps
        // the trend version when it stores anything).
        Conn::Postgres(c) => inserted.extend(insert_new_pg(c, rows)?),
    }
    Ok(inserted)
}

/// PostgreSQL: every row in one statement whose text never changes (one array
/// per column, unnested), so that it is parsed and planned once per connection
/// and not once per group or batch. Answers the ids stored now.
fn insert_new_pg(c: &mut PgConnection, rows: &[ClosureRow]) -> QueryResult<Vec<String>> {
    use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let inserted: Vec<Inserted> = diesel::sql_query(INSERT_UNNEST)
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.force_id.as_str()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.source_event_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.division.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.crime_reference.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.offence_category.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.home_office_offence_code.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Bool>, _>(
            rows.iter()
                .map(|r| r.domestic_abuse_flag)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Integer>, _>(rows.iter().map(|r| r.outcome_code).collect::<Vec<_>>())
        .bind::<Array<Bool>, _>(rows.iter().map(|r| r.named_suspect).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.crime_recorded_at).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(
            rows.iter()
                .map(|r| r.closure_proposed_at)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.proposed_by_officer_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.proposed_by_rank.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.rationale.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Bool>>, _>(
            rows.iter()
                .map(|r| r.victim_wishes_recorded)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Bool>>, _>(
            rows.iter()
                .map(|r| r.evidence_led_prosecution_considered)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Bool>>, _>(
            rows.iter()
                .map(|r| r.safeguarding_in_place)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Bool>>, _>(
            rows.iter().map(|r| r.victim_informed).collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.risk_level.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.evidence_references.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_sex.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_age_band.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_ethnicity.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_disability.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_religion_or_belief.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_sexual_orientation.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_gender_reassignment.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_marriage_or_civil_partnership.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.victim_pregnancy_or_maternity.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.review_flags.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.content_hash.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.version).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(rows.iter().map(|r| r.received_at).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(
            rows.iter()
                .map(|r| r.received_by_user_id.as_str())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.decision.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.decided_by_user_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.decided_by_officer_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.decided_by_rank.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Nullable<BigInt>>, _>(rows.iter().map(|r| r.decided_at).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(
            rows.iter()
                .map(|r| r.decision_rationale.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind::<Integer, _>(super::trend_versions::random_shard())
        .load(c)?;
    Ok(inserted.into_iter().map(|r| r.id).collect())
}

const INSERT_UNNEST: &str = "WITH ins AS (INSERT INTO closures (id, force_id, source_event_id, division, crime_reference, offence_category, home_office_offence_code, domestic_abuse_flag, outcome_code, named_suspect, crime_recorded_at, closure_proposed_at, proposed_by_officer_id, proposed_by_rank, rationale, victim_wishes_recorded, evidence_led_prosecution_considered, safeguarding_in_place, victim_informed, risk_level, evidence_references, victim_sex, victim_age_band, victim_ethnicity, victim_disability, victim_religion_or_belief, victim_sexual_orientation, victim_gender_reassignment, victim_marriage_or_civil_partnership, victim_pregnancy_or_maternity, review_flags, content_hash, status, version, received_at, received_by_user_id, decision, decided_by_user_id, decided_by_officer_id, decided_by_rank, decided_at, decision_rationale) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::integer[], $10::boolean[], $11::bigint[], $12::bigint[], $13::text[], $14::text[], $15::text[], $16::boolean[], $17::boolean[], $18::boolean[], $19::boolean[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::text[], $34::bigint[], $35::bigint[], $36::text[], $37::text[], $38::text[], $39::text[], $40::text[], $41::bigint[], $42::text[]) \
     ON CONFLICT (force_id, source_event_id) DO NOTHING RETURNING id), \
     bump AS (UPDATE trend_versions SET n = n + 1 WHERE shard = $43 AND EXISTS (SELECT 1 FROM ins)) \
     SELECT id FROM ins";

/// For the given `source_event_id`s of one force: (source_event_id, id, content_hash).
pub fn stored_keys(
    conn: &mut Conn,
    force_id: &str,
    source_event_ids: &[&str],
) -> AppResult<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for chunk in source_event_ids.chunks(KEYS_CHUNK) {
        let found: Vec<(String, String, String)> = with_conn!(conn, c => closures::table
            .filter(closures::force_id.eq(force_id))
            .filter(closures::source_event_id.eq_any(chunk))
            .select((closures::source_event_id, closures::id, closures::content_hash))
            .load(c))?;
        out.extend(found);
    }
    Ok(out)
}

pub fn find(conn: &mut Conn, id: &str) -> AppResult<Option<ClosureRow>> {
    Ok(
        with_conn!(conn, c => closures::table.find(id).select(ClosureRow::as_select()).first(c).optional())?,
    )
}

/// Every closure posted for one crime, oldest first.
pub fn by_case(
    conn: &mut Conn,
    force_id: &str,
    crime_reference: &str,
) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => closures::table
        .filter(closures::force_id.eq(force_id))
        .filter(closures::crime_reference.eq(crime_reference))
        .order((closures::received_at.asc(), closures::id.asc()))
        .limit(1000)
        .select(ClosureRow::as_select())
        .load(c))?)
}

/// Narrows a boxed closures query by a [`ClosureFilter`] (one text for every backend).
macro_rules! with_filter {
    ($q:expr, $f:expr) => {{
        let (mut q, f) = ($q, $f);
        if let Some(v) = &f.force_id {
            q = q.filter(closures::force_id.eq(v));
        }
        if let Some(v) = &f.status {
            q = q.filter(closures::status.eq(v));
        }
        if let Some(v) = &f.division {
            q = q.filter(closures::division.eq(v));
        }
        if let Some(v) = f.outcome_code {
            q = q.filter(closures::outcome_code.eq(v));
        }
        if let Some(v) = &f.offence_category {
            q = q.filter(closures::offence_category.eq(v));
        }
        if let Some(v) = f.from {
            q = q.filter(closures::closure_proposed_at.ge(v));
        }
        if let Some(v) = f.to {
            q = q.filter(closures::closure_proposed_at.lt(v));
        }
        q
    }};
}

pub use crate::domain::filters::ClosureFilter;

/// A page of closures, newest received first, strictly after the keyset
/// position `before` = (received_at, id) of the previous page's last row.
pub fn page(
    conn: &mut Conn,
    f: &ClosureFilter,
    before: Option<(i64, String)>,
    limit: i64,
) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = closures::table
            .select(ClosureRow::as_select())
            .order((closures::received_at.desc(), closures::id.desc()))
            .limit(limit)
            .into_boxed();
        q = with_filter!(q, f);
        // `received_at <= at` first, so that the index on (received_at, id) gives
        // a range; an OR alone would make both planners scan from the start.
        if let Some((at, id)) = &before {
            q = q.filter(closures::received_at.le(*at)).filter(closures::received_at.lt(*at).or(closures::id.lt(id)));
        }
        q.load(c)
    })?)
}

/// The latest decision, as it is copied onto the closure.
pub struct LatestDecision<'a> {
    pub decision: &'a str,
    pub by_user_id: &'a str,
    pub by_officer_id: &'a str,
    pub by_rank: &'a str,
    pub decided_at: i64,
    pub rationale: &'a str,
}

/// Moves a closure from `version` in one of `from` to `to`, raising its version;
/// records the decision on it when one is given. Returns whether it moved: it
/// does not when another change came first, so exactly one of many concurrent
/// changes wins.
pub fn transition(
    conn: &mut Conn,
    id: &str,
    version: i64,
    from: &[Status],
    to: Status,
    decision: Option<LatestDecision>,
) -> AppResult<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let target = closures::table
        .filter(closures::id.eq(id))
        .filter(closures::version.eq(version))
        .filter(closures::status.eq_any(from));
    let n = match decision {
        Some(d) => with_conn!(conn, c => diesel::update(target)
            .set((
                closures::status.eq(to.as_str()),
                closures::version.eq(version + 1),
                closures::decision.eq(d.decision),
                closures::decided_by_user_id.eq(d.by_user_id),
                closures::decided_by_officer_id.eq(d.by_officer_id),
                closures::decided_by_rank.eq(d.by_rank),
                closures::decided_at.eq(d.decided_at),
                closures::decision_rationale.eq(d.rationale),
            ))
            .execute(c))?,
        None => with_conn!(conn, c => diesel::update(target)
            .set((closures::status.eq(to.as_str()), closures::version.eq(version + 1)))
            .execute(c))?,
    };
    if n == 1 {
        super::trend_versions::bump(conn)?;
    }
    Ok(n == 1)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = decisions)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DecisionRow {
    #[diesel(skip_insertion)]
    pub id: i64,
    pub closure_id: String,
    pub decision: String,
    pub by_user_id: String,
    pub by_officer_id: String,
    pub by_rank: String,
    pub rationale: String,
    pub checklist: String,
    pub decided_at: i64,
}

pub fn insert_decision(conn: &mut Conn, row: &DecisionRow) -> AppResult<()> {
    with_conn!(conn, c => diesel::insert_into(decisions::table).values(row).execute(c))?;
    Ok(())
}

/// The decisions on these closures, in the order they were taken.
pub fn decisions_of(conn: &mut Conn, closure_ids: &[&str]) -> AppResult<Vec<DecisionRow>> {
    if closure_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(with_conn!(conn, c => decisions::table
        .filter(decisions::closure_id.eq_any(closure_ids))
        .order(decisions::id.asc())
        .select(DecisionRow::as_select())
        .load(c))?)
}

/// Closures in `id` order after `after`, at most `limit`: every closure, a page
/// at a time, for verification.
pub fn page_by_id(conn: &mut Conn, after: Option<&str>, limit: i64) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = closures::table
            .select(ClosureRow::as_select())
            .order(closures::id.asc())
            .limit(limit)
            .into_boxed();
        if let Some(a) = after {
            q = q.filter(closures::id.gt(a));
        }
        q.load(c)
    })?)
}

/// Which of these closure ids are stored.
pub fn existing_ids(conn: &mut Conn, ids: &[&str]) -> AppResult<Vec<String>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(KEYS_CHUNK) {
        let found: Vec<String> = with_conn!(conn, c => closures::table
            .filter(closures::id.eq_any(chunk))
            .select(closures::id)
            .load(c))?;
        out.extend(found);
    }
    Ok(out)
}

/// A chunk of closures for an export or a report, oldest received first, after
/// the keyset position `after` = (received_at, id).
pub fn export_page(
    conn: &mut Conn,
    f: &ClosureFilter,
    after: Option<(i64, String)>,
    limit: i64,
) -> AppResult<Vec<ClosureRow>> {
    Ok(with_conn!(conn, c => {
        let mut q = closures::table
            .select(ClosureRow::as_select())
            .order((closures::received_at.asc(), closures::id.asc()))
            .limit(limit)
            .into_boxed();
        q = with_filter!(q, f);
        if let Some((at, id)) = &after {
            q = q.filter(closures::received_at.ge(*at)).filter(closures::received_at.gt(*at).or(closures::id.gt(id)));
        }
        q.load(c)
    })?)
}

/// Rows per page when every matching closure is read.
const EXPORT_PAGE: usize = 5000;

/// Calls `each` for every closure matching `f`, oldest first, until it answers
/// false. Blocking. Pages are fetched on a thread of their own, one page ahead,
/// so that the database serves the next page while this one is being written
/// out; at most two pages are held at once.
pub fn for_each(
    db: &Db,
    f: &ClosureFilter,
    mut each: impl FnMut(&ClosureRow) -> bool,
) -> AppResult<u64> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<AppResult<Vec<ClosureRow>>>(1);
    let (db, filter) = (db.clone(), f.clone());
    let span = tracing::Span::current();
    let fetcher = std::thread::Builder::new()
        .name("export-fetch".into())
        .spawn(move || {
            let _in = span.enter();
            let result = db.read_blocking(|c| {
                let mut after = None;
                loop {
                    let rows = export_page(c, &filter, after, EXPORT_PAGE as i64)?;
                    let next = match rows.last() {
                        Some(last) if rows.len() == EXPORT_PAGE => {
                            Some((last.received_at, last.id.clone()))
                        }
                        _ => None,
                    };
                    // The reader has stopped (it answered false, or failed).
                    if tx.send(Ok(rows)).is_err() {
                        return Ok(());
                    }
                    match next {
                        Some(n) => after = Some(n),
                        None => return Ok(()),
                    }
                }
            });
            if let Err(e) = result {
                let _ = tx.send(Err(e));
            }
        })
        .map_err(|e| AppError::internal(format!("cannot start an export thread: {e}")))?;
    let mut n = 0;
    let mut stopped = false;
    for page in &rx {
        for r in &page? {
            n += 1;
            if !each(r) {
                stopped = true;
                break;
            }
        }
        if stopped {
            break;
        }
    }
    drop(rx);
    let _ = fetcher.join();
    Ok(n)
}
