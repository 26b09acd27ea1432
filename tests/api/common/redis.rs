//! `redis-server`s of a test's own: for outages (stopped and started
//! again), and for servers set up differently from the shared one (TLS).

use super::{free_port, missing, redis_url};
use std::path::Path;
use std::time::Duration;

/// A `redis-server` of this test's own, on a free port.
pub struct OwnRedis {
    child: std::process::Child,
    pub port: u16,
    tls: bool,
}

impl OwnRedis {
    /// A new `redis-server` on a free port, or `None` when the test skips:
    /// without `CONFAB_TEST_REDIS_URL`, as every Redis test does, or when
    /// `redis-server` cannot be started.
    pub fn start() -> Option<OwnRedis> {
        redis_url()?;
        OwnRedis::start_on(free_port())
    }

    /// A new `redis-server` on `port`: the one a stopped one had, to
    /// bring it back.
    pub fn start_on(port: u16) -> Option<OwnRedis> {
        Self::spawn(port, &["--port", &port.to_string()], false)
    }

    /// A new `redis-server` that speaks only TLS, with the certificate and
    /// key in `dir` (see [`TestCertificates`]).
    pub fn start_tls(dir: &Path) -> Option<OwnRedis> {
        redis_url()?;
        let port = free_port();
        let file = |name: &str| dir.join(name).display().to_string();
        let (cert, key, ca) = (file("server.pem"), file("server.key"), file("ca.pem"));
        let args = [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
        ];
        Self::spawn(port, &args, true)
    }

    fn spawn(port: u16, args: &[&str], tls: bool) -> Option<OwnRedis> {
        let child = match std::process::Command::new("redis-server")
            .args(args)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                return missing(
                    &format!("redis-server cannot be started ({e})"),
                    "skipping a Redis test",
                );
            }
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(OwnRedis { child, port, tls });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on port {port} did not come up");
    }

    /// Where instances reach it.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// A throwaway CA and a certificate it signed for 127.0.0.1, made with the
/// `openssl` command: `ca.pem`, `server.pem` and `server.key` in `dir`.
pub struct TestCertificates {
    pub dir: tempfile::TempDir,
}

impl TestCertificates {
    pub fn make() -> TestCertificates {
        let dir = tempfile::tempdir().unwrap();
        // `subject` goes last, on its own: it holds a space.
        let run = |args: &[String], subject: &str| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .args(["-subj", subject])
                .current_dir(dir.path())
                .output()
                .expect("the openssl command runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1";
        let words = |line: String| line.split(' ').map(str::to_owned).collect::<Vec<_>>();
        run(
            &words(format!("req -x509 {ec} -keyout ca.key -out ca.pem")),
            "/CN=confab test CA",
        );
        run(
            &words(format!("req {ec} -keyout server.key -out server.csr")),
            "/CN=127.0.0.1",
        );
        std::fs::write(
            dir.path().join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        let sign = "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                    -out server.pem -days 1 -extfile san.ext";
        let out = std::process::Command::new("openssl")
            .args(sign.split_whitespace())
            .current_dir(dir.path())
            .output()
            .expect("the openssl command runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestCertificates { dir }
    }
}
