//! The IDX reader on arbitrary bytes: it never panics, and it never allocates more memory than
//! the input could justify, whatever its header claims.
//!
//! A test binary of its own because it installs a global allocator that counts bytes (per
//! thread, so that parallel tests do not disturb each other).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;
use typenet::data::{read_images, read_labels};

struct CountingBytes;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the only addition is a
// thread-local counter, which is const-initialised (so touching it never allocates) and
// accessed with `try_with` (so allocation during thread teardown is still served).
unsafe impl GlobalAlloc for CountingBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + new_size));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingBytes = CountingBytes;

/// Bytes allocated on this thread while `f` runs (every allocation and reallocation counted
/// in full, so this bounds the peak from above).
fn allocated_by<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATED.with(Cell::get);
    let r = f();
    (r, ALLOCATED.with(Cell::get) - before)
}

/// What reading `len` bytes may cost: the data itself, grown by doubling (at most 4x in total),
/// plus fixed buffers (the 8 KiB read buffer, the gzip decoder's state and window).
fn budget(len: usize) -> usize {
    4 * len + 256 * 1024
}

#[test]
fn the_counter_counts() {
    let (_, n) = allocated_by(|| vec![0u8; 1000]);
    assert!(n >= 1000);
}

#[test]
fn a_header_claiming_gigabytes_costs_only_the_bytes_present() {
    // 60,000 x 28 x 28 claimed, 100 bytes present; and 4 x 10^9 bytes claimed
    for dims in [[60_000u32, 28, 28], [4_000, 1_000, 1_000]] {
        let mut file = vec![0, 0, 8, 3];
        for d in dims {
            file.extend_from_slice(&d.to_be_bytes());
        }
        file.extend_from_slice(&[0; 100]);
        let (result, bytes) = allocated_by(|| read_images(&file[..], "claim"));
        assert!(result.is_err());
        assert!(bytes <= budget(file.len()), "{bytes} bytes allocated");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_within_budget(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (_, a) = allocated_by(|| read_images(&bytes[..], "fuzz").map(|_| ()));
        let (_, b) = allocated_by(|| read_labels(&bytes[..], "fuzz").map(|_| ()));
        prop_assert!(a <= budget(bytes.len()) && b <= budget(bytes.len()));
    }

    #[test]
    fn arbitrary_bodies_after_a_valid_magic_never_panic(
        rank in prop_oneof![Just(1u8), Just(3u8), any::<u8>()],
        dims in proptest::collection::vec(any::<u32>(), 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        gzip in any::<bool>(),
    ) {
        let mut file = vec![0, 0, 8, rank];
        for d in &dims {
            file.extend_from_slice(&d.to_be_bytes());
        }
        file.extend_from_slice(&body);
        if gzip {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&file).unwrap();
            file = enc.finish().unwrap();
        }
        let (images, a) = allocated_by(|| read_images(&file[..], "fuzz"));
        let (labels, b) = allocated_by(|| read_labels(&file[..], "fuzz"));
        prop_assert!(a <= budget(file.len() * 8) && b <= budget(file.len() * 8));
        // whatever it decides, a success means the data matches the header exactly
        if let Ok(images) = images {
            prop_assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
        }
        if let Ok(labels) = labels {
            prop_assert_eq!(Some(labels.len() as u32), dims.first().copied().filter(|_| rank == 1));
        }
    }
}
