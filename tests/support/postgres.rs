//! A throwaway PostgreSQL for the tests: a real server (Debian's
//! `postgresql` package, `initdb` and `pg_ctl` from
//! `/usr/lib/postgresql/<version>/bin`), never a mock. A cluster lives in
//! a temporary directory and listens on a free loopback port, with trust
//! authentication on loopback but for the role `guarded`, whose password
//! ([`GUARDED_PASSWORD`]) is checked (scram-sha-256).
//!
//! [`shared`] starts one cluster per test binary, on first use; each test
//! takes a fresh database of it ([`Cluster::database`]). A test that stops
//! or restarts the server starts its own ([`Cluster::start`]). A cluster is
//! stopped (`pg_ctl stop -m immediate`) and its directory removed when its
//! guard is dropped, and, for the shared one or a test that aborts, by a
//! watchdog process that does the same once the test binary has exited:
//! no test, failing or not, leaves a server running.
//!
//! `initdb` refuses to run as root: as root, every server command runs as
//! the `postgres` user (`runuser`). Without PostgreSQL the tests fail and
//! say what to install (`make test` installs it).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use tokio_postgres::SimpleQueryMessage;

/// The role whose password is checked.
pub const GUARDED_USER: &str = "guarded";
/// Its password.
pub const GUARDED_PASSWORD: &str = "guarded-pw-7f3a";

/// A running PostgreSQL cluster, stopped when dropped.
#[derive(Debug)]
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    as_postgres: bool,
    /// A connection per database, for [`Cluster::sql`].
    clients: Mutex<HashMap<String, tokio_postgres::Client>>,
}

/// The cluster shared by the tests of this binary.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED.get_or_init(|| Cluster::start().expect("a PostgreSQL cluster for the tests"))
}

impl Cluster {
    /// A cluster for tests, on a free loopback port, its data in memory
    /// (`/dev/shm` where there is one: the same server and the same
    /// commits, without a disk's latency in every test).
    pub fn start() -> Result<Cluster, String> {
        let shm = PathBuf::from("/dev/shm");
        Cluster::start_in(if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        })
    }

    /// A cluster with its data under `root` (the load example keeps it on
    /// disk, as a deployment would).
    pub fn start_in(root: PathBuf) -> Result<Cluster, String> {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let bin = server_bin()?;
        let as_postgres = is_root();
        let dir = root.join(format!(
            "switchboard-pg-{}-{}",
            std::process::id(),
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir))?;
        }
        let mut cluster = Cluster {
            bin,
            dir,
            port: super::ports::unused_loopback_port(),
            as_postgres,
            clients: Mutex::default(),
        };
        cluster.watch();
        // A copy of a data directory initdb made once (initdb takes most of
        // a second of CPU; a copy, a few milliseconds), so that each test
        // process (and each test that needs a cluster of its own) pays
        // little more than the server's start.
        let template = template(&cluster)?;
        run(cluster
            .as_server_user(PathBuf::from("cp"))
            .arg("-a")
            .arg(template.join("."))
            .arg(cluster.data()))?;
        // The port was free when chosen; another cluster starting at the
        // same moment may have taken it since: then another port.
        let mut attempts = 0;
        while let Err(error) = cluster.start_server() {
            attempts += 1;
            let log = std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default();
            if attempts == 5 || !log.contains("could not bind") {
                return Err(format!("{error}\n{log}"));
            }
            cluster.port = super::ports::unused_loopback_port();
        }
        cluster.sql(
            "postgres",
            &format!("CREATE ROLE {GUARDED_USER} LOGIN PASSWORD '{GUARDED_PASSWORD}'"),
        )?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A server command, as the `postgres` user when this runs as root.
    fn command(&self, program: &str) -> Command {
        self.as_server_user(self.bin.join(program))
    }

    /// `path` run as the `postgres` user when this runs as root.
    fn as_server_user(&self, path: PathBuf) -> Command {
        let mut command = match self.as_postgres {
            true => {
                let mut command = Command::new("runuser");
                command.args(["-u", "postgres", "--"]).arg(path);
                command
            }
            false => Command::new(path),
        };
        command.stdin(Stdio::null());
        command
    }

    /// The server's options: loopback on its port, its socket in its
    /// directory.
    fn server_options(&self) -> String {
        format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c max_connections=200",
            self.port,
            self.dir.display()
        )
    }

    fn start_server(&self) -> Result<(), String> {
        let options = self.server_options();
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "20", "-o", &options, "-l"])
            .arg(self.dir.join("server.log"))
            .arg("start"))
    }

    /// Stops the server at once (`-m immediate`: as a crash would).
    pub fn kill(&self) -> Result<(), String> {
        run(self.command("pg_ctl").arg("-D").arg(self.data()).args([
            "-w",
            "-m",
            "immediate",
            "stop",
        ]))
    }

    /// Starts it again (after [`Cluster::kill`]), on the same port.
    pub fn restart(&self) -> Result<(), String> {
        self.start_server()
    }

    /// `pg_ctl restart -m immediate`.
    pub fn restart_immediate(&self) -> Result<(), String> {
        let options = self.server_options();
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "20", "-m", "immediate", "-o", &options, "-l"])
            .arg(self.dir.join("server.log"))
            .arg("restart"))
    }

    /// The URL of `database` as `postgres`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A fresh database named after `test` (made unique); returns its
    /// name.
    pub fn database(&self, test: &str) -> String {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{}_{}",
            test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            MADE.fetch_add(1, Ordering::Relaxed)
        );
        self.sql("postgres", &format!("CREATE DATABASE {name}"))
            .expect("a fresh database");
        self.sql(
            &name,
            &format!("GRANT ALL ON SCHEMA public TO {GUARDED_USER}"),
        )
        .expect("the guarded role may use it");
        name
    }

    /// Runs `sql` in `database`; each row of the result is one line, its
    /// columns separated by `|` (as `psql -A -t` prints them, NULL as
    /// nothing). One connection per database is kept for the next call
    /// (a psql process and a server backend per call cost some 20 ms of
    /// CPU), and made again once the server has closed it (a restart).
    pub fn sql(&self, database: &str, sql: &str) -> Result<Vec<String>, String> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let mut attempt = 0;
        let rows = loop {
            attempt += 1;
            let client = match clients.get(database) {
                Some(client) if !client.is_closed() => client,
                _ => {
                    let client = self.connect(database)?;
                    clients
                        .entry(database.to_owned())
                        .insert_entry(client)
                        .into_mut()
                }
            };
            match runtime().block_on(client.simple_query(sql)) {
                // The server closed the connection this call found open.
                Err(_) if client.is_closed() && attempt == 1 => continue,
                Err(e) => return Err(format!("{sql}: {}", error_text(&e))),
                Ok(rows) => break rows,
            }
        };
        Ok(rows
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                _ => None,
            })
            .filter(|line| !line.is_empty())
            .collect())
    }

    fn connect(&self, database: &str) -> Result<tokio_postgres::Client, String> {
        let url = self.url(database);
        let (client, connection) = runtime()
            .block_on(tokio_postgres::connect(&url, tokio_postgres::NoTls))
            .map_err(|e| format!("{url}: {}", error_text(&e)))?;
        runtime().spawn(connection);
        Ok(client)
    }

    /// A watchdog that stops the server and removes its directory once
    /// this process has exited, whichever way.
    fn watch(&self) {
        let stop = format!(
            "{} {} -D {} -m immediate stop",
            if self.as_postgres {
                "runuser -u postgres --"
            } else {
                ""
            },
            self.bin.join("pg_ctl").display(),
            self.data().display()
        );
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.2; done; {stop} >/dev/null 2>&1; rm -rf {}",
            std::process::id(),
            self.dir.display()
        );
        // In a session of its own, so that a Ctrl-C (or a signal to the
        // test's process group) does not take it down with the test.
        let _ = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The runtime [`Cluster::sql`]'s connections run on (one thread).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-sql")
            .enable_all()
            .build()
            .expect("a runtime for the tests' SQL")
    })
}

/// The server's message when it sent one, else the client's error.
fn error_text(error: &tokio_postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_owned())
}

/// The initdb'd data directory clusters are copied from: made once per
/// machine and server version, beside the clusters, by whichever
/// test process needs it first (the others that raced it drop theirs).
fn template(cluster: &Cluster) -> Result<PathBuf, String> {
    let version = cluster
        .bin
        .parent()
        .and_then(|dir| dir.file_name())
        .map_or_else(|| "0".to_owned(), |v| v.to_string_lossy().into_owned());
    let root = cluster.dir.parent().unwrap_or(&cluster.dir);
    let template = root.join(format!("switchboard-pg-template-{version}-v1"));
    if template.join("PG_VERSION").is_file() {
        return Ok(template);
    }
    let making = cluster.dir.join("template");
    std::fs::create_dir_all(&making).map_err(|e| e.to_string())?;
    if cluster.as_postgres {
        run(Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&making))?;
    }
    run(cluster.command("initdb").arg("-D").arg(&making).args([
        "--auth=trust",
        "-U",
        "postgres",
        "--no-sync",
        "-E",
        "UTF8",
    ]))?;
    std::fs::write(
        making.join("pg_hba.conf"),
        format!(
            "local all all trust\nhost all {GUARDED_USER} 127.0.0.1/32 scram-sha-256\nhost all all 127.0.0.1/32 trust\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    // Whoever renames first wins; a loser's copy goes with its cluster.
    if std::fs::rename(&making, &template).is_err() && !template.join("PG_VERSION").is_file() {
        return Err(format!("could not make {}", template.display()));
    }
    Ok(template)
}

/// `/usr/lib/postgresql/<newest>/bin`, or what to install.
fn server_bin() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().ok_or_else(|| {
        "PostgreSQL is not installed: the PostgreSQL store's tests need a real server \
         (`apt-get install -y postgresql`; `make test` does it when run as root)"
            .to_owned()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(format!(
            "{command:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )),
    }
}

/// Waits until `ready` holds, polling every 20 ms, for at most `limit`.
pub fn eventually(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
