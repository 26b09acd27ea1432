//! Defences of the HTTP layer that the locked actix-http does not have.
//!
//! actix-http 3.20.0 (the newest the registry these machines reach serves)
//! predates upstream fixes for request smuggling through chunked bodies
//! (3.20.2, 3.21.3) and for a keep-alive connection that sends a byte after
//! its first request and is then held open (3.21.2). confab takes neither
//! risk: no route here takes a chunked body (the only bodies are the small
//! login, sign-up and room forms, which browsers send with a length), so a
//! request that announces a `Transfer-Encoding` is refused before anything
//! reads it, and keep-alive is off (see `startup.rs`), so every connection
//! ends with its response and a partial request is cut by the request
//! timeout. Drop these once a fixed actix-http can be locked.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use std::time::Duration;

/// How long a client may take to send a request's head: past it the
/// connection is cut (actix answers 408).
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Refuses any request that announces a `Transfer-Encoding`: 411 (Length
/// Required) for a POST, whose form may be sent again with a length, 400
/// for anything else, which takes no body at all. The connection closes
/// with the answer, so no body is ever parsed.
pub async fn refuse_transfer_encoding(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        let status = if req.method() == Method::POST {
            StatusCode::LENGTH_REQUIRED
        } else {
            StatusCode::BAD_REQUEST
        };
        log::info!(
            "refused {} {} with a Transfer-Encoding",
            req.method(),
            req.path()
        );
        let response = HttpResponse::build(status)
            .insert_header((header::CONNECTION, "close"))
            .content_type("text/plain; charset=utf-8")
            .body("Request bodies must be sent with a Content-Length.");
        return Ok(req.into_response(response));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
