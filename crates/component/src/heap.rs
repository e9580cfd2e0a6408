//! The component's allocator: talc, fed first with the part of the initial
//! linear memory the data and stack leave free, then with memory it grows.
//!
//! Rust's default allocator on this target (dlmalloc) grows linear memory
//! for its first allocation whatever the memory already holds, so every
//! fresh instance grew its memory, and the host had to `mprotect` the new
//! pages on the way up and again when it reset the slot for the next
//! instance. With the heap's first megabytes in the initial memory
//! (`--initial-memory`, crates/component/build.rs), a delivery of ordinary
//! size never grows it; a larger one grows it exactly as before, up to the
//! host's memory limit.

use core::alloc::Layout;
use core::ptr::NonNull;

use talc::base::Talc;
use talc::base::binning::Binning;
use talc::cell::TalcSyncCell;
use talc::source::Source;
use talc::wasm::WasmBinning;

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// Where the linker put the end of the data and the stack: the start
    /// of what is free in the initial memory.
    static __heap_base: u8;
}

/// The global allocator.
pub type Heap = TalcSyncCell<InitialThenGrow, WasmBinning>;

/// A heap over the initial memory's free part, then over grown memory.
pub const fn heap() -> Heap {
    TalcSyncCell::new_wasm(InitialThenGrow {
        started: false,
        end: None,
    })
}

#[derive(Debug)]
pub struct InitialThenGrow {
    /// Whether the initial memory's free part has been handed over.
    started: bool,
    /// The end of the heap last claimed or extended, to extend it again
    /// when the memory grows right after it.
    end: Option<NonNull<u8>>,
}

// SAFETY: `acquire` allocates nothing and touches the allocator only
// through the `talc` it is given; it hands over memory that nothing else
// uses: from `__heap_base` (past the data and the stack) to the end of the
// memory, then only pages it has just grown.
unsafe impl Source for InitialThenGrow {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        if !talc.source.started {
            talc.source.started = true;
            let base = (&raw const __heap_base).cast_mut();
            let end = core::arch::wasm32::memory_size(0) * PAGE;
            let size = end.saturating_sub(base as usize);
            // SAFETY: [base, end) is the free part of the initial memory.
            talc.source.end = unsafe { talc.claim(base, size) };
            if talc.source.end.is_some() {
                return Ok(());
            }
        }
        // Enough pages for the chunk, its header and its alignment.
        let pages = (layout.size() + layout.align() + 256).div_ceil(PAGE);
        let previous = core::arch::wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return Err(());
        }
        let base = (previous * PAGE) as *mut u8;
        let size = pages * PAGE;
        if let Some(end) = talc.source.end.take()
            && end.as_ptr() == base
        {
            // SAFETY: the grown pages follow the heap's end directly.
            talc.source.end = Some(unsafe { talc.extend(end, base.wrapping_add(size)) });
            return Ok(());
        }
        // SAFETY: the pages were just grown: nothing else uses them.
        talc.source.end = unsafe { talc.claim(base, size) };
        Ok(())
    }
}
