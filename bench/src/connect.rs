//! Opening a chat socket the way a browser tab does, and reading its join
//! burst.
//!
//! A socket is a plain TCP connection (optionally from a chosen 127.0.0.x
//! source address, since one source address runs out of ephemeral ports
//! near 28,000 connections) upgraded with the user's session cookie and a
//! matching `Origin`. The client-side buffers are sized by the scenario so
//! that ten thousand idle sockets do not make the generator the bottleneck.

use anyhow::{Context, bail};
use futures_util::StreamExt;
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::{COOKIE, ORIGIN};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::frames::{self, Incoming};

/// An open chat socket.
pub type Socket = WebSocketStream<TcpStream>;

/// A confab instance on this machine.
#[derive(Debug, Clone)]
pub struct Server {
    addr: SocketAddr,
}

impl Server {
    /// Parses `http://127.0.0.1:8000`-style URLs; only loopback addresses
    /// are accepted, since the generator is meant for this machine only.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let parsed = Url::parse(url).with_context(|| format!("bad --url {url:?}"))?;
        if parsed.scheme() != "http" {
            bail!("--url {url:?}: only http:// (the socket is ws:// on the same port)");
        }
        let ip: IpAddr = match parsed.host_str() {
            Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(host) => host
                .trim_matches(|c| c == '[' || c == ']')
                .parse()
                .with_context(|| format!("--url {url:?}: the host must be an IP address"))?,
            None => bail!("--url {url:?} has no host"),
        };
        if !ip.is_loopback() {
            bail!("--url {url:?}: the benchmark only talks to loopback addresses");
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        Ok(Server {
            addr: SocketAddr::new(ip, port),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, without a trailing slash.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// How a scenario dials: buffer sizes and where connections come from.
#[derive(Debug, Clone)]
pub struct Dialer {
    config: WebSocketConfig,
    source_ips: usize,
    /// Open sockets as the room page does, with `?v=2`: the server then
    /// sends them the team-chat frames (unread counts, activity).
    modern: bool,
}

impl Dialer {
    /// Sockets with a `read_buffer`-byte read buffer that write each frame
    /// at once, spread over `source_ips` source addresses 127.0.0.2 and up
    /// (0: let the kernel choose).
    pub fn new(read_buffer: usize, source_ips: usize) -> Self {
        let config = WebSocketConfig::default()
            .read_buffer_size(read_buffer.max(256))
            .write_buffer_size(0)
            .max_message_size(Some(1 << 20))
            .max_frame_size(Some(1 << 20));
        Dialer {
            config,
            source_ips,
            modern: false,
        }
    }

    /// Dials modern sockets (`?v=2`) if `modern`.
    pub fn modern(mut self, modern: bool) -> Self {
        self.modern = modern;
        self
    }

    /// The source address of connection number `i`.
    fn source(&self, i: usize) -> Option<IpAddr> {
        if self.source_ips == 0 {
            return None;
        }
        // 127.0.0.2 and up: 127.0.0.1 stays the server's own.
        let last = 2 + (i % self.source_ips.min(250)) as u8;
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
    }

    /// Opens connection number `i` to `room` on `server` as the user whose
    /// cookie is `cookie`.
    pub async fn open(
        &self,
        server: &Server,
        room: &str,
        cookie: &str,
        i: usize,
    ) -> anyhow::Result<Socket> {
        self.open_after(server, room, None, cookie, i).await
    }

    /// Like [`Dialer::open`], resuming after message `after` if given
    /// (`/ws/chat/<room>/?after=ID`: the server sends what came since).
    pub async fn open_after(
        &self,
        server: &Server,
        room: &str,
        after: Option<i64>,
        cookie: &str,
        i: usize,
    ) -> anyhow::Result<Socket> {
        let socket = match server.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let (Some(source), SocketAddr::V4(_)) = (self.source(i), server.addr) {
            socket
                .bind(SocketAddr::new(source, 0))
                .with_context(|| format!("binding to {source}"))?;
        }
        let stream = socket
            .connect(server.addr)
            .await
            .with_context(|| format!("connecting to {}", server.addr))?;
        stream.set_nodelay(true)?;
        let mut params = Vec::new();
        if self.modern {
            params.push("v=2".to_owned());
        }
        if let Some(id) = after {
            params.push(format!("after={id}"));
        }
        let query = if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        };
        let mut request =
            format!("ws://{}/ws/chat/{room}/{query}", server.addr).into_client_request()?;
        let headers = request.headers_mut();
        headers.insert(COOKIE, HeaderValue::from_str(cookie)?);
        headers.insert(ORIGIN, HeaderValue::from_str(&server.http_base())?);
        match client_async_with_config(request, stream, Some(self.config)).await {
            Ok((socket, _response)) => Ok(socket),
            Err(tungstenite::Error::Http(response)) => bail!(
                "the server refused the socket to {room}: {} (bad cookie, origin or room?)",
                response.status()
            ),
            Err(e) => Err(e).context("WebSocket handshake"),
        }
    }
}

/// What a join burst held.
#[derive(Debug, Clone, Copy, Default)]
pub struct JoinBurst {
    /// `chat_message` frames marked `history`.
    pub history: usize,
}

/// Reads frames until the `user_list` that ends the join burst.
pub async fn until_joined(socket: &mut Socket, within: Duration) -> anyhow::Result<JoinBurst> {
    let read = async {
        let mut burst = JoinBurst::default();
        while let Some(message) = socket.next().await {
            if let Message::Text(text) = message? {
                match frames::parse(&text) {
                    Ok(Incoming::UserList) => return Ok(burst),
                    Ok(Incoming::Chat { history: true, .. }) => burst.history += 1,
                    Ok(Incoming::Error { code, .. }) => bail!("error frame while joining: {code}"),
                    _ => {}
                }
            }
        }
        bail!("the socket closed before its join burst ended")
    };
    tokio::time::timeout(within, read)
        .await
        .context("timed out waiting for the join burst")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers() {
        let s = Server::parse("http://127.0.0.1:8000").unwrap();
        assert_eq!(s.addr(), "127.0.0.1:8000".parse().unwrap());
        assert_eq!(s.http_base(), "http://127.0.0.1:8000");
        assert_eq!(
            Server::parse("http://localhost:8001")
                .unwrap()
                .addr()
                .port(),
            8001
        );
        assert!(Server::parse("http://[::1]:8000").is_ok());
        assert!(Server::parse("http://10.0.0.1:8000").is_err());
        assert!(Server::parse("http://example.com/").is_err());
        assert!(Server::parse("https://127.0.0.1/").is_err());
    }

    #[test]
    fn sources_cycle_over_127_0_0_x() {
        let d = Dialer::new(4096, 3);
        let ips: Vec<_> = (0..4).map(|i| d.source(i).unwrap().to_string()).collect();
        assert_eq!(ips, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2"]);
        assert_eq!(Dialer::new(4096, 0).source(5), None);
    }
}
