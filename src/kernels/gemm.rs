//! Products of batches of any size: `C ← α A B + β C` through `gemm-f32` for `f32` (kernels
//! chosen at run time for the CPU at hand: AVX-512, AVX2 + FMA, NEON, …; a product can be split
//! over several threads, [`set_threads`](super::set_threads)), and `matrixmultiply` for `f64`
//! (run-time dispatch up to AVX2 + FMA, one thread).
//!
//! Only products with a run-time dimension (a `Dyn` batch) that are large enough to repay the
//! crates' packing take that path; the rest are computed here, element by element, through
//! nalgebra's bounds-checked indexing (so that any layout of operand, transposed views
//! included, is read correctly).

use nalgebra::{
    Const, DefaultAllocator, Dim, Matrix, MatrixView, OMatrix, SMatrix, Storage, StorageMut, U1,
    allocator::Allocator,
    constraint::{AreMultipliable, SameNumberOfColumns, SameNumberOfRows, ShapeConstraint},
};

use crate::core::Float;

/// `c ← alpha · a · b + beta · c`. When `beta` is zero, `c` is not read (a NaN in it does not
/// survive). Any operand may be a view with any strides (a transposed view included).
///
/// Shapes are checked by the types where they are static, and at run time where they are
/// `Dyn`.
///
/// # Panics
///
/// If the run-time dimensions do not fit: `a`'s columns must equal `b`'s rows, and `c` must be
/// `a`'s rows by `b`'s columns (`gemm: dimensions mismatch for multiplication.` or `… for
/// addition.`).
///
/// ```
/// use typenet::nalgebra::{Const, Dyn, OMatrix};
/// let a = OMatrix::<f32, Const<2>, Dyn>::from_column_slice(&[1.0, 2.0, 3.0, 4.0]); // 2 x 2
/// let b = OMatrix::<f32, Dyn, Const<1>>::from_column_slice(&[1.0, 1.0]); // 2 x 1
/// let mut c = OMatrix::<f32, Const<2>, Const<1>>::new(10.0, 20.0);
/// typenet::kernels::gemm(&mut c, 1.0, &a, &b, 0.5); // c = a b + c / 2
/// assert_eq!(c.as_slice(), [9.0, 16.0]);
/// ```
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
    let (m, k) = a.shape();
    let (k_b, n) = b.shape();
    assert_eq!(k, k_b, "gemm: dimensions mismatch for multiplication.");
    assert_eq!(c.shape(), (m, n), "gemm: dimensions mismatch for addition.");
    // without `std` there are no gemm crates: every product is computed below
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
    for j in 0..n {
        for i in 0..m {
            let mut sum = T::zero();
            for l in 0..k {
                sum += a[(i, l)] * b[(l, j)];
            }
            let scaled = alpha * sum;
            // with beta zero, `c` is not read: a NaN in it does not survive
            c[(i, j)] = if beta == T::zero() {
                scaled
            } else {
                scaled + beta * c[(i, j)]
            };
        }
    }
}

/// `c ← alpha · aᵀ · b + beta · c`, without forming `aᵀ`: the gemm crates on a transposed
/// view of `a` where the batch is dynamic and the product large, nalgebra's `gemm_tr` (dot
/// products of `a`'s contiguous columns) otherwise.
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
    if is_dyn::<C3>() && large_gemm(c, alpha, &transposed(a), b, beta) {
        return;
    }
    c.gemm_tr(alpha, a, b, beta);
}

/// `Aᵀ` as a view of `A`'s own storage, no copy: `A` is `R x C` column-major and contiguous, so
/// element `(i, j)` of `Aᵀ` is at `i R + j`: row stride `R`, column stride 1.
#[inline]
pub(crate) fn transposed<T: Float, const R: usize, C: Dim>(
    a: &OMatrix<T, Const<R>, C>,
) -> MatrixView<'_, T, C, Const<R>, Const<R>, U1>
where
    DefaultAllocator: Allocator<Const<R>, C>,
{
    MatrixView::from_slice_with_strides_generic(
        a.as_slice(),
        a.shape_generic().1,
        Const::<R>,
        Const::<R>,
        U1,
    )
}

/// Whether `D` is known only at run time.
#[cfg(feature = "std")]
#[inline]
fn is_dyn<D: Dim>() -> bool {
    D::try_to_usize().is_none()
}

/// Below this many multiply-adds, or with a side shorter than [`SMALL_SIDE`], a product is not
/// worth the gemm crates' packing and dispatch.
#[cfg(feature = "std")]
const SMALL_WORK: usize = 4096;
/// See [`SMALL_WORK`].
#[cfg(feature = "std")]
const SMALL_SIDE: usize = 4;

/// Whether an `m x k` by `k x n` product is large enough for the gemm crates (with `std`;
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

/// The gemm crates' product, if `T` is `f32` or `f64` and the product is large enough (and the
/// `std` feature is on). Returns whether it ran.
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
    S1: nalgebra::RawStorageMut<T, R1, C1>,
    S2: nalgebra::RawStorage<T, R2, C2>,
    S3: nalgebra::RawStorage<T, R3, C3>,
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
    let parallelism = match super::threads() {
        1 => gemm_common::Parallelism::None,
        n => gemm_common::Parallelism::Rayon(n),
    };
    let read_c = beta != T::zero();
    let dst = c.data.ptr_mut();
    let lhs = a.data.ptr();
    let rhs = b.data.ptr();
    // SAFETY: the three pointers and their strides come from nalgebra storages that hold
    // (m x k), (k x n) and (m x n) elements at exactly those strides (nalgebra's own gemm hands
    // the same values to matrixmultiply), and the shapes were checked above; `c`'s strides are
    // those of an owned or mutably viewed matrix, so no two of its elements alias. `c` is
    // borrowed mutably and `a`, `b` immutably, so `c` cannot overlap either operand. `T` is f32
    // or f64, checked just above, so the pointer casts below are identities. Both crates write
    // only the m x n elements of `dst`, read it only when `beta` is not zero, and return no
    // borrows. gemm-f32's convention is `dst ← α dst + β lhs rhs`, so our (alpha, beta) become
    // its (beta, alpha); matrixmultiply's is ours. Exercised by the tests of this module and by
    // every batch test of `Dense`.
    unsafe {
        if is_f32 {
            gemm_f32::gemm::f32::get_gemm_fn()(
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
            matrixmultiply::dgemm(
                m,
                k,
                n,
                alpha.as_f64(),
                lhs.cast(),
                a_rs as isize,
                a_cs as isize,
                rhs.cast(),
                b_rs as isize,
                b_cs as isize,
                beta.as_f64(),
                dst.cast(),
                c_rs as isize,
                c_cs as isize,
            );
        }
    }
    true
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

    /// A view of `stored`'s transpose: the matrix `stored.transpose()` read with row stride
    /// `stored.nrows()` and column stride 1, as `Dense`'s backward reads its cached input.
    fn transposed_view(stored: &DMatrix<f64>) -> nalgebra::DMatrixView<'_, f64, Dyn, U1> {
        let (rows, cols) = (stored.ncols(), stored.nrows());
        nalgebra::DMatrixView::from_slice_with_strides_generic(
            stored.as_slice(),
            Dyn(rows),
            Dyn(cols),
            Dyn(cols),
            U1,
        )
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
        let (at, bt) = (a.transpose(), b.transpose());
        let mut c = c0.clone();
        gemm(
            &mut c,
            2.0,
            &transposed_view(&at),
            &transposed_view(&bt),
            0.5,
        );
        assert_eq!(c, expected);
        // f32, two threads
        super::super::set_threads(2);
        let mut c32 = c0.map(|v| v as f32);
        gemm(
            &mut c32,
            2.0,
            &a.map(|v| v as f32),
            &b.map(|v| v as f32),
            0.5,
        );
        super::super::set_threads(1);
        assert_eq!(c32, expected.map(|v| v as f32));
    }

    #[test]
    fn small_products_read_transposed_views_within_their_bounds() {
        // nalgebra 0.34.2's own gemm reads past the column of a left operand whose rows are
        // not adjacent; these products are too small for the gemm crates and take the loop
        for (m, k, n) in [(3, 2, 2), (2, 5, 3), (5, 1, 4), (1, 3, 1)] {
            let (a, b, c0) = (filled(m, k, 4), filled(k, n, 5), filled(m, n, 6));
            let expected = &a * &b * 0.5 - &c0;
            let at = a.transpose();
            let mut c = c0.clone();
            gemm(&mut c, 0.5, &transposed_view(&at), &b, -1.0);
            assert_eq!(c, expected, "{m}x{k} · {k}x{n}");
        }
        let a = SMatrix::<f32, 3, 2>::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0);
        let mut c = SMatrix::<f32, 2, 1>::from_element(f32::NAN);
        let x = SMatrix::<f32, 3, 1>::new(1.0, 1.0, 1.0);
        gemm_tr(&mut c, 1.0, &a, &x, 0.0);
        assert_eq!(c.as_slice(), [9.0, 12.0]);
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
    fn empty_dynamic_products_leave_c_scaled_by_beta() {
        let a = OMatrix::<f32, nalgebra::Const<3>, Dyn>::from_element(0, 1.0);
        let b = OMatrix::<f32, Dyn, nalgebra::Const<2>>::from_element(0, 1.0);
        let mut c = SMatrix::<f32, 3, 2>::from_element(4.0);
        gemm(&mut c, 1.0, &a, &b, 1.0); // k = 0: c unchanged
        assert_eq!(c, SMatrix::<f32, 3, 2>::from_element(4.0));
    }

    #[test]
    #[should_panic(expected = "gemm: dimensions mismatch for multiplication.")]
    fn mismatched_dynamic_shapes_panic_with_the_documented_message() {
        let a = DMatrix::<f64>::zeros(2, 3);
        let b = DMatrix::<f64>::zeros(4, 2);
        let mut c = DMatrix::<f64>::zeros(2, 2);
        gemm(&mut c, 1.0, &a, &b, 0.0);
    }
}
