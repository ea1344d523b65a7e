//! Losses: a scalar from a prediction and a target, and its gradient with respect to the
//! prediction.
//!
//! Every loss here is the **mean over the batch** of a per-sample loss: for a batch of `B`
//! columns, `L = (1/B) Σ_b ℓ(p_b, y_b)`, and the gradient returned is `dL/dP`, which already
//! carries the `1/B`. Layers therefore *sum* their parameter gradients over the batch.
//! An empty `Dyn` batch has no mean: its loss is NaN (0/0), which a training step refuses.

mod cross_entropy;
mod softmax_cross_entropy;
mod squared_error;

pub use cross_entropy::CrossEntropy;
pub use softmax_cross_entropy::SoftmaxCrossEntropy;
pub use squared_error::{HalfSse, Mse, Sse};

use crate::core::Float;

/// A loss comparing predictions `P` with targets `Y` (the same shape: `Y = P` by default).
///
/// A target whose width differs from the network's output is a compile error:
///
/// ```compile_fail,E0277
/// use typenet::prelude::*;
/// let _ = Mse.loss(&SVector::<f32, 2>::zeros(), &SVector::<f32, 3>::zeros());
/// // error[E0277]: shape mismatch: loss `Mse` cannot compare prediction `Matrix<f32, Const<2>, …>`
/// //               with target `Matrix<f32, Const<3>, …>`
/// ```
///
/// # Panics
///
/// Batches of any size (`Dyn`) carry their number of columns at run time. Every loss of
/// typenet's, in every method, panics when the prediction and the target have different
/// numbers of columns, with the message `batch width mismatch: the prediction has P columns
/// and the target T; a batch's inputs and targets must have as many` (a loss of a batch
/// against the targets of another would train on a wrong gradient).
///
/// ```should_panic
/// use typenet::prelude::*;
/// let pred = OMatrix::<f32, Const<2>, Dyn>::zeros(8);
/// let target = OMatrix::<f32, Const<2>, Dyn>::zeros(7);
/// let _ = Mse.loss(&pred, &target); // batch width mismatch: … 8 columns and the target 7 …
/// ```
#[diagnostic::on_unimplemented(
    message = "shape mismatch: loss `{Self}` cannot compare prediction `{P}` with target `{Y}`",
    label = "the target does not have the shape of the prediction",
    note = "a loss takes a target of exactly the network's output shape and scalar type"
)]
pub trait Loss<P, Y = P> {
    /// The scalar type the loss is computed in (that of the prediction).
    type Scalar: Float;

    /// The loss, averaged over the batch.
    fn loss(&self, pred: &P, target: &Y) -> Self::Scalar;

    /// The loss and its gradient with respect to the prediction. Consumes the prediction to
    /// write the gradient into its storage.
    fn loss_and_gradient(&self, pred: P, target: &Y) -> (Self::Scalar, P);
}

/// `1 / number of columns`, the batch-mean factor.
fn inv_batch<T: Float>(columns: usize) -> T {
    T::one() / T::of_f64(columns as f64)
}

/// Panics with the documented message (see [`Loss`]) unless the prediction and the target
/// have as many columns.
#[track_caller]
#[inline]
fn same_batch(pred_columns: usize, target_columns: usize) {
    assert!(
        pred_columns == target_columns,
        "batch width mismatch: the prediction has {pred_columns} columns and the target \
         {target_columns}; a batch's inputs and targets must have as many"
    );
}

/// "`Self` is a target that loss `L` can compare with prediction `P`": the [`Loss`] relation
/// seen from the target's side, implemented whenever `L: Loss<P, Self>`.
///
/// Like [`InputOf`](crate::InputOf), it exists for its error message: methods that take a
/// target bound it with `Y: TargetOf<L, P>`, so that a target of the wrong width is reported as
/// `shape mismatch` naming the loss, not as "mismatched types".
#[diagnostic::on_unimplemented(
    message = "shape mismatch: loss `{L}` cannot compare prediction `{P}` with target `{Self}`",
    label = "the target does not have the shape of the network's output",
    note = "a loss takes a target of exactly the network's output shape and scalar type"
)]
pub trait TargetOf<L, P>: Sized {
    /// The scalar the loss is computed in.
    type Scalar: Float;
    /// `L`, seen as a loss of `P` against `Self`.
    type Loss: Loss<P, Self, Scalar = Self::Scalar>;
    /// `loss` as a loss of `P` against `Self` (the identity).
    fn loss(loss: &L) -> &Self::Loss;
}

impl<Y, P, L: Loss<P, Y>> TargetOf<L, P> for Y {
    type Scalar = L::Scalar;
    type Loss = L;
    #[inline]
    fn loss(loss: &L) -> &L {
        loss
    }
}
