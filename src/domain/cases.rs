//! A case: every closure ever posted for one crime, named by its force and the
//! force's crime reference (API.md, `GET /cases`).

use super::forces::is_known_force;
use super::validation::{FieldError, FieldRule};

/// The crime a case lookup names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseKey {
    pub force_id: String,
    pub crime_reference: String,
}

/// The case asked for: `force_id` defaults to the caller's own force, and
/// both are required (every failing field at once).
pub fn case_key(
    force_id: Option<String>,
    callers_force: Option<&str>,
    crime_reference: Option<String>,
) -> Result<CaseKey, Vec<FieldError>> {
    let mut errors = Vec::new();
    let force_id = force_id.or_else(|| callers_force.map(str::to_owned));
    match &force_id {
        None => errors.push(FieldError::new(
            "force_id",
            FieldRule::Required,
            "is required",
        )),
        Some(f) if !is_known_force(f) => errors.push(FieldError::new(
            "force_id",
            FieldRule::UnknownForce,
            "is not a known force",
        )),
        _ => {}
    }
    let crime_reference = crime_reference.filter(|s| !s.is_empty());
    if crime_reference.is_none() {
        errors.push(FieldError::new(
            "crime_reference",
            FieldRule::Required,
            "is required",
        ));
    }
    match (force_id, crime_reference) {
        (Some(force_id), Some(crime_reference)) if errors.is_empty() => Ok(CaseKey {
            force_id,
            crime_reference,
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: Result<CaseKey, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_force_defaults_to_the_callers() {
        let key = case_key(None, Some("kent"), Some("KT/1".into())).unwrap();
        assert_eq!(key.force_id, "kent");
        assert_eq!(
            fields(case_key(None, None, None)),
            ["force_id", "crime_reference"]
        );
        assert_eq!(
            fields(case_key(Some("atlantis".into()), None, Some(String::new()))),
            ["force_id", "crime_reference"]
        );
    }
}
