//! Who is on the other end of a request: the client's address and the host
//! it asked for.
//!
//! Behind a reverse proxy the peer is the proxy, and the client's own
//! address and host arrive in headers (`X-Forwarded-For`, `Forwarded`,
//! `X-Forwarded-Host`). Anyone can send those headers, so they count only
//! when the peer is one of `CONFAB_TRUSTED_PROXIES`; from anyone else the
//! peer address and the `Host` header are the truth. The client address is
//! what connection caps count and what the access log shows.

use actix_web::HttpRequest;
use actix_web::http::header::{self, HeaderMap};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// Whether `ip` is one of the trusted proxies.
fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

/// IPv4 addresses mapped into IPv6 (`::ffff:10.0.0.1`) as plain IPv4, so
/// one address counts once however the socket reported it.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy,
/// the nearest address in `X-Forwarded-For` that is not itself a trusted
/// proxy (read from the right: each proxy appends the address it got the
/// request from, so everything left of the last untrusted hop could be
/// made up by the client).
pub fn client_addr_of(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let mut client = canonical(peer?.ip());
    if !is_trusted(client, trusted) {
        return Some(client);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        // An entry that is no address ends the walk: the trusted hop that
        // passed it on is as close to the client as anyone can vouch for.
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = canonical(ip);
        if !is_trusted(client, trusted) {
            break;
        }
    }
    Some(client)
}

/// [`client_addr_of`] for a request.
pub fn client_addr(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    client_addr_of(req.peer_addr(), req.headers(), trusted)
}

/// The host the client asked for: from `Forwarded` or `X-Forwarded-Host`
/// when a trusted proxy passed the request on, else from `Host`.
pub fn requested_host(req: &HttpRequest, trusted: &[IpNet]) -> String {
    let from_proxy = req
        .peer_addr()
        .is_some_and(|peer| is_trusted(peer.ip(), trusted));
    if from_proxy {
        return req.connection_info().host().to_owned();
    }
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| req.app_config().host().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(forwarded_for: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in forwarded_for {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_trusted() {
        let spoofed = headers(&["203.0.113.9"]);
        assert_eq!(
            client_addr_of(peer("198.51.100.7"), &spoofed, &[]),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_addr_of(peer("198.51.100.7"), &spoofed, &nets(&["10.0.0.0/8"])),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_cannot_be_fooled_from_the_left() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client claimed 1.1.1.1; the proxy appended what it saw.
        let chain = headers(&["1.1.1.1, 203.0.113.9"]);
        assert_eq!(
            client_addr_of(peer("10.0.0.2"), &chain, &trusted),
            ip("203.0.113.9")
        );
        // Two trusted proxies in a row, over two header lines.
        let chain = headers(&["203.0.113.9", "10.0.0.3"]);
        assert_eq!(
            client_addr_of(peer("10.0.0.2"), &chain, &trusted),
            ip("203.0.113.9")
        );
        // Nothing forwarded: the proxy itself.
        assert_eq!(
            client_addr_of(peer("10.0.0.2"), &headers(&[]), &trusted),
            ip("10.0.0.2")
        );
        // Garbage stops the walk at the last hop a trusted proxy vouched for.
        let chain = headers(&["203.0.113.9, not-an-ip"]);
        assert_eq!(
            client_addr_of(peer("10.0.0.2"), &chain, &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn mapped_ipv4_counts_as_ipv4() {
        assert_eq!(
            client_addr_of(peer("::ffff:10.0.0.2"), &headers(&[]), &[]),
            ip("10.0.0.2")
        );
    }
}
