//! A wasmtime engine for the suites that load a component themselves, its
//! compiled code cached on disk (wasmtime's cache, in the user's cache
//! directory) as the CLI's is: each test process loads a component compiled
//! once per machine rather than compiling it again.

/// An engine with `config` and the on-disk cache.
pub fn cached(mut config: wasmtime::Config) -> wasmtime::Engine {
    config.cache(Some(
        wasmtime::Cache::new(wasmtime::CacheConfig::new()).unwrap(),
    ));
    wasmtime::Engine::new(&config).unwrap()
}
