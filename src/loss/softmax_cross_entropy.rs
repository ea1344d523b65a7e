//! Softmax and cross-entropy fused, on logits.

use nalgebra::{DefaultAllocator, Dim, OMatrix, allocator::Allocator};

use super::{Loss, inv_batch, same_batch};
use crate::core::Float;
use crate::kernels;
use crate::layers::Softmax;

/// Cross-entropy of `softmax(z)` against a target distribution `y`, computed from the logits
/// `z` (the output of a final `Dense`, with no `Softmax` layer):
/// per sample `ℓ(z, y) = Σ_i y_i (lse(z) - z_i)` with `lse(z) = m + ln Σ_j e^(z_j - m)`,
/// `m = max_j z_j`, averaged over the batch.
///
/// - Gradient: `dℓ/dz_i = softmax(z)_i Σ_j y_j - y_i`, that is `softmax(z) - y` for a
///   one-hot or any normalised target.
/// - Stable: no exponential overflows and no logarithm of zero is taken; logits `[1000, 0]`
///   with target `[0, 1]` give the finite loss 1000.
/// - PyTorch: `torch.nn.CrossEntropyLoss()` with probability targets.
///
/// ```
/// use typenet::prelude::*;
/// let z = SVector::<f64, 2>::new(1000.0, 0.0);
/// let y = SVector::<f64, 2>::new(0.0, 1.0);
/// assert_eq!(SoftmaxCrossEntropy.loss(&z, &y), 1000.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SoftmaxCrossEntropy;

impl<T, R, C> Loss<OMatrix<T, R, C>> for SoftmaxCrossEntropy
where
    T: Float,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    type Scalar = T;

    fn loss(&self, pred: &OMatrix<T, R, C>, target: &OMatrix<T, R, C>) -> T {
        same_batch(pred.ncols(), target.ncols());
        let mut sum = T::zero();
        for (z, y) in pred.column_iter().zip(target.column_iter()) {
            let m = z
                .iter()
                .fold(T::NEG_INFINITY, |m, &v| if v > m { v } else { m });
            let lse = m + z
                .iter()
                .fold(T::zero(), |s, &v| s + kernels::exp(v - m))
                .ln();
            sum += z
                .iter()
                .zip(y.iter())
                .fold(T::zero(), |s, (&z, &y)| s + y * (lse - z));
        }
        sum * inv_batch::<T>(pred.ncols())
    }

    fn loss_and_gradient(
        &self,
        mut pred: OMatrix<T, R, C>,
        target: &OMatrix<T, R, C>,
    ) -> (T, OMatrix<T, R, C>) {
        let loss = self.loss(&pred, target);
        let inv_b = inv_batch::<T>(pred.ncols());
        Softmax::apply_columns(&mut pred);
        for (mut p, y) in pred.column_iter_mut().zip(target.column_iter()) {
            let mass = y.sum();
            p.zip_apply(&y, |p, y| *p = (*p * mass - y) * inv_b);
        }
        (loss, pred)
    }
}
