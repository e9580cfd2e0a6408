//! The varda family's normalization: `varda` enabled with `"scheme": "none"`,
//! so that every body reaches it.
//!
//! Input: the raw body.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use switchboard_fuzz::Normalizer;

static NORMALIZER: LazyLock<Normalizer> = LazyLock::new(|| Normalizer::new("varda"));

fuzz_target!(|data: &[u8]| NORMALIZER.check(data));
