//! The fixture cases in `fixtures/`: one JSON file per case, holding a
//! request (headers and the raw body), the configuration, `now`, and the
//! expected outcome. The same files drive the core's tests, the component
//! run through the host, the CLI, and the Python and Node suites.
//!
//! ```json
//! {
//!   "description": "what the case shows",
//!   "vendor": "varda",
//!   "config": {"vendors": {"varda": {"secrets": ["..."]}}},
//!   "now": 1711411200,
//!   "request": {"headers": [["X-Varda-Signature", "t=...,v1=..."]], "body": "{...}"},
//!   "expect": {"event": {...the whole CloudEvent...}}
//! }
//! ```
//!
//! `vendor` is optional (absent: detection); the body is `body` (UTF-8
//! text, exactly the bytes sent) or `body_base64` (any bytes); `expect` is
//! `{"event": ...}` or `{"error": "<class>", "reason": "<reason>", "message":
//! "<part of it>"}`, the reason one of `switchboard_core::error::REASONS`.
//!
//! Every file under `fixtures/` must be a case: [`all`] refuses anything
//! else, and every suite runs [`all`], so no fixture can sit unused.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

/// One case.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Its path under `fixtures/`, which names it in failures.
    pub name: String,
    /// The vendor to process as, or `None` to detect.
    pub vendor: Option<String>,
    /// The configuration, in its JSON form.
    pub config: Value,
    /// The current time, unix seconds.
    pub now: i64,
    /// The request headers, in order.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// Whether the file gives the body as `body_base64` (any bytes) rather
    /// than as text.
    pub body_base64: bool,
    /// What must come out.
    pub expect: Expect,
}

/// The expected outcome of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// This exact CloudEvent.
    Event(Value),
    /// An error of this class and reason whose message contains `message`.
    Error {
        /// The class (`unauthenticated`).
        class: String,
        /// The reason (`stale`).
        reason: String,
        /// A part of the message.
        message: String,
    },
}

/// A refusal as a layer reports it: the class, the reason and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The class (`unauthenticated`).
    pub class: String,
    /// The reason (`stale`).
    pub reason: String,
    /// The whole message.
    pub message: String,
}

impl Refusal {
    /// A refusal of `class` for `reason`, saying `message`.
    pub fn new(
        class: impl Into<String>,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Refusal {
        Refusal {
            class: class.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.class, self.reason, self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    vendor: Option<String>,
    config: Value,
    now: i64,
    request: FileRequest,
    expect: FileExpect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRequest {
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileExpect {
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The `fixtures/` folder at the workspace root.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Every case, sorted by name. Panics, naming the file, on any file under
/// `fixtures/` that is not a valid case.
pub fn all() -> Vec<Fixture> {
    let mut files = Vec::new();
    collect(&dir(), &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no fixtures found in {}",
        dir().display()
    );
    files.iter().map(|path| load(path)).collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Reads one case.
pub fn load(path: &Path) -> Fixture {
    let name = path
        .strip_prefix(dir())
        .unwrap_or(path)
        .display()
        .to_string();
    assert!(
        name.ends_with(".json"),
        "fixtures/{name} is not a case: every file under fixtures/ must be a .json case"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("fixtures/{name}: {e}"));
    let file: File = serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixtures/{name}: {e}"));
    let body_base64 = file.request.body_base64.is_some();
    let body = match (file.request.body, file.request.body_base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|e| panic!("fixtures/{name}: body_base64: {e}")),
        _ => panic!("fixtures/{name}: the request needs exactly one of body and body_base64"),
    };
    let expect = &file.expect;
    let expect = match (
        &expect.event,
        &expect.error,
        &expect.reason,
        &expect.message,
    ) {
        (Some(event), None, None, None) => Expect::Event(event.clone()),
        (None, Some(class), Some(reason), Some(message)) => Expect::Error {
            class: class.clone(),
            reason: reason.clone(),
            message: message.clone(),
        },
        _ => panic!(
            "fixtures/{name}: expect is {{\"event\"}} or {{\"error\", \"reason\", \"message\"}}"
        ),
    };
    Fixture {
        name,
        vendor: file.vendor,
        config: file.config,
        now: file.now,
        headers: file.request.headers,
        body,
        body_base64,
        expect,
    }
}

impl Fixture {
    /// The configuration as JSON text.
    pub fn config_json(&self) -> String {
        self.config.to_string()
    }

    /// The configuration as the `SWITCHBOARD_*` environment the gateway and
    /// the edge shells read (`switchboard_http::shell::Settings::from_env`).
    /// Panics on a secret with a comma, which the environment cannot carry.
    pub fn environment(&self) -> Vec<(String, String)> {
        let config = &self.config;
        let mut env = Vec::new();
        let vendors = config["vendors"].as_object().cloned().unwrap_or_default();
        env.push((
            "SWITCHBOARD_VENDORS".to_owned(),
            vendors.keys().cloned().collect::<Vec<_>>().join(","),
        ));
        for (vendor, settings) in &vendors {
            let upper = vendor.to_ascii_uppercase();
            if let Some(secrets) = settings["secrets"].as_array() {
                let secrets: Vec<&str> = secrets.iter().filter_map(Value::as_str).collect();
                assert!(
                    secrets.iter().all(|s| !s.contains(',')),
                    "{}: a secret with a comma cannot travel in the environment",
                    self.name
                );
                env.push((format!("SWITCHBOARD_SECRET_{upper}"), secrets.join(",")));
            }
            if let Some(scheme) = settings.get("scheme") {
                let value = match scheme {
                    Value::String(name) => name.clone(),
                    table => table.to_string(),
                };
                env.push((format!("SWITCHBOARD_SCHEME_{upper}"), value));
            }
        }
        for (key, variable) in [
            ("tolerance_seconds", "SWITCHBOARD_TOLERANCE_SECONDS"),
            ("body_limit", "SWITCHBOARD_BODY_LIMIT"),
            ("include_raw", "SWITCHBOARD_INCLUDE_RAW"),
        ] {
            if let Some(value) = config.get(key) {
                env.push((variable.to_owned(), value.to_string()));
            }
        }
        env
    }

    /// Every secret the configuration holds, so that a suite can check none
    /// of them leaks into an output (blank ones, which configuration loading
    /// refuses, are left out: they are part of every text).
    pub fn secrets(&self) -> Vec<String> {
        let vendors = self.config.get("vendors").and_then(Value::as_object);
        vendors
            .into_iter()
            .flat_map(|v| v.values())
            .filter_map(|v| v.get("secrets").and_then(Value::as_array))
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .filter(|s| !s.trim().is_empty())
            .collect()
    }

    /// Checks what a layer produced: the event as parsed JSON, or the
    /// refusal. `Err` explains the difference, naming the case.
    pub fn check(&self, outcome: Result<Value, Refusal>) -> Result<(), String> {
        let shown = match &outcome {
            Ok(event) => event.to_string(),
            Err(refusal) => refusal.to_string(),
        };
        for secret in self.secrets() {
            if shown.contains(&secret) {
                return Err(format!(
                    "{}: a secret leaked into the output: {shown}",
                    self.name
                ));
            }
        }
        match (&self.expect, outcome) {
            (Expect::Event(expected), Ok(actual)) if *expected == actual => Ok(()),
            (Expect::Event(expected), Ok(actual)) => Err(format!(
                "{}: event differs\nexpected: {}\n  actual: {}",
                self.name,
                serde_json::to_string_pretty(expected).unwrap_or_default(),
                serde_json::to_string_pretty(&actual).unwrap_or_default(),
            )),
            (Expect::Event(_), Err(refusal)) => {
                Err(format!("{}: expected an event, got {refusal}", self.name))
            }
            (
                Expect::Error {
                    class,
                    reason,
                    message,
                },
                Ok(actual),
            ) => Err(format!(
                "{}: expected {class} ({reason}): {message}, got the event {actual}",
                self.name
            )),
            (
                Expect::Error {
                    class,
                    reason,
                    message,
                },
                Err(got),
            ) => {
                if *class == got.class
                    && *reason == got.reason
                    && got.message.contains(message.as_str())
                {
                    Ok(())
                } else {
                    Err(format!(
                        "{}: expected {class} ({reason}) containing {message:?}, got {got}",
                        self.name
                    ))
                }
            }
        }
    }
}

/// The contract subset: what an outer layer (the CLI, the gateway, the
/// fresh-instance path, the Python and Node bindings) must agree on, without
/// sweeping every case through logic the core and one component path already
/// cover. One accepted case per vendor and verification scheme, one refusal
/// per class and reason, and every case whose body is not UTF-8 text or is
/// given as base64.
pub fn contract() -> Vec<Fixture> {
    let mut seen = std::collections::BTreeSet::new();
    all()
        .into_iter()
        .filter(|fixture| {
            let key = match &fixture.expect {
                Expect::Event(event) => format!(
                    "event {} {}",
                    event["vendor"].as_str().unwrap_or_default(),
                    event["verification"].as_str().unwrap_or_default()
                ),
                Expect::Error { class, reason, .. } => format!("error {class} {reason}"),
            };
            let encoding = fixture.body_base64 || std::str::from_utf8(&fixture.body).is_err();
            seen.insert(key) || encoding
        })
        .collect()
}

/// Runs `run` over the [`contract`] subset and panics with every failure
/// listed.
pub fn run_contract(layer: &str, run: impl FnMut(&Fixture) -> Result<Value, Refusal>) {
    run_over(layer, contract(), run)
}

/// Runs `run` over every case and panics with every failure listed.
pub fn run_all(layer: &str, run: impl FnMut(&Fixture) -> Result<Value, Refusal>) {
    run_over(layer, all(), run)
}

fn run_over(
    layer: &str,
    fixtures: Vec<Fixture>,
    mut run: impl FnMut(&Fixture) -> Result<Value, Refusal>,
) {
    let failures: Vec<String> = fixtures
        .iter()
        .filter_map(|fixture| fixture.check(run(fixture)).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{layer}: {} of {} fixtures failed:\n\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n\n")
    );
    eprintln!("{layer}: all {} fixtures passed", fixtures.len());
}
