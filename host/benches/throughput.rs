//! `make bench`: switchboard beside what a team would write instead, on the
//! same deliveries, in one run.
//!
//! The deliveries are `../shared/bench/mix.jsonl` (see its README: each line
//! is one signed delivery with its vendor, the scheme to configure, the
//! secret and the `now` it was signed at). Every figure is microseconds per
//! event, each line measured for about a second per round; the rounds are
//! interleaved (every line once, then again) so that a change in the shared
//! machine's load reaches every line alike, and each line reports the median
//! of its rounds. The ratios the project holds itself to (issue 13) are
//! computed from those medians and marked met or not met.
//!
//! Measured here:
//! - the floor (`../shared/bench/floor`, built by `make bench` into
//!   `target/floor`): HMAC-SHA256 over the signed content plus one JSON parse
//!   that builds nothing, natively; and the same work compiled to
//!   WebAssembly with the component's build settings
//!   (`host/benches/wasm-floor`), in wasmtime: what the component's figures
//!   cannot go below;
//! - the hand-written Node and Python handlers
//!   (`../shared/bench/node_handler.mjs`, `python_handler.py`);
//! - switchboard natively (`switchboard_core::Processor`), through the
//!   component in a reused and in a fresh instance (`switchboard_host`'s
//!   `process_body`, as the receiver calls it; and, for comparison, the
//!   reused instance with the configuration as a WIT record, `process`),
//!   and from Node and Python through their bindings
//!   (`host/node/bench.mjs`, `host/python/bench.py`), the event back as its
//!   JSON text as the handlers give theirs (`JSON.stringify`, `json.dumps`),
//!   and, for reference, parsed into an object or a dict;
//! - the 13 KB deliveries alone, natively and for the floor;
//! - the component's size, and the guest time of the most expensive
//!   unauthenticated request the limits allow.
//!
//! `SWITCHBOARD_BENCH_MIX` names another mix; `SWITCHBOARD_BENCH_ROUNDS`
//! (default 3) and `SWITCHBOARD_BENCH_SECONDS` (default 1) set the rounds;
//! `SWITCHBOARD_BENCH_LINES=floor,native` measures only the lines whose label
//! holds one of the words.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use switchboard_core::{Config, Processor, Request};
use switchboard_host::{HostOptions, Switchboard, default_component, wit};

/// The workspace's root.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The largest processor component the project accepts, in bytes.
const SIZE_LIMIT: u64 = 250 * 1024;

/// How long each in-process line runs before it is timed.
const WARM_UP: Duration = Duration::from_millis(100);

/// A body this large or larger is one of the mix's long-transcript calls.
const LARGE: usize = 10_000;

/// One delivery of the mix.
struct Delivery {
    vendor: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    now: i64,
    wit_request: wit::Request,
    /// The mix's line, as written.
    line: String,
}

/// What one line of the table measures, per event.
enum Measure {
    /// A program that prints `… <µs> us/event …`.
    Child(Vec<String>),
    /// switchboard natively, on all deliveries or the large ones.
    Native { large: bool },
    /// The component through one reused instance, as the receiver calls
    /// it (`process-body`, the configuration as its JSON document).
    Reused,
    /// The same with the configuration as a WIT record (`process`).
    ReusedRecord,
    /// The component in a fresh instance per delivery (`process-body`).
    Fresh,
    /// The floor compiled to WebAssembly, in wasmtime.
    WasmFloor,
}

struct Line {
    label: &'static str,
    measure: Measure,
    rounds: Vec<f64>,
    /// Why it could not be measured, if it could not.
    failed: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let mix = std::env::var_os("SWITCHBOARD_BENCH_MIX").map_or_else(
        || Path::new(ROOT).join("../shared/bench/mix.jsonl"),
        PathBuf::from,
    );
    let rounds: usize = env_number("SWITCHBOARD_BENCH_ROUNDS", 3)?.max(1);
    let seconds: f64 = env_number("SWITCHBOARD_BENCH_SECONDS", 1.0)?;
    let text = std::fs::read_to_string(&mix).with_context(|| format!("{}", mix.display()))?;
    let deliveries: Vec<Delivery> = text.lines().map(delivery).collect::<anyhow::Result<_>>()?;
    ensure!(
        !deliveries.is_empty(),
        "{} holds no delivery",
        mix.display()
    );
    let config = Config::from_json(&mix_config(&text)?.to_string())?;
    let processor = Processor::new(config.clone())?;
    let wit_config = wit::Config::from(&config);
    let config_json = switchboard_host::config_json(&config);

    // The large deliveries alone, for the floor to read.
    let large_mix = Path::new(ROOT).join("target/bench/mix-13kb.jsonl");
    std::fs::create_dir_all(large_mix.parent().context("a directory")?)?;
    let large: Vec<&str> = deliveries
        .iter()
        .filter(|d| d.body.len() >= LARGE)
        .map(|d| d.line.as_str())
        .collect();
    ensure!(
        !large.is_empty(),
        "the mix has no delivery of {LARGE} bytes or more"
    );
    std::fs::write(&large_mix, large.join("\n") + "\n")?;

    let component = default_component();
    let switchboard = Switchboard::from_file(&component, HostOptions::default())?;
    let mut instance = switchboard.instance()?;
    let mut wasm_floor = WasmFloor::new(&deliveries)?;
    let size = std::fs::metadata(&component)?.len();
    let bytes: usize = deliveries.iter().map(|d| d.body.len()).sum();
    println!(
        "make bench: {} ({} deliveries, mean body {:.1} KB, {} of 10 KB or more), \
         µs per event, median of {rounds} interleaved rounds of about {seconds} s",
        mix.display(),
        deliveries.len(),
        bytes as f64 / deliveries.len() as f64 / 1024.0,
        large.len(),
    );

    let mix_arg = mix.display().to_string();
    let secs = seconds.to_string();
    let floor = Path::new(ROOT).join("target/floor/release/floor");
    let python = Path::new(ROOT).join(".venv/bin/python");
    let shared = Path::new(ROOT).join("../shared/bench");
    let child = |program: &Path, args: &[&str]| {
        Measure::Child(
            std::iter::once(program.display().to_string())
                .chain(args.iter().map(|a| (*a).to_owned()))
                .collect(),
        )
    };
    let node_handler = shared.join("node_handler.mjs").display().to_string();
    let python_handler = shared.join("python_handler.py").display().to_string();
    let node_bench = Path::new(ROOT)
        .join("host/node/bench.mjs")
        .display()
        .to_string();
    let python_bench = Path::new(ROOT)
        .join("host/python/bench.py")
        .display()
        .to_string();
    let large_arg = large_mix.display().to_string();
    let mut lines = vec![
        line(
            "floor: HMAC-SHA256 + one JSON parse, native",
            child(&floor, &[&mix_arg, &secs]),
        ),
        line(
            "floor, compiled to WebAssembly (wasmtime)",
            Measure::WasmFloor,
        ),
        line(
            "hand-written Node handler",
            child(Path::new("node"), &[&node_handler, &mix_arg, &secs]),
        ),
        line(
            "hand-written Python handler",
            child(&python, &[&python_handler, &mix_arg, &secs]),
        ),
        line("switchboard, native", Measure::Native { large: false }),
        line("switchboard, component, reused instance", Measure::Reused),
        line(
            "  the same, the configuration as a record",
            Measure::ReusedRecord,
        ),
        line("switchboard, component, fresh instance", Measure::Fresh),
        line(
            "switchboard from Node (npm package)",
            child(Path::new("node"), &[&node_bench, &mix_arg, &secs, "--json"]),
        ),
        line(
            "  the same, the event as an object",
            child(Path::new("node"), &[&node_bench, &mix_arg, &secs]),
        ),
        line(
            "switchboard from Python (wasmtime-py)",
            child(&python, &[&python_bench, &mix_arg, &secs, "--json"]),
        ),
        line(
            "  the same, the event as a dict",
            child(&python, &[&python_bench, &mix_arg, &secs]),
        ),
        line(
            "13 KB deliveries alone: floor",
            child(&floor, &[&large_arg, &secs]),
        ),
        line(
            "13 KB deliveries alone: switchboard, native",
            Measure::Native { large: true },
        ),
    ];

    // SWITCHBOARD_BENCH_LINES=floor,native measures only the lines whose
    // label contains one of the words (for a quick look; make bench runs all).
    if let Ok(only) = std::env::var("SWITCHBOARD_BENCH_LINES") {
        let words: Vec<&str> = only.split(',').map(str::trim).collect();
        for line in &mut lines {
            if !words.iter().any(|w| line.label.contains(w)) {
                line.failed = Some("left out (SWITCHBOARD_BENCH_LINES)".to_owned());
            }
        }
    }
    for _ in 0..rounds {
        for line in &mut lines {
            if line.failed.is_some() {
                continue;
            }
            let figure = match &line.measure {
                Measure::Child(command) => run_child(command),
                Measure::Native { large } => {
                    let subset: Vec<&Delivery> = deliveries
                        .iter()
                        .filter(|d| !large || d.body.len() >= LARGE)
                        .collect();
                    Ok(per_event(seconds, &subset, |d| {
                        let headers = d.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                        let request = Request::new(headers, &d.body);
                        let event = processor
                            .process(&request, Some(&d.vendor), d.now)
                            .expect("the mix is accepted");
                        black_box(event.to_json());
                    }))
                }
                Measure::Reused => {
                    let subset: Vec<&Delivery> = deliveries.iter().collect();
                    Ok(per_event(seconds, &subset, |d| {
                        let event = instance
                            .process_body(&d.headers, &d.body, Some(&d.vendor), &config_json, d.now)
                            .expect("the mix is accepted");
                        black_box(event);
                    }))
                }
                Measure::ReusedRecord => {
                    let subset: Vec<&Delivery> = deliveries.iter().collect();
                    Ok(per_event(seconds, &subset, |d| {
                        let event = instance
                            .process(&d.wit_request, Some(&d.vendor), &wit_config, d.now)
                            .expect("the mix is accepted");
                        black_box(event);
                    }))
                }
                Measure::WasmFloor => {
                    let inputs = wasm_floor.inputs.clone();
                    Ok(per_event(seconds, &inputs, |input| {
                        black_box(wasm_floor.run(input));
                    }))
                }
                Measure::Fresh => {
                    let subset: Vec<&Delivery> = deliveries.iter().collect();
                    Ok(per_event(seconds, &subset, |d| {
                        let event = switchboard
                            .process_body(&d.headers, &d.body, Some(&d.vendor), &config_json, d.now)
                            .expect("the mix is accepted");
                        black_box(event);
                    }))
                }
            };
            match figure {
                Ok(figure) => line.rounds.push(figure),
                Err(error) => line.failed = Some(format!("{error:#}")),
            }
        }
    }

    println!();
    for line in &lines {
        match (&line.failed, median(&line.rounds)) {
            (None, Some(median)) => println!(
                "{:<46} {median:>9.2}   (rounds: {})",
                line.label,
                line.rounds
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (failed, _) => println!(
                "{:<46} not measured: {}",
                line.label,
                failed.as_deref().unwrap_or("no rounds")
            ),
        }
    }

    let figure = |label: &str| {
        lines
            .iter()
            .find(|l| l.label == label)
            .and_then(|l| l.failed.is_none().then(|| median(&l.rounds)).flatten())
    };
    println!();
    println!(
        "{:<52} {:>9}   {:<10} verdict",
        "ratio", "measured", "target"
    );
    let ratios = [
        (
            "native / floor",
            "switchboard, native",
            "floor: HMAC-SHA256 + one JSON parse, native",
            3.0,
        ),
        (
            "native / floor, 13 KB deliveries alone",
            "13 KB deliveries alone: switchboard, native",
            "13 KB deliveries alone: floor",
            3.0,
        ),
        (
            "component, reused instance / Node handler",
            "switchboard, component, reused instance",
            "hand-written Node handler",
            0.5,
        ),
        (
            "component, fresh instance / reused instance",
            "switchboard, component, fresh instance",
            "switchboard, component, reused instance",
            2.0,
        ),
        (
            "from Node / Node handler",
            "switchboard from Node (npm package)",
            "hand-written Node handler",
            1.0,
        ),
        (
            "  the event as an object / Node handler",
            "  the same, the event as an object",
            "hand-written Node handler",
            1.0,
        ),
        (
            "from Python / Python handler",
            "switchboard from Python (wasmtime-py)",
            "hand-written Python handler",
            1.0,
        ),
        (
            "  the event as a dict / Python handler",
            "  the same, the event as a dict",
            "hand-written Python handler",
            1.0,
        ),
    ];
    for (name, measured, against, target) in ratios {
        match (figure(measured), figure(against)) {
            (Some(measured), Some(against)) => {
                let ratio = measured / against;
                println!(
                    "{name:<52} {ratio:>8.2}×   ≤ {target:<7}× {}",
                    verdict(ratio <= target)
                );
            }
            _ => println!("{name:<52} {:>9}   ≤ {target:<7}× not measured", "-"),
        }
    }
    // What the component's line is bounded by: the floor's own work inside
    // wasmtime, against the Node handler and against the component.
    let wasm_floor_line = "floor, compiled to WebAssembly (wasmtime)";
    for (name, measured, against) in [
        (
            "  for reference: WebAssembly floor / Node handler",
            wasm_floor_line,
            "hand-written Node handler",
        ),
        (
            "  for reference: reused instance / WebAssembly floor",
            "switchboard, component, reused instance",
            wasm_floor_line,
        ),
    ] {
        if let (Some(measured), Some(against)) = (figure(measured), figure(against)) {
            println!("{name:<52} {:>8.2}×", measured / against);
        }
    }
    println!(
        "{:<52} {:>6} KB   ≤ {:<5} KB {}",
        "processor component size",
        size.div_ceil(1024),
        SIZE_LIMIT / 1024,
        verdict(size <= SIZE_LIMIT)
    );
    println!(
        "{:<52} {:>9}   ≥ 20 000 requests/s, p99 ≤ 5 ms: `make load` measures it",
        "receiver", "-"
    );
    println!();
    println!("Python, where the time of a delivery goes (host/python/bench.py --decompose):");
    match Command::new(&python)
        .args([
            python_bench.as_str(),
            mix_arg.as_str(),
            secs.as_str(),
            "--decompose",
        ])
        .output()
    {
        Ok(output) if output.status.success() => {
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                println!("  {line}");
            }
        }
        Ok(output) => println!(
            "  failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => println!("  cannot run {}: {error}", python.display()),
    }
    println!();
    worst_refusal(&mut instance)
}

fn line(label: &'static str, measure: Measure) -> Line {
    Line {
        label,
        measure,
        rounds: Vec::new(),
        failed: None,
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT MET" }
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} is not a number")),
        Err(_) => Ok(default),
    }
}

/// One line of the mix.
fn delivery(line: &str) -> anyhow::Result<Delivery> {
    let value: Value = serde_json::from_str(line)?;
    let text = |key: &str| {
        value[key]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("a mix line without `{key}`"))
    };
    let headers: Vec<(String, String)> = value["headers"]
        .as_object()
        .context("a mix line without headers")?
        .iter()
        .map(|(name, value)| Ok((name.clone(), value.as_str().context("a header")?.to_owned())))
        .collect::<anyhow::Result<_>>()?;
    let body = text("body")?.into_bytes();
    let wit_request = wit::Request::new(
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        body.clone(),
    );
    Ok(Delivery {
        vendor: text("vendor")?,
        now: value["now"].as_i64().context("a mix line without `now`")?,
        headers,
        body,
        wit_request,
        line: line.to_owned(),
    })
}

/// The one configuration a receiver of the whole mix would run: every
/// vendor of the mix enabled with its scheme and secret.
fn mix_config(text: &str) -> anyhow::Result<Value> {
    let mut vendors = BTreeMap::new();
    for line in text.lines() {
        let value: Value = serde_json::from_str(line)?;
        let vendor = value["vendor"].as_str().context("vendor")?.to_owned();
        let scheme = match value["scheme"].as_str().context("scheme")? {
            // The vendor's own scheme is its default.
            own if own == vendor => "vendor-default",
            other => other,
        };
        let settings = json!({"secrets": [value["secret"]], "scheme": scheme});
        if let Some(previous) = vendors.insert(vendor.clone(), settings.clone())
            && previous != settings
        {
            bail!("the mix configures {vendor} in two ways");
        }
    }
    Ok(json!({ "vendors": vendors }))
}

/// The floor compiled to WebAssembly (`host/benches/wasm-floor`, built by
/// `make bench` as the components are: the guest profile, then wasm-opt),
/// instantiated once, with every delivery's key, signed
/// prefix and body already in its memory.
struct WasmFloor {
    store: wasmtime::Store<()>,
    floor: wasmtime::TypedFunc<FloorInput, u32>,
    inputs: Vec<FloorInput>,
}

/// Where one delivery's key, signed prefix and body lie in the module's
/// memory: (pointer, length) three times.
type FloorInput = (u32, u32, u32, u32, u32, u32);

impl WasmFloor {
    fn new(deliveries: &[Delivery]) -> anyhow::Result<WasmFloor> {
        let path = Path::new(ROOT).join("target/wasm-opt/switchboard_wasm_floor.wasm");
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::from_file(&engine, &path)
            .map_err(|e| anyhow::anyhow!("{} (make bench builds it): {e:#}", path.display()))?;
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[])?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .context("the floor module exports no memory")?;
        let alloc = instance.get_typed_func::<u32, u32>(&mut store, "alloc")?;
        let floor = instance.get_typed_func::<FloorInput, u32>(&mut store, "floor")?;
        let mut place = |bytes: &[u8]| -> anyhow::Result<(u32, u32)> {
            let len = u32::try_from(bytes.len())?;
            let at = alloc.call(&mut store, len)?;
            memory.write(&mut store, at as usize, bytes)?;
            Ok((at, len))
        };
        let mut inputs = Vec::new();
        for delivery in deliveries {
            let (key, prefix) = floor_key_and_prefix(delivery)?;
            let (key, key_len) = place(&key)?;
            let (prefix, prefix_len) = place(&prefix)?;
            let (body, body_len) = place(&delivery.body)?;
            inputs.push((key, key_len, prefix, prefix_len, body, body_len));
        }
        Ok(WasmFloor {
            store,
            floor,
            inputs,
        })
    }

    fn run(&mut self, input: &FloorInput) -> u32 {
        let tag = self.floor.call(&mut self.store, *input).unwrap_or(u32::MAX);
        assert!(tag < 256, "the floor module refused a delivery of the mix");
        tag
    }
}

/// The key and the signed prefix of a delivery, as the floor
/// (`../shared/bench/floor`) reads them: Varda's `t=` timestamp, OpenPhone's
/// timestamp with its base64 key, Atoms' body alone, and the Standard
/// Webhooks id and timestamp with the `whsec_` key.
fn floor_key_and_prefix(delivery: &Delivery) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    use base64::Engine as _;
    let line: Value = serde_json::from_str(&delivery.line)?;
    let secret = line["secret"]
        .as_str()
        .context("a mix line without `secret`")?;
    let header = |name: &str| {
        delivery
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .with_context(|| format!("a {} delivery without {name}", delivery.vendor))
    };
    let base64 = |text: &str| base64::engine::general_purpose::STANDARD.decode(text);
    Ok(match delivery.vendor.as_str() {
        "varda" => {
            let signature = header("x-varda-signature")?;
            let first = signature.split(',').next().unwrap_or_default();
            let timestamp = first
                .strip_prefix("t=")
                .context("a Varda signature without t=")?;
            (
                secret.as_bytes().to_vec(),
                format!("{timestamp}.").into_bytes(),
            )
        }
        "openphone" => {
            let signature = header("openphone-signature")?;
            let timestamp = signature
                .split(';')
                .nth(2)
                .context("an OpenPhone signature")?;
            (base64(secret)?, format!("{timestamp}.").into_bytes())
        }
        "atoms" => (secret.as_bytes().to_vec(), Vec::new()),
        _ => {
            let prefix = format!(
                "{}.{}.",
                header("webhook-id")?,
                header("webhook-timestamp")?
            );
            (
                base64(secret.trim_start_matches("whsec_"))?,
                prefix.into_bytes(),
            )
        }
    })
}

/// Microseconds per event over `seconds` of passes over `deliveries`, after
/// a tenth of a second of passes to warm up, as the floor and the Node
/// handler warm up (1000 and 200 passes over the mix) before they time.
fn per_event<T>(seconds: f64, deliveries: &[T], mut run: impl FnMut(&T)) -> f64 {
    let warm = Instant::now();
    while warm.elapsed() < WARM_UP {
        for delivery in deliveries {
            run(delivery);
        }
    }
    let start = Instant::now();
    let mut events = 0usize;
    while start.elapsed().as_secs_f64() < seconds {
        for delivery in deliveries {
            run(delivery);
        }
        events += deliveries.len();
    }
    start.elapsed().as_secs_f64() * 1e6 / events as f64
}

/// Runs one measuring program and reads its `<µs> us/event`.
fn run_child(command: &[String]) -> anyhow::Result<f64> {
    let (program, args) = command.split_first().context("a command")?;
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    stdout
        .lines()
        .rev()
        .find_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "us/event")?;
            words.get(at.checked_sub(1)?)?.parse().ok()
        })
        .with_context(|| format!("{program} printed no `us/event` figure: {stdout}"))
}

fn median(rounds: &[f64]) -> Option<f64> {
    let mut sorted = rounds.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

/// The most expensive unauthenticated request the limits allow: a body at
/// the default limit (1 MiB), `MAX_SIGNATURES` entries that each sign a
/// different content (a distinct timestamp inside the window), and every one
/// of `KEYS` configured keys tried on each; the guest time through a reused
/// instance, and past the cap (the flood of issue 11) for comparison.
fn worst_refusal(instance: &mut switchboard_host::Instance) -> anyhow::Result<()> {
    const KEYS: usize = 4;
    const NOW: i64 = 1_639_710_054;
    let secrets: Vec<String> = (0..KEYS)
        .map(|i| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(format!("key-number-{i}-of-{KEYS}"))
        })
        .collect();
    let config = Config::from_json(
        &serde_json::json!({"vendors": {"openphone": {"secrets": secrets}}}).to_string(),
    )?;
    let config = wit::Config::from(&config);
    let body = vec![b' '; switchboard_core::config::DEFAULT_BODY_LIMIT];
    let entries = |n: usize| {
        (0..n)
            .map(|i| format!("hmac;1;{};AAAA", NOW * 1000 - i as i64))
            .collect::<Vec<_>>()
            .join(",")
    };
    let cap = switchboard_core::schemes::MAX_SIGNATURES;
    for (name, header) in [
        (
            format!("{cap} distinct signed contents × {KEYS} keys, 1 MiB body"),
            entries(cap),
        ),
        (
            "signature flood (14 000 entries), 1 MiB body".to_owned(),
            entries(14_000),
        ),
    ] {
        let request = wit::Request::new([("openphone-signature", header.as_str())], body.clone());
        let mut times: Vec<Duration> = (0..15)
            .map(|_| {
                let start = Instant::now();
                let refused = instance.process(&request, Some("openphone"), &config, NOW);
                assert!(refused.is_err(), "a forged request is refused");
                start.elapsed()
            })
            .collect();
        times.sort();
        println!(
            "worst unauthenticated request: {name:<52} {:>8.2} ms",
            times[times.len() / 2].as_secs_f64() * 1e3
        );
    }
    Ok(())
}
