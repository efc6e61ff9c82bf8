//! Codes as people read them: statuses, review flags, offences, outcomes,
//! checklist items, instants.

use crate::domain::closures::CHECKLIST;

/// A status in words, and the GOV.UK tag colour it is shown in.
pub fn status(code: &str) -> (&'static str, &'static str) {
    match code {
        "pending_signoff" => ("Awaiting sign-off", "govuk-tag--yellow"),
        "signed_off" => ("Signed off", "govuk-tag--green"),
        "rejected" => ("Rejected", "govuk-tag--red"),
        "reopened" => ("Reopened", "govuk-tag--blue"),
        _ => ("Unknown status", "govuk-tag--grey"),
    }
}

/// A review flag in words.
pub fn flag(code: &str) -> String {
    match code {
        "victim_wishes_not_recorded" => "Victim's wishes not recorded".into(),
        "evidence_led_prosecution_not_considered" => {
            "Evidence-led prosecution not considered".into()
        }
        "safeguarding_not_in_place" => "Safeguarding not in place".into(),
        "victim_not_informed" => "Victim not informed".into(),
        "high_risk" => "High risk".into(),
        "closed_within_7_days" => "Closed within 7 days of recording".into(),
        "no_evidence_references" => "No evidence references".into(),
        other => sentence(other),
    }
}

/// `domestic_abuse` → "Domestic abuse".
pub fn sentence(code: &str) -> String {
    let s = code.replace('_', " ");
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => s,
    }
}

/// An outcome code with its meaning (Home Office Counting Rules).
pub fn outcome(code: i32) -> String {
    match code {
        15 => "15: evidential difficulties; the victim supports action".into(),
        16 => "16: evidential difficulties; the victim does not support action".into(),
        other => other.to_string(),
    }
}

/// The checklist items in [`CHECKLIST`] order, with their labels.
pub const CHECKLIST_LABELS: [(&str, &str); 4] = [
    (CHECKLIST[0], "Victim's wishes recorded"),
    (CHECKLIST[1], "Evidence-led prosecution considered"),
    (CHECKLIST[2], "Safeguarding in place"),
    (CHECKLIST[3], "Victim informed"),
];

pub fn checklist_label(name: &str) -> &'static str {
    CHECKLIST_LABELS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("Checklist item", |(_, l)| l)
}

/// Yes, No or Not recorded.
pub fn yes_no(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "Not recorded",
    }
}

/// An instant (microseconds) as "3 December 2026, 09:15 UTC".
pub fn instant(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%-d %B %Y, %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(sentence("domestic_abuse"), "Domestic abuse");
        assert_eq!(flag("victim_not_informed"), "Victim not informed");
        assert_eq!(status("pending_signoff").0, "Awaiting sign-off");
        assert_eq!(
            checklist_label("safeguarding_in_place"),
            "Safeguarding in place"
        );
        assert_eq!(instant(0), "1 January 1970, 00:00 UTC");
    }
}
