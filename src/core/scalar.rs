//! The scalar types a network can be built from.

use core::fmt::{Debug, Display};
use nalgebra::RealField;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar that parameters, activations and losses are computed in:
/// `f32` (the default everywhere) or `f64`.
///
/// The trait is sealed: typenet's layers rely on IEEE semantics (NaN propagation, infinities)
/// and on exact conversion to `f64` for the finite-difference checker.
///
/// ```
/// use typenet::Float;
/// assert_eq!(<f32 as Float>::NAME, "f32");
/// assert_eq!(<f32 as Float>::of_f64(0.5).as_f64(), 0.5);
/// ```
pub trait Float:
    RealField + Copy + Default + Debug + Display + Send + Sync + sealed::Sealed + 'static
{
    /// The Rust name of the type, as written in type signatures (`"f32"`, `"f64"`).
    const NAME: &'static str;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// The smallest positive normal value; below it lie the subnormals, which many CPUs
    /// compute with a hundredfold slowdown.
    const MIN_POSITIVE: Self;
    /// Converts from `f64`, rounding to the nearest representable value.
    fn of_f64(x: f64) -> Self;
    /// Converts to `f64` (exact for both `f32` and `f64`).
    fn as_f64(self) -> f64;
    /// Converts a byte, exactly.
    fn of_u8(x: u8) -> Self;
    /// The value, or zero if it is subnormal (smaller in magnitude than
    /// [`MIN_POSITIVE`](Float::MIN_POSITIVE)), without a branch. Optimizer state that decays
    /// geometrically (momentum, Adam's moments of a parameter whose gradient is exactly zero)
    /// would otherwise sink into the subnormals and slow every later step.
    #[inline(always)]
    fn flush_subnormal(self) -> Self {
        if self.abs() < Self::MIN_POSITIVE {
            Self::zero()
        } else {
            self
        }
    }
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// Whether every value of `values` is finite, without a branch per value (the check runs
    /// on every training step's gradient).
    fn all_finite(values: &[Self]) -> bool;
    /// The value's bit pattern (IEEE 754), widened to `u64`: exact for every value, NaN
    /// payloads and the sign of zero included, where a conversion to `f64` and back may quiet
    /// a signalling NaN.
    ///
    /// ```
    /// use typenet::Float;
    /// assert_eq!(1.0f32.to_raw_bits(), 0x3f80_0000);
    /// assert_eq!(<f32 as Float>::from_raw_bits(0x3f80_0000), 1.0);
    /// ```
    fn to_raw_bits(self) -> u64;
    /// The value of a bit pattern (the low 32 bits for `f32`).
    fn from_raw_bits(bits: u64) -> Self;
    /// Writes a Rust constant expression for exactly this value: `f32::from_bits(0x3f800000)`.
    #[deprecated(
        note = "Rust source is written by `typenet::bake`; use `to_raw_bits` for the exact bits"
    )]
    fn write_rust_literal(self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        let digits = 2 * core::mem::size_of::<Self>();
        write!(
            out,
            "{}::from_bits({:#0w$x})",
            Self::NAME,
            self.to_raw_bits(),
            w = digits + 2
        )
    }
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    const NEG_INFINITY: Self = f32::NEG_INFINITY;
    const MIN_POSITIVE: Self = f32::MIN_POSITIVE;
    #[inline]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn of_u8(x: u8) -> Self {
        Self::from(x)
    }
    #[inline]
    fn is_nan(self) -> bool {
        Self::is_nan(self)
    }
    #[inline]
    fn to_raw_bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    #[inline]
    fn from_raw_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
    #[inline(always)]
    fn all_finite(values: &[Self]) -> bool {
        // NaN and ±∞ are exactly the values whose magnitude bits are at least those of ∞.
        // An integer maximum over the slice vectorises (two instructions a vector), where
        // `iter().all(is_finite)` branches per value.
        const INFINITY: u32 = 0x7f80_0000;
        values
            .iter()
            .fold(0u32, |m, v| m.max(v.to_bits() & !(1 << 31)))
            < INFINITY
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    const NEG_INFINITY: Self = f64::NEG_INFINITY;
    const MIN_POSITIVE: Self = f64::MIN_POSITIVE;
    #[inline]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn of_u8(x: u8) -> Self {
        Self::from(x)
    }
    #[inline]
    fn is_nan(self) -> bool {
        Self::is_nan(self)
    }
    #[inline]
    fn to_raw_bits(self) -> u64 {
        self.to_bits()
    }
    #[inline]
    fn from_raw_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
    #[inline(always)]
    fn all_finite(values: &[Self]) -> bool {
        const INFINITY: u64 = 0x7ff0_0000_0000_0000;
        values
            .iter()
            .fold(0u64, |m, v| m.max(v.to_bits() & !(1 << 63)))
            < INFINITY
    }
}
