//! A small HTTP/1.1 load generator for bench/run (std only; bench/run builds
//! it with `rustc -O`), for what wrk does not do: a fixed request rate with
//! latency corrected for coordinated omission, and an exact request count.
//!
//!   load --url URL --body FILE [--key K] [--conns C] --rate R --duration S
//!       Request i is due at start + i/R. Each of C keep-alive connections
//!       takes the next due request when it is free and sleeps until it is
//!       due; latency is measured from the due time, so a stall delays (and
//!       is charged to) every request that should have been sent during it.
//!   load --url URL --body FILE [--key K] [--conns C] --requests N
//!       N requests, as fast as C connections go (closed loop).
//!
//! Prints one JSON line: requests, ok (2xx), status counts, errors, duration,
//! rate achieved, latency and time-to-first-body-byte percentiles (µs).
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    host: String,
    path: String,
    body: Vec<u8>,
    key: String,
    conns: usize,
    rate: f64,
    duration: f64,
    requests: u64,
}

#[derive(Default)]
struct Stats {
    latency_us: Vec<u32>,
    ttfb_us: Vec<u32>,
    status: BTreeMap<u16, u64>,
    errors: u64,
}

fn usage(msg: &str) -> ! {
    eprintln!("load: {msg}\nusage: load --url URL --body FILE [--key K] [--conns C] (--rate R --duration S | --requests N)");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let (mut url, mut body, mut key) = (None, None, String::new());
    let (mut conns, mut rate, mut duration, mut requests) = (64usize, 0f64, 0f64, 0u64);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| {
            v.parse::<f64>()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number")))
        };
        match flag.as_str() {
            "--url" => url = Some(value),
            "--body" => {
                body =
                    Some(std::fs::read(&value).unwrap_or_else(|e| usage(&format!("{value}: {e}"))))
            }
            "--key" => key = value,
            "--conns" => conns = num(&value).max(1.0) as usize,
            "--rate" => rate = num(&value),
            "--duration" => duration = num(&value),
            "--requests" => requests = num(&value) as u64,
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let url = url.unwrap_or_else(|| usage("--url is required"));
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| usage("only http:// URLs"));
    let (host, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    };
    if (rate > 0.0) == (requests > 0) || (rate > 0.0 && duration <= 0.0) {
        usage("either --rate with --duration, or --requests");
    }
    Args {
        host,
        path,
        body: body.unwrap_or_default(),
        key,
        conns,
        rate,
        duration,
        requests,
    }
}

/// Reads one response; returns its status and when its first body byte came.
fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, Option<Instant>, bool)> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(bad("connection closed"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("status line"))?;
    let (mut length, mut chunked, mut close) = (0usize, false, false);
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("closed in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let (name, value) = (
                name.trim().to_ascii_lowercase(),
                value.trim().to_ascii_lowercase(),
            );
            match name.as_str() {
                "content-length" => length = value.parse().map_err(|_| bad("content-length"))?,
                "transfer-encoding" => chunked = value.contains("chunked"),
                "connection" => close = value.contains("close"),
                _ => {}
            }
        }
    }
    let mut first = None;
    let mut sink = vec![0u8; 64 * 1024];
    let mut skip = |r: &mut BufReader<TcpStream>,
                    mut n: usize,
                    first: &mut Option<Instant>|
     -> std::io::Result<()> {
        while n > 0 {
            let got = r.read(&mut sink[..n.min(64 * 1024)])?;
            if got == 0 {
                return Err(bad("closed in body"));
            }
            first.get_or_insert_with(Instant::now);
            n -= got;
        }
        Ok(())
    };
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            skip(r, size, &mut first)?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else {
        skip(r, length, &mut first)?;
    }
    Ok((status, first, close))
}

fn connect(host: &str) -> Option<BufReader<TcpStream>> {
    let s = TcpStream::connect(host).ok()?;
    s.set_nodelay(true).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    Some(BufReader::with_capacity(64 * 1024, s))
}

fn main() {
    let a = Arc::new(parse_args());
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        a.path,
        a.host,
        a.body.len()
    );
    if !a.key.is_empty() {
        head += &format!("Authorization: Bearer {}\r\n", a.key);
    }
    let mut request = (head + "\r\n").into_bytes();
    request.extend_from_slice(&a.body);
    let request = Arc::new(request);
    let next = Arc::new(AtomicU64::new(0));
    let total = Arc::new(Mutex::new(Stats::default()));
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + Duration::from_secs_f64(a.duration);
    let threads: Vec<_> = (0..a.conns)
        .map(|_| {
            let (a, request, next, total) =
                (a.clone(), request.clone(), next.clone(), total.clone());
            std::thread::spawn(move || {
                let mut st = Stats::default();
                let mut conn = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let due = if a.rate > 0.0 {
                        let due = start + Duration::from_secs_f64(i as f64 / a.rate);
                        if due >= end {
                            break;
                        }
                        let now = Instant::now();
                        if due > now {
                            std::thread::sleep(due - now);
                        }
                        due
                    } else {
                        if i >= a.requests {
                            break;
                        }
                        Instant::now()
                    };
                    if conn.is_none() {
                        conn = connect(&a.host);
                    }
                    let Some(c) = conn.as_mut() else {
                        st.errors += 1;
                        continue;
                    };
                    let result = c
                        .get_mut()
                        .write_all(&request)
                        .and_then(|_| read_response(c));
                    match result {
                        Ok((status, first, close)) => {
                            let done = Instant::now();
                            st.latency_us.push(
                                done.saturating_duration_since(due)
                                    .as_micros()
                                    .min(u32::MAX as u128) as u32,
                            );
                            if let Some(f) = first {
                                st.ttfb_us.push(
                                    f.saturating_duration_since(due)
                                        .as_micros()
                                        .min(u32::MAX as u128)
                                        as u32,
                                );
                            }
                            *st.status.entry(status).or_default() += 1;
                            if close {
                                conn = None;
                            }
                        }
                        Err(_) => {
                            st.errors += 1;
                            conn = None;
                        }
                    }
                }
                let mut t = total.lock().unwrap_or_else(|e| e.into_inner());
                t.latency_us.extend(st.latency_us);
                t.ttfb_us.extend(st.ttfb_us);
                t.errors += st.errors;
                for (k, v) in st.status {
                    *t.status.entry(k).or_default() += v;
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let elapsed = Instant::now()
        .saturating_duration_since(start)
        .as_secs_f64();
    let mut t = total.lock().unwrap_or_else(|e| e.into_inner());
    t.latency_us.sort_unstable();
    t.ttfb_us.sort_unstable();
    let pct = |v: &[u32], p: f64| {
        if v.is_empty() {
            0
        } else {
            v[((p / 100.0 * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
        }
    };
    let n = t.latency_us.len() as u64;
    let ok: u64 = t
        .status
        .iter()
        .filter(|(k, _)| (200..300).contains(*k))
        .map(|(_, v)| v)
        .sum();
    let status: Vec<String> = t
        .status
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    println!(
        "{{\"requests\":{n},\"ok\":{ok},\"errors\":{},\"status\":{{{}}},\"duration_us\":{},\"rate\":{},\"rps\":{:.1},\
         \"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\"ttfb_p50_us\":{},\"ttfb_p99_us\":{}}}",
        t.errors,
        status.join(","),
        (elapsed * 1e6) as u64,
        a.rate,
        n as f64 / elapsed.max(1e-9),
        pct(&t.latency_us, 50.0),
        pct(&t.latency_us, 90.0),
        pct(&t.latency_us, 99.0),
        pct(&t.latency_us, 99.9),
        t.latency_us.last().copied().unwrap_or(0),
        pct(&t.ttfb_us, 50.0),
        pct(&t.ttfb_us, 99.0),
    );
}
