//! The `switchboard` binary over the fixtures' contract subset: `process`
//! with the fixture's headers, body, configuration and time, and its exit
//! code and output checked against the fixture; `sign` round-trips through
//! `process`; configuration mistakes and the signature flood.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use switchboard_core::ErrorClass;
use switchboard_fixtures::{Fixture, Refusal};

const SWITCHBOARD: &str = env!("CARGO_BIN_EXE_switchboard");

fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("switchboard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name.replace('/', "__"));
    std::fs::write(&path, contents).expect("scratch file");
    path
}

fn process(fixture: &Fixture) -> Output {
    let config = scratch(
        &format!("{}.config.json", fixture.name),
        fixture.config_json().as_bytes(),
    );
    let body = scratch(&format!("{}.body", fixture.name), &fixture.body);
    let mut command = Command::new(SWITCHBOARD);
    command
        .arg("process")
        .arg("--config")
        .arg(&config)
        .arg("--now")
        .arg(fixture.now.to_string())
        .arg("--data-binary")
        .arg(format!("@{}", body.display()));
    if let Some(vendor) = &fixture.vendor {
        command.arg("--vendor").arg(vendor);
    }
    for (name, value) in &fixture.headers {
        command.arg("-H").arg(format!("{name}: {value}"));
    }
    command.env_remove("SWITCHBOARD_SECRET_VARDA");
    command.output().expect("switchboard runs")
}

/// What a run printed, as the fixture's outcome; a mismatch between the exit
/// code and the class is itself a failure.
fn outcome(fixture: &Fixture, output: &Output) -> Result<Value, Refusal> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    if code == Some(0) {
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{}: one JSON line on stdout, got {stdout:?}",
            fixture.name
        );
        assert!(
            stderr.is_empty(),
            "{}: nothing on stderr, got {stderr:?}",
            fixture.name
        );
        return Ok(serde_json::from_str(lines[0]).expect("stdout is JSON"));
    }
    assert!(
        stdout.is_empty(),
        "{}: nothing on stdout on failure, got {stdout:?}",
        fixture.name
    );
    let line = stderr.trim_end();
    assert_eq!(
        line.lines().count(),
        1,
        "{}: one line on stderr, got {stderr:?}",
        fixture.name
    );
    let parts = line
        .strip_prefix("error: ")
        .and_then(|rest| rest.split_once(" ("))
        .and_then(|(class, rest)| Some((class, rest.split_once("): ")?)));
    let Some((class, (reason, message))) = parts else {
        panic!(
            "{}: stderr is `error: <class> (<reason>): <message>`, got {line:?}",
            fixture.name
        )
    };
    let expected_code = ErrorClass::from_name(class)
        .unwrap_or_else(|| panic!("{}: unknown class {class:?}", fixture.name))
        .exit_code();
    assert_eq!(
        code,
        Some(i32::from(expected_code)),
        "{}: exit code of {class}",
        fixture.name
    );
    Err(Refusal::new(class, reason, message))
}

/// The CLI adds a process boundary (flags, files, exit codes, streams): the
/// contract subset exercises it; every fixture runs natively and through the
/// component in the other suites.
#[test]
fn the_contract_subset_through_the_cli() {
    switchboard_fixtures::run_contract("cli", |fixture| outcome(fixture, &process(fixture)));
}

#[test]
fn sign_output_is_accepted_by_process() {
    let body = br#"{"event":"call.ended","timestamp":"2026-03-25T18:35:00Z","data":{"id":42}}"#;
    let path = scratch("sign.body", body);
    let signed = Command::new(SWITCHBOARD)
        .args([
            "sign",
            "--vendor",
            "varda",
            "--secret",
            "sign-test-secret",
            "--timestamp",
            "1774463700",
        ])
        .arg("--data-binary")
        .arg(format!("@{}", path.display()))
        .output()
        .expect("sign runs");
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let headers = String::from_utf8(signed.stdout).expect("UTF-8");
    assert!(
        headers.contains("X-Varda-Signature: t=1774463700,v1="),
        "{headers}"
    );
    assert!(headers.contains("X-Varda-Event: call.ended"), "{headers}");
    let mut process = Command::new(SWITCHBOARD);
    process.args([
        "process",
        "--now",
        "1774463710",
        "--secret",
        "varda=sign-test-secret",
    ]);
    for line in headers.lines() {
        process.arg("-H").arg(line);
    }
    let output = process
        .arg("--data-binary")
        .arg(format!("@{}", path.display()))
        .output()
        .expect("process runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let event: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(event["type"], "call.ended");
    assert_eq!(event["verification"], "varda");
}

#[test]
fn secrets_come_from_the_environment() {
    let body = br#"{"event":"contact.created","data":{"id":7}}"#;
    let path = scratch("env.body", body);
    let sign = Command::new(SWITCHBOARD)
        .args(["sign", "--vendor", "varda", "--timestamp", "1774463700"])
        .env("SWITCHBOARD_SECRET_VARDA", "env-secret-one")
        .arg("--data-binary")
        .arg(format!("@{}", path.display()))
        .output()
        .expect("sign runs");
    assert!(
        sign.status.success(),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );
    let headers = String::from_utf8(sign.stdout).expect("UTF-8");
    let header_file = scratch("env.headers", headers.as_bytes());
    let mut process = Command::new(SWITCHBOARD);
    process
        .args(["process", "--now", "1774463700", "-H"])
        .arg(format!("@{}", header_file.display()))
        .env("SWITCHBOARD_SECRET_VARDA", "rotated-new, env-secret-one");
    let output = process
        .arg("--data-binary")
        .arg(format!("@{}", path.display()))
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn bad_configuration_is_refused_naming_the_key() {
    let config = scratch("bad.toml", b"tolerance = 30\n");
    let output = Command::new(SWITCHBOARD)
        .args(["process", "--data-binary", "{}", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `tolerance`"), "{stderr}");
}

#[test]
fn secrets_never_appear_in_errors() {
    let output = Command::new(SWITCHBOARD)
        .args([
            "process",
            "--vendor",
            "varda",
            "--secret",
            "varda=super-secret-value-123",
            "--data-binary",
            "{}",
        ])
        .args(["-H", "X-Varda-Signature: t=1,v1=00", "--now", "1"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("super-secret-value-123"), "{stderr}");
    assert!(
        stderr.starts_with("error: unauthenticated (no-match): "),
        "{stderr}"
    );
}

#[test]
fn opencx_verifies_with_the_scheme_its_configuration_file_chooses() {
    let config = scratch(
        "opencx.toml",
        br#"[vendors.opencx]
secrets = ["opencx-cli-secret"]
scheme = { type = "hmac-sha256", header = "X-Webhook-Signature", encoding = "hex", prefix = "sha256=" }
"#,
    );
    let body = br#"{"event":"phone_call.ended","organization_id":"org_cli","data":{"conversation_id":"conv_cli","timestamp":"2026-04-14T14:06:52Z","call_ended_by":"user"}}"#;
    let path = scratch("opencx.body", body);
    let signed = Command::new(SWITCHBOARD)
        .args(["sign", "--vendor", "opencx", "--config"])
        .arg(&config)
        .arg("--data-binary")
        .arg(format!("@{}", path.display()))
        .env_remove("SWITCHBOARD_SECRET_OPENCX")
        .output()
        .expect("sign runs");
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    let headers = String::from_utf8(signed.stdout).expect("UTF-8");
    assert!(
        headers.contains("X-Webhook-Signature: sha256="),
        "{headers}"
    );
    let run = |config: Option<&PathBuf>| {
        let mut process = Command::new(SWITCHBOARD);
        process.args(["process", "--now", "1776162000"]);
        if let Some(config) = config {
            process.arg("--config").arg(config);
        }
        for line in headers.lines() {
            process.arg("-H").arg(line);
        }
        process
            .arg("--data-binary")
            .arg(format!("@{}", path.display()))
            .env_remove("SWITCHBOARD_SECRET_OPENCX")
            .output()
            .expect("process runs")
    };
    let output = run(Some(&config));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let event: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(event["type"], "call.ended");
    assert_eq!(event["source"], "/opencx/organizations/org_cli");
    assert_eq!(event["subject"], "conv_cli");
    assert_eq!(event["verification"], "hmac-sha256");
    assert_eq!(event["data"]["call"]["ended_by"], "contact");
    // Without the file, OpenCX is enabled with no scheme: refused, whatever
    // the headers say.
    let output = run(None);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no signature scheme is configured for opencx"),
        "{stderr}"
    );
}

/// Runs `switchboard process` with `args` and a clean `SWITCHBOARD_*`
/// environment plus `env`; returns the exit code and stderr.
fn run_process(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(SWITCHBOARD);
    command.arg("process").args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("SWITCHBOARD_") && name != "SWITCHBOARD_COMPONENT" {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn configuration_mistakes_exit_2_naming_the_key_never_the_value() {
    let bad_type = scratch("bad-type.toml", b"[vendors.varda]\nsecrets = \"hunter2\"\n");
    let bad_syntax = scratch(
        "bad-syntax.toml",
        b"[vendors.varda]\nsecrets = [\"hunter2\"\n",
    );
    let blank = scratch("blank.toml", b"[vendors.varda]\nsecrets = [\"\"]\n");
    let left_out = scratch("left-out.toml", b"[vendors.varda]\nsecrets = [\"s\"]\n");
    let body = ["--data-binary", "{}"];
    /// Flags, environment, and what stderr must name.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec!["--secret", "varda="], vec![], "--secret varda"),
        (
            vec!["--config", bad_type.to_str().unwrap()],
            vec![],
            "bad-type.toml",
        ),
        (
            vec!["--config", bad_syntax.to_str().unwrap()],
            vec![],
            "bad-syntax.toml:",
        ),
        (
            vec!["--config", blank.to_str().unwrap()],
            vec![],
            "secret 1 of varda cannot be used with varda: it is empty",
        ),
        (
            vec![],
            vec![("SWITCHBOARD_SECRET_VARDAA", "hunter2")],
            "did you mean SWITCHBOARD_SECRET_VARDA?",
        ),
        (
            vec![],
            vec![("SWITCHBOARD_SECRET_VARDA", "")],
            "SWITCHBOARD_SECRET_VARDA",
        ),
        (
            vec!["--config", left_out.to_str().unwrap()],
            vec![("SWITCHBOARD_SECRET_ATOMS", "hunter2")],
            "SWITCHBOARD_SECRET_ATOMS: configures atoms, which the configuration does not enable",
        ),
    ];
    for (args, env, expected) in cases {
        let args: Vec<&str> = args.iter().chain(&body).copied().collect();
        let (code, stderr) = run_process(&args, &env);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {stderr}");
        assert!(
            stderr.starts_with("error: invalid-config (invalid-config): invalid configuration: "),
            "{stderr}"
        );
        assert!(stderr.contains(expected), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}

#[test]
fn a_signature_flood_is_refused_at_once() {
    let headers = format!(
        "openphone-signature: {}\n",
        vec!["hmac;1;1639710054089;AAAA"; 14_000].join(",")
    );
    let headers = scratch("flood.headers", headers.as_bytes());
    let body = scratch("flood.body", &vec![b' '; 1 << 20]);
    let started = std::time::Instant::now();
    let (code, stderr) = run_process(
        &[
            "--vendor",
            "openphone",
            "--secret",
            "openphone=c2VydmUtb3BlbnBob25lLWtleQ==",
            "--now",
            "1639710054",
            "-H",
            &format!("@{}", headers.display()),
            "--data-binary",
            &format!("@{}", body.display()),
        ],
        &[],
    );
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("too many signatures in openphone-signature"),
        "{stderr}"
    );
    // The whole process, compiled component from the cache included; the
    // guest itself refuses before hashing anything.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A component that is not there is the operator's setup, not a failed
/// delivery: exit 2, the path, and how to build it.
#[test]
fn a_missing_component_exits_2_saying_how_to_build_it() {
    let (code, stderr) = run_process(
        &["--vendor", "varda", "--data-binary", "{}"],
        &[("SWITCHBOARD_COMPONENT", "/nonexistent/switchboard.wasm")],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/switchboard.wasm") && stderr.contains("make build"),
        "{stderr}"
    );
}

/// `--data-binary body.json` without `@` is the text `body.json`, as in
/// curl; when a file has that name the CLI says so.
#[test]
fn a_body_that_names_a_file_is_taken_as_text_with_a_warning() {
    let file = scratch("data-binary-file.json", b"{}");
    let path = file.to_str().unwrap();
    let (code, stderr) = run_process(
        &[
            "--vendor",
            "varda",
            "--secret",
            "varda=cli-secret",
            "--data-binary",
            path,
        ],
        &[],
    );
    assert_eq!(
        code,
        Some(3),
        "refused as unsigned, not read from the file: {stderr}"
    );
    assert!(
        stderr.contains(&format!("--data-binary @{path} reads the file")),
        "{stderr}"
    );
}

/// Every command's `--help` ends with an example.
#[test]
fn every_command_has_examples_in_its_help() {
    for command in ["process", "sign", "serve", "keygen"] {
        let output = Command::new(SWITCHBOARD)
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command}: {help}");
        assert!(
            help.contains("Example") && help.contains(&format!("switchboard {command}")),
            "{command}: {help}"
        );
    }
}
