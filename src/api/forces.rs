//! `/api/v1/forces`: the 43 territorial forces and British Transport Police.

use crate::auth::AuthUser;
use crate::domain::{FORCES, Force};
use crate::error::Problem;
use actix_web::{get, web};

/// Every force, by the id of the public police data service.
#[utoipa::path(
    tag = "forces",
    responses((status = 200, body = Vec<Force>), (status = 401, body = Problem)),
    security(("bearer" = []))
)]
#[get("/forces")]
pub async fn list_forces(_caller: AuthUser) -> web::Json<&'static [Force]> {
    web::Json(&FORCES)
}
