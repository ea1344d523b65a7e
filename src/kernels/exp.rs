//! The exponential, in a form the compiler can vectorise.
//!
//! The standard library's `f32::exp` is a call into the platform's maths library, one value at
//! a time; in a loop over an activation's outputs it is the whole cost of the loop (figures in
//! `docs/performance.md`). [`exp`] for `f32` is a
//! branch-free polynomial that the compiler turns into vector instructions; `f64` keeps the
//! library's `exp`, since the finite-difference checker wants every digit of it.

use core::any::TypeId;

use crate::core::Float;

/// `e^x`: for `f32` the vectorisable [`exp_f32`], for `f64` the maths library's.
#[inline(always)]
pub(crate) fn exp<T: Float>(x: T) -> T {
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: `T` is `f32` (same `TypeId`; both are `'static`), so these copies are
        // identity conversions between two names of one type.
        unsafe {
            let e = exp_f32(core::mem::transmute_copy::<T, f32>(&x));
            core::mem::transmute_copy::<f32, T>(&e)
        }
    } else {
        x.exp()
    }
}

/// `e^x` in `f32` without branches: Cody–Waite reduction `x = n ln 2 + r`, `|r| ≤ ln 2 / 2`,
/// Cephes' degree-7 polynomial for `e^r`, and `2^n` built in the exponent bits. No fused
/// multiply-add: every instruction set computes the same bits (see `dispatch`). Within 2 ulp of
/// the exact value for normal results (checked against `f64::exp` over the whole range by a
/// test); `+∞` above 88.72, `0` below -87.34 (where the result would be subnormal), NaN for NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const MAX: f32 = 88.722_83; // ln(f32::MAX)
    const MIN: f32 = -87.336_54; // ln(f32::MIN_POSITIVE)
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2²³: adding and subtracting it rounds to the nearest integer, in vector registers
    const ROUND: f32 = 12_582_912.0;
    let c = x.clamp(MIN, MAX);
    let n = (c * LOG2E + ROUND) - ROUND;
    let r = (c - n * LN2_HI) - n * LN2_LO;
    // Cephes' polynomial, evaluated in Estrin's scheme: three dependent steps instead of seven,
    // which matters when a small network's forward pass waits on each exponential.
    let r2 = r * r;
    let r4 = r2 * r2;
    // e^r ≈ 1 + r + r²/2 + c₃r³ + c₄r⁴ + r⁵ (c₅ + c₆r + c₇r²), Cephes' cₖ ≈ 1/k!
    let p01 = 0.5 * r2 + r; // r + r²/2
    let p23 = (4.166_579_6e-2 * r + 1.666_666_5e-1) * r2 * r; // c₃r³ + c₄r⁴
    let p45 = 1.398_199_9e-3 * r + 8.333_452e-3; // c₅ + c₆r
    let p67 = 1.987_569_1e-4 * r2; // c₇r²
    let e_r = 1.0 + (p01 + (p23 + r4 * r * (p45 + p67)));
    // n ∈ [-126, 128]: 2ⁿ as two halves, each a normal number
    let n = n as i32;
    let half = n >> 1;
    let scale = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let e = e_r * scale(half) * scale(n - half);
    let e = if x > MAX { f32::INFINITY } else { e };
    let e = if x < MIN { 0.0 } else { e };
    if x.is_nan() { x } else { e }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place, through the ordered bit patterns.
    fn ulps(a: f32, b: f32) -> u32 {
        let key = |v: f32| {
            let bits = v.to_bits() as i32;
            if bits < 0 { i32::MIN - bits } else { bits }
        };
        key(a).abs_diff(key(b))
    }

    #[test]
    fn exp_f32_is_within_two_ulp_of_the_exact_value_over_its_range() {
        let mut worst = 0;
        let mut x = -87.3f32;
        while x < 88.7 {
            let exact = (x as f64).exp() as f32;
            worst = worst.max(ulps(exp_f32(x), exact));
            x += 0.000_37;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        for x in [0.0f32, 1e-30, -1e-30, 1.0, -1.0, 0.5, 10.0, -10.0] {
            assert!(ulps(exp_f32(x), (x as f64).exp() as f32) <= 1, "e^{x}");
        }
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn exp_f32_saturates_and_keeps_nan() {
        assert_eq!(exp_f32(88.8), f32::INFINITY);
        assert_eq!(exp_f32(1000.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-87.4), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(88.72).is_finite());
    }

    #[test]
    fn exp_dispatches_by_scalar() {
        assert_eq!(exp(1.0f64), 1.0f64.exp());
        assert_eq!(exp(2.0f32), exp_f32(2.0));
    }
}
