//! The gateway component (`target/gateway.wasm`), run in-process as
//! `wasmtime serve` runs it (wasmtime-wasi-http 48.0.8), over the fixtures'
//! contract subset (see `switchboard_fixtures::contract`):
//! an accepted case answers 200 with the CloudEvent the processor component
//! produces for it (the fixture's expected event), a refused one its class's
//! status and error body. The fixture's configuration travels as the
//! `SWITCHBOARD_*` environment and its `now` as the WASI wall clock.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/answers.rs"]
mod answers;
#[path = "support/edge.rs"]
#[allow(dead_code)] // this suite starts production entries only
mod edge;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/http.rs"]
#[allow(dead_code)] // this suite uses the downstream and the receiver's client
mod http;
#[path = "support/ports.rs"]
mod ports;
#[path = "support/receiver.rs"]
#[allow(dead_code)] // this suite only starts one and posts to it
mod receiver;

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use switchboard_fixtures::Expect;
use wasmtime::Store;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// The fixture's `now`, as the wall clock.
struct FixedClock(i64);

impl HostWallClock for FixedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(u64::try_from(self.0).unwrap())
    }
}

fn component_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/gateway.wasm")
}

fn proxy() -> &'static ProxyPre<State> {
    static PRE: OnceLock<ProxyPre<State>> = OnceLock::new();
    PRE.get_or_init(|| {
        let engine = engine::cached(wasmtime::Config::new());
        let path = component_path();
        let component = Component::from_file(&engine, &path)
            .unwrap_or_else(|e| panic!("{}: {e} (run `make build` first)", path.display()));
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
        ProxyPre::new(linker.instantiate_pre(&component).unwrap()).unwrap()
    })
}

/// Sends one request to a fresh instance; returns the status and body.
async fn send(
    env: &[(String, String)],
    now: i64,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    // As a client over HTTP/1.1 would, and as `wasmtime serve` passes it on.
    let mut headers = headers.to_vec();
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        headers.push(("content-length".to_owned(), body.len().to_string()));
    }
    let body = Full::new(Bytes::from(body));
    send_body(env, now, method, path, &headers, body).await
}

/// A body that never sends a byte, as a stalled client's.
struct Stalled;

impl hyper::body::Body for Stalled {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

/// [`send`] with any body.
async fn send_body<B>(
    env: &[(String, String)],
    now: i64,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: B,
) -> (u16, Vec<u8>)
where
    B: hyper::body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static,
{
    let pre = proxy();
    let wasi = WasiCtx::builder()
        .envs(env)
        .wall_clock(FixedClock(now))
        .build();
    let mut store = Store::new(
        pre.engine(),
        State {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
        },
    );
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"));
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(body).unwrap();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, request)
        .unwrap();
    let out = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .unwrap();
    let task = tokio::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, request, out)
            .await
    });
    let response = receiver.await.unwrap().unwrap();
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    task.await.unwrap().unwrap();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_contract_subset_through_the_gateway() {
    let fixtures = switchboard_fixtures::contract();
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let path = match &fixture.vendor {
            Some(vendor) => format!("/webhooks/{vendor}"),
            None => "/webhooks".to_owned(),
        };
        let env = fixture.environment();
        let (status, body) = send(
            &env,
            fixture.now,
            "POST",
            &path,
            &fixture.headers,
            fixture.body.clone(),
        )
        .await;
        if let Err(failure) = fixture.check(answers::outcome(fixture, "the gateway", status, &body))
        {
            failures.push(failure);
        }
        if matches!(fixture.expect, Expect::Event(_)) {
            assert_eq!(status, 200, "{}", fixture.name);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n\n")
    );
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_that_cannot_be_used_is_refused_and_reported() {
    for (vars, key) in [
        (
            env(&[("SWITCHBOARD_SECRET_VARDA", "hunter2,")]),
            "SWITCHBOARD_SECRET_VARDA",
        ),
        (
            env(&[("SWITCHBOARD_SECRET_VARDAA", "hunter2")]),
            "SWITCHBOARD_SECRET_VARDAA",
        ),
        (
            env(&[("SWITCHBOARD_FORWARD_URL", "ftp://hunter2")]),
            "SWITCHBOARD_FORWARD_URL",
        ),
    ] {
        let (status, body) = send(&vars, 0, "GET", "/healthz", &[], Vec::new()).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 503, "{body}");
        assert!(body.contains(key), "{body}");
        assert!(!body.contains("hunter2"), "{body}");
        let (status, body) = send(&vars, 0, "POST", "/webhooks/varda", &[], b"{}".to_vec()).await;
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 503, "{answer}");
        assert_eq!(answer["error"], "invalid-config");
        assert!(!answer.to_string().contains("hunter2"), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_does_not_arrive_is_408_within_the_read_timeout() {
    let vars = env(&[
        ("SWITCHBOARD_SECRET_VARDA", "s"),
        ("SWITCHBOARD_READ_TIMEOUT_SECONDS", "1"),
    ]);
    // The gateway compiled (once per process) before the clock starts.
    proxy();
    let started = std::time::Instant::now();
    let (status, body) = send_body(&vars, 0, "POST", "/webhooks/varda", &[], Stalled).await;
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&body));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_downstream_that_never_answers_is_502_within_the_forward_timeout() {
    let fixture = switchboard_fixtures::all()
        .into_iter()
        .find(|f| f.name == "varda/seed-call-ended.json")
        .unwrap();
    // Accepts connections and reads nothing, answers nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    let mut vars = fixture.environment();
    vars.push((
        "SWITCHBOARD_FORWARD_URL".to_owned(),
        format!("http://{address}/ingest"),
    ));
    vars.push((
        "SWITCHBOARD_FORWARD_TIMEOUT_SECONDS".to_owned(),
        "1".to_owned(),
    ));
    // The gateway compiled (once per process) before the clock starts.
    proxy();
    let started = std::time::Instant::now();
    let (status, body) = send(
        &vars,
        fixture.now,
        "POST",
        "/webhooks/varda",
        &fixture.headers,
        fixture.body.clone(),
    )
    .await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_unknown_routes() {
    let (status, body) = send(&[], 0, "GET", "/healthz", &[], Vec::new()).await;
    assert_eq!((status, body.as_slice()), (200, b"ok\n".as_slice()));
    let (status, body) = send(&[], 0, "GET", "/nowhere", &[], Vec::new()).await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, _) = send(&[], 0, "GET", "/webhooks/varda", &[], Vec::new()).await;
    assert_eq!(status, 405);
}

/// The gateway's imports, listed: those of the `wasi:http/proxy` world, and
/// `wasi:cli/environment` for its configuration (the one import outside it).
#[test]
fn the_gateway_imports_only_the_proxy_world_and_its_environment() {
    let proxy_world = [
        "wasi:clocks/monotonic-clock@0.2.4",
        "wasi:clocks/wall-clock@0.2.4",
        "wasi:random/random@0.2.4",
        "wasi:cli/stdout@0.2.4",
        "wasi:cli/stderr@0.2.4",
        "wasi:cli/stdin@0.2.4",
        "wasi:http/outgoing-handler@0.2.4",
        "wasi:http/types@0.2.4",
        "wasi:io/poll@0.2.4",
        "wasi:io/error@0.2.4",
        "wasi:io/streams@0.2.4",
    ];
    let engine = engine::cached(wasmtime::Config::new());
    let component = Component::from_file(&engine, component_path()).unwrap();
    let imports: Vec<String> = component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    println!("gateway imports: {imports:?}");
    for import in &imports {
        assert!(
            proxy_world.contains(&import.as_str()) || import == "wasi:cli/environment@0.2.4",
            "{import} is outside the wasi:http/proxy world"
        );
    }
    assert!(imports.iter().any(|i| i == "wasi:http/types@0.2.4"));
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_answers_200_only_when_the_downstream_accepts() {
    let fixture = switchboard_fixtures::all()
        .into_iter()
        .find(|f| f.name == "varda/seed-call-ended.json")
        .unwrap();
    let Expect::Event(expected) = &fixture.expect else {
        panic!("an accepted fixture")
    };
    for (status, answer) in [("202 Accepted", 200), ("503 Service Unavailable", 502)] {
        let (address, received) = http::downstream(move |_| status);
        let mut env = fixture.environment();
        env.push((
            "SWITCHBOARD_FORWARD_URL".to_owned(),
            format!("http://{address}/ingest"),
        ));
        let (got, body) = send(
            &env,
            fixture.now,
            "POST",
            "/webhooks/varda",
            &fixture.headers,
            fixture.body.clone(),
        )
        .await;
        assert_eq!(
            got,
            answer,
            "downstream {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let http::Received {
            head, body: event, ..
        } = received.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(head.starts_with("POST /ingest HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/cloudevents+json"),
            "{head}"
        );
        let event: Value = serde_json::from_str(&event).unwrap();
        assert_eq!(&event, expected, "the forwarded event is the processor's");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_flood_is_refused_at_once() {
    let vars = env(&[(
        "SWITCHBOARD_SECRET_OPENPHONE",
        "c2VydmUtb3BlbnBob25lLWtleQ==",
    )]);
    let flood = vec!["hmac;1;1639710054089;AAAA"; 14_000].join(",");
    let headers = [("openphone-signature".to_owned(), flood)];
    proxy(); // compiled before the clock starts: the refusal is timed
    let started = std::time::Instant::now();
    let (status, body) = send(
        &vars,
        1639710054,
        "POST",
        "/webhooks/openphone",
        &headers,
        vec![b' '; 1 << 20],
    )
    .await;
    let took = started.elapsed();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("too many signatures"), "{body}");
    // A fresh instance, a 1 MiB body copied in and the refusal: well under
    // the second the unbounded check took.
    assert!(took < Duration::from_millis(500), "{took:?}");
    eprintln!("signature flood refused by the gateway in {took:?}");
}

/// One HTTP contract (`switchboard_http`) for every shell: the same requests
/// to the receiver (`switchboard serve`, over loopback), to the gateway
/// (in-process) and to the edge shells (workerd and Deno, over loopback,
/// their production entries configured by their environment) get the same
/// statuses and the same bodies, refusal by refusal.
#[tokio::test(flavor = "multi_thread")]
async fn every_shell_answers_alike() {
    const SECRET: &str = "contract-varda-secret";
    let dir = std::env::temp_dir().join(format!("switchboard-contract-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("switchboard.toml");
    std::fs::write(
        &config,
        format!("body_limit = 4096\n[vendors.varda]\nsecrets = [\"{SECRET}\"]\n"),
    )
    .unwrap();
    let receiver = receiver::Receiver::start(
        env!("CARGO_BIN_EXE_switchboard"),
        &config,
        &dir.join("events.ndjson"),
        &[],
    )
    .unwrap();
    let vars = env(&[
        ("SWITCHBOARD_VENDORS", "varda"),
        ("SWITCHBOARD_SECRET_VARDA", SECRET),
        ("SWITCHBOARD_BODY_LIMIT", "4096"),
    ]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signed = |body: &[u8]| {
        let input = switchboard_core::SignInput {
            body,
            timestamp: now,
            id: "",
        };
        let secret = switchboard_core::Secret::new(SECRET);
        switchboard_core::sign(
            "varda",
            &switchboard_core::Scheme::VendorDefault,
            &secret,
            input,
        )
        .unwrap()
    };
    let flood = ["t=1,v1=00"; 9].join(",");
    /// Method, path, headers, body.
    type Case<'a> = (&'a str, &'a str, Vec<(String, String)>, Vec<u8>);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/nowhere", vec![], vec![]),
        ("GET", "/webhooks/varda", vec![], vec![]),
        ("PUT", "/healthz", vec![], vec![]),
        ("POST", "/webhooks/", vec![], vec![]),
        ("POST", "/webhooks/varda/extra", vec![], vec![]),
        ("POST", "/webhooks/varda", vec![], vec![b'{'; 5000]),
        ("POST", "/webhooks/varda", vec![], b"{}".to_vec()),
        (
            "POST",
            "/webhooks/varda",
            vec![("X-Varda-Signature".to_owned(), flood)],
            b"{}".to_vec(),
        ),
        ("POST", "/webhooks/atoms", vec![], b"{}".to_vec()),
        ("POST", "/webhooks/vrada", vec![], b"{}".to_vec()),
        ("POST", "/webhooks", vec![], b"{}".to_vec()),
        (
            "POST",
            "/webhooks/varda",
            signed(b"not json"),
            b"not json".to_vec(),
        ),
        ("POST", "/webhooks/varda", signed(b"[1]"), b"[1]".to_vec()),
    ];
    let edge_env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let edges = edge::Runtime::ALL
        .map(|runtime| edge::Edge::start(runtime, edge::Entry::Production, &edge_env));
    for (method, path, headers, body) in cases {
        let over_http = http::request(receiver.address, method, path, &headers, &body).unwrap();
        let (status, in_process) = send(&vars, now, method, path, &headers, body.clone()).await;
        let in_process = String::from_utf8_lossy(&in_process);
        assert_eq!(
            (over_http.status, over_http.body.as_str()),
            (status, in_process.as_ref()),
            "{method} {path}: the receiver and the gateway differ"
        );
        for edge in &edges {
            let answer = edge.request(method, path, &headers, &body);
            assert_eq!(
                (answer.status, answer.body.as_str()),
                (status, in_process.as_ref()),
                "{method} {path}: {} and the gateway differ",
                edge.runtime.name()
            );
            for name in ["content-type", "allow", "retry-after"] {
                assert_eq!(
                    answer.header(name),
                    over_http.header(name),
                    "{method} {path}: {name} from {}",
                    edge.runtime.name()
                );
            }
        }
        assert!(
            over_http.status >= 400,
            "{method} {path}: {}",
            over_http.body
        );
    }
}
