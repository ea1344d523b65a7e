//! Matrix products as the layers compute them, and the threads they may use.
//!
//! [`gemm`](fn@gemm) is nalgebra's `Matrix::gemm` (`C ← α A B + β C`) with one difference:
//! with the `std` feature, a large enough product with a run-time dimension (a `Dyn` batch)
//! goes through the [gemm crate](https://docs.rs/gemm), whose kernels are chosen at run time
//! for the CPU at hand (AVX-512, AVX2 + FMA, NEON, …) and which can split a product over
//! several threads ([`set_threads`]). Smaller products keep nalgebra's loops.
//!
//! Why not nalgebra's path for the large products too: it calls `matrixmultiply`, whose kernels
//! stop at AVX2. On an AVX-512 machine the gemm crate is 1.35–1.5× faster on the products of
//! an MNIST-sized layer (`docs/performance.md`, `docs/design.md` §5).
//!
//! [`Dense`](crate::Dense) itself uses this module's small-shape kernels for single samples
//! and `Const<K>` batches (and for `Dyn` batches too small for the gemm crate): they are written
//! so that the compiler vectorises them over contiguous rows, and they never allocate.
//!
//! ```
//! use typenet::nalgebra::{Const, Dyn, OMatrix};
//! let a = OMatrix::<f32, Const<2>, Dyn>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]); // 2 x 2
//! let b = OMatrix::<f32, Dyn, Const<1>>::from_column_slice(&[1.0, 1.0]); // 2 x 1
//! let mut c = OMatrix::<f32, Const<2>, Const<1>>::new(10.0, 20.0);
//! typenet::linalg::gemm(&mut c, 1.0, &a, &b, 0.5); // c = a b + c / 2
//! assert_eq!(c.as_slice(), [9.0, 16.0]);
//! ```

use nalgebra::{
    Const, Dim, Matrix, SMatrix, Storage, StorageMut,
    constraint::{AreMultipliable, SameNumberOfColumns, SameNumberOfRows, ShapeConstraint},
};
#[cfg(feature = "std")]
use nalgebra::{MatrixView, RawStorage, RawStorageMut, U1};

use crate::Float;

/// `c ← alpha · a · b + beta · c`. When `beta` is zero, `c` is not read (a NaN in it does not
/// survive).
///
/// Shapes are checked by the types where they are static, and at run time (with a panic, as
/// nalgebra's `gemm` does) where they are `Dyn`.
///
/// # Panics
///
/// If the run-time dimensions do not fit: `a`'s columns must equal `b`'s rows, and `c` must be
/// `a`'s rows by `b`'s columns.
#[inline]
pub fn gemm<T, R1, C1, R2, C2, R3, C3, S1, S2, S3>(
    c: &mut Matrix<T, R1, C1, S1>,
    alpha: T,
    a: &Matrix<T, R2, C2, S2>,
    b: &Matrix<T, R3, C3, S3>,
    beta: T,
) where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    R3: Dim,
    C3: Dim,
    S1: StorageMut<T, R1, C1>,
    S2: Storage<T, R2, C2>,
    S3: Storage<T, R3, C3>,
    ShapeConstraint:
        SameNumberOfRows<R1, R2> + SameNumberOfColumns<C1, C3> + AreMultipliable<R2, C2, R3, C3>,
{
    #[cfg(feature = "std")]
    {
        let dynamic = is_dyn::<R1>()
            || is_dyn::<C1>()
            || is_dyn::<R2>()
            || is_dyn::<C2>()
            || is_dyn::<R3>()
            || is_dyn::<C3>();
        if dynamic && large_gemm(c, alpha, a, b, beta) {
            return;
        }
    }
    // nalgebra's gemm does not read `c` either when beta is zero
    c.gemm(alpha, a, b, beta);
}

/// `c ← alpha · aᵀ · b + beta · c`, without forming `aᵀ`: [`gemm`](fn@gemm) on a transposed
/// view of `a` where the batch is dynamic and the product large, nalgebra's `gemm_tr` (dot
/// products of `a`'s columns) otherwise.
///
/// # Panics
///
/// As [`gemm`](fn@gemm), for `aᵀ` in place of `a`.
#[inline]
pub fn gemm_tr<T, const R: usize, const C: usize, C3, S1, S3>(
    c: &mut Matrix<T, Const<C>, C3, S1>,
    alpha: T,
    a: &SMatrix<T, R, C>,
    b: &Matrix<T, Const<R>, C3, S3>,
    beta: T,
) where
    T: Float,
    C3: Dim,
    S1: StorageMut<T, Const<C>, C3>,
    S3: Storage<T, Const<R>, C3>,
{
    #[cfg(feature = "std")]
    if is_dyn::<C3>() {
        // aᵀ as a view of a's own storage: a is R x C column-major, so element (i, j) of aᵀ
        // is at i R + j: row stride R, column stride 1.
        let a_t =
            MatrixView::<T, Const<C>, Const<R>, Const<R>, U1>::from_slice_with_strides_generic(
                a.as_slice(),
                Const::<C>,
                Const::<R>,
                Const::<R>,
                U1,
            );
        if large_gemm(c, alpha, &a_t, b, beta) {
            return;
        }
    }
    // Not nalgebra's `gemm` on the view: its column-by-column path mishandles a left operand
    // whose rows are not adjacent (nalgebra 0.34.2 reads past the column). `gemm_tr` takes
    // dot products of a's columns instead.
    c.gemm_tr(alpha, a, b, beta);
}

/// `y ← y + W x` for every column: `y` is `O x B`, `W` is `O x I`, `x` is `I x B`, all
/// column-major and contiguous (the columns of `y` and `x` are the chunks of their slices).
///
/// The small-shape kernel of [`Dense`](crate::Dense)'s forward pass, vectorised over the rows.
/// Up to 64 rows, the columns of `W` are summed into four independent partial sums (columns
/// `j ≡ 0, 1, 2, 3 mod 4`), added at the end: one running sum is a chain of `I` dependent
/// additions, and a small network's forward pass waits on each layer's chain (one sample
/// through the W1 network: 0.46 → 0.41 µs). Taller layers are limited by reading `W`, not by
/// latency, and add four columns at a time into one sum.
#[inline]
pub(crate) fn mul_add<T: Float, const O: usize, const I: usize>(
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
pub(crate) fn tr_mul<T: Float, const O: usize, const I: usize>(
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
/// vector loop over contiguous rows it makes when the count is opaque (with the dot product
/// below, the W1 step went from 4.4 to 2.8 µs).
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
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
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

/// Whether `D` is known only at run time.
#[cfg(feature = "std")]
#[inline]
fn is_dyn<D: Dim>() -> bool {
    D::try_to_usize().is_none()
}

/// Below this many multiply-adds, or with a side shorter than [`SMALL_SIDE`], a product is not
/// worth the `gemm` crate's packing and dispatch, and nalgebra's loops do it.
#[cfg(feature = "std")]
const SMALL_WORK: usize = 4096;
/// See [`SMALL_WORK`].
#[cfg(feature = "std")]
const SMALL_SIDE: usize = 4;

/// Whether an `m x k` by `k x n` product is large enough for the `gemm` crate (with `std`;
/// without it, nothing is).
#[inline]
pub(crate) fn is_large(m: usize, k: usize, n: usize) -> bool {
    #[cfg(feature = "std")]
    {
        m.min(n).min(k) >= SMALL_SIDE && m * n * k >= SMALL_WORK
    }
    #[cfg(not(feature = "std"))]
    {
        let _ = (m, k, n);
        false
    }
}

/// The `gemm` crate's product, if `T` is `f32` or `f64` and the product is large enough.
/// Returns whether it ran.
#[cfg(feature = "std")]
fn large_gemm<T, R1, C1, R2, C2, R3, C3, S1, S2, S3>(
    c: &mut Matrix<T, R1, C1, S1>,
    alpha: T,
    a: &Matrix<T, R2, C2, S2>,
    b: &Matrix<T, R3, C3, S3>,
    beta: T,
) -> bool
where
    T: Float,
    R1: Dim,
    C1: Dim,
    R2: Dim,
    C2: Dim,
    R3: Dim,
    C3: Dim,
    S1: RawStorageMut<T, R1, C1>,
    S2: RawStorage<T, R2, C2>,
    S3: RawStorage<T, R3, C3>,
{
    use core::any::TypeId;

    let (m, k) = a.shape();
    let (k_b, n) = b.shape();
    assert_eq!(k, k_b, "gemm: dimensions mismatch for multiplication.");
    assert_eq!(c.shape(), (m, n), "gemm: dimensions mismatch for addition.");
    if !is_large(m, k, n) {
        return false;
    }
    let is_f32 = TypeId::of::<T>() == TypeId::of::<f32>();
    if !is_f32 && TypeId::of::<T>() != TypeId::of::<f64>() {
        return false;
    }
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    let (c_rs, c_cs) = c.strides();
    let parallelism = match threads() {
        1 => gemm::Parallelism::None,
        n => gemm::Parallelism::Rayon(n),
    };
    let read_c = beta != T::zero();
    let dst = c.data.ptr_mut();
    let lhs = a.data.ptr();
    let rhs = b.data.ptr();
    // SAFETY: the three pointers and their strides come from nalgebra storages that hold
    // (m x k), (k x n) and (m x n) elements at exactly those strides (nalgebra's own gemm hands
    // the same values to matrixmultiply), and the shapes were checked above. `c` is borrowed
    // mutably and `a`, `b` immutably, so `c` cannot overlap either operand. `T` is f32 or f64,
    // checked just above, so the pointer casts below are identities. The gemm crate writes only
    // the m x n elements of `dst`, reads `dst` only when `read_c`, and returns no borrows.
    // Its convention is `dst ← α dst + β lhs rhs`, so our (alpha, beta) become its (beta, alpha).
    // Exercised by the tests of this module and by every batch test of `Dense`.
    unsafe {
        if is_f32 {
            gemm::gemm::<f32>(
                m,
                n,
                k,
                dst.cast(),
                c_cs as isize,
                c_rs as isize,
                read_c,
                lhs.cast(),
                a_cs as isize,
                a_rs as isize,
                rhs.cast(),
                b_cs as isize,
                b_rs as isize,
                beta.as_f64() as f32,
                alpha.as_f64() as f32,
                false,
                false,
                false,
                parallelism,
            );
        } else {
            gemm::gemm::<f64>(
                m,
                n,
                k,
                dst.cast(),
                c_cs as isize,
                c_rs as isize,
                read_c,
                lhs.cast(),
                a_cs as isize,
                a_rs as isize,
                rhs.cast(),
                b_cs as isize,
                b_rs as isize,
                beta.as_f64(),
                alpha.as_f64(),
                false,
                false,
                false,
                parallelism,
            );
        }
    }
    true
}

#[cfg(feature = "std")]
static THREADS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);

/// Lets products of `Dyn` batches use up to `n` threads (of rayon's global pool); `0` means
/// one per core. The default is 1: training is single-threaded, and deterministic, until a
/// program asks for more. Single samples and `Const<K>` batches always run on the calling
/// thread. Without the `std` feature this does nothing.
///
/// ```
/// typenet::linalg::set_threads(2);
/// assert_eq!(typenet::linalg::threads(), 2);
/// typenet::linalg::set_threads(1);
/// ```
pub fn set_threads(n: usize) {
    #[cfg(feature = "std")]
    {
        let n = if n == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            n
        };
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

#[cfg(test)]
mod tests {
    use nalgebra::{DMatrix, Dyn, OMatrix, SMatrix, U1};

    use super::*;

    fn filled(rows: usize, cols: usize, seed: usize) -> DMatrix<f64> {
        DMatrix::from_fn(rows, cols, |r, c| {
            ((r * 7 + c * 13 + seed) % 23) as f64 - 11.0
        })
    }

    #[test]
    fn large_dynamic_products_agree_with_nalgebra_for_every_layout() {
        let (m, k, n) = (37, 53, 29);
        let a = filled(m, k, 1);
        let b = filled(k, n, 2);
        let c0 = filled(m, n, 3);
        let expected = &a * &b * 2.0 + &c0 * 0.5;
        // plain operands
        let mut c = c0.clone();
        gemm(&mut c, 2.0, &a, &b, 0.5);
        assert_eq!(c, expected);
        // transposed views of stored transposes (row stride != 1), as Dense's backward uses
        let at = a.transpose();
        let bt = b.transpose();
        let a_view = nalgebra::DMatrixView::from_slice_with_strides_generic(
            at.as_slice(),
            Dyn(m),
            Dyn(k),
            Dyn(k),
            U1,
        );
        let b_view = nalgebra::DMatrixView::from_slice_with_strides_generic(
            bt.as_slice(),
            Dyn(k),
            Dyn(n),
            Dyn(n),
            U1,
        );
        let mut c = c0.clone();
        gemm(&mut c, 2.0, &a_view, &b_view, 0.5);
        assert_eq!(c, expected);
        // f32, two threads
        set_threads(2);
        let mut c32 = c0.map(|v| v as f32);
        gemm(
            &mut c32,
            2.0,
            &a.map(|v| v as f32),
            &b.map(|v| v as f32),
            0.5,
        );
        set_threads(1);
        assert_eq!(c32, expected.map(|v| v as f32));
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
    fn beta_zero_ignores_what_c_held() {
        let a = filled(16, 16, 4);
        let b = filled(16, 16, 5);
        let mut c = DMatrix::from_element(16, 16, f64::NAN);
        gemm(&mut c, 1.0, &a, &b, 0.0);
        assert_eq!(c, &a * &b);
        let mut small = SMatrix::<f64, 2, 2>::from_element(f64::NAN);
        gemm(
            &mut small,
            1.0,
            &SMatrix::<f64, 2, 2>::identity(),
            &SMatrix::<f64, 2, 2>::identity(),
            0.0,
        );
        assert_eq!(small, SMatrix::<f64, 2, 2>::identity());
    }

    #[test]
    fn small_and_empty_dynamic_products_take_nalgebras_path() {
        let a = OMatrix::<f32, nalgebra::Const<3>, Dyn>::from_element(0, 1.0);
        let b = OMatrix::<f32, Dyn, nalgebra::Const<2>>::from_element(0, 1.0);
        let mut c = SMatrix::<f32, 3, 2>::from_element(4.0);
        gemm(&mut c, 1.0, &a, &b, 1.0); // k = 0: c unchanged
        assert_eq!(c, SMatrix::<f32, 3, 2>::from_element(4.0));
    }
}
