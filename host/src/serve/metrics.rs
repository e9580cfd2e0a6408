//! Counters and histograms for `GET /metrics`, in Prometheus' text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Everything the receiver counts.
#[derive(Debug)]
pub struct Metrics {
    requests: Mutex<BTreeMap<RequestLabels, u64>>,
    latency: Histogram,
    sink_write: Histogram,
    sink_events: AtomicU64,
    forwarded: AtomicU64,
    forward_failures: AtomicU64,
    journal: Position,
    forwarding: AtomicBool,
    forwarded_through: Position,
    dead_letters: AtomicU64,
}

/// A place in the journal: bytes from its start, and the lines below them.
#[derive(Debug, Default)]
struct Position {
    bytes: AtomicU64,
    lines: AtomicU64,
}

impl Position {
    fn set(&self, bytes: u64, lines: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.lines.store(lines, Ordering::Relaxed);
    }
}

/// The labels of `switchboard_requests_total`: the vendor (a family's name
/// or `unknown`), the normalized type (empty when there is no event), the
/// outcome (an answer's code) and the reason of a refusal (empty for a
/// success). Each comes from a closed set, so the series are bounded
/// whatever the requests' paths or bodies.
type RequestLabels = (&'static str, String, &'static str, &'static str);

/// The most `switchboard_requests_total` series, a bound on top of the
/// closed label sets (which give about 600 real combinations): past it, a
/// request of an unseen combination is counted with an empty type.
const MAX_REQUEST_SERIES: usize = 1024;

/// The vendor label: the family a name (a path's, or an event's) belongs
/// to, else `unknown`, so that no client chooses a label.
pub fn vendor_label(name: Option<&str>) -> &'static str {
    name.and_then(switchboard_core::vendors::family)
        .map_or("unknown", |family| family.name())
}

/// Request latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

impl Metrics {
    /// All zero.
    pub fn new() -> Metrics {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            latency: Histogram::new(LATENCY_BUCKETS),
            sink_write: Histogram::new(LATENCY_BUCKETS),
            sink_events: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            forward_failures: AtomicU64::new(0),
            journal: Position::default(),
            forwarding: AtomicBool::new(false),
            forwarded_through: Position::default(),
            dead_letters: AtomicU64::new(0),
        }
    }

    /// One request: its vendor label ([`vendor_label`]), the event's
    /// normalized type (from the component's vocabulary) or `""`, its
    /// outcome (`switchboard_http::Answer::code`) and reason
    /// (`switchboard_http::Answer::reason`, `""` for a success), and how
    /// long it took.
    pub fn request(
        &self,
        vendor: &'static str,
        event_type: &str,
        (outcome, reason): (&'static str, &'static str),
        took: Duration,
    ) {
        if let Ok(mut requests) = self.requests.lock() {
            let mut key = (vendor, event_type.to_owned(), outcome, reason);
            if requests.len() >= MAX_REQUEST_SERIES && !requests.contains_key(&key) {
                key.1 = String::new();
            }
            *requests.entry(key).or_default() += 1;
        }
        self.latency.observe(took);
    }

    /// One group commit of `events` events that took `took`.
    pub fn sink_written(&self, took: Duration, events: usize) {
        self.sink_write.observe(took);
        self.sink_events.fetch_add(events as u64, Ordering::Relaxed);
    }

    /// One event forwarded downstream, or one failed attempt.
    pub fn forward(&self, ok: bool) {
        let counter = if ok {
            &self.forwarded
        } else {
            &self.forward_failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The journal's durable length and the lines below it.
    pub fn journal_durable(&self, bytes: u64, lines: u64) {
        self.journal.set(bytes, lines);
    }

    /// How far the forwarder has got: everything below `bytes` (`lines`
    /// lines) was forwarded or dead-lettered. Turns on the backlog gauges.
    pub fn forwarded_through(&self, bytes: u64, lines: u64) {
        self.forwarded_through.set(bytes, lines);
        self.forwarding.store(true, Ordering::Relaxed);
    }

    /// One event written to the dead-letter file.
    pub fn dead_letter(&self) {
        self.dead_letters.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP switchboard_requests_total Webhook requests by vendor, normalized type, outcome and reason.\n");
        out.push_str("# TYPE switchboard_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((vendor, event_type, outcome, reason), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "switchboard_requests_total{{vendor=\"{}\",type=\"{}\",outcome=\"{}\",reason=\"{}\"}} {count}",
                    escape(vendor),
                    escape(event_type),
                    escape(outcome),
                    escape(reason)
                );
            }
        }
        self.latency.render(
            &mut out,
            "switchboard_request_duration_seconds",
            "Time from request to response.",
        );
        self.sink_write.render(
            &mut out,
            "switchboard_sink_write_seconds",
            "Time of one journal group commit (write and fsync).",
        );
        let counters = [
            (
                "switchboard_sink_events_total",
                "Events written to the journal.",
                &self.sink_events,
            ),
            (
                "switchboard_forwarded_total",
                "Events the downstream accepted.",
                &self.forwarded,
            ),
            (
                "switchboard_forward_failures_total",
                "Failed forwarding attempts.",
                &self.forward_failures,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP switchboard_dead_letters_total Events the downstream refused for good, written to the dead-letter file.\n\
             # TYPE switchboard_dead_letters_total counter\n\
             switchboard_dead_letters_total {}",
            self.dead_letters.load(Ordering::Relaxed)
        );
        if self.forwarding.load(Ordering::Relaxed) {
            let backlog = |of: fn(&Position) -> &AtomicU64| {
                of(&self.journal)
                    .load(Ordering::Relaxed)
                    .saturating_sub(of(&self.forwarded_through).load(Ordering::Relaxed))
            };
            let gauges = [
                (
                    "switchboard_forward_backlog_events",
                    "Durable journal events not yet forwarded (nor dead-lettered).",
                    backlog(|p| &p.lines),
                ),
                (
                    "switchboard_forward_backlog_bytes",
                    "Durable journal bytes not yet forwarded (nor dead-lettered).",
                    backlog(|p| &p.bytes),
                ),
            ];
            for (name, help, value) in gauges {
                gauge(&mut out, name, help, value);
            }
        }
        out
    }
}

/// One gauge's Prometheus text, appended to `out`.
pub fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// Label values: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|&b| seconds <= b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::new();
        metrics.request(
            "varda",
            "call.ended",
            ("ok", ""),
            Duration::from_micros(200),
        );
        metrics.request("varda", "call.ended", ("ok", ""), Duration::from_millis(3));
        let text = metrics.render();
        assert!(
            text.contains(
                "switchboard_requests_total{vendor=\"varda\",type=\"call.ended\",outcome=\"ok\",reason=\"\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("switchboard_request_duration_seconds_bucket{le=\"0.00025\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_request_duration_seconds_bucket{le=\"0.005\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_request_duration_seconds_count 2"),
            "{text}"
        );
    }

    #[test]
    fn vendor_labels_are_families_or_unknown() {
        assert_eq!(vendor_label(Some("openphone")), "openphone");
        assert_eq!(vendor_label(Some("nosuchvendor")), "unknown");
        assert_eq!(vendor_label(Some("varda\"\n")), "unknown");
        assert_eq!(vendor_label(None), "unknown");
    }

    #[test]
    fn request_series_are_bounded() {
        let metrics = Metrics::new();
        let took = Duration::from_micros(1);
        for n in 0..MAX_REQUEST_SERIES + 500 {
            metrics.request("varda", &format!("type.{n}"), ("ok", ""), took);
        }
        metrics.request("varda", "type.0", ("ok", ""), took);
        let text = metrics.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("switchboard_requests_total{"))
            .count();
        assert_eq!(
            series,
            MAX_REQUEST_SERIES + 1,
            "the cap, plus the empty type"
        );
        assert!(
            text.contains(
                r#"switchboard_requests_total{vendor="varda",type="",outcome="ok",reason=""} 500"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"switchboard_requests_total{vendor="varda",type="type.0",outcome="ok",reason=""} 2"#
            ),
            "a seen series still counts"
        );
    }

    #[test]
    fn renders_the_forwarding_backlog_and_dead_letters() {
        let metrics = Metrics::new();
        metrics.journal_durable(1000, 10);
        let text = metrics.render();
        assert!(text.contains("switchboard_dead_letters_total 0"), "{text}");
        assert!(
            !text.contains("switchboard_forward_backlog"),
            "no backlog without a forwarder: {text}"
        );
        metrics.forwarded_through(400, 3);
        metrics.dead_letter();
        let text = metrics.render();
        assert!(text.contains("switchboard_dead_letters_total 1"), "{text}");
        assert!(
            text.contains("# TYPE switchboard_forward_backlog_events gauge\nswitchboard_forward_backlog_events 7\n"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_forward_backlog_bytes 600\n"),
            "{text}"
        );
    }
}
