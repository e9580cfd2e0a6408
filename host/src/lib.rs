//! Embeds the switchboard processor component with wasmtime.
//!
//! ```no_run
//! use switchboard_host::{Switchboard, HostOptions, wit};
//! use switchboard_core::Config;
//!
//! let switchboard = Switchboard::from_file("target/switchboard.wasm".as_ref(), HostOptions::default())?;
//! let config = wit::Config::from(&Config::from_json(r#"{"vendors": {"varda": {"secrets": ["s"]}}}"#)?);
//! let request = wit::Request::new([("X-Varda-Signature", "t=1,v1=00")], b"{}".to_vec());
//! match switchboard.process(&request, None, &config, 1_711_411_200) {
//!     Ok(event) => println!("{}", event.json),
//!     Err(error) => eprintln!("error: {}: {error}", error.class()),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The component is compiled once; each [`Switchboard::process`] call runs in
//! a fresh instance made from the pre-instantiated component (pooling
//! allocator), with a memory limit and an epoch deadline, so a misbehaving
//! guest costs one request, never the host. [`Switchboard::instance`] keeps
//! one instance for many calls instead, which is faster (see `make bench`)
//! and is replaced automatically after a trap.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_core::ErrorClass;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder,
};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "switchboard",
    });
}

mod convert;

/// The WIT types, as the host passes them to the component.
pub mod wit {
    pub use crate::bindings::exports::switchboard::webhooks::types::{
        Config, DigestEncoding, Error, Event, Header, HmacOptions, Request, Scheme, VendorConfig,
    };
}

/// Where the component is when no path is given: `SWITCHBOARD_COMPONENT`,
/// else `switchboard.wasm` beside the running executable, else the one
/// `make build` leaves in the workspace's `target/`.
pub fn default_component() -> PathBuf {
    if let Some(path) = std::env::var_os("SWITCHBOARD_COMPONENT") {
        return PathBuf::from(path);
    }
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("switchboard.wasm")))
        .filter(|path| path.exists());
    beside_exe
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/switchboard.wasm"))
}

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits and settings of a [`Switchboard`].
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The most linear memory one instance may grow to.
    pub memory_limit: usize,
    /// How long one call may run before it is interrupted.
    pub call_timeout: Duration,
    /// How many instances may be alive at once (the pool's size).
    pub max_instances: u32,
    /// Whether compiled code is cached on disk (wasmtime's cache, in the
    /// user's cache directory), so that a CLI run need not recompile.
    pub compile_cache: bool,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            memory_limit: 64 << 20,
            call_timeout: Duration::from_secs(1),
            max_instances: 64,
            compile_cache: false,
        }
    }
}

/// Why a call did not produce an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The component refused the delivery.
    #[error("{message}")]
    Rejected {
        /// The class of the refusal.
        class: ErrorClass,
        /// What was wrong.
        message: String,
    },
    /// The guest trapped, ran out of memory or time, or could not be
    /// instantiated; the host is unharmed.
    #[error("the component failed: {0}")]
    Trap(String),
    /// The component could not be read or compiled.
    #[error("cannot load the component {path}: {reason}")]
    Load {
        /// Where it was looked for.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

impl Error {
    /// The class of the error; traps and load failures are `internal`.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Rejected { class, .. } => *class,
            Error::Trap(_) | Error::Load { .. } => ErrorClass::Internal,
        }
    }
}

/// The per-store state: only the resource limits.
struct State {
    limits: StoreLimits,
}

/// A compiled, pre-instantiated processor component.
pub struct Switchboard {
    engine: Engine,
    pre: bindings::SwitchboardPre<State>,
    options: HostOptions,
    ticker: Arc<AtomicBool>,
}

impl std::fmt::Debug for Switchboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switchboard")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Switchboard {
    /// Loads and compiles the component at `path`.
    pub fn from_file(path: &Path, options: HostOptions) -> Result<Switchboard, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::Load {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Switchboard::from_bytes(&bytes, options).map_err(|e| match e {
            Error::Load { reason, .. } => Error::Load {
                path: path.to_owned(),
                reason,
            },
            other => other,
        })
    }

    /// Compiles a component from its bytes.
    pub fn from_bytes(bytes: &[u8], options: HostOptions) -> Result<Switchboard, Error> {
        let load = |e: wasmtime::Error| Error::Load {
            path: PathBuf::from("<bytes>"),
            reason: format!("{e:#}"),
        };
        let engine = Engine::new(&engine_config(&options).map_err(load)?).map_err(load)?;
        let component = Component::new(&engine, bytes).map_err(load)?;
        // The processor imports nothing, so the linker stays empty: a
        // component that needs anything fails here, at load.
        let linker = Linker::<State>::new(&engine);
        let instance_pre = linker.instantiate_pre(&component).map_err(load)?;
        let pre = bindings::SwitchboardPre::new(instance_pre).map_err(load)?;
        let ticker = Arc::new(AtomicBool::new(true));
        spawn_epoch_ticker(&engine, Arc::clone(&ticker));
        Ok(Switchboard {
            engine,
            pre,
            options,
            ticker,
        })
    }

    /// The names of everything the component imports (empty for switchboard's
    /// own component).
    pub fn imports(&self) -> Vec<String> {
        let component = self.pre.instance_pre().component();
        component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// Processes one request in a fresh instance.
    pub fn process(
        &self,
        request: &wit::Request,
        vendor: Option<&str>,
        config: &wit::Config,
        now: i64,
    ) -> Result<wit::Event, Error> {
        self.instance()?.process(request, vendor, config, now)
    }

    /// [`Switchboard::process`] with the strings-only JSON function.
    pub fn process_json(
        &self,
        request_json: &str,
        vendor: &str,
        config_json: &str,
        now: i64,
    ) -> Result<String, Error> {
        self.instance()?
            .process_json(request_json, vendor, config_json, now)
    }

    /// The vendor a request belongs to, as the component detects it.
    pub fn detect(&self, request: &wit::Request) -> Result<Option<String>, Error> {
        self.instance()?.detect(request)
    }

    /// An instance to reuse across calls.
    pub fn instance(&self) -> Result<Instance<'_>, Error> {
        let (store, bindings) = self.instantiate()?;
        Ok(Instance {
            owner: self,
            store,
            bindings,
        })
    }

    fn instantiate(&self) -> Result<(Store<State>, bindings::Switchboard), Error> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.options.memory_limit)
            .instances(1)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&self.engine, State { limits });
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        let bindings = self.pre.instantiate(&mut store).map_err(trap)?;
        Ok((store, bindings))
    }

    fn deadline_ticks(&self) -> u64 {
        let ticks = self.options.call_timeout.as_millis() / EPOCH_TICK.as_millis();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

impl Drop for Switchboard {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

/// One live instance, reused across calls. After a trap it is replaced by a
/// fresh one, so that no call ever sees a guest left in a broken state.
pub struct Instance<'s> {
    owner: &'s Switchboard,
    store: Store<State>,
    bindings: bindings::Switchboard,
}

impl std::fmt::Debug for Instance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").finish_non_exhaustive()
    }
}

impl Instance<'_> {
    /// Processes one request (see the WIT `process`).
    pub fn process(
        &mut self,
        request: &wit::Request,
        vendor: Option<&str>,
        config: &wit::Config,
        now: i64,
    ) -> Result<wit::Event, Error> {
        let outcome = self.call(|bindings, store| {
            bindings
                .switchboard_webhooks_processor()
                .call_process(store, request, vendor, config, now)
        })?;
        outcome.map_err(convert::rejected)
    }

    /// Processes one request given as JSON (see the WIT `process-json`).
    pub fn process_json(
        &mut self,
        request_json: &str,
        vendor: &str,
        config_json: &str,
        now: i64,
    ) -> Result<String, Error> {
        self.call(|bindings, store| {
            bindings.switchboard_webhooks_processor().call_process_json(
                store,
                request_json,
                vendor,
                config_json,
                now,
            )
        })
    }

    /// The vendor a request belongs to (see the WIT `detect`).
    pub fn detect(&mut self, request: &wit::Request) -> Result<Option<String>, Error> {
        self.call(|bindings, store| {
            bindings
                .switchboard_webhooks_processor()
                .call_detect(store, request)
        })
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(&bindings::Switchboard, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        self.store.set_epoch_deadline(self.owner.deadline_ticks());
        match f(&self.bindings, &mut self.store) {
            Ok(value) => Ok(value),
            Err(e) => {
                let error = trap(e);
                // Leave no broken guest behind for the next call.
                if let Ok((store, bindings)) = self.owner.instantiate() {
                    self.store = store;
                    self.bindings = bindings;
                }
                Err(error)
            }
        }
    }
}

/// A guest failure as one line: the trap or its root cause, without the
/// wasm backtrace wasmtime attaches.
fn trap(e: wasmtime::Error) -> Error {
    let reason = match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => e.root_cause().to_string(),
    };
    Error::Trap(reason.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn engine_config(options: &HostOptions) -> wasmtime::Result<wasmtime::Config> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(options.max_instances)
        .total_core_instances(options.max_instances)
        .total_memories(options.max_instances)
        .total_tables(options.max_instances)
        .max_memory_size(options.memory_limit);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if options.compile_cache {
        let cache = wasmtime::Cache::new(wasmtime::CacheConfig::new())?;
        config.cache(Some(cache));
    }
    Ok(config)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while `running` holds.
fn spawn_epoch_ticker(engine: &Engine, running: Arc<AtomicBool>) {
    let engine = engine.weak();
    std::thread::spawn(move || {
        while running.load(Ordering::Relaxed) {
            std::thread::sleep(EPOCH_TICK);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        }
    });
}
