//! Backpropagation through a whole network, and the training step.

use nalgebra::ComplexField;

use crate::{InputOf, Layer, Loss, Network, Optimizer, Params, TargetOf};

/// Gradients and training steps, implemented for every [`Network`] and usable whenever the
/// input fits the network ([`InputOf`]) and the target fits the loss ([`TargetOf`]). Brought
/// into scope by the prelude.
///
/// ```
/// use typenet::prelude::*;
/// let mut net = Dense::<2, 1, f64>::zeros();
/// let x = SVector::<f64, 2>::new(1.0, 2.0);
/// let y = SVector::<f64, 1>::new(3.0);
/// let mut opt = Sgd::new(0.05);
/// let first = net.train_step(&mut opt, &Mse, &x, &y); // the loss before the step
/// assert_eq!(first, 9.0);
/// for _ in 0..100 {
///     net.train_step(&mut opt, &Mse, &x, &y);
/// }
/// assert!((net.forward(&x)[0] - 3.0).abs() < 1e-6);
/// ```
pub trait Train: Sized {
    /// Runs the network forward on `x` (a sample or a batch), and backward from `loss` against
    /// target `y`, *adding* dL/dparams into `grad`. Returns the loss. dL/dX is not computed.
    fn accumulate_gradient<X, L, Y>(&self, loss: &L, x: &X, y: &Y, grad: &mut Self) -> Y::Scalar
    where
        X: InputOf<Self> + Clone,
        Y: TargetOf<L, X::Out>,
    {
        let net = X::net(self);
        let (out, cache) = net.forward_train(x.clone());
        let (value, d_out) = Y::loss(loss).loss_and_gradient(out, y);
        net.backward_params(cache, d_out, X::net_mut(grad));
        value
    }

    /// One step of training on `x` (a sample or a batch) against `y`: computes the gradient
    /// of `loss` and lets `opt` update the network. Returns the loss *before* the step.
    ///
    /// If the loss or any gradient is not finite (NaN or infinite), the network is left
    /// exactly as it was and the non-finite loss is returned, so the caller can see it.
    ///
    /// The gradient is a network-sized value on the stack; for networks too large for that,
    /// keep one on the heap and call [`train_step_with`](Train::train_step_with).
    fn train_step<X, L, Y, O>(&mut self, opt: &mut O, loss: &L, x: &X, y: &Y) -> Y::Scalar
    where
        X: InputOf<Self> + Clone,
        Y: TargetOf<L, X::Out>,
        O: Optimizer<Self, Y::Scalar>,
        Self: Params<Y::Scalar> + Default,
    {
        let mut grad = Self::default();
        self.train_step_with(&mut grad, opt, loss, x, y)
    }

    /// [`train_step`](Train::train_step) with a caller-provided gradient buffer (of the
    /// network's own type), which it zeroes first. Afterwards `grad` holds the step's
    /// gradient.
    fn train_step_with<X, L, Y, O>(
        &mut self,
        grad: &mut Self,
        opt: &mut O,
        loss: &L,
        x: &X,
        y: &Y,
    ) -> Y::Scalar
    where
        X: InputOf<Self> + Clone,
        Y: TargetOf<L, X::Out>,
        O: Optimizer<Self, Y::Scalar>,
        Self: Params<Y::Scalar>,
    {
        grad.set_zero();
        let value = self.accumulate_gradient(loss, x, y, grad);
        if value.is_finite() && grad.all_finite() {
            opt.update(self, grad);
        }
        value
    }
}

impl<N: Network> Train for N {}
