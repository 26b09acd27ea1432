//! `/healthz` (the process is up) and `/readyz` (it can serve: the database
//! answers and, when configured, Redis is connected) and `/metrics`
//! (Prometheus).

use crate::actors::bus::Bus;
use crate::config::Settings;
use crate::db::schema::users;
use crate::db::{Database, DbError};
use actix_web::{HttpResponse, get, web};
use diesel::prelude::*;

/// Registers the health routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Prometheus metrics of this instance.
#[get("/metrics")]
async fn metrics(bus: web::Data<Bus>, settings: web::Data<Settings>) -> HttpResponse {
    let redis_up = settings.redis_url.as_ref().map(|_| bus.is_healthy());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::METRICS.render(redis_up))
}

#[get("/readyz")]
async fn readyz(
    db: web::Data<Database>,
    bus: web::Data<Bus>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    let probe = db
        .run(|c| {
            users::table
                .select(users::id)
                .first::<i32>(c)
                .optional()
                .map_err(DbError::from)
        })
        .await;
    let database = match probe {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            log::warn!("readiness check failed: {e}");
            e.to_string()
        }
    };
    let redis = match (&settings.redis_url, bus.is_healthy()) {
        (None, _) => "not configured",
        (Some(_), true) => "ok",
        (Some(_), false) => "unreachable",
    };
    let ready = database == "ok" && redis != "unreachable";
    let body = serde_json::json!({ "database": database, "redis": redis });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
