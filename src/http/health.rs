//! `/healthz` (the process is up) and `/readyz` (it can serve: the database
//! answers).

use crate::db::schema::users;
use crate::db::{Database, DbError};
use actix_web::{HttpResponse, get, web};
use diesel::prelude::*;

/// Registers the health routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz);
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

#[get("/readyz")]
async fn readyz(db: web::Data<Database>) -> HttpResponse {
    let probe = db
        .run(|c| {
            users::table
                .select(users::id)
                .first::<i32>(c)
                .optional()
                .map_err(DbError::from)
        })
        .await;
    match probe {
        Ok(_) => HttpResponse::Ok().json(serde_json::json!({ "database": "ok" })),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "database": e.to_string() }))
        }
    }
}
