//! Loopback ports for servers a test starts as another process (PostgreSQL,
//! workerd, Deno, a receiver on a chosen port), which must be told a port
//! before they bind it.
//!
//! A port taken with `bind(…:0)` and released is in Linux's ephemeral range
//! (32768 and up), where the next `bind(…:0)` anywhere on the machine (a
//! receiver, a downstream, a client of another test running at the same
//! time) may be handed it before the server binds it. These ports are below
//! that range, so only another caller of this function can take one, and it
//! picks a different one (by process and by call); a server that still finds
//! its port taken is started again on another.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The ports handed out: 20000 to 31999.
const FIRST: usize = 20_000;
const COUNT: usize = 12_000;

/// A loopback port below the ephemeral range that is free now.
pub fn unused_loopback_port() -> u16 {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let seed =
        std::process::id() as usize * 7_919 + CALLS.fetch_add(1, Ordering::Relaxed) * 104_729;
    (0..COUNT)
        .map(|step| FIRST + (seed + step * 7) % COUNT)
        .filter_map(|port| u16::try_from(port).ok())
        .find(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free loopback port between 20000 and 31999")
}
