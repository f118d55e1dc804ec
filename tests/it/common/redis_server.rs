//! A real `redis-server` (Debian's package; `tests/run` installs it) on a
//! free port, without persistence, killed on drop.

use super::free_port;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct Redis {
    pub port: u16,
    /// `requirepass`, when set.
    password: Option<String>,
    child: Option<Child>,
}

impl Redis {
    /// Starts a server on a free port and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// Starts a server that requires `password` (when given).
    pub fn start_with(password: Option<&str>) -> Self {
        let mut r = Self {
            port: free_port(),
            password: password.map(str::to_owned),
            child: None,
        };
        r.restart();
        r
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash or a lost node would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port (empty: no persistence).
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(self.password.iter().flat_map(|p| ["--requirepass", p]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server runs (Debian: apt-get install redis-server; tests/run installs it)",
            );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.connection().is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A plain connection, to look at what the gateways stored.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let url = match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/0", self.port),
            None => self.url(),
        };
        let mut c = redis::Client::open(url)?.get_connection()?;
        redis::cmd("PING").query::<String>(&mut c)?;
        Ok(c)
    }

    /// The keys the gateways stored.
    pub fn keys(&self) -> Vec<String> {
        let mut c = self.connection().expect("redis answers");
        redis::cmd("KEYS")
            .arg("llmgw:*")
            .query(&mut c)
            .expect("KEYS")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
