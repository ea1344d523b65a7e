//! The kernels of small, static shapes: single samples and `Const<K>` batches (and `Dyn`
//! batches too small for [`gemm`](super::gemm)). They never allocate, and they are written so
//! that the compiler vectorises them over the contiguous rows of a column.
//!
//! All matrices are column-major and contiguous: a matrix of `R` rows is a slice whose chunks
//! of `R` are its columns.

use nalgebra::SMatrix;

use crate::core::Float;

/// `Y ← Y + W X`, column by column: `y` is `O x B`, `W` is `O x I`, `x` is `I x B`, all
/// column-major and contiguous (the columns of `y` and `x` are the chunks of their slices).
///
/// The kernel of a dense layer's forward pass, vectorised over the rows.
/// Up to 64 rows, the columns of `W` are summed into four independent partial sums (columns
/// `j ≡ 0, 1, 2, 3 mod 4`), added at the end: one running sum is a chain of `I` dependent
/// additions, and a small network's forward pass waits on each layer's chain
/// (`docs/performance.md`). Taller layers are limited by reading `W`, not by
/// latency, and add four columns at a time into one sum.
#[inline]
pub(crate) fn add_product<T: Float, const O: usize, const I: usize>(
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
#[inline]
pub(crate) fn add_outer<T: Float, const O: usize, const I: usize>(
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
#[inline]
pub(crate) fn transposed_product<T: Float, const O: usize, const I: usize>(
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
/// (floating-point addition is not associative), so it runs at one addition per latency, and
/// LLVM's attempts at vectorising a dot product with partial sums end in shuffles. So: with
/// `f32` on an x86_64 target built with AVX and FMA (e.g. `-C target-cpu=native`), one vector
/// of eight partial sums and a horizontal sum at the end ([`dot_f32_avx`]); elsewhere eight
/// scalar partial sums.
#[inline]
pub(crate) fn dot<T: Float>(a: &[T], b: &[T]) -> T {
    // the common length first: chunks of two slices of unequal length would pair the
    // remainder of one with elements of the other
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(all(target_arch = "x86_64", target_feature = "avx", target_feature = "fma"))]
    if core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>() {
        // SAFETY: `T` is `f32` (same `TypeId`, and both are `'static`), so the slices are
        // slices of `f32` with the same pointers and lengths, and the result is an `f32`.
        // `dot_f32_avx` needs AVX and FMA, which the `cfg` above proves this build targets.
        unsafe {
            let a = core::slice::from_raw_parts(a.as_ptr().cast::<f32>(), a.len());
            let b = core::slice::from_raw_parts(b.as_ptr().cast::<f32>(), b.len());
            let d = dot_f32_avx(a, b);
            return core::mem::transmute_copy::<f32, T>(&d);
        }
    }
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

/// [`dot`] for `f32` with AVX and FMA: eight lanes of fused multiply-adds, one horizontal sum.
#[cfg(all(target_arch = "x86_64", target_feature = "avx", target_feature = "fma"))]
#[target_feature(enable = "avx,fma")]
#[inline]
fn dot_f32_avx(a: &[f32], b: &[f32]) -> f32 {
    use core::arch::x86_64::{
        _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
        _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
        _mm256_setzero_ps,
    };
    debug_assert_eq!(a.len(), b.len(), "`dot` passes slices of one length");
    let mut acc = _mm256_setzero_ps();
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        // SAFETY: `x` and `y` are chunks of exactly eight `f32`s, so each unaligned 256-bit
        // load reads only their own elements. Exercised by `dot_agrees_with_a_plain_sum`.
        let (x, y) = unsafe { (_mm256_loadu_ps(x.as_ptr()), _mm256_loadu_ps(y.as_ptr())) };
        acc = _mm256_fmadd_ps(x, y, acc);
    }
    let quad = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    let one = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
    _mm_cvtss_f32(one) + tail
}

#[cfg(test)]
mod tests {
    use nalgebra::{DMatrix, SMatrix};

    use super::*;

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
