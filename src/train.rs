//! Backpropagation through a whole network, and the training step.

use nalgebra::ComplexField;

use crate::{FusedSgd, InputOf, Layer, Loss, Network, Optimizer, Params, Sgd, TargetOf};

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

    /// One plain SGD step on `x` (a sample or a batch) against `y`, fused into backward: each
    /// layer takes its step as soon as it has used its weights, and no gradient is stored
    /// (see [`FusedSgd`]). Returns the loss *before* the step.
    ///
    /// For single samples and `Const<K>` batches the result is bit for bit that of
    /// [`train_step_with`](Train::train_step_with) with the same [`Sgd`]; for large `Dyn`
    /// batches it is the same step up to rounding. It is faster where the network is small
    /// (the W1 network: 1.8 → 1.3 µs a step).
    ///
    /// If the loss or its gradient with respect to the output is not finite, the network is
    /// left exactly as it was and the loss is returned. Unlike `train_step_with`, a gradient
    /// that overflows *inside* backward (finite loss, infinite weight gradient) is not caught
    /// before the layers after it have taken their steps: the gradient is never held whole.
    ///
    /// ```
    /// use typenet::prelude::*;
    /// let mut net = Dense::<2, 1, f64>::zeros();
    /// let (x, y) = (SVector::<f64, 2>::new(1.0, 2.0), SVector::<f64, 1>::new(3.0));
    /// let mut twin = net.clone();
    /// let sgd = Sgd::new(0.05);
    /// assert_eq!(net.sgd_step(&sgd, &Mse, &x, &y), 9.0);
    /// twin.train_step(&mut sgd.clone(), &Mse, &x, &y);
    /// assert_eq!(net, twin); // the same step, to the bit
    /// ```
    fn sgd_step<X, L, Y>(&mut self, sgd: &Sgd, loss: &L, x: &X, y: &Y) -> Y::Scalar
    where
        X: InputOf<Self> + Clone,
        X::Net: FusedSgd<X>,
        Y: TargetOf<L, X::Out>,
        X::Out: AsSlice<Y::Scalar>,
    {
        let net = X::net_mut(self);
        let (out, cache) = net.forward_train(x.clone());
        let (value, d_out) = Y::loss(loss).loss_and_gradient(out, y);
        if value.is_finite() && <Y::Scalar as crate::Float>::all_finite(d_out.as_slice()) {
            net.backward_sgd_params(cache, d_out, sgd);
        }
        value
    }
}

/// A value whose scalars are one contiguous slice: the outputs of networks (nalgebra's owned
/// matrices), for [`Train::sgd_step`]'s finiteness check.
pub trait AsSlice<T> {
    /// The values, in storage order.
    fn as_slice(&self) -> &[T];
}

impl<T: nalgebra::Scalar, R: nalgebra::Dim, C: nalgebra::Dim> AsSlice<T>
    for nalgebra::OMatrix<T, R, C>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    fn as_slice(&self) -> &[T] {
        nalgebra::Matrix::as_slice(self)
    }
}

impl<N: Network> Train for N {}
