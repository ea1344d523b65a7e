//! How many threads the products of `Dyn` batches may use.

#[cfg(feature = "std")]
static THREADS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);

/// The number of cores this process may run on (1 when it cannot be told, or without `std`).
pub fn available_cores() -> usize {
    #[cfg(feature = "std")]
    {
        std::thread::available_parallelism().map_or(1, usize::from)
    }
    #[cfg(not(feature = "std"))]
    {
        1
    }
}

/// Lets products of `f32` `Dyn` batches use up to `n` threads (of rayon's global pool); `0`
/// means one per core (`f64` products take one thread). The default is 1: training is single-threaded, and deterministic, until a
/// program asks for more. Single samples and `Const<K>` batches always run on the calling
/// thread. Without the `std` feature this does nothing.
///
/// `n` is clamped to the number of cores ([`available_cores`]): threads beyond the cores only
/// take turns on them, and each turn costs a product's worth of waiting.
///
/// ```
/// use typenet::kernels::{available_cores, set_threads, threads};
/// set_threads(2);
/// assert_eq!(threads(), 2.min(available_cores()));
/// set_threads(1_000);
/// assert_eq!(threads(), available_cores());
/// set_threads(1);
/// ```
pub fn set_threads(n: usize) {
    #[cfg(feature = "std")]
    {
        let cores = available_cores();
        let n = if n == 0 { cores } else { n.min(cores) };
        THREADS.store(n, core::sync::atomic::Ordering::Relaxed);
    }
    #[cfg(not(feature = "std"))]
    let _ = n;
}

/// The number of threads that products of `Dyn` batches may use (see [`set_threads`]).
pub fn threads() -> usize {
    #[cfg(feature = "std")]
    {
        THREADS.load(core::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(feature = "std"))]
    {
        1
    }
}
