//! The configurable `hmac-sha256` scheme's parsing and verification: base64
//! with a timestamp header, and hex with a `sha256=` prefix, each under its
//! own header name.
//!
//! Input: header lines (see the crate's documentation); every base case
//! below is processed with them instead of its own headers.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::{Base, check_headers};

static BASES: LazyLock<[Base; 2]> = LazyLock::new(|| {
    [
        Base::load("hmac-sha256/base64-timestamped.json"),
        Base::load("hmac-sha256/hex-prefixed.json"),
    ]
});

fuzz_target!(|data: &[u8]| check_headers(&*BASES, data));
