//! Optimizers: how a network's parameters move, given their gradient.

mod sgd;

pub use sgd::Sgd;

use crate::Float;

/// An update rule. `N` is the network (and its gradient, which has the network's type), `T`
/// its scalar. State an optimizer keeps between steps (momentum, Adam's moments) is
/// network-shaped too, and walked with [`Params`](crate::Params) beside the network.
///
/// Implementations may assume the gradient is finite: the training steps of
/// [`Train`](crate::Train) never pass a non-finite one.
pub trait Optimizer<N, T: Float> {
    /// Moves `net` one step against `grad`.
    fn update(&mut self, net: &mut N, grad: &N);
}

/// Checks that a hyperparameter is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, crate::Error> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(crate::Error::InvalidHyperparameter {
            name,
            value,
            requirement: "finite and positive",
        })
    }
}
