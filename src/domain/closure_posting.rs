//! A closure as posted: its draft, field by field as a client gave it, and
//! every rule of the contract it is checked against ([`validate_closure`]).

use super::closures::{
    ACCEPTED_OUTCOMES, AGE_BANDS, CHECKLIST, ClosureInput, Evidence, FUTURE_SKEW_SECONDS,
    MAX_REFERENCES, OFFENCE_CATEGORIES, ProposedBy, RATIONALE_LEN, RISK_LEVELS, VICTIM_FIELDS,
    Victim,
};
use super::forces::known_force;
use super::officers::{OFFICER_ID_LEN, officer_id_problem};
use super::ranks::known_rank;
use super::validation::{Errors, FieldError, FieldRule, Given, Need};
use chrono::{DateTime, Utc};

/// A short code (`white_british`, `25-34`, `not_stated`): what the victim
/// characteristics hold.
fn short_code(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-+.".contains(&b))
}

/// A closure as a client gave it, field by field, before any rule is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClosureDraft {
    pub source_event_id: Given<String>,
    pub force_id: Given<String>,
    pub division: Given<String>,
    pub crime_reference: Given<String>,
    pub offence_category: Given<String>,
    pub home_office_offence_code: Given<String>,
    pub domestic_abuse_flag: Given<bool>,
    pub outcome_code: Given<i64>,
    pub named_suspect: Given<bool>,
    /// RFC 3339.
    pub crime_recorded_at: Given<String>,
    pub closure_proposed_at: Given<String>,
    pub proposed_by: Given<ProposedByDraft>,
    pub rationale: Given<String>,
    pub evidence: Given<EvidenceDraft>,
    pub victim: Given<VictimDraft>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProposedByDraft {
    pub officer_id: Given<String>,
    pub rank: Given<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceDraft {
    /// The checklist items, in [`CHECKLIST`] order.
    pub items: [Given<bool>; 4],
    pub risk_level: Given<String>,
    pub references: Given<Vec<Given<String>>>,
}

/// The victim's characteristics, in [`VICTIM_FIELDS`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VictimDraft(pub [Given<String>; 9]);

impl ClosureDraft {
    /// The force the draft names, if it is text: read before validation so
    /// that posting for another force is a 403 whatever else is wrong.
    pub fn named_force(&self) -> Option<&str> {
        self.force_id.value().map(String::as_str)
    }

    /// The proposing officer the draft names, if it is text.
    pub fn named_proposer(&self) -> Option<&str> {
        self.proposed_by
            .value()
            .and_then(|p| p.officer_id.value())
            .map(String::as_str)
    }
}

/// An RFC 3339 instant, as microseconds since the epoch.
fn timestamp(field: &str, given: Given<String>, errs: &mut Errors) -> Option<i64> {
    let s = errs.text(field, given, (1, 64), Need::Required)?;
    match DateTime::parse_from_rfc3339(&s) {
        Ok(t) => Some(t.timestamp_micros()),
        Err(_) => {
            errs.add(
                field,
                FieldRule::TimestampFormat,
                "must be an RFC 3339 timestamp, e.g. 2026-11-20T10:00:00Z",
            );
            None
        }
    }
}

fn proposed_by(given: Given<ProposedByDraft>, errs: &mut Errors) -> Option<ProposedBy> {
    let p = errs.object("proposed_by", given, Need::Required)?;
    let field = "proposed_by.officer_id";
    let mut officer_id = errs.text(field, p.officer_id, OFFICER_ID_LEN, Need::Required);
    if let Some(problem) = officer_id.as_deref().and_then(officer_id_problem) {
        errs.add(field, FieldRule::OfficerIdFormat, problem);
        officer_id = None;
    }
    let rank = known_rank("proposed_by.rank", p.rank, Need::Required, errs);
    officer_id
        .zip(rank)
        .map(|(officer_id, rank)| ProposedBy { officer_id, rank })
}

fn evidence(given: Given<EvidenceDraft>, errs: &mut Errors) -> Option<Evidence> {
    let e = errs.object("evidence", given, Need::Required)?;
    let [wishes, elp, safeguarding, informed] = e.items;
    let mut item = |name: &str, g| errs.flag(&format!("evidence.{name}"), g, Need::Optional);
    let victim_wishes_recorded = item(CHECKLIST[0], wishes);
    let evidence_led_prosecution_considered = item(CHECKLIST[1], elp);
    let safeguarding_in_place = item(CHECKLIST[2], safeguarding);
    let victim_informed = item(CHECKLIST[3], informed);
    let risk_level = errs.choice(
        "evidence.risk_level",
        e.risk_level,
        &RISK_LEVELS,
        Need::Optional,
    );
    let references = errs
        .texts(
            "evidence.references",
            e.references,
            MAX_REFERENCES,
            (1, 128),
        )
        .unwrap_or_default();
    Some(Evidence {
        victim_wishes_recorded,
        evidence_led_prosecution_considered,
        safeguarding_in_place,
        victim_informed,
        risk_level,
        references,
    })
}

fn victim(given: Given<VictimDraft>, errs: &mut Errors) -> Victim {
    let mut victim = Victim::default();
    let Some(VictimDraft(values)) = errs.object("victim", given, Need::Optional) else {
        return victim;
    };
    for (i, (name, given)) in VICTIM_FIELDS.iter().zip(values).enumerate() {
        let field = format!("victim.{name}");
        victim.0[i] = if *name == "age_band" {
            errs.choice(&field, given, &AGE_BANDS, Need::Optional)
        } else {
            match errs.text(&field, given, (1, 64), Need::Optional) {
                Some(s) if !short_code(&s) => {
                    errs.add(
                        field,
                        FieldRule::ShortCode,
                        "must be a short code (letters, digits, _ - + .) or not_stated",
                    );
                    None
                }
                other => other,
            }
        };
    }
    victim
}

/// Checks a posted closure against every rule of the contract, reporting every
/// failing field at once. `now` bounds `closure_proposed_at`.
pub fn validate_closure(
    d: ClosureDraft,
    now: DateTime<Utc>,
) -> Result<ClosureInput, Vec<FieldError>> {
    let mut errs = Errors::default();
    let source_event_id = errs.text(
        "source_event_id",
        d.source_event_id,
        (1, 128),
        Need::Required,
    );
    let force_id = known_force("force_id", d.force_id, Need::Required, &mut errs);
    let division = errs.text("division", d.division, (1, 128), Need::Optional);
    let crime_reference = errs.text(
        "crime_reference",
        d.crime_reference,
        (1, 64),
        Need::Required,
    );
    let offence_category = errs.choice(
        "offence_category",
        d.offence_category,
        &OFFENCE_CATEGORIES,
        Need::Required,
    );
    let home_office_offence_code = errs.text(
        "home_office_offence_code",
        d.home_office_offence_code,
        (1, 16),
        Need::Optional,
    );
    let domestic_abuse_flag =
        errs.flag("domestic_abuse_flag", d.domestic_abuse_flag, Need::Required);
    let outcome_code = errs.whole("outcome_code", d.outcome_code, Need::Required);
    if let Some(code) = outcome_code
        && !ACCEPTED_OUTCOMES.contains(&code)
    {
        errs.add(
            "outcome_code",
            FieldRule::OutcomeNotAccepted,
            "must be 15 or 16: this service accepts only outcome types 15 and 16",
        );
    }
    let named_suspect = errs.flag("named_suspect", d.named_suspect, Need::Required);
    if named_suspect == Some(false) {
        errs.add(
            "named_suspect",
            FieldRule::NamedSuspectRequired,
            "must be true: outcomes 15 and 16 need a named suspect (without one the outcome is 14 or 18)",
        );
    }
    let crime_recorded_at = timestamp("crime_recorded_at", d.crime_recorded_at, &mut errs);
    let closure_proposed_at = timestamp("closure_proposed_at", d.closure_proposed_at, &mut errs);
    if let (Some(rec), Some(prop)) = (crime_recorded_at, closure_proposed_at)
        && prop < rec
    {
        errs.add(
            "closure_proposed_at",
            FieldRule::ProposedBeforeRecorded,
            "must not be before crime_recorded_at",
        );
    }
    if let Some(prop) = closure_proposed_at
        && prop > now.timestamp_micros() + FUTURE_SKEW_SECONDS * 1_000_000
    {
        errs.add(
            "closure_proposed_at",
            FieldRule::ProposedInFuture,
            "must not be in the future",
        );
    }
    let proposed_by = proposed_by(d.proposed_by, &mut errs);
    let rationale = errs.text("rationale", d.rationale, RATIONALE_LEN, Need::Required);
    let evidence = evidence(d.evidence, &mut errs);
    let victim = victim(d.victim, &mut errs);

    errs.finish(|| ClosureInput {
        source_event_id: source_event_id.unwrap_or_default(),
        force_id: force_id.unwrap_or_default(),
        division,
        crime_reference: crime_reference.unwrap_or_default(),
        offence_category: offence_category.unwrap_or_default(),
        home_office_offence_code,
        domestic_abuse_flag: domestic_abuse_flag.unwrap_or_default(),
        outcome_code: outcome_code.unwrap_or_default(),
        named_suspect: named_suspect.unwrap_or_default(),
        crime_recorded_at: crime_recorded_at.unwrap_or_default(),
        closure_proposed_at: closure_proposed_at.unwrap_or_default(),
        proposed_by: proposed_by.expect("checked"),
        rationale: rationale.unwrap_or_default(),
        evidence: evidence.expect("checked"),
        victim,
    })
}
