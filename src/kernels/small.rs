//! The kernels of small, static shapes: single samples and `Const<K>` batches (and `Dyn`
//! batches too small for [`gemm`](super::gemm)). They never allocate, and they are written so
//! that the compiler vectorises them over the contiguous rows of a column; each runs the
//! version compiled for the CPU's instruction set ([`dispatch`](super::dispatch)). The `_at`
//! forms take the level, for the tests that compare the versions.
//!
//! All matrices are column-major and contiguous: a matrix of `R` rows is a slice whose chunks
//! of `R` are its columns.

use nalgebra::SMatrix;

use super::dispatch::dispatch;
#[cfg(test)]
use super::dispatch::{SimdLevel, run_at};
use crate::core::{Descent, Float};

/// `Y ← Y + W X`, column by column: `y` is `O x B`, `W` is `O x I`, `x` is `I x B`, all
/// column-major and contiguous (the columns of `y` and `x` are the chunks of their slices).
///
/// The kernel of a dense layer's forward pass, vectorised over the rows.
/// Up to 64 rows, the columns of `W` are summed into four independent partial sums (columns
/// `j ≡ 0, 1, 2, 3 mod 4`), added at the end: one running sum is a chain of `I` dependent
/// additions, and a small network's forward pass waits on each layer's chain
/// (`docs/performance.md`). Taller layers are limited by reading `W`, not by
/// latency, and add four columns at a time into one sum.
#[inline(always)]
pub(crate) fn add_product<T: Float, const O: usize, const I: usize>(
    y: &mut [T],
    w: &SMatrix<T, O, I>,
    x: &[T],
) {
    dispatch!(y.len() / O.max(1) * O * I, add_product_body(y, w, x));
}

/// [`add_product`] at the given level.
#[cfg(test)]
pub(crate) fn add_product_at<T: Float, const O: usize, const I: usize>(
    level: SimdLevel,
    y: &mut [T],
    w: &SMatrix<T, O, I>,
    x: &[T],
) {
    run_at(
        level,
        #[inline(always)]
        || add_product_body(y, w, x),
    );
}

#[inline(always)]
fn add_product_body<T: Float, const O: usize, const I: usize>(
    y: &mut [T],
    w: &SMatrix<T, O, I>,
    x: &[T],
) {
    let w = w.as_slice();
    let column = |j: usize| &w[j * O..][..O];
    for (y, x) in y.chunks_exact_mut(O).zip(x.chunks_exact(I)) {
        let mut j = 0;
        if O <= 64 {
            let (mut s0, mut s1, mut s2, mut s3) = (
                [T::zero(); O],
                [T::zero(); O],
                [T::zero(); O],
                [T::zero(); O],
            );
            while j + 4 <= I {
                let (w0, w1, w2, w3) = (column(j), column(j + 1), column(j + 2), column(j + 3));
                let (x0, x1, x2, x3) = (x[j], x[j + 1], x[j + 2], x[j + 3]);
                for r in 0..O {
                    s0[r] += w0[r] * x0;
                    s1[r] += w1[r] * x1;
                    s2[r] += w2[r] * x2;
                    s3[r] += w3[r] * x3;
                }
                j += 4;
            }
            for r in 0..O {
                y[r] += (s0[r] + s1[r]) + (s2[r] + s3[r]);
            }
        } else {
            while j + 4 <= I {
                let (w0, w1, w2, w3) = (column(j), column(j + 1), column(j + 2), column(j + 3));
                let (x0, x1, x2, x3) = (x[j], x[j + 1], x[j + 2], x[j + 3]);
                for r in 0..O {
                    let mut acc = y[r];
                    acc += w0[r] * x0;
                    acc += w1[r] * x1;
                    acc += w2[r] * x2;
                    acc += w3[r] * x3;
                    y[r] = acc;
                }
                j += 4;
            }
        }
        while j < I {
            let (wj, xj) = (column(j), x[j]);
            for r in 0..O {
                y[r] += wj[r] * xj;
            }
            j += 1;
        }
    }
}

/// `dW ← dW + G Xᵀ`: `dW` is `O x I`, `G` is `O x B`, `X` is `I x B`, all column-major and
/// contiguous. Column `j` of `dW` gains `G[:, c] X[j, c]` for each sample `c`, a vectorised
/// multiply-add over the rows.
#[inline(always)]
pub(crate) fn add_outer<T: Float, const O: usize, const I: usize>(
    dw: &mut SMatrix<T, O, I>,
    g: &[T],
    x: &[T],
) {
    dispatch!(g.len() * I, add_outer_body(dw, g, x));
}

/// [`add_outer`] at the given level.
#[cfg(test)]
pub(crate) fn add_outer_at<T: Float, const O: usize, const I: usize>(
    level: SimdLevel,
    dw: &mut SMatrix<T, O, I>,
    g: &[T],
    x: &[T],
) {
    run_at(
        level,
        #[inline(always)]
        || add_outer_body(dw, g, x),
    );
}

#[inline(always)]
fn add_outer_body<T: Float, const O: usize, const I: usize>(
    dw: &mut SMatrix<T, O, I>,
    g: &[T],
    x: &[T],
) {
    let rows = opaque(O);
    for (g, x) in g.chunks_exact(rows).zip(x.chunks_exact(I)) {
        for (dw, &xj) in dw.as_mut_slice().chunks_exact_mut(rows).zip(x) {
            for (dw, &g) in dw.iter_mut().zip(g) {
                *dw += g * xj;
            }
        }
    }
}

/// `dX ← Wᵀ G`: `dX` is `I x B`, `W` is `O x I`, `G` is `O x B`, all column-major and
/// contiguous. Each entry is a [`dot`] of a column of `W` with a column of `G`.
#[inline(always)]
pub(crate) fn transposed_product<T: Float, const O: usize, const I: usize>(
    dx: &mut [T],
    w: &SMatrix<T, O, I>,
    g: &[T],
) {
    dispatch!(g.len() * I, transposed_product_body(dx, w, g));
}

/// [`transposed_product`] at the given level.
#[cfg(test)]
pub(crate) fn transposed_product_at<T: Float, const O: usize, const I: usize>(
    level: SimdLevel,
    dx: &mut [T],
    w: &SMatrix<T, O, I>,
    g: &[T],
) {
    run_at(
        level,
        #[inline(always)]
        || transposed_product_body(dx, w, g),
    );
}

#[inline(always)]
fn transposed_product_body<T: Float, const O: usize, const I: usize>(
    dx: &mut [T],
    w: &SMatrix<T, O, I>,
    g: &[T],
) {
    let rows = opaque(O);
    for (dx, g) in dx.chunks_exact_mut(I).zip(g.chunks_exact(rows)) {
        for (dx, w) in dx.iter_mut().zip(w.as_slice().chunks_exact(rows)) {
            *dx = dot(w, g);
        }
    }
}

/// A dense layer's backward pass on one sample with its gradient-descent step fused in: for
/// each column `j` of `W` (`rows` rows, column-major in `w`), `x[j]` becomes `dL/dx_j`, the
/// [`dot`] of the column with `g` (the old weights), and then the column takes the step
/// `W[:, j] ← W[:, j] - lr (g x_j + wd W[:, j])` while it is in cache.
#[inline(always)]
pub(crate) fn descend_columns<T: Float>(
    w: &mut [T],
    rows: usize,
    x: &mut [T],
    g: &[T],
    step: Descent<T>,
) {
    dispatch!(w.len(), descend_columns_body(w, rows, x, g, step));
}

/// [`descend_columns`] at the given level.
#[cfg(test)]
pub(crate) fn descend_columns_at<T: Float>(
    level: SimdLevel,
    w: &mut [T],
    rows: usize,
    x: &mut [T],
    g: &[T],
    step: Descent<T>,
) {
    run_at(
        level,
        #[inline(always)]
        || descend_columns_body(w, rows, x, g, step),
    );
}

#[inline(always)]
fn descend_columns_body<T: Float>(
    w: &mut [T],
    rows: usize,
    x: &mut [T],
    g: &[T],
    step: Descent<T>,
) {
    for (w, x) in w.chunks_exact_mut(rows).zip(x.iter_mut()) {
        let xj = *x;
        *x = dot(w, g);
        step.apply_scaled(w, g, xj);
    }
}

/// A dense layer's gradient-descent step on a batch, without storing the gradient: for each
/// column `j` of `W` (`O x I`), the column's gradient `Σ_c G[:, c] X[j, c]` summed over the
/// batch, then its step.
#[inline(always)]
pub(crate) fn descend_outer<T: Float, const O: usize, const I: usize>(
    w: &mut SMatrix<T, O, I>,
    g: &[T],
    x: &[T],
    step: Descent<T>,
) {
    dispatch!(g.len() * I, descend_outer_body(w, g, x, step));
}

/// [`descend_outer`] at the given level.
#[cfg(test)]
pub(crate) fn descend_outer_at<T: Float, const O: usize, const I: usize>(
    level: SimdLevel,
    w: &mut SMatrix<T, O, I>,
    g: &[T],
    x: &[T],
    step: Descent<T>,
) {
    run_at(
        level,
        #[inline(always)]
        || descend_outer_body(w, g, x, step),
    );
}

#[inline(always)]
fn descend_outer_body<T: Float, const O: usize, const I: usize>(
    w: &mut SMatrix<T, O, I>,
    g: &[T],
    x: &[T],
    step: Descent<T>,
) {
    let rows = opaque(O);
    for (j, w) in w.as_mut_slice().chunks_exact_mut(rows).enumerate() {
        let mut grad = [T::zero(); O];
        for (g, x) in g.chunks_exact(rows).zip(x.chunks_exact(I)) {
            let xj = x[j];
            grad.iter_mut().zip(g).for_each(|(s, &g)| *s += g * xj);
        }
        step.apply(w, &grad);
    }
}

/// The gradient-descent step of `step` on a parameter slice and its gradient
/// ([`Descent::apply`]), vectorised for the CPU at hand.
#[inline]
pub(crate) fn apply_descent<T: Float>(step: Descent<T>, theta: &mut [T], grad: &[T]) {
    dispatch!(theta.len(), step.apply(theta, grad));
}

/// `x ← f(x)` for every value of `xs`, `f` compiled for the CPU at hand (an activation: as
/// much work a value as several multiply-adds, an exponential's a dozen).
#[inline]
pub(crate) fn map_in_place<T: Float>(xs: &mut [T], f: impl Fn(T) -> T) {
    dispatch!(8 * xs.len(), xs.iter_mut().for_each(|v| *v = f(*v)));
}

/// `d ← f(d, y)` for every pair of values of `d` and `y` (an activation's backward pass).
#[inline]
pub(crate) fn zip_map_in_place<T: Float>(d: &mut [T], y: &[T], f: impl Fn(T, T) -> T) {
    dispatch!(
        2 * d.len(),
        d.iter_mut().zip(y).for_each(|(d, &y)| *d = f(*d, y))
    );
}

/// Replaces every column of `data` (`rows` values each) by its softmax,
/// `e^(x_i - m) / Σ_j e^(x_j - m)` with `m` the column's largest value (so no exponential
/// overflows; a NaN anywhere makes the column NaN).
#[inline]
pub(crate) fn softmax_columns<T: Float>(data: &mut [T], rows: usize) {
    dispatch!(8 * data.len(), {
        for col in data.chunks_exact_mut(rows.max(1)) {
            let max = col
                .iter()
                .fold(T::NEG_INFINITY, |m, &v| if v > m { v } else { m });
            let mut sum = T::zero();
            for v in col.iter_mut() {
                *v = super::exp(*v - max);
                sum += *v;
            }
            for v in col.iter_mut() {
                *v /= sum;
            }
        }
    });
}

/// `dst[i] ← src[i] / 255` in `T`, correctly rounded (the grey levels of an image as values in
/// `[0, 1]`).
#[cfg(feature = "std")]
#[inline]
pub(crate) fn unit_from_bytes<T: Float>(dst: &mut [T], src: &[u8]) {
    dispatch!(2 * dst.len(), {
        let max = T::of_f64(255.0);
        for (x, &p) in dst.iter_mut().zip(src) {
            *x = T::of_u8(p) / max;
        }
    });
}

/// Whether every value of `values` is finite ([`Float::all_finite`], vectorised for the CPU at
/// hand: its integer maximum needs SSE4.1 or better to be one instruction).
#[inline]
pub(crate) fn all_finite<T: Float>(values: &[T]) -> bool {
    dispatch!(values.len(), T::all_finite(values))
}

/// `n`, hidden from the optimiser. When a loop over the rows of a column has a trip count
/// known at compile time, LLVM unrolls it completely and then vectorises the loop over the
/// *columns* instead, with gathers and scatters at a stride of one column, far slower than the
/// vector loop over contiguous rows it makes when the count is opaque (`docs/performance.md`).
#[inline(always)]
pub(crate) fn opaque(n: usize) -> usize {
    core::hint::black_box(n)
}

/// `Σ a_i b_i` over the common length.
///
/// A single running sum is a chain of dependent additions that the compiler may not reorder
/// (floating-point addition is not associative), so it runs at one addition per latency. Eight
/// partial sums, one per lane of an AVX vector of `f32`, are independent: compiled for AVX2 they
/// are one vector register, and every version adds in the same order, so every version gives
/// the same bits.
#[inline(always)]
pub(crate) fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    // the common length first: chunks of two slices of unequal length would pair the
    // remainder of one with elements of the other
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    const LANES: usize = 8;
    let mut sums = [T::zero(); LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: T = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .fold(T::zero(), |s, (&a, &b)| s + a * b);
    for (a, b) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += a[lane] * b[lane];
        }
    }
    let [s0, s1, s2, s3, s4, s5, s6, s7] = sums;
    ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)) + tail
}

#[cfg(test)]
mod tests {
    use nalgebra::{DMatrix, SMatrix};

    use super::*;
    use crate::core::Descent;

    /// Small integers: every sum is exact in any order, so kernels and references must agree
    /// to the bit.
    fn filled<const R: usize, const C: usize>(seed: usize) -> SMatrix<f32, R, C> {
        SMatrix::from_fn(|r, c| ((r * 7 + c * 13 + seed) % 9) as f32 - 4.0)
    }

    #[test]
    fn dot_agrees_with_a_plain_sum() {
        for n in [0, 1, 7, 8, 9, 31, 32, 33, 100] {
            let a: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
            let b: Vec<f32> = (0..n).map(|i| (i % 3) as f32 * 0.5).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(
                dot(&a, &b),
                plain,
                "length {n} (small integers: exact in any order)"
            );
            let a64: Vec<f64> = a.iter().map(|&v| f64::from(v)).collect();
            let b64: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
            assert_eq!(dot(&a64, &b64), f64::from(plain));
        }
        assert!(dot(&[1.0f32, f32::NAN], &[1.0, 1.0]).is_nan());
    }

    #[test]
    fn dot_of_slices_of_unequal_length_sums_over_the_common_length() {
        // 9 against 17: the chunks of eight pair up once, the remainders would not
        let a: Vec<f64> = (1..=9).map(f64::from).collect();
        let b: Vec<f64> = (1..=17).map(|i| f64::from(i % 4)).collect();
        let expected: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(dot(&a, &b), expected);
        assert_eq!(dot(&b, &a), expected);
        let (a32, b32): (Vec<f32>, Vec<f32>) = (
            a.iter().map(|&v| v as f32).collect(),
            b.iter().map(|&v| v as f32).collect(),
        );
        assert_eq!(f64::from(dot(&a32, &b32)), expected);
        assert_eq!(dot::<f32>(&[], &b32), 0.0);
    }

    /// Each kernel against nalgebra's product, for shapes on both sides of the 64-row split of
    /// `add_product` and of the four-column unrolling, and for batches of 1 to 5 columns.
    fn kernels_agree_with_nalgebra<const O: usize, const I: usize>() {
        for batch in 1..=5 {
            let w = filled::<O, I>(1);
            let x = DMatrix::<f32>::from_fn(I, batch, |r, c| ((r + 3 * c) % 5) as f32 - 2.0);
            let y0 = DMatrix::<f32>::from_fn(O, batch, |r, c| ((r * c) % 3) as f32);
            let w_dyn = DMatrix::from_column_slice(O, I, w.as_slice());

            let mut y = y0.clone();
            add_product(y.as_mut_slice(), &w, x.as_slice());
            assert_eq!(y, &y0 + &w_dyn * &x, "add_product, {O}x{I}, batch {batch}");

            let g = DMatrix::<f32>::from_fn(O, batch, |r, c| ((2 * r + c) % 7) as f32 - 3.0);
            let mut dw = filled::<O, I>(2);
            let expected = DMatrix::from_column_slice(O, I, dw.as_slice()) + &g * x.transpose();
            add_outer(&mut dw, g.as_slice(), x.as_slice());
            assert_eq!(dw.as_slice(), expected.as_slice(), "add_outer, {O}x{I}");

            let mut dx = DMatrix::<f32>::from_element(I, batch, f32::NAN);
            transposed_product(dx.as_mut_slice(), &w, g.as_slice());
            assert_eq!(dx, w_dyn.transpose() * &g, "transposed_product, {O}x{I}");
        }
    }

    /// Every kernel at every level this CPU runs gives the portable version's bits, for shapes
    /// on both sides of the vector widths (8 and 16 `f32`) and of the kernels' unrolling, and
    /// random values.
    fn every_level_matches_portable<const O: usize, const I: usize>(batch: usize, seed: u64) {
        use rand::{RngExt, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let mut random =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect() };
        let w = SMatrix::<f32, O, I>::from_column_slice(&random(O * I));
        let (x, g, y0) = (random(I * batch), random(O * batch), random(O * batch));
        let step = Descent {
            lr: 0.1f32,
            wd: 0.01,
        };
        let run = |level: SimdLevel| {
            let mut y = y0.clone();
            add_product_at(level, &mut y, &w, &x);
            let mut dw = w;
            add_outer_at(level, &mut dw, &g, &x);
            let mut dx = vec![0.0f32; I * batch];
            transposed_product_at(level, &mut dx, &w, &g);
            let mut stepped = w;
            descend_outer_at(level, &mut stepped, &g, &x, step);
            let mut fused = w;
            let mut x1 = x[..I].to_vec();
            descend_columns_at(level, fused.as_mut_slice(), O, &mut x1, &g[..O], step);
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            [
                bits(&y),
                bits(dw.as_slice()),
                bits(&dx),
                bits(stepped.as_slice()),
                bits(fused.as_slice()),
                bits(&x1),
            ]
        };
        let portable = run(SimdLevel::Portable);
        for level in SimdLevel::ALL.into_iter().filter(|l| l.is_available()) {
            assert_eq!(run(level), portable, "{level:?}, {O}x{I}, batch {batch}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn every_level_computes_the_portable_bits(batch in 1usize..7, seed in 0u64..1_000_000) {
            every_level_matches_portable::<1, 1>(batch, seed);
            every_level_matches_portable::<3, 5>(batch, seed);
            every_level_matches_portable::<7, 9>(batch, seed);
            every_level_matches_portable::<8, 16>(batch, seed);
            every_level_matches_portable::<17, 33>(batch, seed);
            every_level_matches_portable::<64, 7>(batch, seed);
            every_level_matches_portable::<65, 10>(batch, seed);
            every_level_matches_portable::<100, 31>(batch, seed);
        }
    }

    #[test]
    fn the_elementwise_kernels_and_softmax_give_the_same_bits_at_every_level() {
        // the dispatch of `map_in_place` and friends follows `simd_level()`; each level is run
        // by `.ci/run` through TYPENET_SIMD. Here: their results against plain loops.
        let xs: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) / 3.0).collect();
        let mut mapped = xs.clone();
        map_in_place(&mut mapped, super::super::exp);
        let plain: Vec<f32> = xs.iter().map(|&v| super::super::exp(v)).collect();
        assert_eq!(mapped, plain);
        let mut d = xs.clone();
        zip_map_in_place(&mut d, &plain, |d, y| d * y);
        let plain_zip: Vec<f32> = xs.iter().zip(&plain).map(|(d, y)| d * y).collect();
        assert_eq!(d, plain_zip);
        let mut columns = xs[..36].to_vec();
        softmax_columns(&mut columns, 9);
        for col in columns.chunks(9) {
            let sum: f32 = col.iter().sum();
            assert!((sum - 1.0).abs() < 1e-6, "{sum}");
        }
        let mut theta = xs.clone();
        apply_descent(Descent { lr: 0.5, wd: 0.0 }, &mut theta, &plain);
        let expected: Vec<f32> = xs.iter().zip(&plain).map(|(t, g)| t - 0.5 * g).collect();
        assert_eq!(theta, expected);
    }

    #[test]
    fn the_small_kernels_compute_the_products_they_name() {
        kernels_agree_with_nalgebra::<1, 1>();
        kernels_agree_with_nalgebra::<3, 5>();
        kernels_agree_with_nalgebra::<9, 4>();
        kernels_agree_with_nalgebra::<17, 13>();
        kernels_agree_with_nalgebra::<64, 7>();
        kernels_agree_with_nalgebra::<65, 10>();
        kernels_agree_with_nalgebra::<100, 33>();
    }
}
