//! Schemas of the OpenAPI document for values taken from the domain's lists
//! (forces, offence categories, …), so that the document names exactly the
//! values the rules accept. Used as `#[schema(schema_with = schemas::force_id)]`
//! on the request types, which only describe bodies and queries.

use crate::domain::closures::{AGE_BANDS, OFFENCE_CATEGORIES, RISK_LEVELS};
use crate::domain::signoff::{Decision, Status};
use crate::domain::stats::Flag;
use crate::domain::{FORCES, Rank, Role};
use std::borrow::Cow;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// The domain's enumerations as named schemas of the document, their values
/// taken from the domain's own lists (the domain knows nothing of OpenAPI).
macro_rules! named_enum {
    ($ty:ty, $name:literal, $values:expr, $description:literal) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                one_of($values, $description).into()
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

named_enum!(
    Rank,
    "Rank",
    Rank::ALL.map(Rank::as_str),
    "A police rank (DOMAIN.md, \"Ranks\")"
);
named_enum!(
    Role,
    "Role",
    Role::ALL.map(Role::as_str),
    "A user's role (API.md, \"Roles and scope\")"
);
named_enum!(
    Status,
    "Status",
    Status::ALL.map(Status::as_str),
    "A closure's status"
);
named_enum!(
    Decision,
    "Decision",
    [Decision::Approve, Decision::Reject].map(Decision::as_str),
    "An inspector's decision"
);
named_enum!(
    Flag,
    "Flag",
    Flag::ALL.map(Flag::as_str),
    "Where a unit falls on the funnel plot"
);

/// A force (`GET /api/v1/forces`), as [`crate::domain::Force`] is written.
#[derive(ToSchema)]
#[schema(as = Force)]
#[allow(dead_code)]
pub struct ForceSchema {
    #[schema(schema_with = force_id)]
    id: String,
    name: String,
}

/// One unit's place on the funnel, as [`crate::domain::stats::FunnelPoint`]
/// is written.
#[derive(ToSchema)]
#[schema(as = FunnelPoint)]
#[allow(dead_code)]
pub struct FunnelPointSchema {
    unit: String,
    closures: u64,
    finalised_total: Option<u64>,
    proportion: Option<f64>,
    overall_proportion: Option<f64>,
    z: Option<f64>,
    lower_95: Option<f64>,
    upper_95: Option<f64>,
    lower_998: Option<f64>,
    upper_998: Option<f64>,
    flag: Flag,
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

/// One failing field of a 422, as [`crate::domain::FieldError`] is written.
#[derive(ToSchema)]
#[schema(as = FieldError)]
#[allow(dead_code)]
pub struct FieldErrorSchema {
    /// The field's dotted path, e.g. `evidence.risk_level`.
    field: String,
    /// The rule it breaks (see the 422 response for each code's meaning).
    #[schema(schema_with = field_rule)]
    code: String,
    message: String,
}

fn field_rule() -> Object {
    one_of(
        crate::domain::FieldRule::ALL.map(|r| r.code()),
        "The field rule a value breaks",
    )
}
