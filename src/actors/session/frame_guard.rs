//! Caps WebSocket frames at their header, before their payload is buffered.
//!
//! actix-web-actors reads every chunk a socket delivers into one buffer
//! and actix-http compares a frame's length with the limit only once the
//! whole frame is there, so a client that announces a 1 GiB frame and
//! streams it costs the server up to 1 GiB. [`FrameGuard`] sits between
//! the socket's byte stream and that decoder: it reads each frame header as
//! it passes (2 to 14 bytes), and the moment one announces more than the
//! limit it ends the stream with an error and raises a flag, so the session
//! closes with 1009. At most the limit plus one read's worth of bytes is
//! ever buffered.
//!
//! It is also where back-pressure starts: while the socket's
//! [`RequestQueue`] is full it passes nothing on (and the HTTP layer, its
//! payload buffer full, stops reading the socket), until an answer makes
//! room. The client's own TCP window then holds what it sends, instead of
//! a refusal.

use super::limits::RequestQueue;
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// The byte stream of one WebSocket, with frame lengths checked as they
/// arrive.
pub struct FrameGuard<S> {
    inner: S,
    limit: u64,
    /// The header being read (at most 14 bytes) and how much of it is here.
    header: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to pass.
    remaining: u64,
    /// Raised when a frame was too big; the session reads it.
    oversized: Arc<AtomicBool>,
    /// The socket's requests waiting for an answer.
    requests: Arc<RequestQueue>,
}

impl<S> FrameGuard<S> {
    /// Guards `inner`: frames whose payload is over `limit` bytes end it,
    /// and nothing is read while `requests` is full.
    pub fn new(
        inner: S,
        limit: usize,
        oversized: Arc<AtomicBool>,
        requests: Arc<RequestQueue>,
    ) -> Self {
        FrameGuard {
            inner,
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            header: [0; 14],
            have: 0,
            remaining: 0,
            oversized,
            requests,
        }
    }

    /// Follows the frame structure through `data`; false when a header
    /// announces a payload over the limit.
    fn scan(&mut self, mut data: &[u8]) -> bool {
        while !data.is_empty() {
            if self.remaining > 0 {
                let skip =
                    usize::try_from(self.remaining).map_or(data.len(), |r| r.min(data.len()));
                self.remaining -= skip as u64;
                data = &data[skip..];
                continue;
            }
            self.header[self.have] = data[0];
            self.have += 1;
            data = &data[1..];
            let Some(length) = self.payload_length() else {
                continue; // the header is not complete yet
            };
            if length > self.limit {
                return false;
            }
            self.remaining = length;
            self.have = 0;
        }
        true
    }

    /// The payload length, once the header holding it is complete.
    fn payload_length(&self) -> Option<u64> {
        if self.have < 2 {
            return None;
        }
        let short = u64::from(self.header[1] & 0x7f);
        let masked = self.header[1] & 0x80 != 0;
        let extended = match short {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let needed = 2 + extended + if masked { 4 } else { 0 };
        if self.have < needed {
            return None;
        }
        let length = match extended {
            0 => short,
            2 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            _ => {
                let mut bytes = [0; 8];
                bytes.copy_from_slice(&self.header[2..10]);
                u64::from_be_bytes(bytes)
            }
        };
        Some(length)
    }
}

impl<S> Stream for FrameGuard<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.oversized.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if self.requests.is_full(cx.waker()) {
            return Poll::Pending;
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if self.scan(&chunk) {
                    Poll::Ready(Some(Ok(chunk)))
                } else {
                    self.oversized.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(PayloadError::Overflow)))
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use futures_util::stream;

    /// A masked client frame header announcing `length` payload bytes.
    fn header(length: u64) -> Vec<u8> {
        let mut h = vec![0x81];
        match length {
            0..=125 => h.push(0x80 | length as u8),
            126..=0xffff => {
                h.push(0x80 | 126);
                h.extend_from_slice(&(length as u16).to_be_bytes());
            }
            _ => {
                h.push(0x80 | 127);
                h.extend_from_slice(&length.to_be_bytes());
            }
        }
        h.extend_from_slice(&[1, 2, 3, 4]);
        h
    }

    async fn guard(chunks: Vec<Vec<u8>>, limit: usize) -> (Vec<Result<Bytes, PayloadError>>, bool) {
        let flag = Arc::new(AtomicBool::new(false));
        let inner = stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c))));
        let requests = RequestQueue::new(usize::MAX);
        let out = FrameGuard::new(inner, limit, flag.clone(), requests)
            .collect::<Vec<_>>()
            .await;
        (out, flag.load(Ordering::Relaxed))
    }

    #[actix_web::test]
    async fn frames_within_the_limit_pass_untouched_however_they_are_split() {
        let mut bytes = header(5);
        bytes.extend_from_slice(b"hello");
        bytes.extend(header(300));
        bytes.extend(vec![7; 300]);
        bytes.extend(header(0));
        // Split everywhere, headers included.
        let chunks: Vec<Vec<u8>> = bytes.chunks(3).map(<[u8]>::to_vec).collect();
        let (out, oversized) = guard(chunks, 300).await;
        assert!(!oversized);
        let passed: Vec<u8> = out.into_iter().flat_map(|c| c.unwrap().to_vec()).collect();
        assert_eq!(passed, bytes);
    }

    #[actix_web::test]
    async fn a_header_announcing_too_much_ends_the_stream_at_once() {
        let mut first = header(10);
        first.extend_from_slice(&[0; 10]);
        let big = header(1 << 30);
        let chunks = vec![first, big, vec![0; 1000], vec![0; 1000]];
        let (out, oversized) = guard(chunks, 64 * 1024).await;
        assert!(oversized);
        assert_eq!(
            out.len(),
            2,
            "the first frame, then the error, then nothing"
        );
        assert!(out[0].is_ok());
        assert!(matches!(out[1], Err(PayloadError::Overflow)));
    }
}
