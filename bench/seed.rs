//! Fills a database with synthetic closures quickly, through the service's own
//! storage code (so both backends get the same rows).

#![allow(dead_code)]

use closure_audit::db::closures::{ClosureRow, insert_new};
use closure_audit::db::{DatabaseUrl, Db, PoolOptions};
use closure_audit::domain::FORCES;
use closure_audit::domain::closures::OFFENCE_CATEGORIES;
use std::time::Duration;

const DAY_US: i64 = 86_400_000_000;
const STATUSES: [&str; 4] = ["pending_signoff", "signed_off", "rejected", "reopened"];
const ETHNICITY: [&str; 5] = [
    "white_british",
    "asian_british",
    "black_british",
    "mixed",
    "not_stated",
];
const AGE: [&str; 7] = [
    "under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+",
];

pub fn open(url: &str) -> Db {
    let opts = PoolOptions {
        pool_size: 2,
        connect_timeout: Duration::from_secs(10),
        sqlite_busy_timeout_ms: 10_000,
    };
    Db::connect(&DatabaseUrl::parse(url).unwrap(), &opts).unwrap()
}

/// Closure number `n` of a synthetic year: every force, division, category,
/// outcome and status, received 1 ms apart, proposed over the 12 months before
/// `end_us`.
pub fn row(n: u64, end_us: i64) -> ClosureRow {
    let i = n as usize;
    let proposed = end_us - ((n * 7919) % 365) as i64 * DAY_US - (n % 86_400) as i64 * 1_000_000;
    let status = STATUSES[(i / 7) % 4];
    let decided = matches!(status, "signed_off" | "rejected" | "reopened");
    let received = end_us - 400 * DAY_US + n as i64 * 1000;
    ClosureRow {
        id: format!("seed-{n:010}"),
        force_id: FORCES[i % FORCES.len()].id.to_string(),
        source_event_id: format!("SEED-{n}"),
        division: Some(["North", "South", "East", "West"][(i / 44) % 4].to_string()),
        crime_reference: format!("SD/{n}/26"),
        offence_category: OFFENCE_CATEGORIES[(i / 3) % OFFENCE_CATEGORIES.len()].to_string(),
        home_office_offence_code: Some("8N".into()),
        domestic_abuse_flag: n.is_multiple_of(3),
        outcome_code: 15 + (n % 2) as i32,
        named_suspect: true,
        crime_recorded_at: proposed - (20 + (n % 90) as i64) * DAY_US,
        closure_proposed_at: proposed,
        proposed_by_officer_id: format!("{}", 1000 + n % 5000),
        proposed_by_rank: "constable".into(),
        rationale: "Victim withdrew support after a safeguarding visit; evidence-led prosecution considered, \"not viable\".".into(),
        victim_wishes_recorded: Some(true),
        evidence_led_prosecution_considered: Some(!n.is_multiple_of(4)),
        safeguarding_in_place: Some(true),
        victim_informed: Some(!n.is_multiple_of(5)),
        risk_level: Some(["standard", "medium", "high"][i % 3].into()),
        evidence_references: r#"["BWV-2026-88812","999-CALL-5521"]"#.into(),
        victim_sex: Some("female".into()),
        victim_age_band: Some(AGE[i % AGE.len()].into()),
        victim_ethnicity: Some(ETHNICITY[(i / 5) % ETHNICITY.len()].into()),
        victim_disability: Some("not_stated".into()),
        victim_religion_or_belief: None,
        victim_sexual_orientation: None,
        victim_gender_reassignment: None,
        victim_marriage_or_civil_partnership: None,
        victim_pregnancy_or_maternity: None,
        review_flags: if n.is_multiple_of(5) { "victim_not_informed".into() } else { String::new() },
        content_hash: format!("{:064x}", n),
        status: status.into(),
        version: if decided { 2 } else { 1 },
        received_at: received,
        received_by_user_id: "seed".into(),
        decision: decided.then(|| if status == "rejected" { "reject" } else { "approve" }.to_string()),
        decided_by_user_id: decided.then(|| "seed-inspector".to_string()),
        decided_by_officer_id: decided.then(|| "2210".to_string()),
        decided_by_rank: decided.then(|| "inspector".to_string()),
        decided_at: decided.then_some(received + (1 + n % 200) as i64 * 3_600_000_000),
        decision_rationale: decided.then(|| "Reviewed: checklist complete.".to_string()),
    }
}

/// Inserts closures `0..n` in transactions of 10,000.
pub fn seed(db: &Db, n: u64, end_us: i64) {
    seed_range(db, 0, n, end_us)
}

/// Inserts closures `from..to` in transactions of 10,000.
pub fn seed_range(db: &Db, from: u64, n: u64, end_us: i64) {
    let mut start = from;
    while start < n {
        let end = (start + 10_000).min(n);
        let rows: Vec<ClosureRow> = (start..end).map(|i| row(i, end_us)).collect();
        db.write_blocking(|c| insert_new(c, &rows).map(|_| ()))
            .unwrap();
        start = end;
    }
}
