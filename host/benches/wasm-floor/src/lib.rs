//! `make bench`'s floor (`../shared/bench/floor`: HMAC-SHA256 over the
//! signed content plus one JSON parse that builds nothing) compiled to a
//! core WebAssembly module with the component's own build settings (the
//! `guest` profile, SIMD, then wasm-opt), so that `make bench` can show what verifying and
//! parsing cost inside wasmtime before switchboard does anything more: the
//! line the component's figures are bounded by.
//!
//! The bench writes each delivery's key, signed prefix and body into this
//! module's memory once (`alloc`), then calls `floor` per event.

// The two exports are plain C functions the bench calls through wasmtime;
// exporting them by name is the only unsafe attribute here.
#![allow(unsafe_code)]

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Room for `len` bytes that the module never frees (the bench fills it
/// once per delivery).
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    Vec::<u8>::with_capacity(len).leak().as_mut_ptr()
}

/// HMAC-SHA256 of `prefix` and `body` under `key`, then `body` parsed as
/// JSON into nothing; returns the tag's first byte, or 256 when the body
/// is not JSON (so that nothing is optimised away).
///
/// # Safety
///
/// Each pointer and length is a region `alloc` returned and the bench
/// filled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn floor(
    key: *const u8,
    key_len: usize,
    prefix: *const u8,
    prefix_len: usize,
    body: *const u8,
    body_len: usize,
) -> u32 {
    // SAFETY: the caller passes regions it filled (see above).
    let (key, prefix, body) = unsafe {
        (
            std::slice::from_raw_parts(key, key_len),
            std::slice::from_raw_parts(prefix, prefix_len),
            std::slice::from_raw_parts(body, body_len),
        )
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
        return 257;
    };
    mac.update(prefix);
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Ok(_) => u32::from(tag[0]),
        Err(_) => 256,
    }
}
