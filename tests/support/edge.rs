//! The edge shells, for real: workerd and Deno (installed into
//! `host/edge/node_modules` by `make edge`) started on a free loopback port
//! with a given environment, and killed when dropped (a failing test leaves
//! nothing running). Include it beside `http.rs`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http;

/// Which runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Cloudflare's workerd, running the Worker.
    Workerd,
    /// `deno serve`.
    Deno,
}

/// Which entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// What `make workerd` / `make deno` run (`host/edge/`): configured by
    /// the environment, timed by the clock.
    Production,
    /// The test entry (`tests/edge/`): configuration and time from each
    /// request's `x-switchboard-test-env` and `x-switchboard-test-now`.
    Fixtures,
}

impl Runtime {
    /// Both.
    pub const ALL: [Runtime; 2] = [Runtime::Workerd, Runtime::Deno];

    /// Its name, for failures.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Workerd => "workerd",
            Runtime::Deno => "deno",
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running runtime; killed on drop.
#[derive(Debug)]
pub struct Edge {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
    /// Which runtime it is.
    pub runtime: Runtime,
    log: PathBuf,
}

impl Edge {
    /// Starts `runtime` with `entry` and exactly `env` (beside `PATH` and
    /// `HOME`), and waits until it answers HTTP: on another port when the
    /// one chosen was taken meanwhile (`support/ports.rs`).
    pub fn start(runtime: Runtime, entry: Entry, env: &[(&str, &str)]) -> Edge {
        for _ in 0..4 {
            let port = super::ports::unused_loopback_port();
            if let Some(edge) = Edge::start_on(port, runtime, entry, env) {
                return edge;
            }
        }
        panic!(
            "{}: four ports were taken before it bound them",
            runtime.name()
        );
    }

    /// [`Edge::start`] on `port`; `None` when the port was taken.
    fn start_on(port: u16, runtime: Runtime, entry: Entry, env: &[(&str, &str)]) -> Option<Edge> {
        let root = root();
        let modules = root.join("host/edge/node_modules");
        let generated = root.join("host/edge/generated/edge.core.wasm");
        assert!(
            generated.exists() && modules.exists(),
            "{} or {} is missing: run `make edge` first",
            generated.display(),
            modules.display()
        );
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir = match entry {
            Entry::Production => "host/edge",
            Entry::Fixtures => "tests/edge",
        };
        let mut command = match runtime {
            Runtime::Workerd => {
                let mut command = Command::new(modules.join("workerd/bin/workerd"));
                command
                    .arg("serve")
                    .arg(root.join(dir).join("workerd.capnp"))
                    .arg("--socket-addr")
                    .arg(format!("http={address}"));
                command
            }
            Runtime::Deno => {
                let mut command = Command::new(modules.join("deno/deno"));
                command
                    .args(["serve", "--quiet", "--host", "127.0.0.1", "--port"])
                    .arg(port.to_string())
                    .args([
                        "--allow-env",
                        "--allow-net",
                        "--allow-read=host/edge/generated",
                    ])
                    .arg(format!("{dir}/deno.mjs"));
                command
            }
        };
        let log =
            std::env::temp_dir().join(format!("switchboard-edge-{}-{port}.log", runtime.name()));
        let file = std::fs::File::create(&log).unwrap();
        command
            .current_dir(&root)
            .env_clear()
            .envs(
                ["PATH", "HOME"]
                    .iter()
                    .filter_map(|k| Some((k, std::env::var(k).ok()?))),
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = command.spawn().unwrap();
        let mut edge = Edge {
            child,
            address,
            runtime,
            log,
        };
        edge.wait_ready().then_some(edge)
    }

    /// Waits until it answers; false when its port was taken.
    fn wait_ready(&mut self) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if self.log().contains("Address already in use") {
                return false;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status}:\n{}",
                    self.runtime.name(),
                    self.log()
                );
            }
            if http::request(self.address, "GET", "/healthz", &[], &[]).is_ok() {
                // What answered is this runtime, not whoever held the port.
                return !self.log().contains("Address already in use");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not answer within 30 s:\n{}",
            self.runtime.name(),
            self.log()
        );
    }

    /// What it has printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One request (`Connection: close`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> http::Response {
        http::request(self.address, method, path, headers, body).unwrap_or_else(|e| {
            panic!(
                "{} {method} {path}: {e}\n{}",
                self.runtime.name(),
                self.log()
            )
        })
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
