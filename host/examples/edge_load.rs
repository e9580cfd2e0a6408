//! `make edge-load`: a bounded loopback load on the edge shells. Starts
//! workerd (the Worker) and Deno (the Deno entry) as `make workerd` and
//! `make deno` run them, on free ports, and for each sends one signed
//! 117-byte Varda delivery over `--connections` keep-alive connections (16)
//! for `--seconds` (10), after a 2 s warm-up, checking every answer is
//! `200`; prints requests/s and p50/p99 latency. Loopback only; every
//! request and the whole run are bounded in time.

#[path = "../../tests/support/edge.rs"]
#[allow(dead_code, clippy::unwrap_used)] // test support: a failed start panics
mod edge;
#[path = "../../tests/support/http.rs"]
#[allow(dead_code)] // the launcher's client only
mod http;
#[path = "../../tests/support/ports.rs"]
mod ports;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};

const SECRET: &str = "edge-load-varda";
const BODY: &[u8] = br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":7,"direction":"inbound","duration_seconds":42}}"#;

fn main() -> anyhow::Result<()> {
    let mut connections = 16;
    let mut seconds = 10;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().context("a flag without its value")?;
        match arg.as_str() {
            "--connections" => connections = value.parse()?,
            "--seconds" => seconds = value.parse()?,
            other => bail!("unknown flag {other} (--connections N, --seconds S)"),
        }
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let input = switchboard_core::SignInput {
        body: BODY,
        timestamp: now,
        id: "",
    };
    let headers = switchboard_core::sign(
        "varda",
        &switchboard_core::Scheme::VendorDefault,
        &switchboard_core::Secret::new(SECRET),
        input,
    )?;
    let mut request = "POST /webhooks/varda HTTP/1.1\r\nHost: edge\r\n".to_owned();
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", BODY.len()));
    let mut request = request.into_bytes();
    request.extend_from_slice(BODY);

    println!(
        "| runtime | requests/s | p50 | p99 |  ({connections} keep-alive connections, {seconds} s, {} bytes)",
        BODY.len()
    );
    for runtime in edge::Runtime::ALL {
        let env = [("SWITCHBOARD_SECRET_VARDA", SECRET)];
        let shell = edge::Edge::start(runtime, edge::Entry::Production, &env);
        run(shell.address, &request, connections, Duration::from_secs(2))?;
        let (count, mut latencies, took) = run(
            shell.address,
            &request,
            connections,
            Duration::from_secs(seconds),
        )?;
        latencies.sort_unstable();
        let at =
            |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms |",
            runtime.name(),
            count as f64 / took.as_secs_f64(),
            at(0.50).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

/// `connections` threads, each sending `request` over one connection until
/// `duration` has passed: how many answered, their latencies, the time.
fn run(
    address: SocketAddr,
    request: &[u8],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<(usize, Vec<Duration>, Duration)> {
    let started = Instant::now();
    let results = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections)
            .map(|_| scope.spawn(move || connection(address, request, started + duration)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .map_err(|_| anyhow::anyhow!("a load thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let took = started.elapsed();
    let latencies: Vec<Duration> = results.into_iter().flatten().collect();
    ensure!(!latencies.is_empty(), "no request was answered");
    Ok((latencies.len(), latencies, took))
}

fn connection(
    address: SocketAddr,
    request: &[u8],
    until: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let sent = Instant::now();
        writer.write_all(request)?;
        let mut status = String::new();
        reader.read_line(&mut status)?;
        ensure!(status.starts_with("HTTP/1.1 200"), "answered {status:?}");
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
}
