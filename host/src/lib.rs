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
//! and is replaced automatically after a trap; a [`Pool`] keeps instances
//! for concurrent callers (the receiver's). [`Instance::process_body`] is
//! the lean call: the headers as pairs, the configuration as its JSON
//! document ([`config_json`]), which the guest compares with the last one
//! as text, and the event's document alone back. Guest failures are typed:
//! [`Error::Trap`] carries wasmtime's [`wasmtime::Trap`]
//! (`Trap::Interrupt` past the deadline), [`Error::OutOfMemory`] the limit.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use switchboard_core::ErrorClass;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    StoreLimits, StoreLimitsBuilder,
};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "switchboard",
    });
}

mod convert;

pub use convert::config_json;

/// wasmtime's trap kinds, as [`Error::Trap`] carries them.
pub use wasmtime::Trap;

/// The WIT types, as the host passes them to the component.
pub mod wit {
    pub use crate::bindings::exports::switchboard::webhooks::types::{
        Config, DigestEncoding, Error, ErrorClass, Event, Header, HmacOptions, Request, Scheme,
        VendorConfig,
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

/// How much of an instance's linear memory (and tables) a pooled slot keeps
/// resident for the next instance, reset in place (see [`engine_config`]).
const KEEP_RESIDENT: usize = 4 << 20;

/// Limits and settings of a [`Switchboard`].
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The most linear memory one instance may grow to. The processor
    /// starts with 3 MiB (its stack, its data and the first of its heap:
    /// crates/component/build.rs), so less than that fails every call.
    pub memory_limit: usize,
    /// How long one call may run before it is interrupted.
    pub call_timeout: Duration,
    /// How many instances may be alive at once (the pool's size).
    pub max_instances: u32,
    /// Whether compiled code is cached on disk (wasmtime's cache, in the
    /// user's cache directory, keyed by the component's bytes, the engine's
    /// settings and wasmtime's version), so that a CLI run or a receiver's
    /// restart need not recompile: `switchboard process` and `serve` turn
    /// it on.
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
        /// The reason, one of [`switchboard_core::error::REASONS`] from a
        /// component of this version (see [`Error::reason`]).
        reason: String,
        /// What was wrong.
        message: String,
    },
    /// The guest trapped or could not be instantiated; the host is unharmed
    /// and the instance is never called again.
    #[error("the component failed: {message}")]
    Trap {
        /// wasmtime's trap: [`wasmtime::Trap::Interrupt`] when the call
        /// outlived [`HostOptions::call_timeout`]; `None` when the failure
        /// was no wasm trap (an instantiation that failed).
        trap: Option<wasmtime::Trap>,
        /// The trap or its root cause, on one line.
        message: String,
    },
    /// The guest asked for more linear memory than
    /// [`HostOptions::memory_limit`]; the instance is never called again.
    #[error("the component needed more than its {limit} byte memory limit")]
    OutOfMemory {
        /// The limit, in bytes.
        limit: usize,
    },
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
    /// The class of the error; guest failures and load failures are
    /// `internal`.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Rejected { class, .. } => *class,
            Error::Trap { .. } | Error::OutOfMemory { .. } | Error::Load { .. } => {
                ErrorClass::Internal
            }
        }
    }

    /// Why: a refusal's reason as the component gave it, or the host's own
    /// for a failed call (`deadline`, `trap`, `out-of-memory`, `load`).
    pub fn reason(&self) -> &str {
        match self {
            Error::Rejected { reason, .. } => reason,
            Error::Trap {
                trap: Some(wasmtime::Trap::Interrupt),
                ..
            } => "deadline",
            Error::Trap { .. } => "trap",
            Error::OutOfMemory { .. } => "out-of-memory",
            Error::Load { .. } => "load",
        }
    }

    /// [`Error::reason`] as a member of a closed list, for a metric label:
    /// the core's [`REASONS`](switchboard_core::error::REASONS), the
    /// host's [`HOST_REASONS`], or `other` for a reason this host does not
    /// know (a component newer than it).
    pub fn reason_label(&self) -> &'static str {
        let reason = self.reason();
        switchboard_core::error::reason_named(reason)
            .or_else(|| HOST_REASONS.iter().copied().find(|r| *r == reason))
            .unwrap_or("other")
    }
}

/// The reasons of the failures the host reports itself (see
/// [`Error::reason`]).
pub const HOST_REASONS: &[&str] = &["deadline", "trap", "out-of-memory", "load"];

/// The per-store state: the resource limits.
struct State {
    limits: StoreLimits,
    memory_limit: usize,
}

/// The error a refused memory growth raises in the guest, so that the call
/// fails as [`Error::OutOfMemory`] rather than as an anonymous trap.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {0} bytes reached")]
struct MemoryLimitReached(usize);

impl ResourceLimiter for State {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if self.limits.memory_growing(current, desired, maximum)? {
            Ok(true)
        } else {
            Err(wasmtime::Error::new(MemoryLimitReached(self.memory_limit)))
        }
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(MemoryLimitReached(self.memory_limit)))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// A compiled, pre-instantiated processor component. Cloning it is cheap:
/// the clones share the compiled code.
#[derive(Clone)]
pub struct Switchboard {
    shared: Arc<Shared>,
}

/// What every instance of one component needs, shared by [`Switchboard`]
/// clones, [`Instance`]s and [`Pool`]s.
struct Shared {
    engine: Engine,
    pre: bindings::SwitchboardPre<State>,
    options: HostOptions,
    ticker: Arc<AtomicBool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Switchboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Switchboard")
            .field("options", &self.shared.options)
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
        let shared = Shared {
            engine,
            pre,
            options,
            ticker,
        };
        Ok(Switchboard {
            shared: Arc::new(shared),
        })
    }

    /// The limits and settings it was made with.
    pub fn options(&self) -> &HostOptions {
        &self.shared.options
    }

    /// The names of everything the component imports (empty for switchboard's
    /// own component).
    pub fn imports(&self) -> Vec<String> {
        let component = self.shared.pre.instance_pre().component();
        component
            .component_type()
            .imports(&self.shared.engine)
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

    /// [`Switchboard::process`] with the lean `process-body` function (see
    /// [`Instance::process_body`]).
    pub fn process_body(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        vendor: Option<&str>,
        config_json: &str,
        now: i64,
    ) -> Result<String, Error> {
        self.instance()?
            .process_body(headers, body, vendor, config_json, now)
    }

    /// The vendor a request belongs to, as the component detects it.
    pub fn detect(&self, request: &wit::Request) -> Result<Option<String>, Error> {
        self.instance()?.detect(request)
    }

    /// An instance to reuse across calls; it owns what it needs, so it may
    /// outlive this handle and move between threads.
    pub fn instance(&self) -> Result<Instance, Error> {
        Ok(Instance {
            live: Some(self.shared.instantiate()?),
            shared: Arc::clone(&self.shared),
        })
    }
}

impl Shared {
    fn instantiate(&self) -> Result<Live, Error> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.options.memory_limit)
            .instances(1)
            .build();
        let state = State {
            limits,
            memory_limit: self.options.memory_limit,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state);
        store.set_epoch_deadline(self.deadline_ticks());
        let bindings = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| self.guest_failure(e))?;
        Ok(Live { store, bindings })
    }

    fn deadline_ticks(&self) -> u64 {
        let ticks = self.options.call_timeout.as_millis() / EPOCH_TICK.as_millis();
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }

    /// A guest failure, typed: out of memory, a wasm trap, or (no trap) its
    /// root cause on one line, without the wasm backtrace wasmtime attaches.
    fn guest_failure(&self, e: wasmtime::Error) -> Error {
        if e.downcast_ref::<MemoryLimitReached>().is_some() {
            return Error::OutOfMemory {
                limit: self.options.memory_limit,
            };
        }
        let trap = e.downcast_ref::<wasmtime::Trap>().copied();
        let message = match trap {
            Some(trap) => trap.to_string(),
            None => e.root_cause().to_string(),
        };
        Error::Trap {
            trap,
            message: message.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// One live instance, reused across calls. A call that fails in the guest
/// (a trap, the deadline, the memory limit) drops the instance's store
/// there and then, so no call ever enters a guest left in a broken state;
/// the next call makes a fresh one.
pub struct Instance {
    shared: Arc<Shared>,
    /// `None` after a guest failure, until the next call.
    live: Option<Live>,
}

/// A store and the component instantiated in it.
struct Live {
    store: Store<State>,
    bindings: bindings::Switchboard,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("live", &self.live.is_some())
            .finish_non_exhaustive()
    }
}

impl Instance {
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

    /// Processes one delivery given as its header pairs and raw body, with
    /// the configuration as the JSON document `process-json` takes (see
    /// the WIT `process-body`): the event's CloudEvents document, or the
    /// refusal.
    ///
    /// What [`Instance::process`] does, for less: the configuration
    /// crosses as one string, which a reused instance compares with the
    /// last one byte for byte rather than lifting a record and comparing
    /// it field by field, and only the document comes back, not the event
    /// record's nine strings. [`config_json`] writes the document of a
    /// [`switchboard_core::Config`]; pass the same text on every call to
    /// keep the prepared configuration.
    pub fn process_body(
        &mut self,
        headers: &[(String, String)],
        body: &[u8],
        vendor: Option<&str>,
        config_json: &str,
        now: i64,
    ) -> Result<String, Error> {
        let outcome = self.call(|bindings, store| {
            bindings.switchboard_webhooks_processor().call_process_body(
                store,
                headers,
                body,
                vendor,
                config_json,
                now,
            )
        })?;
        outcome.map_err(convert::rejected)
    }

    /// The vendor a request belongs to (see the WIT `detect`).
    pub fn detect(&mut self, request: &wit::Request) -> Result<Option<String>, Error> {
        self.call(|bindings, store| {
            bindings
                .switchboard_webhooks_processor()
                .call_detect(store, request)
        })
    }

    /// Whether the instance holds a guest that has never failed; `false`
    /// after a guest failure, until the next call instantiates a fresh one.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(&bindings::Switchboard, &mut Store<State>) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        let live = match &mut self.live {
            Some(live) => live,
            None => self.live.insert(self.shared.instantiate()?),
        };
        live.store.set_epoch_deadline(self.shared.deadline_ticks());
        let result = f(&live.bindings, &mut live.store);
        result.map_err(|e| {
            // Drop the broken guest now: its slot in the pooling allocator
            // is free before anything instantiates again.
            self.live = None;
            self.shared.guest_failure(e)
        })
    }
}

/// Instances kept for reuse by concurrent callers. A call takes an idle
/// instance (or makes one) and gives it back afterwards, unless the call
/// failed in the guest: an instance that trapped, ran out of memory or time
/// is dropped, never reused, and its slot freed for a fresh one.
///
/// At most [`HostOptions::max_instances`] instances exist at once (the
/// pooling allocator's slots), and the pool never holds more idle instances
/// than calls have run at once. Callers bound their concurrency to
/// [`Pool::size`] (`switchboard serve` holds a permit per call); a call past
/// it fails with [`Error::Trap`] (`trap: None`), instantiation being refused.
pub struct Pool {
    switchboard: Switchboard,
    idle: Mutex<Vec<Instance>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size())
            .field("idle", &self.idle())
            .finish()
    }
}

impl Pool {
    /// An empty pool of `switchboard`'s instances.
    pub fn new(switchboard: Switchboard) -> Pool {
        Pool {
            switchboard,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// How many calls may run at once: [`HostOptions::max_instances`].
    pub fn size(&self) -> usize {
        self.switchboard.options().max_instances as usize
    }

    /// How many instances wait idle for a call.
    pub fn idle(&self) -> usize {
        self.idle_list().len()
    }

    /// Processes one request in a pooled instance (see
    /// [`Instance::process`]).
    pub fn process(
        &self,
        request: &wit::Request,
        vendor: Option<&str>,
        config: &wit::Config,
        now: i64,
    ) -> Result<wit::Event, Error> {
        self.with_instance(|instance| instance.process(request, vendor, config, now))
    }

    /// Processes one delivery in a pooled instance with the lean function
    /// (see [`Instance::process_body`]).
    pub fn process_body(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        vendor: Option<&str>,
        config_json: &str,
        now: i64,
    ) -> Result<String, Error> {
        self.with_instance(|instance| {
            instance.process_body(headers, body, vendor, config_json, now)
        })
    }

    /// Runs `call` on an idle instance (or a new one), which goes back to
    /// the idle list unless the call failed in the guest.
    fn with_instance<R>(
        &self,
        call: impl FnOnce(&mut Instance) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let idle = self.idle_list().pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => self.switchboard.instance()?,
        };
        let result = call(&mut instance);
        if instance.is_live() {
            self.idle_list().push(instance);
        }
        result
    }

    fn idle_list(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // A list of instances stays consistent whatever panicked.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
        // Calls are synchronous: no fiber stacks. (The default reserves a
        // thousand, each with a guard page set up at start and torn down
        // at exit: 10 of the 22 ms of CPU an idle receiver cost.)
        .total_stacks(0)
        .max_memory_size(options.memory_limit);
    if pagemap_scan_available() {
        // A slot's next instance starts from pages reset in place rather
        // than unmapped and faulted in again: Linux's PAGEMAP_SCAN finds
        // the pages the last instance wrote (a delivery writes one or two
        // MiB), and only those are reset. Without it a fresh instance
        // spends more time in the kernel than in the guest (on the bench
        // mix, 80 against 40 µs of CPU per event). Without the ioctl,
        // keeping pages resident would `memset` all of them instead, which
        // costs more than it saves: the default (unmap) stays.
        pool.linear_memory_keep_resident(KEEP_RESIDENT.min(options.memory_limit))
            .table_keep_resident(KEEP_RESIDENT)
            .pagemap_scan(wasmtime::Enabled::Auto);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if options.compile_cache {
        let cache = wasmtime::Cache::new(wasmtime::CacheConfig::new())?;
        config.cache(Some(cache));
    }
    Ok(config)
}

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 and later).
fn pagemap_scan_available() -> bool {
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    (major, minor) >= (6, 7)
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
