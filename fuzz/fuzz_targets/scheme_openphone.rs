//! OpenPhone's legacy `openphone-signature` parsing and verification (the
//! vendor's default scheme, which turns to Standard Webhooks when a
//! `webhook-signature` is present), with the body, keys and `now` of
//! OpenPhone cases.
//!
//! Input: header lines (see the crate's documentation); every base case
//! below is processed with them instead of its own headers.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::{Base, check_headers};

static BASES: LazyLock<[Base; 2]> = LazyLock::new(|| {
    [
        Base::load("openphone/published-vector.json"),
        Base::load("openphone/legacy-whsec-key-in-list.json"),
    ]
});

fuzz_target!(|data: &[u8]| check_headers(&*BASES, data));
