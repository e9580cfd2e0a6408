//! Varda's `X-Varda-Signature` parsing and verification, with the body,
//! secrets and `now` of Varda cases.
//!
//! Input: header lines (see the crate's documentation); every base case
//! below is processed with them instead of its own headers.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::{Base, check_headers};

static BASES: LazyLock<[Base; 2]> = LazyLock::new(|| {
    [
        Base::load("varda/published-vector.json"),
        Base::load("varda/rotation-previous-secret.json"),
    ]
});

fuzz_target!(|data: &[u8]| check_headers(&*BASES, data));
