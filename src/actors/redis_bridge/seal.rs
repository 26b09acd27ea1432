//! Authenticating what crosses Redis.
//!
//! Redis is shared infrastructure: anything that can `PUBLISH` on a room's
//! channel could otherwise post as any user, forge private messages, or
//! send a "missed" notice whose id makes pages skip real messages. So every
//! payload an instance publishes is sealed with an HMAC-SHA256 tag, keyed
//! by a key derived from `CONFAB_SECRET_KEY` (which every instance of a
//! deployment already shares for its cookies) and bound to the channel it
//! is published on, so a sealed event cannot be moved to another room or
//! user either. Whatever arrives unsealed, forged, moved, truncated or
//! larger than any event an instance publishes is dropped before it is
//! decoded, and counted in `/metrics` (`confab_bus_rejected_total`).
//!
//! What the tag does not stop: someone who can read the channels can
//! publish a recorded event again. Rooms deliver each stored message once
//! (by id), so a replayed chat message changes nothing; a replayed private
//! message or presence notice is shown again. Presence entries (sorted sets
//! read by Lua scripts) are not sealed: forged ones can only make a name
//! look online. Both are reasons to give confab a Redis of its own.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of the tag in front of every sealed payload.
const TAG_LEN: usize = 32;

/// What the derivation of the bus key from the cookie key is labelled
/// with, so the two keys are never the same.
const LABEL: &[u8] = b"confab redis bus v1";

/// HMAC-SHA256 keyed with `key`.
fn hmac_keyed(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC hashes a key longer than its block and pads a shorter one.
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// Why an incoming payload was dropped (the `reason` label of
/// `confab_bus_rejected_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[repr(usize)]
pub enum Rejected {
    /// Longer than anything an instance publishes.
    #[error("oversized")]
    Oversized,
    /// The tag does not match: not from an instance with our key.
    #[error("forged")]
    Forged,
    /// Authentic framing is missing, or the sealed content does not decode.
    #[error("malformed")]
    Malformed,
}

impl Rejected {
    /// Every reason, for rendering all counters (zeros included).
    pub const ALL: [Rejected; 3] = [Rejected::Oversized, Rejected::Forged, Rejected::Malformed];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Rejected::Oversized => "oversized",
            Rejected::Forged => "forged",
            Rejected::Malformed => "malformed",
        }
    }
}

/// The key that seals and opens bus payloads.
#[derive(Clone)]
pub struct BusKey {
    mac: HmacSha256,
    /// Largest payload accepted, tag included.
    max_len: usize,
}

impl std::fmt::Debug for BusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusKey")
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

impl BusKey {
    /// Derives the bus key from the deployment's secret (the cookie key's
    /// master bytes). `max_event` is the largest event body accepted.
    pub fn derive(secret: &[u8], max_event: usize) -> Self {
        let mut derive = hmac_keyed(secret);
        derive.update(LABEL);
        BusKey {
            mac: hmac_keyed(&derive.finalize().into_bytes()),
            max_len: TAG_LEN + max_event,
        }
    }

    fn tagger(&self, channel: &str) -> HmacSha256 {
        let mut mac = self.mac.clone();
        // The channel's length first, so channel and payload cannot be
        // shifted into each other.
        mac.update(&(channel.len() as u64).to_be_bytes());
        mac.update(channel.as_bytes());
        mac
    }

    /// `payload` with its tag in front, for publishing on `channel`.
    pub fn seal(&self, channel: &str, payload: &[u8]) -> Vec<u8> {
        let mut mac = self.tagger(channel);
        mac.update(payload);
        let tag = mac.finalize().into_bytes();
        let mut sealed = Vec::with_capacity(TAG_LEN + payload.len());
        sealed.extend_from_slice(&tag);
        sealed.extend_from_slice(payload);
        sealed
    }

    /// The payload of a sealed message read from `channel`, if it was
    /// sealed with this key for that channel.
    pub fn open<'a>(&self, channel: &str, sealed: &'a [u8]) -> Result<&'a [u8], Rejected> {
        if sealed.len() > self.max_len {
            return Err(Rejected::Oversized);
        }
        if sealed.len() < TAG_LEN {
            return Err(Rejected::Malformed);
        }
        let (tag, payload) = sealed.split_at(TAG_LEN);
        let mut mac = self.tagger(channel);
        mac.update(payload);
        // Constant-time comparison.
        mac.verify_slice(tag).map_err(|_| Rejected::Forged)?;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &[u8]) -> BusKey {
        BusKey::derive(secret, 1024)
    }

    #[test]
    fn a_sealed_payload_opens_on_its_channel() {
        let k = key(b"secret");
        let sealed = k.seal("confab:room:lobby", b"1 2 \n{}");
        assert_eq!(k.open("confab:room:lobby", &sealed), Ok(&b"1 2 \n{}"[..]));
    }

    #[test]
    fn anything_else_is_refused() {
        let k = key(b"secret");
        let sealed = k.seal("confab:room:lobby", b"payload");
        // Another room, another key, a changed byte, no tag, too long.
        assert_eq!(k.open("confab:room:other", &sealed), Err(Rejected::Forged));
        assert_eq!(
            key(b"other secret").open("confab:room:lobby", &sealed),
            Err(Rejected::Forged)
        );
        let mut changed = sealed.clone();
        if let Some(last) = changed.last_mut() {
            *last ^= 1;
        }
        assert_eq!(k.open("confab:room:lobby", &changed), Err(Rejected::Forged));
        assert_eq!(
            k.open("confab:room:lobby", b"short"),
            Err(Rejected::Malformed)
        );
        let big = k.seal("confab:room:lobby", &[b'x'; 1025]);
        assert_eq!(k.open("confab:room:lobby", &big), Err(Rejected::Oversized));
        // The bus key is not the secret itself.
        let mut plain = HmacSha256::new_from_slice(b"secret").expect("any key length");
        plain.update(&(17u64).to_be_bytes());
        plain.update(b"confab:room:lobby");
        plain.update(b"payload");
        let mut naive = plain.finalize().into_bytes().to_vec();
        naive.extend_from_slice(b"payload");
        assert_eq!(k.open("confab:room:lobby", &naive), Err(Rejected::Forged));
    }
}
