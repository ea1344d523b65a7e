//! Choosing, at run time, the instruction set the small kernels run with.
//!
//! Programs are built for the x86-64 baseline (SSE2) unless their builder asks for more, so code
//! that is vectorised at compile time runs at a quarter of an AVX-512 machine's width. The small
//! kernels are therefore compiled several times, for SSE2, for AVX2 + FMA and for AVX-512, and
//! each call runs the best one the CPU has (detected once, cached), through the `pulp` crate's
//! target-feature wrappers: [`dispatch!`] writes the match.
//!
//! Every version is the same Rust code, compiled with other instructions allowed: no operation
//! is reordered or fused (the kernels keep explicit partial sums, and use no fused
//! multiply-add), so every version computes the same bits. Training is reproducible from one
//! CPU to another, and a test compares every version with the portable one to the bit.
//!
//! Without `std` (no run-time detection) or off x86-64, there is one version, compiled for
//! whatever the build targets.

/// An instruction set the small kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    /// What the build targets (SSE2 on a default x86-64 build); the only level off x86-64 and
    /// without `std`.
    Portable,
    /// AVX2 and FMA (x86-64-v3).
    Avx2,
    /// AVX-512 F, BW, CD, DQ and VL (x86-64-v4).
    Avx512,
}

impl SimdLevel {
    /// Every level, lowest first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512];

    /// Its name, as `TYPENET_SIMD` takes it: `portable`, `avx2`, `avx512`.
    pub const fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The level of that name.
    pub fn from_name(name: &str) -> Option<SimdLevel> {
        SimdLevel::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Whether this CPU runs it (and this build has it: only `Portable` without `std` or off
    /// x86-64).
    pub fn is_available(self) -> bool {
        match self {
            SimdLevel::Portable => true,
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            SimdLevel::Avx2 => pulp::x86::V3::is_available(),
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            SimdLevel::Avx512 => pulp::x86::V4::is_available(),
            #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
            _ => false,
        }
    }
}

/// The level the kernels run with: the best this CPU has, unless the environment variable
/// `TYPENET_SIMD` (read once, at the first call) names a level (`portable`, `avx2`, `avx512`):
/// then the best available at or below it. That is for testing every version on one machine
/// (`.ci/run` runs the tests once per level); an unknown name is ignored.
///
/// ```
/// use typenet::kernels::{SimdLevel, simd_level};
/// let level = simd_level();
/// assert!(level.is_available());
/// assert!(SimdLevel::ALL.contains(&level));
/// ```
#[inline]
pub fn simd_level() -> SimdLevel {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        use core::sync::atomic::Ordering;
        match SimdLevel::ALL.get(usize::from(LEVEL.load(Ordering::Relaxed))) {
            Some(&level) => level,
            None => detect_level(),
        }
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    {
        SimdLevel::Portable
    }
}

/// The chosen level, as its index in [`SimdLevel::ALL`]; `u8::MAX` until it is chosen.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
static LEVEL: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(u8::MAX);

/// Chooses the level (see [`simd_level`]) and keeps it.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[cold]
#[inline(never)]
fn detect_level() -> SimdLevel {
    let ceiling = std::env::var("TYPENET_SIMD")
        .ok()
        .and_then(|name| SimdLevel::from_name(&name))
        .unwrap_or(SimdLevel::Avx512);
    let level = SimdLevel::ALL
        .into_iter()
        .rev()
        .find(|l| *l <= ceiling && l.is_available())
        .unwrap_or(SimdLevel::Portable);
    LEVEL.store(level as u8, core::sync::atomic::Ordering::Relaxed);
    level
}

/// Below this many values touched, a kernel runs inline in the build's baseline: the call into
/// a target-feature wrapper (which cannot be inlined) costs more than the wider vectors save on
/// so little work (a 2-2-2 network's layers, measured).
pub(crate) const DISPATCH_WORK: usize = 64;

/// Runs `f` compiled for the instruction set `level` (one the CPU lacks runs the portable
/// version), out of line: the caller pays a call. `f` must be an `#[inline(always)]` closure
/// of `#[inline(always)]` code all the way down, so that it is compiled inside the
/// target-feature wrapper: what it calls out of line runs at the build's baseline.
#[inline(never)]
pub(crate) fn run_at<R>(level: SimdLevel, f: impl FnOnce() -> R) -> R {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    match level {
        SimdLevel::Avx512 => match pulp::x86::V4::try_new() {
            Some(simd) => simd.vectorize(f),
            None => f(),
        },
        SimdLevel::Avx2 => match pulp::x86::V3::try_new() {
            Some(simd) => simd.vectorize(f),
            None => f(),
        },
        SimdLevel::Portable => f(),
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    {
        let _ = level;
        f()
    }
}

/// `$body`, inline when `$work` (the values it touches) is below [`DISPATCH_WORK`], else through
/// [`run_at`] at the level [`simd_level`] chooses.
macro_rules! dispatch {
    ($work:expr, $body:expr) => {{
        if $work < $crate::kernels::dispatch::DISPATCH_WORK {
            $body
        } else {
            $crate::kernels::dispatch::run_at(
                $crate::kernels::dispatch::simd_level(),
                #[inline(always)]
                || $body,
            )
        }
    }};
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_is_available_and_honours_typenet_simd() {
        let level = simd_level();
        assert!(level.is_available());
        assert_eq!(simd_level(), level, "chosen once");
        #[cfg(feature = "std")]
        if let Ok(name) = std::env::var("TYPENET_SIMD") {
            let asked = SimdLevel::from_name(&name).expect("TYPENET_SIMD names a level");
            assert!(level <= asked, "{level:?} above {asked:?}");
            if asked.is_available() {
                assert_eq!(level, asked);
            }
        }
        for l in SimdLevel::ALL {
            assert_eq!(SimdLevel::from_name(l.name()), Some(l));
        }
        assert!(SimdLevel::Portable.is_available());
    }
}
