//! The layer contract: forward, forward for training, and a backward pass each layer derives
//! for itself.

use super::{Descent, Float, TrainContext};

/// A layer (or a whole network) that takes values of type `In`.
///
/// `In` is a nalgebra matrix `OMatrix<T, Const<N>, B>` with one column per sample: `B = U1` for
/// a single sample (everything on the stack), `B = Const<K>` for a fixed mini-batch (still on the
/// stack) and `B = Dyn` for a mini-batch of any size (on the heap). One implementation serves all
/// three.
///
/// The gradient of a layer has the layer's own type: for [`Dense`](crate::Dense) the same two
/// matrices, for parameter-free layers the zero-sized layer itself. `backward` *adds*
/// dL/dparams into such a value, so gradients of several samples can be accumulated.
///
/// A layer implements this trait and [`Params`](crate::Params) (its parameters, for the
/// optimizers, model files, the PyTorch import and the checker), and nothing else is needed for
/// it to train, load, save and be checked; see `docs/layer-contract.md`.
///
/// A layer that cannot take `In` is a compile error, and the error says so:
///
/// ```compile_fail,E0277
/// use typenet::prelude::*;
/// let net = <net![Dense<3, 4>, Sigmoid, Dense<5, 2>]>::zeros();
/// // error[E0277]: shape mismatch: `Dense<5, 2>` cannot take `Matrix<f32, Const<4>, …>` as input
/// ```
///
/// See `docs/layer-contract.md` for how to write a layer of your own.
#[diagnostic::on_unimplemented(
    message = "shape mismatch: `{Self}` cannot take `{In}` as input",
    label = "`{Self}` cannot take this input",
    note = "a layer takes `Matrix<T, Const<WIDTH>, B, …>` (a column of WIDTH values per sample) or `ImageN<T, Const<C>, Const<H>, Const<W>, B>` (images of C channels), with the layer's scalar type T; check the output of the layer before it"
)]
pub trait Layer<In> {
    /// What the layer produces: the same batch dimension as `In`, its own width.
    type Out;
    /// What `forward_train` keeps for `backward` (the input, the output, or nothing).
    type Cache;

    /// The forward pass, for inference.
    fn forward(&self, x: &In) -> Self::Out;

    /// The forward pass for training: also returns what `backward` needs. Takes the input by
    /// value so that a layer that keeps its input (as `Dense` does) need not copy it.
    fn forward_train(&self, x: In) -> (Self::Out, Self::Cache);

    /// The forward pass for training, handed the step's [`TrainContext`]: what the training
    /// steps and the checker call. A layer that behaves differently in training and needs the
    /// context (dropout draws its mask from it) overrides this; the default ignores the context
    /// and calls [`forward_train`](Layer::forward_train), so layers written before the context
    /// existed need no change. [`Chain`](crate::Chain) hands the context to both its parts.
    #[inline]
    fn forward_train_in(&self, x: In, ctx: &mut TrainContext) -> (Self::Out, Self::Cache) {
        let _ = ctx;
        self.forward_train(x)
    }

    /// The backward pass: given the cache of `forward_train` and dL/dOut, adds dL/dparams into
    /// `grad` and returns dL/dIn.
    fn backward(&self, cache: Self::Cache, d_out: Self::Out, grad: &mut Self) -> In
    where
        Self: Sized;

    /// Like [`backward`](Layer::backward) but without computing dL/dIn, for the first layer of a
    /// network, where nobody needs it. `Dense` saves a third of its backward work this way.
    fn backward_params(&self, cache: Self::Cache, d_out: Self::Out, grad: &mut Self)
    where
        Self: Sized,
    {
        let _ = self.backward(cache, d_out, grad);
    }

    /// Whether the layer overrides [`backward_descend`](Layer::backward_descend): takes its
    /// gradient-descent step inside its backward pass, with no gradient buffer.
    /// [`Train::sgd_step`](crate::Train::sgd_step) fuses the step into backward when every
    /// layer of the network does; otherwise it takes the same step through a gradient buffer.
    /// `false` unless a layer says otherwise; a chain's is whether both its parts do.
    const DESCENDS: bool = false;

    /// The backward pass, taking the step `θ ← θ - lr (∂L/∂θ + wd θ)` of `step` on the layer's
    /// own parameters as it goes (see [`Descent`]). Returns dL/dIn, computed with the
    /// parameters as they were before the step. The result must be the same, to the bit, as
    /// `backward` into a zero gradient followed by [`Descent::apply`] on every parameter tensor.
    ///
    /// # Panics
    ///
    /// The default panics with `Layer::backward_descend called on a layer whose DESCENDS is
    /// false`: it exists for layers that set [`DESCENDS`](Layer::DESCENDS), and typenet calls
    /// it on no other.
    fn backward_descend<S: Float>(
        &mut self,
        cache: Self::Cache,
        d_out: Self::Out,
        step: Descent<S>,
    ) -> In
    where
        Self: Sized,
    {
        let _ = (cache, d_out, step);
        panic!("Layer::backward_descend called on a layer whose DESCENDS is false")
    }

    /// [`backward_descend`](Layer::backward_descend) without dL/dIn, for the first layer of a
    /// network.
    fn backward_descend_params<S: Float>(
        &mut self,
        cache: Self::Cache,
        d_out: Self::Out,
        step: Descent<S>,
    ) where
        Self: Sized,
    {
        let _ = self.backward_descend(cache, d_out, step);
    }
}

/// "`Self` is an input that network `N` can take": the [`Layer`] relation seen from the input's
/// side, implemented for every `X` and `N` with `N: Layer<X>`.
///
/// Methods that take an input of any type `X` (`forward`, `train_step`, `gradcheck`) bound it
/// by `X: InputOf<N>` rather than by `N: Layer<X>`. The difference is only in the error a
/// mismatch produces: the compiler then learns `X` from the argument before it checks the
/// bound, and reports `shape mismatch` naming the layer, where a bound on `N` lets it guess `X`
/// from the first layer and report a bare "mismatched types" instead.
#[diagnostic::on_unimplemented(
    message = "shape mismatch: `{N}` cannot take `{Self}` as input",
    label = "`{N}` cannot take this input",
    note = "a network takes `Matrix<T, Const<WIDTH>, B, …>` (a column of WIDTH values per sample) or `ImageN<T, Const<C>, Const<H>, Const<W>, B>` (images of C channels), with its scalar type T"
)]
pub trait InputOf<N>: Sized {
    /// `N`, seen as a layer of `Self` (it is `N`).
    type Net: Layer<Self, Out = Self::Out>;
    /// What `N` produces from `Self`.
    type Out;
    /// `net`, seen as a layer of `Self`: the identity, which tells the compiler what
    /// `N: Layer<Self>` it is.
    fn as_layer(net: &N) -> &Self::Net;
    /// [`as_layer`](InputOf::as_layer), writable.
    fn as_layer_mut(net: &mut N) -> &mut Self::Net;
    /// The former name of [`as_layer`](InputOf::as_layer).
    #[deprecated(note = "renamed `as_layer`")]
    fn net(net: &N) -> &Self::Net {
        Self::as_layer(net)
    }
    /// The former name of [`as_layer_mut`](InputOf::as_layer_mut).
    #[deprecated(note = "renamed `as_layer_mut`")]
    fn net_mut(net: &mut N) -> &mut Self::Net {
        Self::as_layer_mut(net)
    }
}

impl<X, N: Layer<X>> InputOf<N> for X {
    type Net = N;
    type Out = N::Out;
    #[inline]
    fn as_layer(net: &N) -> &N {
        net
    }
    #[inline]
    fn as_layer_mut(net: &mut N) -> &mut N {
        net
    }
}
