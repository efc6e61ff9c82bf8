//! `/api/v1/forces`: the 43 territorial forces and British Transport Police.

use super::problems::{self as p};
use crate::auth::AuthUser;
use crate::domain::{FORCES, Force};
use actix_web::{get, web};

/// Every force, by the id of the public police data service.
#[utoipa::path(
    tag = "forces",
    responses(
        (status = 200, body = Vec<super::schemas::ForceSchema>),
        (status = 401, response = p::Unauthorized),
        (status = 503, response = p::ServiceUnavailable),
    ),
    security(("bearer" = []))
)]
#[get("/forces")]
pub async fn list_forces(_caller: AuthUser) -> web::Json<&'static [Force]> {
    web::Json(&FORCES)
}
