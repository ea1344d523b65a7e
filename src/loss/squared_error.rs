//! Squared-error losses in the three conventions the seed tutorials use.

use nalgebra::{DefaultAllocator, Dim, OMatrix, allocator::Allocator};

use super::{Loss, inv_batch, same_batch};
use crate::core::Float;

/// Mean squared error: per sample `ℓ(p, y) = (1/n) Σ_i (p_i - y_i)²` over the `n` outputs,
/// averaged over the batch.
///
/// - Gradient: `dℓ/dp_i = (2/n) (p_i - y_i)`.
/// - PyTorch: `torch.nn.MSELoss()` (reduction `"mean"`).
///
/// ```
/// use typenet::prelude::*;
/// let p = SVector::<f64, 10>::from([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]);
/// let y = SVector::<f64, 10>::from([0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
/// assert!((Mse.loss(&p, &y) - 0.0195).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mse;

/// Sum of squared errors: per sample `ℓ(p, y) = Σ_i (p_i - y_i)²`, averaged over the batch.
///
/// - Gradient: `dℓ/dp_i = 2 (p_i - y_i)`.
/// - PyTorch: `torch.nn.MSELoss(reduction="sum")` divided by the batch size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sse;

/// Half the sum of squared errors ("half-MSE" in the seed tutorials):
/// per sample `ℓ(p, y) = ½ Σ_i (p_i - y_i)²`, averaged over the batch.
///
/// - Gradient: `dℓ/dp_i = p_i - y_i`, which is why the tutorials like it.
/// - PyTorch: `0.5 * torch.nn.MSELoss(reduction="sum")` divided by the batch size.
///
/// ```
/// use typenet::prelude::*;
/// let p = SVector::<f32, 2>::new(1.0, 3.0);
/// let y = SVector::<f32, 2>::new(0.0, 1.0);
/// assert_eq!(HalfSse.loss(&p, &y), 2.5);
/// assert_eq!(Sse.loss(&p, &y), 5.0);
/// assert_eq!(Mse.loss(&p, &y), 2.5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HalfSse;

/// Implements [`Loss`] for a squared error `ℓ = k Σ_i (p_i - y_i)²`, given `k` as a function of
/// the number of outputs.
macro_rules! squared_error {
    ($name:ident, |$n:ident| $scale:expr) => {
        impl<T, R, C> Loss<OMatrix<T, R, C>> for $name
        where
            T: Float,
            R: Dim,
            C: Dim,
            DefaultAllocator: Allocator<R, C>,
        {
            type Scalar = T;

            fn loss(&self, pred: &OMatrix<T, R, C>, target: &OMatrix<T, R, C>) -> T {
                same_batch(pred.ncols(), target.ncols());
                let $n: T = T::of_f64(pred.nrows() as f64);
                let k: T = $scale;
                k * inv_batch::<T>(pred.ncols()) * sum_of_squares(pred, target)
            }

            fn loss_and_gradient(
                &self,
                mut pred: OMatrix<T, R, C>,
                target: &OMatrix<T, R, C>,
            ) -> (T, OMatrix<T, R, C>) {
                let loss = self.loss(&pred, target);
                let $n: T = T::of_f64(pred.nrows() as f64);
                let k: T = $scale;
                let two_k = (k + k) * inv_batch::<T>(pred.ncols());
                pred.zip_apply(target, |p, y| *p = two_k * (*p - y));
                (loss, pred)
            }
        }
    };
}

squared_error!(Mse, |n| T::one() / n);
squared_error!(Sse, |_n| T::one());
squared_error!(HalfSse, |_n| T::of_f64(0.5));

/// `Σ (p - y)²` over every element.
fn sum_of_squares<T: Float, R: Dim, C: Dim>(pred: &OMatrix<T, R, C>, target: &OMatrix<T, R, C>) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    pred.iter()
        .zip(target.iter())
        .fold(T::zero(), |s, (&p, &y)| s + (p - y) * (p - y))
}
