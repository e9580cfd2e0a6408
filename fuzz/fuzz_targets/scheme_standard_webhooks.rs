//! Standard Webhooks' `webhook-id`, `webhook-timestamp` and `webhook-
//! signature` parsing and verification, with the body, secrets and `now` of
//! Standard Webhooks cases.
//!
//! Input: header lines (see the crate's documentation); every base case
//! below is processed with them instead of its own headers.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::{Base, check_headers};

static BASES: LazyLock<[Base; 2]> = LazyLock::new(|| {
    [
        Base::load("standard-webhooks/rotation-and-versions.json"),
        Base::load("opencx/standard-webhooks/valid.json"),
    ]
});

fuzz_target!(|data: &[u8]| check_headers(&*BASES, data));
