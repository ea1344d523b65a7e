//! Backpropagation through a whole network, and the training step.

use core::mem::MaybeUninit;

use nalgebra::ComplexField;

use crate::core::{Float, InputOf, Layer, Network, Params, TrainContext};
use crate::loss::{Loss, TargetOf};
use crate::optim::{Optimizer, Sgd};

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
    ///
    /// The training forward pass gets a new [`TrainContext::next`]; see
    /// [`accumulate_gradient_in`](Train::accumulate_gradient_in) to hand it one.
    fn accumulate_gradient<X, L, Y>(&self, loss: &L, x: &X, y: &Y, grad: &mut Self) -> Y::Scalar
    where
        X: InputOf<Self> + Clone,
        Y: TargetOf<L, X::Out>,
    {
        self.accumulate_gradient_in(&mut TrainContext::next(), loss, x, y, grad)
    }

    /// [`accumulate_gradient`](Train::accumulate_gradient) with the training context `ctx`
    /// (the random numbers of dropout masks).
    fn accumulate_gradient_in<X, L, Y>(
        &self,
        ctx: &mut TrainContext,
        loss: &L,
        x: &X,
        y: &Y,
        grad: &mut Self,
    ) -> Y::Scalar
    where
        X: InputOf<Self> + Clone,
        Y: TargetOf<L, X::Out>,
    {
        let net = X::as_layer(self);
        let (out, cache) = net.forward_train_in(x.clone(), ctx);
        let (value, d_out) = Y::loss(loss).loss_and_gradient(out, y);
        net.backward_params(cache, d_out, X::as_layer_mut(grad));
        value
    }

    /// One step of training on `x` (a sample or a batch) against `y`: computes the gradient
    /// of `loss` and lets `opt` update the network. Returns the loss *before* the step.
    ///
    /// If the loss or any gradient is not finite (NaN or infinite), the network is left
    /// exactly as it was and the non-finite loss is returned, so the caller can see it.
    ///
    /// # Panics
    ///
    /// Before it computes anything, with the message of [`Optimizer::check`]'s error, if a
    /// hyperparameter of `opt` is not valid in the network's scalar (`invalid learning rate
    /// 1e39: must be finite and positive in f32, …`).
    ///
    /// The gradient is a network-sized value on the stack, built there in place
    /// ([`Params::zeroed_in`]), once; for networks too large for the stack, keep one on the
    /// heap and call [`train_step_with`](Train::train_step_with).
    fn train_step<X, L, Y, O>(&mut self, opt: &mut O, loss: &L, x: &X, y: &Y) -> Y::Scalar
    where
        X: InputOf<Self> + Clone,
        Y: TargetOf<L, X::Out>,
        O: Optimizer<Self, Y::Scalar>,
        Self: Params<Y::Scalar>,
    {
        self.train_step_in(&mut TrainContext::next(), opt, loss, x, y)
    }

    /// [`train_step`](Train::train_step) with the training context `ctx`: the random numbers
    /// of dropout masks, for steps that are the same run after run whatever else the program
    /// does (`TrainContext::seeded`).
    fn train_step_in<X, L, Y, O>(
        &mut self,
        ctx: &mut TrainContext,
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
        let mut slot = MaybeUninit::uninit();
        let grad = BuiltInPlace(Self::zeroed_in(&mut slot));
        step_from_zero(ctx, self, grad.0, opt, loss, x, y)
    }

    /// [`train_step`](Train::train_step) with a caller-provided gradient buffer (of the
    /// network's own type), which it zeroes first. Afterwards `grad` holds the step's
    /// gradient. It panics as `train_step` does, for a hyperparameter of `opt` that is not valid
    /// in the network's scalar.
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
        step_from_zero(&mut TrainContext::next(), self, grad, opt, loss, x, y)
    }

    /// One plain SGD step on `x` (a sample or a batch) against `y`, fused into backward where
    /// every layer can take its step in its backward pass ([`Layer::DESCENDS`], true of
    /// typenet's own layers): each layer takes its step as soon as it has used its weights, and
    /// no gradient is stored. A network with a layer that cannot takes the same step as
    /// [`train_step`](Train::train_step) with `sgd` instead. Returns the loss *before* the
    /// step.
    ///
    /// For single samples and `Const<K>` batches the result is bit for bit that of
    /// [`train_step_with`](Train::train_step_with) with the same [`Sgd`]; for large `Dyn`
    /// batches it is the same step up to rounding. It is faster where the network is small
    /// (`docs/performance.md`).
    ///
    /// If the loss or its gradient with respect to the output is not finite, the network is
    /// left exactly as it was and the loss is returned. Unlike `train_step_with`, a fused step
    /// does not catch a gradient that overflows *inside* backward (finite loss, infinite weight
    /// gradient) before the layers after it have taken their steps: the gradient is never held
    /// whole. It panics as `train_step` does, before it computes anything, for a learning rate
    /// or weight decay that is not valid in the network's scalar.
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
        Y: TargetOf<L, X::Out>,
        X::Out: AsSlice<Y::Scalar>,
        Self: Params<Y::Scalar>,
    {
        if !<X::Net as Layer<X>>::DESCENDS {
            return self.train_step(&mut sgd.clone(), loss, x, y);
        }
        crate::optim::ensure_valid::<Self, Y::Scalar, _>(sgd);
        let net = X::as_layer_mut(self);
        let (out, cache) = net.forward_train_in(x.clone(), &mut TrainContext::next());
        let (value, d_out) = Y::loss(loss).loss_and_gradient(out, y);
        if value.is_finite() && Y::Scalar::all_finite(d_out.as_slice()) {
            net.backward_descend_params(cache, d_out, sgd.descent::<Y::Scalar>());
        }
        value
    }
}

/// The step of `train_step` and `train_step_with` once `grad` is zero: accumulate, check, update.
fn step_from_zero<N, X, L, Y, O>(
    ctx: &mut TrainContext,
    net: &mut N,
    grad: &mut N,
    opt: &mut O,
    loss: &L,
    x: &X,
    y: &Y,
) -> Y::Scalar
where
    N: Train + Params<Y::Scalar>,
    X: InputOf<N> + Clone,
    Y: TargetOf<L, X::Out>,
    O: Optimizer<N, Y::Scalar>,
{
    crate::optim::ensure_valid(opt);
    let value = net.accumulate_gradient_in(ctx, loss, x, y, grad);
    if value.is_finite() && grad.all_finite() {
        opt.update(net, grad);
        net.take_buffers(grad);
    }
    value
}

/// A value built in a `MaybeUninit` slot (by [`Params::zeroed_in`]), dropped when this is: the
/// slot itself never drops what it holds.
struct BuiltInPlace<'a, N>(&'a mut N);

impl<N> Drop for BuiltInPlace<'_, N> {
    fn drop(&mut self) {
        // SAFETY: `self.0` is the value `zeroed_in` initialised in a `MaybeUninit` slot that
        // outlives this guard and never drops its contents; this is the only drop of it, and
        // nothing reads the slot afterwards. (A gradient of typenet's own layers has no drop
        // glue; a user's layer may hold a `Vec`, which this frees.)
        unsafe { core::ptr::drop_in_place(self.0) }
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
