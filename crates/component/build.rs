//! The processor's initial linear memory, INITIAL_MIB: the stack (1 MiB,
//! the target's default), the data, and the rest as the first of the heap
//! (crates/component/src/heap.rs), so that a delivery of ordinary size never
//! grows the memory. The host's memory limit must be at least this much.

const INITIAL_MIB: usize = 3;

fn main() {
    if std::env::var("TARGET").is_ok_and(|target| target.starts_with("wasm32")) {
        println!(
            "cargo:rustc-link-arg-cdylib=--initial-memory={}",
            INITIAL_MIB << 20
        );
    }
}
