//! Schemas of the OpenAPI document for values taken from the domain's lists
//! (forces, offence categories, …), so that the document names exactly the
//! values the rules accept. Used as `#[schema(schema_with = schemas::force_id)]`
//! on the request types, which only describe bodies and queries.

use crate::domain::FORCES;
use crate::domain::closures::{AGE_BANDS, OFFENCE_CATEGORIES, RISK_LEVELS};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// A force's id (`GET /api/v1/forces`).
pub fn force_id() -> Object {
    one_of(
        FORCES.iter().map(|f| f.id),
        "A force's id (GET /api/v1/forces)",
    )
}

/// A VAWG offence category (DOMAIN.md).
pub fn offence_category() -> Object {
    one_of(OFFENCE_CATEGORIES, "A VAWG offence category (DOMAIN.md)")
}

pub fn risk_level() -> Object {
    one_of(RISK_LEVELS, "The risk assessed")
}

pub fn age_band() -> Object {
    one_of(AGE_BANDS, "The victim's age band")
}

/// A month, `YYYY-MM`.
pub fn month() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]{4}-(0[1-9]|1[0-2])$"))
        .description(Some("A month, YYYY-MM"))
        .build()
}

/// The level of the outlier report.
pub fn level() -> Object {
    one_of(["force", "division"], "force (default) or division")
}

/// A victim characteristic: a short code (`white_british`, `not_stated`).
pub fn short_code() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9_+.-]{1,64}$"))
        .description(Some(
            "A short code (letters, digits, _ - + .) or not_stated",
        ))
        .build()
}

/// `true`: the only value the field accepts.
pub fn must_be_true() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .description(Some(
            "Must be true: outcomes 15 and 16 need a named suspect",
        ))
        .build()
}
