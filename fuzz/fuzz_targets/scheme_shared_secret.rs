//! The `shared-secret` scheme's header comparison, with the secrets of two
//! shared-secret cases (two secrets each).
//!
//! Input: header lines (see the crate's documentation); every base case
//! below is processed with them instead of its own headers.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::{Base, check_headers};

static BASES: LazyLock<[Base; 2]> = LazyLock::new(|| {
    [
        Base::load("shared-secret/valid.json"),
        Base::load("opencx/shared-secret/valid.json"),
    ]
});

fuzz_target!(|data: &[u8]| check_headers(&*BASES, data));
