//! Ingest's insert: closures whose key is not taken yet.

use super::ClosureRow;
use crate::db::schema::closures;
use crate::db::{Conn, trend_versions};
use crate::error::AppResult;
use diesel::PgConnection;
use diesel::prelude::*;

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
                trend_versions::bump(conn)?;
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
        .bind::<Integer, _>(trend_versions::random_shard())
        .load(c)?;
    Ok(inserted.into_iter().map(|r| r.id).collect())
}

const INSERT_UNNEST: &str = "WITH ins AS (INSERT INTO closures (id, force_id, source_event_id, division, crime_reference, offence_category, home_office_offence_code, domestic_abuse_flag, outcome_code, named_suspect, crime_recorded_at, closure_proposed_at, proposed_by_officer_id, proposed_by_rank, rationale, victim_wishes_recorded, evidence_led_prosecution_considered, safeguarding_in_place, victim_informed, risk_level, evidence_references, victim_sex, victim_age_band, victim_ethnicity, victim_disability, victim_religion_or_belief, victim_sexual_orientation, victim_gender_reassignment, victim_marriage_or_civil_partnership, victim_pregnancy_or_maternity, review_flags, content_hash, status, version, received_at, received_by_user_id, decision, decided_by_user_id, decided_by_officer_id, decided_by_rank, decided_at, decision_rationale) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[], $9::integer[], $10::boolean[], $11::bigint[], $12::bigint[], $13::text[], $14::text[], $15::text[], $16::boolean[], $17::boolean[], $18::boolean[], $19::boolean[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::text[], $34::bigint[], $35::bigint[], $36::text[], $37::text[], $38::text[], $39::text[], $40::text[], $41::bigint[], $42::text[]) \
     ON CONFLICT (force_id, source_event_id) DO NOTHING RETURNING id), \
     bump AS (UPDATE trend_versions SET n = n + 1 WHERE shard = $43 AND EXISTS (SELECT 1 FROM ins)) \
     SELECT id FROM ins";
