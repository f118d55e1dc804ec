//! The gateway binary as a child process, for what only a process shows
//! (CLI, env overrides, signals).

use super::client;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary, without any `LLM_GATEWAY*` variable of the developer's.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_llm-gateway"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LLM_GATEWAY")) {
        c.env_remove(k);
    }
    c
}

/// A running gateway process, killed on drop.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Starts the binary on `config` at 127.0.0.1:`port`, with `env`
    /// overrides, its stdout into `stdout` (or nowhere).
    pub fn serve(
        config: &std::path::Path,
        port: u16,
        env: &[(&str, &str)],
        stdout: Option<&std::path::Path>,
    ) -> Self {
        let mut cmd = bin();
        cmd.arg("--config")
            .arg(config)
            .env("LLM_GATEWAY__SERVER__PORT", port.to_string())
            .env("LLM_GATEWAY__SERVER__HOST", "127.0.0.1")
            .envs(env.iter().copied())
            .stderr(Stdio::null());
        match stdout {
            Some(path) => cmd.stdout(std::fs::File::create(path).unwrap()),
            None => cmd.stdout(Stdio::null()),
        };
        Self(cmd.spawn().unwrap())
    }

    /// Polls `/ready` on `port` until the process serves (bounded), failing
    /// if it exits first.
    pub async fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://127.0.0.1:{port}/ready");
        loop {
            if let Ok(r) = client().get(&url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(self.0.try_wait().unwrap().is_none(), "gateway exited early");
            assert!(Instant::now() < deadline, "gateway did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `signal` (e.g. `-TERM`) with `kill`.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

/// A port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
