//! One `switchboard serve` on a free loopback port, for the receiver's
//! tests and the attack script: started with a configuration file, a
//! journal and any extra flags; requests through [`super::http`]; stopped
//! with SIGTERM, or killed if dropped first (a failing test leaves no
//! server behind). Include it beside `http.rs`.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};

use super::http;

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    child: Child,
    /// Where it listens.
    pub address: SocketAddr,
}

impl Receiver {
    /// Starts `binary serve` on `127.0.0.1:0` with `--config config --out
    /// journal`, a 2 s read timeout unless `extra` sets one, and `extra`.
    pub fn start(
        binary: &str,
        config: &Path,
        journal: &Path,
        extra: &[&str],
    ) -> std::io::Result<Receiver> {
        Receiver::start_logged(binary, config, journal, extra).map(|(receiver, _)| receiver)
    }

    /// [`Receiver::start`], also handing over every line of its log.
    pub fn start_logged(
        binary: &str,
        config: &Path,
        journal: &Path,
        extra: &[&str],
    ) -> std::io::Result<(Receiver, std::sync::mpsc::Receiver<String>)> {
        Receiver::start_where(binary, config, ["--out".into(), journal.into()], extra)
    }

    /// [`Receiver::start_logged`] with `--store store` instead of `--out`.
    pub fn start_store(
        binary: &str,
        config: &Path,
        store: &str,
        extra: &[&str],
    ) -> std::io::Result<(Receiver, std::sync::mpsc::Receiver<String>)> {
        Receiver::start_where(binary, config, ["--store".into(), store.into()], extra)
    }

    fn start_where(
        binary: &str,
        config: &Path,
        store: [OsString; 2],
        extra: &[&str],
    ) -> std::io::Result<(Receiver, std::sync::mpsc::Receiver<String>)> {
        let mut args: Vec<OsString> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--config".into(),
            config.into(),
        ];
        args.extend(store);
        if !extra.contains(&"--read-timeout") {
            args.extend(["--read-timeout".into(), "2".into()]);
        }
        args.extend(extra.iter().map(Into::into));
        let (child, address, log) = http::start_receiver_logged(binary, &args)?;
        Ok((Receiver { child, address }, log))
    }

    /// `POST path` with `headers` and `body`.
    pub fn post(
        &self,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> std::io::Result<http::Response> {
        http::request(self.address, "POST", path, headers, body)
    }

    /// `method path`, no body.
    pub fn send(&self, method: &str, path: &str) -> std::io::Result<http::Response> {
        http::request(self.address, method, path, &[], b"")
    }

    /// Whether `GET /healthz` answers `200`.
    pub fn healthy(&self) -> bool {
        self.send("GET", "/healthz").is_ok_and(|r| r.status == 200)
    }

    /// The `GET /metrics` text.
    pub fn metrics(&self) -> std::io::Result<String> {
        Ok(self.send("GET", "/metrics")?.body)
    }

    /// Kills it with SIGKILL and waits for it: a crash.
    pub fn kill(mut self) -> std::io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(drop)
    }

    /// Sends it SIGTERM, and returns at once.
    pub fn send_sigterm(&self) -> std::io::Result<()> {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        match sent.success() {
            true => Ok(()),
            false => Err(std::io::Error::other("kill -TERM failed")),
        }
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Stops it with SIGTERM (in-flight requests finish, the journal is
    /// flushed) and waits for its exit.
    pub fn terminate(mut self) -> std::io::Result<ExitStatus> {
        self.send_sigterm()?;
        self.child.wait()
    }
}

impl Drop for Receiver {
    /// A receiver not terminated (a failing test) is killed.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
