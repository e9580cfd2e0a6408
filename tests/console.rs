//! The console's HTTP surface on a running receiver: who may use it (a
//! non-loopback peer without a token is refused; with a token its data
//! needs it; a foreign `Origin` is refused), its files (embedded, under a
//! strict Content-Security-Policy, the page with no inline script or
//! style), its API (a delivery listed and opened with no secret in it, a
//! replay of a delivery not in the ring or not replayable), and the stream
//! cap. The page itself is driven in a browser by `tests/browser`.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/http.rs"]
#[allow(dead_code)] // shared with the other suites
mod http;
#[path = "support/receiver.rs"]
#[allow(dead_code)] // shared with the other suites
mod receiver;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use receiver::Receiver;
use serde_json::Value;

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");
const TOKEN: &str = "console-token-0123456789";
const VARDA_SECRET: &str = "console-varda-secret";
const OPENCX_TOKEN: &str = "console-opencx-shared-token";

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-console-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!(
            r#"
[vendors.varda]
secrets = ["{VARDA_SECRET}"]

[vendors.opencx]
secrets = ["{OPENCX_TOKEN}"]
scheme = {{ type = "shared-secret", header = "X-OpenCX-Token" }}
"#
        ),
    )
    .unwrap();
    dir
}

fn start(dir: &Path, extra: &[&str]) -> Receiver {
    Receiver::start(
        SWITCHBOARD,
        &dir.join("switchboard.toml"),
        &dir.join("events.ndjson"),
        extra,
    )
    .unwrap()
}

/// A receiver on `0.0.0.0`, and its port.
fn start_everywhere(dir: &Path, extra: &[&str]) -> (std::process::Child, u16) {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--listen".into(),
        "0.0.0.0:0".into(),
        "--config".into(),
        dir.join("switchboard.toml").into(),
        "--out".into(),
        dir.join("events.ndjson").into(),
    ];
    args.extend(extra.iter().map(Into::into));
    let (child, address) = http::start_receiver(SWITCHBOARD, &args).unwrap();
    (child, address.port())
}

fn get(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> http::Response {
    send(address, "GET", path, headers)
}

fn send(address: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> http::Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    http::request(address, method, path, &headers, b"").unwrap()
}

fn error(response: &http::Response) -> (u16, String, String) {
    let body: Value = serde_json::from_str(&response.body).unwrap_or_default();
    (
        response.status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        body["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

/// An address of this machine that is not the loopback: the one it would
/// route to another host from (no packet is sent), or `hostname -I`'s
/// first.
fn non_loopback_address() -> IpAddr {
    let routed = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("192.0.2.1:9")?;
            socket.local_addr()
        })
        .map(|address| address.ip())
        .ok()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified());
    routed
        .or_else(|| {
            let out = std::process::Command::new("hostname")
                .arg("-I")
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|word| word.parse::<IpAddr>().ok())
                .find(|ip| ip.is_ipv4() && !ip.is_loopback())
        })
        .expect(
            "this machine has no non-loopback address to test the console's loopback check \
             through (the check itself is tested in crates/http)",
        )
}

fn signed_varda(body: &str, secret: &str) -> Vec<(String, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut headers = switchboard_core::sign(
        "varda",
        &switchboard_core::Scheme::VendorDefault,
        &switchboard_core::Secret::new(secret),
        switchboard_core::SignInput {
            body: body.as_bytes(),
            timestamp: now,
            id: "msg_1",
        },
    )
    .unwrap();
    headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    headers.push(("X-Varda-Delivery".to_owned(), "dlv_console_1".to_owned()));
    headers
}

/// Varda's `call.started` fixture's body.
fn varda_body() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/varda/call-started.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["request"]["body"].as_str().unwrap().to_owned()
}

#[test]
fn without_a_token_a_non_loopback_peer_is_refused() {
    let dir = scratch("loopback");
    let (mut child, port) = start_everywhere(&dir, &[]);
    let outside = SocketAddr::new(non_loopback_address(), port);
    let local = SocketAddr::from(([127, 0, 0, 1], port));
    for path in [
        "/console",
        "/console/assets/console.js",
        "/console/api/deliveries",
        "/console/api/stream",
    ] {
        let answer = get(outside, path, &[]);
        assert_eq!(
            error(&answer),
            (403, "forbidden".to_owned(), "console-forbidden".to_owned()),
            "{path} from {outside}"
        );
    }
    // The webhooks answer everyone all the same; the console, loopback.
    assert_eq!(get(outside, "/healthz", &[]).status, 200);
    assert_eq!(get(local, "/console/api/deliveries", &[]).status, 200);
    // A loopback peer naming the receiver by another name: DNS rebinding.
    let mut stream = TcpStream::connect(local).unwrap();
    write!(
        stream,
        "GET /console/api/deliveries HTTP/1.1\r\nHost: attacker.example:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let rebound = http::parse_response(&raw).unwrap();
    assert_eq!(error(&rebound).2, "console-forbidden", "{}", rebound.body);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn with_a_token_the_data_needs_it_from_everywhere() {
    let dir = scratch("token");
    let (mut child, port) = start_everywhere(&dir, &["--console-token", TOKEN]);
    let outside = SocketAddr::new(non_loopback_address(), port);
    let local = SocketAddr::from(([127, 0, 0, 1], port));
    let bearer = format!("Bearer {TOKEN}");
    for address in [outside, local] {
        // The page holds no data: it is served, and asks for the token.
        let page = get(address, "/console", &[]);
        assert_eq!(page.status, 200, "{address}");
        for path in ["/console/api/deliveries", "/console/api/stream"] {
            for authorization in [None, Some("Bearer wrong-token-0123456789"), Some("Basic x")] {
                let headers: Vec<(&str, &str)> = authorization
                    .map(|a| ("Authorization", a))
                    .into_iter()
                    .collect();
                let answer = get(address, path, &headers);
                assert_eq!(
                    error(&answer),
                    (401, "unauthorized".to_owned(), "console-token".to_owned()),
                    "{path} from {address} with {authorization:?}"
                );
                assert!(
                    answer
                        .header("www-authenticate")
                        .unwrap()
                        .starts_with("Bearer")
                );
                assert!(!answer.body.contains(TOKEN));
            }
        }
        let list = get(
            address,
            "/console/api/deliveries",
            &[("Authorization", &bearer)],
        );
        assert_eq!(list.status, 200, "{address}: {}", list.body);
        let replay = send(address, "POST", "/console/api/deliveries/1/replay", &[]);
        assert_eq!(replay.status, 401, "a replay needs the token too");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_api_lists_opens_and_replays_and_never_shows_a_secret() {
    let dir = scratch("api");
    let receiver = start(&dir, &[]);
    let address = receiver.address;
    // Refused: signed with another secret, and carrying the configured
    // secret in a header of its own.
    let mut headers = signed_varda(&varda_body(), "not-the-varda-secret");
    headers.push(("X-Debug".to_owned(), format!("echo {VARDA_SECRET}")));
    assert_eq!(
        receiver
            .post("/webhooks/varda", &headers, varda_body().as_bytes())
            .unwrap()
            .status,
        401
    );
    // Refused: OpenCX's shared secret, wrong (the header is a secret).
    let opencx = vec![(
        "X-OpenCX-Token".to_owned(),
        format!("{OPENCX_TOKEN}-almost"),
    )];
    assert_eq!(
        receiver
            .post("/webhooks/opencx", &opencx, b"{}")
            .unwrap()
            .status,
        401
    );
    // Accepted.
    let good = signed_varda(&varda_body(), VARDA_SECRET);
    let accepted = receiver
        .post("/webhooks/varda", &good, varda_body().as_bytes())
        .unwrap();
    assert_eq!(accepted.status, 200, "{}", accepted.body);

    let list: Value =
        serde_json::from_str(&get(address, "/console/api/deliveries", &[]).body).unwrap();
    let deliveries = list["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 3);
    assert_eq!(deliveries[0]["reason"], "no-match");
    assert_eq!(deliveries[0]["delivery"], "dlv_console_1");
    assert_eq!(deliveries[0]["replayable"], true);
    assert_eq!(deliveries[2]["outcome"], "ok");
    assert_eq!(deliveries[2]["type"], "call.started");
    assert!(deliveries[2]["micros"].as_u64().unwrap() > 0);
    assert_eq!(list["caps"]["deliveries"], 500);
    let counters = list["counters"].to_string();
    assert!(
        counters.contains(r#"{"vendor":"varda","outcome":"unauthenticated","count":1}"#),
        "{counters}"
    );

    let mut everything = list.to_string();
    for seq in 1..=3 {
        let detail = get(address, &format!("/console/api/deliveries/{seq}"), &[]);
        assert_eq!(detail.status, 200);
        assert_eq!(detail.header("content-type"), Some("application/json"));
        everything.push_str(&detail.body);
    }
    let accepted_detail: Value =
        serde_json::from_str(&get(address, "/console/api/deliveries/3", &[]).body).unwrap();
    let event: Value = serde_json::from_str(accepted_detail["event"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "call.started");
    assert!(
        !everything.contains(VARDA_SECRET) && !everything.contains(OPENCX_TOKEN),
        "{everything}"
    );
    let signature = &good
        .iter()
        .find(|(n, _)| n == "X-Varda-Signature")
        .unwrap()
        .1;
    assert!(
        !everything.contains(signature.as_str()),
        "signatures are shown shortened"
    );
    assert!(everything.contains("[redacted]"));

    // Replays: not in the ring, accepted already, a foreign page.
    let missing = send(address, "POST", "/console/api/deliveries/99/replay", &[]);
    assert_eq!(
        error(&missing),
        (404, "not-found".to_owned(), "not-in-ring".to_owned())
    );
    let missing = get(address, "/console/api/deliveries/99", &[]);
    assert_eq!(missing.status, 404);
    let done = send(address, "POST", "/console/api/deliveries/3/replay", &[]);
    assert_eq!(
        error(&done),
        (409, "conflict".to_owned(), "not-replayable".to_owned())
    );
    let foreign = send(
        address,
        "POST",
        "/console/api/deliveries/1/replay",
        &[("Origin", "http://attacker.example")],
    );
    assert_eq!(
        error(&foreign),
        (403, "forbidden".to_owned(), "console-forbidden".to_owned())
    );
    // Its own page may; still refused under this configuration.
    let own = format!("http://{address}");
    let again = send(
        address,
        "POST",
        "/console/api/deliveries/1/replay",
        &[("Origin", &own)],
    );
    assert_eq!(again.status, 200, "{}", again.body);
    let line: Value = serde_json::from_str(again.body.trim()).unwrap();
    assert_eq!(
        (line["outcome"].as_str(), line["reason"].as_str()),
        (Some("refused"), Some("no-match"))
    );
    // Console requests are not deliveries: not counted, not listed.
    let metrics = receiver.metrics().unwrap();
    assert!(!metrics.contains("outcome=\"not-found\""), "{metrics}");
    let list: Value =
        serde_json::from_str(&get(address, "/console/api/deliveries", &[]).body).unwrap();
    assert_eq!(list["deliveries"].as_array().unwrap().len(), 3);
    receiver.terminate().unwrap();
}

#[test]
fn the_page_and_its_files_are_embedded_under_a_strict_policy() {
    let dir = scratch("files");
    let receiver = start(&dir, &[]);
    let page = get(receiver.address, "/console", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'self'; script-src 'self' 'wasm-unsafe-eval';"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // No inline script, style or handler; nothing from another origin.
    let html = &page.body;
    for script in html.split("<script").skip(1) {
        assert!(
            script.contains("src=\"/console/assets/"),
            "an inline script: {script}"
        );
    }
    for forbidden in [
        "<style", "style=", "onclick", "onload", "http://", "https://",
    ] {
        assert!(!html.contains(forbidden), "{forbidden} in the page");
    }
    let generated = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-wasm");
    let mut files = vec!["console.js", "try.js", "console.css", "favicon.svg"];
    files.extend(["switchboard.js", "switchboard.core.wasm"]);
    for name in files {
        let answer = raw_get(receiver.address, &format!("/console/assets/{name}"));
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{name}");
        if name.starts_with("switchboard.") {
            // The very bytes jco made from target/switchboard.wasm.
            let on_disk = std::fs::read(generated.join(name)).unwrap();
            assert!(
                answer.ends_with(&on_disk),
                "{name} is not what make build made"
            );
        }
        if name.ends_with(".wasm") {
            let head = String::from_utf8_lossy(&answer[..200]).to_lowercase();
            assert!(head.contains("content-type: application/wasm"), "{head}");
        }
    }
    assert_eq!(
        get(receiver.address, "/console/assets/nothing.js", &[]).status,
        404
    );
    assert_eq!(send(receiver.address, "POST", "/console", &[]).status, 405);
    receiver.terminate().unwrap();
    // Off: nothing under /console.
    let off = start(&dir, &["--no-console"]);
    assert_eq!(get(off.address, "/console", &[]).status, 404);
    off.terminate().unwrap();
}

fn raw_get(address: SocketAddr, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    raw
}

#[test]
fn streams_are_capped_and_deliveries_arrive_on_them() {
    let dir = scratch("streams");
    let receiver = start(&dir, &["--console-streams", "1"]);
    let mut stream = TcpStream::connect(receiver.address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET /console/api/stream HTTP/1.1\r\nHost: {}\r\n\r\n",
        receiver.address
    )
    .unwrap();
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event: snapshot");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        seen.to_lowercase()
            .contains("content-type: text/event-stream")
    );
    // The second is one too many.
    let second = get(receiver.address, "/console/api/stream", &[]);
    assert_eq!(
        error(&second),
        (503, "overloaded".to_owned(), "too-many-streams".to_owned())
    );
    assert_eq!(second.header("retry-after"), Some("2"));
    // A delivery arrives on the open one.
    let good = signed_varda(&varda_body(), VARDA_SECRET);
    assert_eq!(
        receiver
            .post("/webhooks/varda", &good, varda_body().as_bytes())
            .unwrap()
            .status,
        200
    );
    read_until(&mut stream, &mut seen, "\"type\":\"call.started\"");
    assert!(
        seen.contains("event: delivery\ndata: {\"seq\":1,"),
        "{seen}"
    );
    // A receiver with a stream open still stops promptly.
    let started = Instant::now();
    receiver.terminate().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

fn read_until(stream: &mut TcpStream, seen: &mut String, needle: &str) {
    let mut buffer = [0; 4096];
    while !seen.contains(needle) {
        let n = stream.read(&mut buffer).unwrap();
        assert!(n > 0, "the stream ended before {needle:?}: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
}
