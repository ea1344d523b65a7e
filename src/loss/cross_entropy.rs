//! Cross-entropy on probabilities.

use nalgebra::{DefaultAllocator, Dim, OMatrix, allocator::Allocator};

use super::{Loss, inv_batch, same_batch};
use crate::core::Float;

/// Cross-entropy of predicted probabilities `p` (the output of a `Softmax` or `Sigmoid`)
/// against a target distribution `y` (usually one-hot):
/// per sample `ℓ(p, y) = -Σ_i y_i ln(p_i + δ)` with the guard `δ = 1e-7`, averaged over the
/// batch.
///
/// - Gradient: `dℓ/dp_i = -y_i / (p_i + δ)`.
/// - The guard keeps `ln 0` finite: a prediction of exactly 0 for the true class costs
///   `-ln 1e-7 ≈ 16.1`, not infinity.
/// - PyTorch: `torch.nn.NLLLoss()` applied to `torch.log(p + 1e-7)`. For training, prefer a
///   linear output with [`SoftmaxCrossEntropy`](crate::SoftmaxCrossEntropy): it is stabler and
///   cheaper.
///
/// ```
/// use typenet::prelude::*;
/// let p = SVector::<f64, 10>::from([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]);
/// let mut y = SVector::<f64, 10>::zeros();
/// y[2] = 1.0;
/// assert!((CrossEntropy.loss(&p, &y) - 0.510825457099338).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CrossEntropy;

impl CrossEntropy {
    /// The guard added to every probability before its logarithm is taken.
    pub const DELTA: f64 = 1e-7;
}

impl<T, R, C> Loss<OMatrix<T, R, C>> for CrossEntropy
where
    T: Float,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    type Scalar = T;

    fn loss(&self, pred: &OMatrix<T, R, C>, target: &OMatrix<T, R, C>) -> T {
        same_batch(pred.ncols(), target.ncols());
        let delta = T::of_f64(Self::DELTA);
        let sum = pred
            .iter()
            .zip(target.iter())
            .fold(T::zero(), |s, (&p, &y)| s - y * (p + delta).ln());
        sum * inv_batch::<T>(pred.ncols())
    }

    fn loss_and_gradient(
        &self,
        mut pred: OMatrix<T, R, C>,
        target: &OMatrix<T, R, C>,
    ) -> (T, OMatrix<T, R, C>) {
        let loss = self.loss(&pred, target);
        let delta = T::of_f64(Self::DELTA);
        let inv_b = inv_batch::<T>(pred.ncols());
        pred.zip_apply(target, |p, y| *p = -y / (*p + delta) * inv_b);
        (loss, pred)
    }
}
