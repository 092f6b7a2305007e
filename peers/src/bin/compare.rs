//! End-to-end load comparison of the three layers (not run in CI).
//!
//! ```text
//! compare [--seconds N] [--connections N] [--pool N] [--out FILE]
//! ```
//!
//! Starts tower-bearer's test issuer (one RSA key), signs a pool of distinct RS256 tokens
//! (default 10 000), then for each layer and each mix starts a fresh `server` process (the
//! binary next to this one), warms it for 3 s and drives it for N seconds (default 20) with
//! the same load generator: N connections (default 32) on one thread, HTTP/1.1 keep-alive,
//! each sending its next request as soon as the last is answered.
//!
//! * `unique`: the requests cycle through the whole pool. tower-bearer runs with its
//!   verified-token cache off, so, like the others, it checks every signature (the pool is
//!   far smaller than the number of requests, and a cache would turn the mix into repeats).
//! * `repeated`: every request carries the same token; each layer in its default
//!   configuration.
//!
//! Besides requests/s and latency, the server's own CPU time per request is read from
//! `/proc` (the load generator shares the machine, so requests/s also depends on how the two
//! split the cores). Every response must be 200; anything else counts as wrong. Prints a table
//! and writes the
//! figures as JSON to FILE (default `compare.json`), which `scripts/chart.py` reads.

use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tower_bearer::testing::{KeyKind, TestIssuer};

const LAYERS: [&str; 3] = [
    "tower-bearer",
    "jwt-authorizer",
    "tower-oauth2-resource-server",
];
const ADDR: &str = "127.0.0.1:18431";

struct Options {
    seconds: u64,
    connections: usize,
    pool: usize,
    out: PathBuf,
}

#[derive(Serialize)]
struct Run {
    layer: &'static str,
    mix: &'static str,
    seconds: f64,
    requests: u64,
    wrong: u64,
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The server process's CPU time (user + system) per request, from /proc.
    server_cpu_us_per_request: f64,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    wrong: u64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        seconds: 20,
        connections: 32,
        pool: 10_000,
        out: PathBuf::from("compare.json"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("{flag} {value:?} is not a positive number"))
        };
        match flag.as_str() {
            "--seconds" => options.seconds = number()? as u64,
            "--connections" => options.connections = number()?,
            "--pool" => options.pool = number()?,
            "--out" => options.out = PathBuf::from(&value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(options)
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect() -> Result<Sender, String> {
    let stream = TcpStream::connect(ADDR)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::task::spawn_local(conn);
    Ok(sender)
}

/// Sends one request and reads the whole answer: its status and how long it took.
async fn send(sender: &mut Sender, header: &HeaderValue) -> Result<(u16, Duration), String> {
    let request = Request::get(format!("http://{ADDR}/"))
        .header(http::header::AUTHORIZATION, header.clone())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?;
    Ok((status, start.elapsed()))
}

/// One connection: sends the next token's request as soon as the last one is answered.
async fn connection(
    headers: Rc<Vec<HeaderValue>>,
    next: Rc<AtomicUsize>,
    deadline: Instant,
) -> Result<Tally, String> {
    let mut sender = connect().await?;
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let header = &headers[next.fetch_add(1, Ordering::Relaxed) % headers.len()];
        let (status, elapsed) = send(&mut sender, header).await?;
        let micros = u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX);
        tally.latencies_us.push(micros);
        if status != 200 {
            tally.wrong += 1;
        }
    }
    Ok(tally)
}

/// Drives the server with `connections` connections for `duration`.
async fn drive(
    headers: &Rc<Vec<HeaderValue>>,
    connections: usize,
    duration: Duration,
) -> Result<(Tally, f64), String> {
    let next = Rc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            tokio::task::spawn_local(connection(Rc::clone(headers), Rc::clone(&next), deadline))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await.map_err(|e| e.to_string())??;
        all.latencies_us.extend(tally.latencies_us);
        all.wrong += tally.wrong;
    }
    Ok((all, start.elapsed().as_secs_f64()))
}

fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    f64::from(sorted_us[rank.clamp(1, sorted_us.len()) - 1]) / 1000.0
}

struct Server(Child);

impl Server {
    /// CPU time the server has used so far (user + system), from `/proc/PID/stat`.
    fn cpu_time(&self) -> Result<Duration, String> {
        let path = format!("/proc/{}/stat", self.0.id());
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        match (ticks(11), ticks(12)) {
            // utime and stime are fields 14 and 15, in USER_HZ (100 per second on Linux).
            (Some(user), Some(system)) => Ok(Duration::from_millis((user + system) * 10)),
            _ => Err(format!("{path}: unexpected format")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(layer: &str, issuer: &TestIssuer, cache: &str) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let binary = exe.with_file_name("server");
    let child = Command::new(&binary)
        .args([layer, issuer.url(), &issuer.jwks_uri(), ADDR, cache])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    Ok(Server(child))
}

/// Waits (up to 15 s) until the server answers 200 to `header`.
async fn wait_ready(header: &HeaderValue) -> Result<(), String> {
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(mut sender) = connect().await
            && let Ok((200, _)) = send(&mut sender, header).await
        {
            return Ok(());
        }
    }
    Err("the server did not accept the token within 15 s".into())
}

async fn run(options: &Options) -> Result<Vec<Run>, String> {
    let issuer = TestIssuer::start_with(&[KeyKind::Rsa]).await;
    eprintln!("signing {} RS256 tokens...", options.pool);
    let tokens: Vec<HeaderValue> = (0..options.pool)
        .map(|_| {
            let token = issuer.token().expires_in(3600).scope("read").sign();
            HeaderValue::from_str(&format!("Bearer {token}")).expect("a token is a header value")
        })
        .collect();
    let unique = Rc::new(tokens);
    let repeated = Rc::new(vec![unique[0].clone()]);
    let duration = Duration::from_secs(options.seconds);

    let mut runs = Vec::new();
    for layer in LAYERS {
        for (mix, headers) in [("unique", &unique), ("repeated", &repeated)] {
            let cache = if mix == "unique" { "0" } else { "10000" };
            let server = start_server(layer, &issuer, cache)?;
            wait_ready(&headers[0])
                .await
                .map_err(|e| format!("{layer}: {e}"))?;
            drive(headers, options.connections, Duration::from_secs(3)).await?;
            let cpu_before = server.cpu_time()?;
            let (mut tally, seconds) = drive(headers, options.connections, duration).await?;
            let cpu = server.cpu_time()?.saturating_sub(cpu_before);
            drop(server);
            tally.latencies_us.sort_unstable();
            let requests = tally.latencies_us.len() as u64;
            let run = Run {
                layer,
                mix,
                seconds,
                requests,
                wrong: tally.wrong,
                requests_per_sec: requests as f64 / seconds,
                p50_ms: percentile_ms(&tally.latencies_us, 50.0),
                p99_ms: percentile_ms(&tally.latencies_us, 99.0),
                server_cpu_us_per_request: cpu.as_secs_f64() * 1e6 / requests.max(1) as f64,
            };
            eprintln!(
                "{layer:<30} {mix:<9} {:>10.0} req/s  p99 {:.2} ms  server CPU {:.1} µs/request  wrong {}",
                run.requests_per_sec, run.p99_ms, run.server_cpu_us_per_request, run.wrong
            );
            runs.push(run);
        }
    }
    Ok(runs)
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!(
                "error: {e}\nusage: compare [--seconds N] [--connections N] [--pool N] [--out FILE]"
            );
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let runs = match local.block_on(&runtime, run(&options)) {
        Ok(runs) => runs,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!(
        "\n{:<30} {:<9} {:>10} {:>10} {:>8} {:>8} {:>11} {:>6}",
        "layer", "mix", "requests", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "wrong"
    );
    for run in &runs {
        println!(
            "{:<30} {:<9} {:>10} {:>10.0} {:>8.2} {:>8.2} {:>11.1} {:>6}",
            run.layer,
            run.mix,
            run.requests,
            run.requests_per_sec,
            run.p50_ms,
            run.p99_ms,
            run.server_cpu_us_per_request,
            run.wrong
        );
    }
    for mix in ["unique", "repeated"] {
        let rps = |layer| {
            runs.iter()
                .find(|r| r.layer == layer && r.mix == mix)
                .map_or(f64::NAN, |r| r.requests_per_sec)
        };
        let fastest_peer = rps(LAYERS[1]).max(rps(LAYERS[2]));
        let cpu = |layer| {
            runs.iter()
                .find(|r| r.layer == layer && r.mix == mix)
                .map_or(f64::NAN, |r| r.server_cpu_us_per_request)
        };
        let cheapest_peer = cpu(LAYERS[1]).min(cpu(LAYERS[2]));
        println!(
            "{mix:<9} tower-bearer vs the faster peer: {:.2}x the requests/s, {:.2}x less server CPU per request",
            rps(LAYERS[0]) / fastest_peer,
            cheapest_peer / cpu(LAYERS[0])
        );
    }
    let json = serde_json::to_string_pretty(&runs).expect("figures");
    if let Err(e) = std::fs::write(&options.out, json + "\n") {
        eprintln!("error: cannot write {}: {e}", options.out.display());
        return ExitCode::FAILURE;
    }
    println!("figures written to {}", options.out.display());
    if runs.iter().any(|r| r.wrong > 0) {
        eprintln!("error: some responses were not 200");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
