//! How a session's frames reach its socket, and why the session keeps
//! running when the client does not read.
//!
//! actix-web-actors runs a session actor only when the HTTP layer polls the
//! response body, and the HTTP layer stops polling it once its write buffer
//! is full: a client that stopped reading would freeze its own session
//! (heartbeat, slow-client check and all) and let frames pile up in its
//! mailbox. So the two are split here:
//!
//! - [`drive`] is a task of its own that runs the session's actix context
//!   continuously and appends what actix encodes (pings, pongs, the close
//!   frame) to the session's [`Outbox`]. Text frames skip actix entirely:
//!   rooms, the registry and the session push them into the outbox, shared
//!   and unencoded.
//! - [`OutboxBody`] is the response body: it takes pieces from the outbox
//!   as fast as the connection accepts them, and nothing else. When the
//!   connection ends it is dropped, which tells [`drive`] to stop the
//!   session.

use crate::actors::outbox::Outbox;
use actix_web::web::Bytes;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The socket's response body: the outbox, piece by piece.
pub struct OutboxBody {
    outbox: Arc<Outbox>,
}

impl OutboxBody {
    /// The body that writes `outbox`.
    pub fn new(outbox: Arc<Outbox>) -> Self {
        OutboxBody { outbox }
    }
}

impl Stream for OutboxBody {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.outbox.poll_take(cx).map(|piece| piece.map(Ok))
    }
}

impl Drop for OutboxBody {
    fn drop(&mut self) {
        self.outbox.body_dropped();
    }
}

/// Runs a session's actix `context` (the stream actix-web-actors hands the
/// HTTP layer) until the session stops or its connection is gone, putting
/// the control frames it encodes into `outbox`. Dropping the context stops
/// the actor, as dropping the response body did before.
pub fn drive<S>(context: S, outbox: Arc<Outbox>) -> impl Future<Output = ()>
where
    S: Stream<Item = Result<Bytes, actix_web::Error>>,
{
    let mut context = Box::pin(context);
    std::future::poll_fn(move |cx| {
        if outbox.poll_body_gone(cx) {
            return Poll::Ready(());
        }
        loop {
            match context.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(framed))) => outbox.control(framed),
                Poll::Ready(Some(Err(e))) => {
                    log::error!("cannot encode a WebSocket frame: {e}");
                    outbox.finish();
                    return Poll::Ready(());
                }
                Poll::Ready(None) => {
                    outbox.finish();
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    })
}
