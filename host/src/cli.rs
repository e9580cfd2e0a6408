//! The command line: `process`, `sign` and `serve`, exactly as
//! interfaces.md says, `keygen`, and the operator's `tail`, `forward` and
//! `replay`.

mod range;
mod replay;
mod sources;
mod tail;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use clap::{Parser, Subcommand};
use switchboard_core::{self as core, Config, ConfigError, Scheme, Secret, SignInput};
use switchboard_host::{HostOptions, Switchboard, wit};

/// Verify, parse and normalize customer-communication webhooks.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Process(Process),
    Sign(Sign),
    Serve(Serve),
    Keygen(Keygen),
    Tail(Tail),
    Forward(Forward),
    Replay(Replay),
}

/// Some of the work was not done (an event not delivered, a delivery still
/// refused): exit status 1, after the report.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Incomplete(String);

/// Print the journal's events, then follow it as a receiver appends (or,
/// with `--refused`, the refusal log). Only reads: works beside a running
/// `switchboard serve` and never takes its lock; prints complete lines
/// only. One aligned line per event on a terminal, the JSON lines
/// themselves otherwise (`--format`). Stops on Ctrl-C, SIGTERM or a closed
/// pipe.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  switchboard tail --out events.ndjson                      # the last 10, then follow\n  switchboard tail --out events.ndjson --vendor varda --type 'call.*' --from-start --no-follow\n  switchboard tail --out events.ndjson --refused -n 50      # why deliveries were refused\n  switchboard tail --out events.ndjson | jq .id"
)]
struct Tail {
    /// The journal (`serve --out`).
    #[arg(long, value_name = "FILE", default_value = "events.ndjson")]
    out: PathBuf,
    /// Show the refusal log (`FILE.refused`, after `FILE.refused.1`)
    /// instead of the journal.
    #[arg(long)]
    refused: bool,
    /// Start with the last N matching lines (10 when neither this nor
    /// `--from-start` is given).
    #[arg(
        short = 'n',
        long = "lines",
        value_name = "N",
        conflicts_with = "from_start"
    )]
    lines: Option<usize>,
    /// Start with every line.
    #[arg(long)]
    from_start: bool,
    /// Print and exit instead of following.
    #[arg(long)]
    no_follow: bool,
    /// Only events (or refusals) of this vendor.
    #[arg(long, value_name = "VENDOR")]
    vendor: Option<String>,
    /// Only events of this normalized type; a trailing `*` matches a
    /// prefix (`call.*`).
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "refused")]
    event_type: Option<String>,
    /// Only refusals of this reason code or class (with `--refused`).
    #[arg(long, value_name = "REASON", requires = "refused")]
    reason: Option<String>,
    /// `pretty` (one aligned line per event), `json` (the lines as they
    /// are), or `auto`: pretty on a terminal.
    #[arg(long, value_enum, default_value = "auto")]
    format: tail::Format,
    /// Read the PostgreSQL store (`serve --store`) instead of a journal:
    /// events in the order every consumer reads them, woken by `LISTEN`
    /// (or, with `--refused`, its `switchboard_refusals` table).
    #[arg(
        long,
        value_name = "URL",
        env = "SWITCHBOARD_STORE",
        hide_env_values = true
    )]
    store: Option<String>,
}

/// Send a range of the journal to a downstream again: from the event with
/// an id, or the first whose `time` is at or after an RFC 3339 time, to
/// the end (or `--until`). Reads the journal only, beside a running
/// receiver, and leaves its forwarding offset (`FILE.forwarded`) and
/// dead letters alone: each event is POSTed as `serve --forward` does
/// (retried on 5xx, 408, 429 and network errors, up to `--attempts`), and
/// counted. Sending again is safe because downstreams deduplicate by the
/// CloudEvent's `source` and `id`, as they must for `--forward`'s
/// at-least-once delivery. Exits 1 if some event was not delivered.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  switchboard forward --out events.ndjson --from sha256:0d07... --to http://127.0.0.1:9000/events\n  switchboard forward --out events.ndjson --from 2026-03-25T18:00:00Z --until 2026-03-25T19:00:00Z --to http://127.0.0.1:9000/events"
)]
struct Forward {
    /// The first event: its id, or an RFC 3339 time (the first event whose
    /// `time` is at or after it).
    #[arg(long, value_name = "EVENT_ID|TIME")]
    from: String,
    /// The last event: its id, or an RFC 3339 time (stops before the first
    /// event whose `time` is after it). The end of the journal when absent.
    #[arg(long, value_name = "EVENT_ID|TIME")]
    until: Option<String>,
    /// The downstream's `http://` URL.
    #[arg(long, value_name = "URL")]
    to: String,
    /// The journal (`serve --out`).
    #[arg(long, value_name = "FILE", default_value = "events.ndjson")]
    out: PathBuf,
    /// Attempts per event before it is counted as not delivered.
    #[arg(long, value_name = "N", default_value_t = 5)]
    attempts: u32,
    /// Read the PostgreSQL store (`serve --store`) instead of the journal,
    /// in the order consumers read it; its outbox is left alone.
    #[arg(
        long,
        value_name = "URL",
        env = "SWITCHBOARD_STORE",
        hide_env_values = true
    )]
    store: Option<String>,
}

/// Run deliveries again through a running receiver's current
/// configuration, into its journal: by default the refused deliveries it
/// kept (`FILE.refused.1` then `FILE.refused`), else SOURCES: refusal
/// logs, captures (JSON lines of `{"headers": [[name, value], ...],
/// "body": "..." | "body_base64": "...", "vendor"?: "...", "received_at"?:
/// unix seconds}`), fixture files (`*.json`) or directories of them. Each
/// is verified at the time it was received (else now), so a delivery
/// refused for a wrong secret is accepted once the secret is fixed and the
/// receiver restarted; the journal's dedupe applies (a second replay
/// answers `duplicate`). Posts to the receiver's loopback-only `POST
/// /replay`. Deliveries refused under the shared-secret scheme cannot be
/// replayed from the refusal log: their token is redacted there. Exits 1
/// if some delivery is still not accepted.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  switchboard replay --out events.ndjson --dry-run            # what the current configuration would accept\n  switchboard replay --out events.ndjson --reason unauthenticated --since 2026-03-25T18:00:00Z\n  switchboard replay --receiver http://127.0.0.1:8787 captured.ndjson fixtures/varda/"
)]
struct Replay {
    /// Where the deliveries are, oldest first (`-`: standard input); the
    /// refusal log beside `--out` when absent.
    #[arg(value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// The running receiver (`serve --listen`).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8787")]
    receiver: String,
    /// The journal whose refusal log is replayed when no SOURCE is given.
    #[arg(long, value_name = "FILE", default_value = "events.ndjson")]
    out: PathBuf,
    /// Only deliveries received at or after this time (RFC 3339 or unix
    /// seconds).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only deliveries posted to this vendor's path (`/webhooks/VENDOR`).
    #[arg(long, value_name = "VENDOR")]
    vendor: Option<String>,
    /// Only deliveries refused with this reason code (or class).
    #[arg(long, value_name = "REASON")]
    reason: Option<String>,
    /// Print what would now be accepted, and what still not with its
    /// reason, without writing anything (duplicates are not looked for).
    #[arg(long)]
    dry_run: bool,
    /// Replay the refusals kept in this PostgreSQL store (`serve
    /// --store`), oldest first, when no SOURCE is given.
    #[arg(
        long,
        value_name = "URL",
        env = "SWITCHBOARD_STORE",
        hide_env_values = true
    )]
    store: Option<String>,
}

/// Print a new Standard Webhooks ed25519 key pair for `v1a` signatures, as
/// two shell assignments: `SIGNING_KEY=whsk_…` (for the sender, and for
/// `switchboard sign --secret`; never configure it on a receiver) and
/// `PUBLIC_KEY=whpk_…` (for the receiver's secrets list). The randomness
/// comes from the operating system.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  eval \"$(switchboard keygen)\"   # sets SIGNING_KEY and PUBLIC_KEY\n  switchboard sign --vendor opencx --scheme opencx=standard-webhooks --secret \"$SIGNING_KEY\" --data-binary @body.json"
)]
struct Keygen {}

/// Receive webhooks over HTTP: `POST /webhooks/{vendor}` (or `/webhooks` to
/// detect the vendor), `GET /healthz`, `GET /metrics`. Each accepted event is
/// appended to the journal (fsynced) before the `200`; a redelivery of an
/// event already written answers `200` with `"duplicate": true`. SIGTERM or
/// Ctrl-C stops accepting, finishes in-flight requests and flushes.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  switchboard serve --config switchboard.toml --out events.ndjson\n  switchboard serve --config switchboard.toml --log-format json --log-level warn\n  switchboard serve --config switchboard.toml --out events.ndjson --forward http://127.0.0.1:9000/events\n  SWITCHBOARD_VENDORS=varda SWITCHBOARD_SECRET_VARDA=... switchboard serve --out -"
)]
struct Serve {
    /// The address to listen on (`127.0.0.1:0` picks a free port; the log
    /// says which).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: std::net::SocketAddr,
    #[command(flatten)]
    settings: Settings,
    /// The journal: an NDJSON file events are appended to, or `-` for
    /// standard output (not durable). A receiver holds its journal with an
    /// exclusive lock: a second one on the same file refuses to start.
    /// `events.ndjson` unless `--store` (or the configuration's `store`)
    /// names a database.
    #[arg(long, value_name = "FILE|-")]
    out: Option<String>,
    /// Keep events in PostgreSQL instead of a journal file:
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DB`. Any number of receivers
    /// may share one database: they share its dedupe (a redelivery that
    /// lands on another replica is a duplicate), its refusal log and its
    /// forwarding. The schema is created or migrated at start. Also
    /// `SWITCHBOARD_STORE`, or `store = "…"` in the configuration file
    /// (prefer either to the flag when the URL holds a password). Plain
    /// TCP: no TLS yet.
    #[arg(
        long,
        value_name = "URL",
        env = "SWITCHBOARD_STORE",
        hide_env_values = true,
        conflicts_with = "out"
    )]
    store: Option<String>,
    /// The most connections to the `--store` database (a delivery waits up
    /// to 5 s for one, then is answered 503).
    #[arg(long, value_name = "N", default_value_t = 16)]
    store_connections: usize,
    /// With `--store` and `--forward`: how long this replica holds the
    /// events it claimed to forward (renewed while it delivers) before
    /// another replica may take them, should it die.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    forward_lease: f64,
    /// Also POST every event to this `http://` URL (at least once, retried
    /// with backoff on 5xx, 408, 429 and network errors; the journal is the
    /// spool). Events refused for good (another 4xx) are written to
    /// `FILE.dead`; the place reached is kept in `FILE.forwarded`.
    #[arg(long, value_name = "URL")]
    forward: Option<String>,
    /// How many recent events are remembered to recognise redeliveries,
    /// across restarts too. Each costs the same, whatever it holds: a
    /// 16-byte digest of its source and id, in tables reserved at start
    /// (6.1 MB at the default, about 60 bytes per event).
    #[arg(long, value_name = "EVENTS", default_value_t = 100_000)]
    dedupe_window: usize,
    /// Seconds a client may take to send its headers, and then its body.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    read_timeout: u64,
    #[command(flatten)]
    limits: crate::serve::Limits,
    #[command(flatten)]
    refused: crate::serve::refused::Settings,
    #[command(flatten)]
    console: crate::serve::console::Settings,
    /// The component to run; the one `make build` produced when absent.
    #[arg(long, value_name = "PATH")]
    component: Option<PathBuf>,
    /// What is logged: a level (`error`, `warn`, `info`, `debug`, `trace`)
    /// or `RUST_LOG` directives (`info,hyper=debug`). Overrides `RUST_LOG`;
    /// `info` when neither is set: one line per request and the lifecycle.
    #[arg(long, value_name = "LEVEL|DIRECTIVES")]
    log_level: Option<String>,
    /// `text` (one `key=value` line per event; colours on a terminal) or
    /// `json` (one JSON object per line, with the same fields, for a log
    /// pipeline).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
}

/// Run one request through the component and print its CloudEvent as one
/// JSON line. On failure, print `error: <class> (<reason>): <message>` on
/// stderr (the reason one of the stable codes: `stale`, `no-match`, ...) and
/// exit with the class's code: 3 unauthenticated, 4 malformed,
/// 5 unknown-vendor, 6 too-large, 7 internal (2 for bad usage or
/// configuration).
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  switchboard process --config switchboard.toml -H @headers.txt --data-binary @body.json\n  switchboard process --config switchboard.toml --request fixtures/varda/seed-call-started.json\n  switchboard process --vendor varda --secret varda=my-secret -H 'X-Varda-Signature: t=...,v1=...' --data-binary @body.json"
)]
struct Process {
    /// The vendor family; detected from the headers and body when absent.
    #[arg(long, value_name = "VENDOR", long_help = vendor_help(
        "The vendor family; detected from the headers and body when absent."
    ))]
    vendor: Option<String>,
    #[command(flatten)]
    settings: Settings,
    /// The current time in unix seconds, for the replay window; the wall
    /// clock when absent.
    #[arg(long, value_name = "UNIX_SECONDS")]
    now: Option<i64>,
    /// A request header, `Name: value`; repeat for each header. `@FILE`
    /// reads one header per line from a file, as curl does (so `switchboard
    /// sign` output can be passed straight back).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The raw body: `@FILE`, `-` (or `@-`) for standard input, or the text
    /// itself. Standard input when absent.
    #[arg(long, value_name = "@FILE|-")]
    data_binary: Option<String>,
    /// The whole delivery from a file instead of `-H` and `--data-binary`:
    /// one capture or refusal-log line (`{"headers": [[name, value], ...],
    /// "body" | "body_base64", "vendor"?, "received_at"?}`) or one fixture
    /// file. Its vendor and `received_at` (a fixture's `now`) are used
    /// unless `--vendor` and `--now` are given.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["headers", "data_binary"])]
    request: Option<PathBuf>,
    /// The component to run; the one `make build` produced when absent.
    #[arg(long, value_name = "PATH")]
    component: Option<PathBuf>,
}

/// Print the headers a vendor would send for a body, one `Name: value` per
/// line, ready for `curl -H`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  switchboard sign --vendor varda --secret my-secret --data-binary @body.json > headers.txt\n  curl -H @headers.txt --data-binary @body.json http://127.0.0.1:8787/webhooks/varda"
)]
struct Sign {
    /// The vendor family.
    #[arg(long, value_name = "VENDOR", long_help = vendor_help("The vendor family."))]
    vendor: String,
    /// The signing secret; the vendor's first configured secret (from
    /// `--config` or `SWITCHBOARD_SECRET_<VENDOR>`) when absent.
    #[arg(long)]
    secret: Option<String>,
    /// The configuration file, for the vendor's scheme and its options.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The scheme to sign with instead of the vendor's: `VENDOR=SCHEME`.
    #[arg(long = "scheme", value_name = "VENDOR=SCHEME")]
    schemes: Vec<String>,
    /// The unix timestamp to sign; now when absent.
    #[arg(long, value_name = "UNIX_SECONDS")]
    timestamp: Option<i64>,
    /// The message id, for schemes that sign one; derived from the body and
    /// timestamp when absent.
    #[arg(long)]
    id: Option<String>,
    /// The raw body: `@FILE`, `-` (or `@-`) for standard input, or the text
    /// itself. Standard input when absent.
    #[arg(long, value_name = "@FILE|-")]
    data_binary: Option<String>,
}

/// Where the configuration comes from: a file, overridden by the
/// `SWITCHBOARD_*` environment variables (`SWITCHBOARD_SECRET_<VENDOR>`,
/// comma-separated, and the others of `Config::apply_env`), overridden by
/// flags.
#[derive(Debug, clap::Args)]
struct Settings {
    /// The configuration file (TOML, or JSON when it ends in `.json`).
    /// Without one, every vendor family is enabled with its default scheme.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A secret for a vendor, `VENDOR=SECRET`; repeat for rotation. Prefer
    /// `SWITCHBOARD_SECRET_<VENDOR>`, which stays out of process lists.
    #[arg(long = "secret", value_name = "VENDOR=SECRET")]
    secrets: Vec<String>,
    /// The scheme for a vendor, `VENDOR=SCHEME` (vendor-default,
    /// standard-webhooks, none; hmac-sha256 and shared-secret need the
    /// configuration file for their options).
    #[arg(long = "scheme", value_name = "VENDOR=SCHEME")]
    schemes: Vec<String>,
}

/// The form of `serve`'s log lines.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logging to standard error at `level` (else `RUST_LOG`, else `info`), in
/// `format`. A level or directive that does not parse is a usage error
/// rather than silence.
fn init_logging(level: Option<&str>, format: LogFormat) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(level) => EnvFilter::builder()
            .parse(level)
            .with_context(|| format!("--log-level {level}"))?,
        None => match std::env::var("RUST_LOG") {
            Ok(directives) if !directives.trim().is_empty() => EnvFilter::builder()
                .parse(&directives)
                .with_context(|| format!("RUST_LOG={directives}"))?,
            _ => EnvFilter::new("info"),
        },
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
    Ok(())
}

/// Runs the command line; the exit code says how it went.
pub fn main() -> ExitCode {
    match Cli::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if let Some(missing @ switchboard_host::Error::Load { .. }) =
                error.downcast_ref::<switchboard_host::Error>()
            {
                // The operator's setup, not the delivery: a usage error.
                eprintln!(
                    "error: {missing}\n  hint: `make build` builds it; SWITCHBOARD_COMPONENT names another"
                );
                ExitCode::from(2)
            } else if let Some(refused) = error.downcast_ref::<switchboard_host::Error>() {
                eprintln!(
                    "error: {} ({}): {refused}",
                    refused.class(),
                    refused.reason()
                );
                ExitCode::from(refused.class().exit_code())
            } else if let Some(refused) = error.downcast_ref::<core::Error>() {
                eprintln!(
                    "error: {} ({}): {refused}",
                    refused.class(),
                    refused.reason()
                );
                ExitCode::from(refused.class().exit_code())
            } else if let Some(incomplete) = error.downcast_ref::<Incomplete>() {
                eprintln!("error: {incomplete}");
                ExitCode::from(1)
            } else if let Some(config) = error.downcast_ref::<ConfigError>() {
                let class = core::ErrorClass::Config;
                eprintln!("error: {class} ({class}): invalid configuration: {config}");
                ExitCode::from(class.exit_code())
            } else {
                eprintln!("error: {error:#}");
                ExitCode::from(2)
            }
        }
    }
}

impl Cli {
    fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Process(process) => process.run(),
            Command::Sign(sign) => sign.run(),
            Command::Serve(serve) => serve.run(),
            Command::Keygen(keygen) => keygen.run(),
            Command::Tail(tail) => tail.run(),
            Command::Forward(forward) => forward.run(),
            Command::Replay(replay) => replay.run(),
        }
    }
}

impl Keygen {
    fn run(self) -> anyhow::Result<()> {
        let mut seed = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(&mut seed))
            .context("reading 32 random bytes from /dev/urandom")?;
        let (signing, public) = core::schemes::standard_webhooks::key_pair(&seed);
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "SIGNING_KEY={signing}")?;
        writeln!(stdout, "PUBLIC_KEY={public}")?;
        Ok(())
    }
}

impl Process {
    fn run(self) -> anyhow::Result<()> {
        let config = self.settings.load()?;
        let (request, vendor, received_at) = match &self.request {
            Some(path) => {
                let delivery = sources::one(path)?;
                let headers = delivery
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()));
                (
                    wit::Request::new(headers, delivery.body.clone()),
                    delivery.vendor,
                    delivery.received_at,
                )
            }
            None => (self.flagged_request()?, None, None),
        };
        let vendor = self.vendor.clone().or(vendor);
        let now = self.now.or(received_at).map_or_else(unix_now, Ok)?;
        let path = self
            .component
            .unwrap_or_else(switchboard_host::default_component);
        let options = HostOptions {
            compile_cache: true,
            ..HostOptions::default()
        };
        let switchboard = Switchboard::from_file(&path, options)?;
        let event = switchboard.process(
            &request,
            vendor.as_deref(),
            &wit::Config::from(&config),
            now,
        )?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", event.json)?;
        Ok(())
    }

    /// The request of `-H` and `--data-binary`.
    fn flagged_request(&self) -> anyhow::Result<wit::Request> {
        let header_files = read_header_files(&self.headers)?;
        let headers = self
            .headers
            .iter()
            .zip(&header_files)
            .flat_map(|(flag, file)| match file {
                Some(text) => text.lines().filter(|l| !l.trim().is_empty()).collect(),
                None => vec![flag.as_str()],
            })
            .map(parse_header)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let body = read_body(self.data_binary.as_deref())?;
        Ok(wit::Request::new(headers, body))
    }
}

impl Tail {
    fn run(self) -> anyhow::Result<()> {
        let pretty = match self.format {
            tail::Format::Pretty => true,
            tail::Format::Json => false,
            tail::Format::Auto => std::io::IsTerminal::is_terminal(&std::io::stdout()),
        };
        let path = if self.refused {
            crate::serve::refused::path_beside(&self.out)
        } else {
            self.out
        };
        tail::Tail {
            path,
            refused: self.refused,
            start: match (self.from_start, self.lines) {
                (true, _) => tail::Start::FromStart,
                (false, lines) => tail::Start::Last(lines.unwrap_or(10)),
            },
            follow: !self.no_follow,
            filter: tail::Filter {
                vendor: self.vendor,
                event_type: self.event_type,
                reason: self.reason,
            },
            pretty,
            store: self
                .store
                .as_deref()
                .map(crate::serve::postgres::StoreUrl::parse)
                .transpose()?,
        }
        .run()
    }
}

impl Forward {
    fn run(self) -> anyhow::Result<()> {
        // The log (retries, warnings) on standard error, at `RUST_LOG`'s
        // level.
        init_logging(None, LogFormat::Text)?;
        anyhow::ensure!(self.attempts > 0, "--attempts must be at least 1");
        range::Range {
            url: http_url(&self.to, "--to")?,
            journal: self.out,
            store: self
                .store
                .as_deref()
                .map(crate::serve::postgres::StoreUrl::parse)
                .transpose()?,
            from: range::Mark::parse(&self.from),
            until: self.until.as_deref().map(range::Mark::parse),
            attempts: self.attempts,
        }
        .run()
    }
}

impl Replay {
    fn run(self) -> anyhow::Result<()> {
        let mut dumped = None;
        let sources = if let (true, Some(store)) = (self.sources.is_empty(), &self.store) {
            let url = crate::serve::postgres::StoreUrl::parse(store)?;
            let path = std::env::temp_dir()
                .join(format!("switchboard-replay-{}.ndjson", std::process::id()));
            let records = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(async {
                    let (client, _) = url.listen("switchboard_refusals").await?;
                    let rows = client
                        .query(
                            "SELECT record::text FROM switchboard_refusals ORDER BY seq",
                            &[],
                        )
                        .await
                        .map_err(|e| {
                            anyhow!(url.scrub(&format!("reading the refusals in {url}: {e}")))
                        })?;
                    anyhow::Ok(
                        rows.iter()
                            .map(|row| row.get::<_, String>(0))
                            .collect::<Vec<_>>(),
                    )
                })?;
            if records.is_empty() {
                bail!(
                    "no refusal kept in {url} (none was refused, or the receivers run with --no-keep-refused)"
                );
            }
            std::fs::write(&path, records.join("\n") + "\n")
                .with_context(|| format!("writing {}", path.display()))?;
            dumped = Some(path.clone());
            vec![path]
        } else if self.sources.is_empty() {
            let current = crate::serve::refused::path_beside(&self.out);
            let older = crate::serve::refused::older(&current);
            let found: Vec<PathBuf> = [older, current.clone()]
                .into_iter()
                .filter(|path| path.is_file())
                .collect();
            if found.is_empty() {
                bail!(
                    "no refusal log at {} (none was refused, the receiver runs with --no-keep-refused, or --out names another journal)",
                    current.display()
                );
            }
            found
        } else {
            self.sources
        };
        let result = replay::Replay {
            receiver: http_url(&self.receiver, "--receiver")?,
            sources,
            filter: replay::Filter {
                since: self
                    .since
                    .as_deref()
                    .map(sources::parse_since)
                    .transpose()?,
                vendor: self.vendor,
                reason: self.reason,
            },
            dry_run: self.dry_run,
        }
        .run();
        if let Some(path) = dumped {
            let _ = std::fs::remove_file(path);
        }
        result
    }
}

/// An `http://` URL given to `flag`.
fn http_url(url: &str, flag: &str) -> anyhow::Result<hyper::Uri> {
    let uri: hyper::Uri = url.parse().with_context(|| format!("{flag} {url}"))?;
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        bail!("{flag} takes an http:// URL");
    }
    Ok(uri)
}

impl Serve {
    fn run(self) -> anyhow::Result<()> {
        init_logging(self.log_level.as_deref(), self.log_format)?;
        let (config, configured_store) = self.settings.load_with_store()?;
        let forward = self
            .forward
            .map(|url| http_url(&url, "--forward"))
            .transpose()?;
        anyhow::ensure!(
            self.store_connections > 0,
            "--store-connections must be at least 1"
        );
        anyhow::ensure!(
            self.forward_lease.is_finite() && (0.3..=86_400.0).contains(&self.forward_lease),
            "--forward-lease takes seconds between 0.3 and 86400"
        );
        // The flag (or SWITCHBOARD_STORE), else `--out`, else the
        // configuration file's `store`, else the default journal.
        let target = match (self.store, self.out, configured_store) {
            (Some(url), _, _) => crate::serve::Target::Postgres(std::sync::Arc::new(
                crate::serve::postgres::StoreUrl::parse(&url)?,
            )),
            (None, Some(out), _) if out == "-" => crate::serve::Target::Stdout,
            (None, Some(out), _) => crate::serve::Target::File(PathBuf::from(out)),
            (None, None, Some(url)) => crate::serve::Target::Postgres(std::sync::Arc::new(
                crate::serve::postgres::StoreUrl::parse(&url)?,
            )),
            (None, None, None) => crate::serve::Target::File(PathBuf::from("events.ndjson")),
        };
        let options = crate::serve::Options {
            listen: self.listen,
            config,
            component: self
                .component
                .unwrap_or_else(switchboard_host::default_component),
            target,
            forward,
            dedupe_window: self.dedupe_window,
            read_timeout: std::time::Duration::from_secs(self.read_timeout),
            drain_timeout: std::time::Duration::from_secs(30),
            limits: self.limits,
            refused: self.refused,
            console: self.console,
            store_connections: self.store_connections,
            forward_lease: std::time::Duration::from_secs_f64(self.forward_lease),
        };
        tokio::runtime::Runtime::new()?.block_on(crate::serve::run(options))
    }
}

impl Sign {
    fn run(self) -> anyhow::Result<()> {
        let settings = Settings {
            config: self.config,
            secrets: Vec::new(),
            schemes: self.schemes,
        };
        let mut config = settings.load()?;
        let vendor = config.vendor_mut(&self.vendor).clone();
        let secret = match self.secret {
            Some(secret) => Secret::new(secret),
            None => vendor.secrets.first().cloned().ok_or_else(|| {
                anyhow!(
                    "no secret for {}: pass --secret or set {}",
                    self.vendor,
                    secret_env(&self.vendor)
                )
            })?,
        };
        let body = read_body(self.data_binary.as_deref())?;
        let timestamp = self.timestamp.map_or_else(unix_now, Ok)?;
        let id = self.id.unwrap_or_else(|| derived_id(&body, timestamp));
        let input = SignInput {
            body: &body,
            timestamp,
            id: &id,
        };
        let headers = core::sign(&self.vendor, &vendor.scheme, &secret, input)?;
        let mut stdout = std::io::stdout().lock();
        for (name, value) in headers {
            writeln!(stdout, "{name}: {value}")?;
        }
        Ok(())
    }
}

impl Settings {
    /// The configuration: the file (or every family enabled), then the
    /// environment, then the flags.
    fn load(&self) -> anyhow::Result<Config> {
        Ok(self.load_with_store()?.0)
    }

    /// [`Settings::load`], and the configuration file's `store`, if any.
    fn load_with_store(&self) -> anyhow::Result<(Config, Option<String>)> {
        let (mut config, store) = match &self.config {
            Some(path) => read_config(path)?,
            None => (Config::all_vendors(), None),
        };
        config.apply_env(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
            HOST_VARIABLES,
        )?;
        for pair in &self.schemes {
            let (vendor, scheme) = split_pair(pair, "--scheme", "VENDOR=SCHEME")?;
            let flag = format!("--scheme {vendor}");
            let scheme = Scheme::from_name(scheme).map_err(|e| anyhow!("{flag}: {e}"))?;
            config.enabled(vendor, &flag)?.scheme = scheme;
        }
        let mut flagged: Vec<(&str, Secret)> = Vec::new();
        for pair in &self.secrets {
            let (vendor, secret) = split_pair(pair, "--secret", "VENDOR=SECRET")?;
            if secret.trim().is_empty() {
                let flag = format!("--secret {vendor}");
                Err(ConfigError::new(
                    flag,
                    "the secret is empty (an unset variable?)",
                ))?;
            }
            flagged.push((vendor, Secret::new(secret)));
        }
        for (vendor, _) in &flagged {
            config
                .enabled(vendor, &format!("--secret {vendor}"))?
                .secrets
                .clear();
        }
        for (vendor, secret) in flagged {
            config.vendor_mut(vendor).secrets.push(secret);
        }
        config.validate()?;
        Ok((config, store))
    }
}

/// `what`, and the vendor families there are (from `FAMILIES`).
fn vendor_help(what: &str) -> String {
    format!("{what} One of: {}.", core::vendors::names())
}

/// The `SWITCHBOARD_*` variables the host reads besides the configuration's.
const HOST_VARIABLES: &[&str] = &["SWITCHBOARD_COMPONENT", "SWITCHBOARD_STORE"];

/// The configuration file, parsed but not yet validated (the environment and
/// flags still apply), and its `store` (the host's key, which the core's
/// configuration does not know). A parse error names the file and the
/// line, and never shows the text: a value in the wrong place may be a
/// secret.
fn read_config(path: &Path) -> anyhow::Result<(Config, Option<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let shown = path.display().to_string();
    let (text, store) = take_store(&text, path.extension().is_some_and(|e| e == "json"))
        .map_err(|problem| ConfigError::new(format!("{shown}: store"), problem))?;
    let config = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| ConfigError::unreadable(shown, &e.to_string()))?
    } else {
        toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
            let at = line.map(|l| format!(":{l}")).unwrap_or_default();
            ConfigError::unreadable(format!("{shown}{at}"), e.message())
        })?
    };
    Ok((config, store))
}

/// The top-level `store` of a configuration file, and the text without it
/// (for the core's parser, which refuses keys it does not know). In TOML
/// its lines are blanked, so that the line numbers of any later error
/// stay right; a document that does not parse is returned whole, for the
/// core's parser to report. The error never shows the value.
fn take_store(text: &str, json: bool) -> Result<(String, Option<String>), String> {
    const PROBLEM: &str = "must be a postgres:// URL string";
    if json {
        let Ok(serde_json::Value::Object(mut document)) =
            serde_json::from_str::<serde_json::Value>(text)
        else {
            return Ok((text.to_owned(), None));
        };
        return match document.remove("store") {
            None => Ok((text.to_owned(), None)),
            Some(serde_json::Value::String(url)) => {
                Ok((serde_json::Value::Object(document).to_string(), Some(url)))
            }
            Some(_) => Err(PROBLEM.to_owned()),
        };
    }
    #[derive(serde::Deserialize)]
    struct HostKeys {
        store: Option<toml::Value>,
    }
    let Ok(keys) = toml::from_str::<HostKeys>(text) else {
        return Ok((text.to_owned(), None));
    };
    let Some(value) = keys.store else {
        return Ok((text.to_owned(), None));
    };
    let Some(url) = value.as_str().map(str::to_owned) else {
        return Err(PROBLEM.to_owned());
    };
    // The `store = …` lines: from the start of the line of the key to the
    // end of the line of the value's end.
    #[derive(serde::Deserialize)]
    struct Spans {
        store: toml::Spanned<String>,
    }
    let span = toml::from_str::<Spans>(text)
        .map_err(|_| PROBLEM.to_owned())?
        .store
        .span();
    let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i);
    let blanked: String = text[start..end]
        .chars()
        .map(|c| if c == '\n' { c } else { ' ' })
        .collect();
    Ok((
        format!("{}{blanked}{}", &text[..start], &text[end..]),
        Some(url),
    ))
}

/// `SWITCHBOARD_SECRET_<VENDOR>`.
fn secret_env(vendor: &str) -> String {
    format!(
        "SWITCHBOARD_SECRET_{}",
        vendor.to_ascii_uppercase().replace('-', "_")
    )
}

/// `VENDOR=VALUE`, without ever showing the value in an error.
fn split_pair<'a>(pair: &'a str, flag: &str, shape: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match pair.split_once('=') {
        Some((vendor, value)) if !vendor.is_empty() => Ok((vendor, value)),
        _ => bail!("{flag} takes {shape}"),
    }
}

/// The contents of each `-H @FILE`, `None` for plain headers.
fn read_header_files(flags: &[String]) -> anyhow::Result<Vec<Option<String>>> {
    flags
        .iter()
        .map(|flag| match flag.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map(Some)
                .with_context(|| format!("reading headers from {path}")),
            None => Ok(None),
        })
        .collect()
}

fn parse_header(header: &str) -> anyhow::Result<(&str, &str)> {
    let (name, value) = header
        .split_once(':')
        .ok_or_else(|| anyhow!("-H takes 'Name: value', got a header with no colon"))?;
    Ok((name.trim(), value.trim_start()))
}

fn read_body(source: Option<&str>) -> anyhow::Result<Vec<u8>> {
    match source {
        None | Some("-" | "@-") => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!(
                    "reading the body from the terminal (end it with Ctrl-D; --data-binary @FILE reads a file)"
                );
            }
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("reading the body from standard input")?;
            Ok(body)
        }
        Some(source) => match source.strip_prefix('@') {
            Some(path) => {
                std::fs::read(path).with_context(|| format!("reading the body from {path}"))
            }
            None => {
                if std::path::Path::new(source).is_file() {
                    eprintln!(
                        "warning: the body is the text `{source}`, which is also a file's name: --data-binary @{source} reads the file"
                    );
                }
                Ok(source.as_bytes().to_vec())
            }
        },
    }
}

fn unix_now() -> anyhow::Result<i64> {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?;
    Ok(i64::try_from(elapsed.as_secs())?)
}

/// A message id that is the same for the same body and timestamp.
fn derived_id(body: &[u8], timestamp: i64) -> String {
    let digest = core::schemes::hex(&core::schemes::sha256(&[
        body,
        timestamp.to_string().as_bytes(),
    ]));
    format!("msg_{}", &digest[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_files_store_is_taken_out_for_the_host() {
        let text = "# receivers\nstore = \"postgres://app:pw@db/events\" # shared\n\n[vendors.varda]\nsecrets = [\"s\"]\nbogus = 1\n";
        let (rest, store) = take_store(text, false).unwrap();
        assert_eq!(store.as_deref(), Some("postgres://app:pw@db/events"));
        assert!(!rest.contains("postgres://"), "{rest}");
        // Lines are blanked, not removed: a later error keeps its line.
        assert_eq!(rest.lines().count(), text.lines().count());
        let error = toml::from_str::<Config>(&rest).unwrap_err();
        assert!(error.to_string().contains("at line 6"), "{error}");
        // Without `store`, the text is untouched.
        let plain = "[vendors.varda]\nsecrets = [\"s\"]\n";
        assert_eq!(take_store(plain, false).unwrap(), (plain.to_owned(), None));
        // JSON.
        let (rest, store) = take_store(
            r#"{"store": "postgres://app@db/events", "vendors": {}}"#,
            true,
        )
        .unwrap();
        assert_eq!(store.as_deref(), Some("postgres://app@db/events"));
        assert!(serde_json::from_str::<Config>(&rest).is_ok(), "{rest}");
        // Not a string: an error that does not show the value.
        for (text, json) in [("store = 5432\n", false), (r#"{"store": ["x"]}"#, true)] {
            let problem = take_store(text, json).unwrap_err();
            assert!(problem.contains("postgres:// URL string"), "{problem}");
        }
    }
}
