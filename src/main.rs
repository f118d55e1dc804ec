//! The `llm-gateway` binary: CLI, logging, run.

use clap::{Parser, Subcommand};
use llm_gateway::config::load::ConfigSource;
use llm_gateway::{logging, Gateway};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "A small, fast LLM gateway: one OpenAI- and Anthropic-compatible endpoint for OpenAI, Anthropic, Gemini and OpenAI-compatible servers."
)]
struct Cli {
    /// Config file. Default: ./config.toml if it exists, else the built-in demo config.
    #[arg(long, env = "LLM_GATEWAY_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config file (with env overrides applied) and exit: 0 if valid.
    Check,
    /// Exit 0 if the gateway at URL answers /health with 200 (for container HEALTHCHECKs).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:8080/health")]
        url: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Check) => check(cli.config),
        Some(Command::Healthcheck { url }) => healthcheck(&url),
        None => serve(cli.config),
    }
}

fn check(path: Option<PathBuf>) -> ExitCode {
    let Some(path) = path else {
        eprintln!("llm-gateway check: --config PATH is required");
        return ExitCode::from(2);
    };
    match ConfigSource::File(path.clone()).load() {
        Ok(s) => {
            println!(
                "{}: ok ({} models, {} providers)",
                path.display(),
                s.models.len(),
                s.providers.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{}: configuration test failed", path.display());
            ExitCode::FAILURE
        }
    }
}

fn serve(path: Option<PathBuf>) -> ExitCode {
    let source = ConfigSource::resolve(path);
    let snapshot = match source.load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(&snapshot.server);
    if source == ConfigSource::Demo {
        tracing::warn!(
            "NO CONFIG FILE GIVEN AND NO ./config.toml FOUND: serving the built-in DEMO config \
             (mock provider, model `demo`, key `sk-gateway-demo`). Pass --config PATH for real use."
        );
    }
    let addr = (snapshot.server.host.as_str(), snapshot.server.port);
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(host = %addr.0, port = addr.1, error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let result = actix_web::rt::System::new().block_on(async move {
        let file = match source {
            ConfigSource::File(path) => Some(path),
            ConfigSource::Demo => None,
        };
        let gateway = Gateway::start(file, snapshot, listener)?;
        tracing::info!(address = %gateway.addr, "llm-gateway listening");
        gateway.run().await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn healthcheck(url: &str) -> ExitCode {
    let ok = (|| -> Option<bool> {
        let rest = url.strip_prefix("http://")?;
        let (host, path) = rest.split_once('/').map_or((rest, "/"), |(h, p)| (h, p));
        let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
            .ok()?
            .next()?;
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(
            s,
            "GET /{} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            path.trim_start_matches('/')
        )
        .ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).ok()?;
        Some(&head[9..12] == b"200")
    })()
    .unwrap_or(false);
    if ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("{url}: not healthy");
        ExitCode::FAILURE
    }
}
