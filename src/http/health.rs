//! `/healthz` (the process is up) and `/readyz` (it can serve: the database
//! answers, to reads and to the writer, and, when configured, Redis is
//! connected) and `/metrics` (Prometheus). `/readyz` answers within
//! [`READY_WITHIN`] whatever the database does, so that a load balancer
//! sees an outage at once. With `CONFAB_METRICS_BIND`, `/metrics` is served on that
//! address only, and that address serves nothing else.

use crate::actors::bus::Bus;
use crate::config::Settings;
use crate::db::Database;
use crate::db::queries::users;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, get, web};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;

/// The longest `/readyz` waits for the database before it says
/// `unavailable`.
pub const READY_WITHIN: Duration = Duration::from_millis(1500);

/// Registers the health routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Where the separate `/metrics` listener is bound, if there is one.
#[derive(Debug, Clone, Copy)]
pub struct MetricsAt(pub Option<SocketAddr>);

/// Keeps `/metrics` and the rest apart when `CONFAB_METRICS_BIND` is set:
/// `/metrics` on the public address, and anything but `/metrics` on the
/// metrics address, get 404.
pub async fn metrics_only_where_configured(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let metrics_at = req.app_data::<web::Data<MetricsAt>>().and_then(|m| m.0);
    if let Some(metrics_at) = metrics_at {
        let on_metrics_listener = req.app_config().local_addr() == metrics_at;
        let asks_for_metrics = req.path() == "/metrics";
        if on_metrics_listener != asks_for_metrics {
            return Ok(req.into_response(HttpResponse::NotFound().finish()));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Prometheus metrics of this instance.
#[get("/metrics")]
async fn metrics(bus: web::Data<Bus>, settings: web::Data<Settings>) -> HttpResponse {
    let redis_up = settings.redis_url.as_ref().map(|_| bus.is_healthy());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::METRICS.render(redis_up))
}

/// The body of `/readyz`: what each dependency said.
#[derive(Serialize)]
struct Readiness<'a> {
    /// `ok` or `unavailable`. Why it is unavailable goes to the log only:
    /// a raw database error can name hosts, users and tables.
    database: &'a str,
    /// `ok`, `unreachable` or `not configured`.
    redis: &'a str,
}

#[get("/readyz")]
async fn readyz(
    db: web::Data<Database>,
    bus: web::Data<Bus>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    let probe = tokio::time::timeout(READY_WITHIN, db.run(users::probe)).await;
    let database = match probe {
        Ok(Ok(())) if db.writes_are_taken() => "ok",
        Ok(Ok(())) => {
            log::warn!("readiness check: the writer has lost the database");
            "unavailable"
        }
        Ok(Err(e)) => {
            log::warn!("readiness check failed: {e}");
            "unavailable"
        }
        Err(_) => {
            log::warn!("readiness check: no answer from the database in {READY_WITHIN:?}");
            "unavailable"
        }
    };
    let redis = match (&settings.redis_url, bus.is_healthy()) {
        (None, _) => "not configured",
        (Some(_), true) => "ok",
        (Some(_), false) => "unreachable",
    };
    let ready = database == "ok" && redis != "unreachable";
    let body = Readiness { database, redis };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
