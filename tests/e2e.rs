//! End to end: the built component, run in-process through `host/`, over
//! every fixture, through each of its functions.
//!
//! Needs the component `make build` produces (`target/switchboard.wasm`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

#[path = "support/engine.rs"]
mod engine;

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use switchboard_core::{Config, ErrorClass};
use switchboard_fixtures::{Fixture, Refusal, run_all};
use switchboard_host::{Error, HostOptions, Pool, Switchboard, Trap, default_component, wit};

fn switchboard() -> &'static Switchboard {
    static SWITCHBOARD: OnceLock<Switchboard> = OnceLock::new();
    SWITCHBOARD.get_or_init(|| load(HostOptions::default()))
}

/// The component with `options`, its compiled code cached on disk as the
/// CLI caches it (each suite run compiles it once per engine setting).
fn load(options: HostOptions) -> Switchboard {
    let path = default_component();
    let options = HostOptions {
        compile_cache: true,
        ..options
    };
    Switchboard::from_file(&path, options)
        .unwrap_or_else(|e| panic!("{e} (run `make build` first)"))
}

fn request(fixture: &Fixture) -> wit::Request {
    let headers = fixture
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()));
    wit::Request::new(headers, fixture.body.clone())
}

/// The fixture's configuration as the WIT record, or the outcome a host gets
/// for a configuration it cannot read. It is deliberately not validated
/// here: the component validates what it is given.
fn config(fixture: &Fixture) -> Result<wit::Config, Refusal> {
    core_config(fixture).map(|c| wit::Config::from(&c))
}

/// The fixture's configuration, read but not validated, as [`config`]
/// reads it.
fn core_config(fixture: &Fixture) -> Result<Config, Refusal> {
    serde_json::from_str::<Config>(&fixture.config_json()).map_err(|e| {
        let class = ErrorClass::Config.as_str();
        Refusal::new(class, class, format!("invalid configuration: {e}"))
    })
}

fn refusal(error: &Error) -> Refusal {
    Refusal::new(error.class().as_str(), error.reason(), error.to_string())
}

fn outcome(result: Result<wit::Event, Error>) -> Result<Value, Refusal> {
    match result {
        Ok(event) => Ok(serde_json::from_str(&event.json).expect("events are JSON")),
        Err(e) => Err(refusal(&e)),
    }
}

#[test]
fn the_component_imports_nothing() {
    assert_eq!(switchboard().imports(), Vec::<String>::new());
}

#[test]
fn every_fixture_through_a_fresh_instance_per_request() {
    let switchboard = switchboard();
    run_all("component, fresh instance", |fixture| {
        let config = config(fixture)?;
        outcome(switchboard.process(
            &request(fixture),
            fixture.vendor.as_deref(),
            &config,
            fixture.now,
        ))
    });
}

#[test]
fn every_fixture_through_one_reused_instance() {
    let mut instance = switchboard().instance().expect("instantiates");
    run_all("component, reused instance", |fixture| {
        let config = config(fixture)?;
        outcome(instance.process(
            &request(fixture),
            fixture.vendor.as_deref(),
            &config,
            fixture.now,
        ))
    });
}

/// The lean function the receiver calls: the configuration as the
/// document `config_json` writes, the event's document alone back.
#[test]
fn every_fixture_through_the_body_function() {
    let mut instance = switchboard().instance().expect("instantiates");
    run_all("component, process-body", |fixture| {
        let config = core_config(fixture)?;
        let json = instance
            .process_body(
                &fixture.headers,
                &fixture.body,
                fixture.vendor.as_deref(),
                &switchboard_host::config_json(&config),
                fixture.now,
            )
            .map_err(|e| refusal(&e))?;
        Ok(serde_json::from_str(&json).expect("events are JSON"))
    });
}

#[test]
fn every_fixture_through_the_json_function() {
    use base64::Engine as _;
    let mut instance = switchboard().instance().expect("instantiates");
    run_all("component, process-json", |fixture| {
        let body = base64::engine::general_purpose::STANDARD.encode(&fixture.body);
        let request = serde_json::json!({"headers": fixture.headers, "body_base64": body});
        let vendor = fixture.vendor.as_deref().unwrap_or("");
        let answer = instance
            .process_json(
                &request.to_string(),
                vendor,
                &fixture.config_json(),
                fixture.now,
            )
            .map_err(|e| refusal(&e))?;
        let answer: Value = serde_json::from_str(&answer).expect("answers are JSON");
        match (
            answer.get("error"),
            answer.get("reason"),
            answer.get("message"),
        ) {
            (
                Some(Value::String(class)),
                Some(Value::String(reason)),
                Some(Value::String(message)),
            ) => Err(Refusal::new(class, reason, message)),
            _ => Ok(answer),
        }
    });
}

#[test]
fn detection_agrees_with_the_core() {
    let switchboard = switchboard();
    for fixture in switchboard_fixtures::all() {
        let headers = fixture
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()));
        let native =
            switchboard_core::detect(&switchboard_core::Request::new(headers, &fixture.body));
        let guest = switchboard.detect(&request(&fixture)).expect("detect runs");
        assert_eq!(guest.as_deref(), native, "{}", fixture.name);
    }
}

/// A body the component must grow its memory for, past a small limit: the
/// guest traps, the host reports `internal`, and the next call works.
#[test]
fn a_guest_out_of_memory_is_internal_and_the_host_carries_on() {
    let switchboard = load(HostOptions {
        memory_limit: 4 << 20,
        ..HostOptions::default()
    });
    let config = wit::Config::from(
        &Config::from_json(r#"{"vendors": {"varda": {"secrets": ["s"]}}, "body_limit": 67108864}"#)
            .unwrap(),
    );
    let big = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], vec![b' '; 8 << 20]);
    let mut instance = switchboard.instance().expect("instantiates");
    let err = instance
        .process(&big, Some("varda"), &config, 1)
        .unwrap_err();
    assert_eq!(err.class().as_str(), "internal", "{err}");
    assert_eq!(err, Error::OutOfMemory { limit: 4 << 20 });
    assert_eq!(
        (err.reason(), err.reason_label()),
        ("out-of-memory", "out-of-memory")
    );
    let small = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], b"{}".to_vec());
    let err = instance
        .process(&small, Some("varda"), &config, 1)
        .unwrap_err();
    assert_eq!(
        err.class().as_str(),
        "unauthenticated",
        "the replaced instance answers: {err}"
    );
}

/// A call that outlives its deadline is interrupted: `internal`, and the
/// host carries on.
#[test]
fn a_call_past_its_deadline_is_internal() {
    let switchboard = load(HostOptions {
        // Far below the big call's time, far above the small one's (whose
        // instance may first page in code from the compile cache).
        call_timeout: Duration::from_millis(100),
        memory_limit: 512 << 20,
        ..HostOptions::default()
    });
    let config = wit::Config::from(
        &Config::from_json(
            r#"{"vendors": {"varda": {"secrets": ["a", "b", "c", "d"]}}, "body_limit": 134217728}"#,
        )
        .unwrap(),
    );
    // Four HMACs over 96 MiB take far longer than 100 ms.
    let body = vec![b'x'; 96 << 20];
    let big = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], body);
    let err = switchboard
        .process(&big, Some("varda"), &config, 1)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Trap {
                trap: Some(Trap::Interrupt),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class().as_str(), "internal");
    assert_eq!(err.reason(), "deadline");
    let small = wit::Request::new([], b"{}".to_vec());
    let err = switchboard
        .process(&small, Some("varda"), &config, 1)
        .unwrap_err();
    assert_eq!(err.class().as_str(), "unauthenticated", "{err}");
    assert_eq!(err.reason(), "missing-header", "{err}");
}

/// A signed Varda delivery under `config`'s first secret, at `now`.
fn signed_varda(config: &Config, n: usize, now: i64) -> wit::Request {
    let body = format!(
        r#"{{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{{"id":{n}}}}}"#
    );
    let settings = &config.vendors["varda"];
    let input = switchboard_core::SignInput {
        body: body.as_bytes(),
        timestamp: now,
        id: "msg_pool",
    };
    let headers =
        switchboard_core::sign("varda", &settings.scheme, &settings.secrets[0], input).unwrap();
    let headers = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    wit::Request::new(headers, body.into_bytes())
}

/// Two threads on a pool of two instances: each of `rounds` rounds, a
/// request that makes the guest fail (`failing`, checked by `failed`),
/// then a valid delivery, which must be answered with its event every time.
fn pool_survives(
    options: HostOptions,
    config_json: &str,
    failing: &wit::Request,
    failed: fn(&Error) -> bool,
    rounds: usize,
) {
    let pool = Pool::new(load(HostOptions {
        max_instances: 2,
        ..options
    }));
    let config = Config::from_json(config_json).unwrap();
    let wit_config = wit::Config::from(&config);
    let now = 1_711_411_200;
    std::thread::scope(|scope| {
        for thread in 0..2 {
            let (pool, config, wit_config) = (&pool, &config, &wit_config);
            scope.spawn(move || {
                for round in 0..rounds {
                    let err = pool
                        .process(failing, Some("varda"), wit_config, now)
                        .unwrap_err();
                    assert!(failed(&err), "thread {thread} round {round}: {err:?}");
                    let valid = signed_varda(config, round, now);
                    let event = pool
                        .process(&valid, Some("varda"), wit_config, now)
                        .unwrap_or_else(|e| panic!("thread {thread} round {round}: {e:?}"));
                    assert_eq!(event.type_, "call.ended");
                    assert!(pool.idle() <= 2);
                }
            });
        }
    });
    assert!(pool.idle() <= pool.size());
}

/// Finding 13: instances that ran out of memory are never reused or kept;
/// a pool of two answers valid deliveries normally after any number of
/// such traps.
#[test]
fn a_small_pool_recovers_from_every_out_of_memory() {
    let big = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], vec![b' '; 8 << 20]);
    pool_survives(
        HostOptions {
            memory_limit: 4 << 20,
            ..HostOptions::default()
        },
        r#"{"vendors": {"varda": {"secrets": ["pool-secret"]}}, "body_limit": 67108864}"#,
        &big,
        |err| matches!(err, Error::OutOfMemory { .. }),
        12,
    );
}

/// Finding 13, for deadlines: interrupted instances are never reused or
/// kept either.
#[test]
fn a_small_pool_recovers_from_every_deadline() {
    let secrets: Vec<String> = (0..32).map(|n| format!("\"pool-secret-{n}\"")).collect();
    let config = format!(
        r#"{{"vendors": {{"varda": {{"secrets": [{}]}}}}, "body_limit": 67108864}}"#,
        secrets.join(",")
    );
    // Thirty-two HMACs over 8 MiB take seconds, far past the 200 ms
    // deadline; the valid delivery that follows takes well under a
    // millisecond, so the deadline leaves it room on a busy machine too.
    let slow = wit::Request::new(
        [("X-Varda-Signature", "t=1711411200,v1=00")],
        vec![b'x'; 8 << 20],
    );
    pool_survives(
        HostOptions {
            call_timeout: Duration::from_millis(200),
            ..HostOptions::default()
        },
        &config,
        &slow,
        |err| {
            matches!(
                err,
                Error::Trap {
                    trap: Some(Trap::Interrupt),
                    ..
                }
            )
        },
        6,
    );
}

/// An instance outlives the handle it came from and moves to another
/// thread: it owns what it needs.
#[test]
fn an_instance_owns_what_it_needs() {
    let mut instance = load(HostOptions::default()).instance().unwrap();
    let config = Config::from_json(r#"{"vendors": {"varda": {"secrets": ["own"]}}}"#).unwrap();
    let request = signed_varda(&config, 1, 1_711_411_200);
    let event = std::thread::spawn(move || {
        instance.process(&request, None, &wit::Config::from(&config), 1_711_411_200)
    })
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(event.vendor, "varda");
}

/// The component under an engine that counts fuel: wasmtime's count of the
/// wasm instructions a call executes, the same on every run.
mod fueled {
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Config, Store};

    wasmtime::component::bindgen!({ path: "../wit", world: "switchboard" });

    /// One instance; [`Fueled::process_json`] returns the call's fuel.
    pub struct Fueled {
        store: Store<()>,
        switchboard: Switchboard,
    }

    impl Fueled {
        pub fn new() -> Fueled {
            let mut config = Config::new();
            config.consume_fuel(true);
            // Compiled once per machine, as `load` caches it.
            let engine = super::engine::cached(config);
            let component = Component::from_file(&engine, super::default_component()).unwrap();
            let mut store = Store::new(&engine, ());
            store.set_fuel(u64::MAX / 2).unwrap();
            let switchboard =
                Switchboard::instantiate(&mut store, &component, &Linker::new(&engine)).unwrap();
            Fueled { store, switchboard }
        }

        /// `process-json`'s answer for a varda delivery, and the fuel the
        /// call took.
        pub fn process_json(&mut self, request: &str, config: &str, now: i64) -> (String, u64) {
            let before = self.store.get_fuel().unwrap();
            let answer = self
                .switchboard
                .switchboard_webhooks_processor()
                .call_process_json(&mut self.store, request, "varda", config, now)
                .unwrap();
            (answer, before - self.store.get_fuel().unwrap())
        }
    }
}

/// Finding 11: refusing a wrong shared secret takes the same work whatever
/// the configured secret's length and however the presented value's length
/// compares with it. Two configurations alike but for a 4 096-byte and a
/// 5 120-byte secret (the documents padded to the same length) refuse
/// values of several lengths, the secrets' own among them, each in a fresh
/// instance prepared by a first call. Comparing (or hashing) a secret's
/// bytes per delivery would cost tens of thousands of fuel more under one
/// of them; what differs is the allocator's bookkeeping for the two
/// configurations' sizes, a few hundred.
#[test]
fn a_shared_secret_is_compared_in_work_independent_of_its_length() {
    const SECRETS: [usize; 2] = [4096, 5120];
    const ALIKE: u64 = 2_000;
    let config = |length: usize| {
        let secret = "s".repeat(length);
        let padding = " ".repeat(SECRETS[1] - length);
        format!(
            r#"{{"vendors": {{"varda": {{"secrets": ["{secret}"],{padding} "scheme": {{"type": "shared-secret", "header": "X-Token"}}}}}}}}"#
        )
    };
    let lengths = [1, 100, SECRETS[0], SECRETS[1]];
    let fuel = |secret_length: usize| -> Vec<u64> {
        let config = config(secret_length);
        lengths
            .iter()
            .map(|&length| {
                let token = serde_json::json!({
                    "headers": [["X-Token", "t".repeat(length)]],
                    "body": r#"{"event":"call.ended"}"#,
                })
                .to_string();
                let mut instance = fueled::Fueled::new();
                let (first, _) = instance.process_json(&token, &config, 0);
                assert!(first.contains("unauthenticated"), "{first}");
                let (answer, fuel) = instance.process_json(&token, &config, 0);
                assert!(answer.contains("unauthenticated"), "{answer}");
                fuel
            })
            .collect()
    };
    let (short, long) = (fuel(SECRETS[0]), fuel(SECRETS[1]));
    for ((length, short), long) in lengths.iter().zip(&short).zip(&long) {
        assert!(
            short.abs_diff(*long) < ALIKE,
            "a {length}-byte value: {short} fuel against the 4 096-byte secret, {long} against the 5 120-byte one"
        );
    }
}
