//! The layer contract: forward, forward for training, and a backward pass each layer derives
//! for itself.

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
    note = "a layer takes `Matrix<T, Const<WIDTH>, B, …>`: a column of WIDTH values per sample, with the layer's scalar type T; check the output width and scalar of the layer before it"
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
    note = "a network takes `Matrix<T, Const<WIDTH>, B, …>`: a column of WIDTH values per sample, with its scalar type T"
)]
pub trait InputOf<N>: Sized {
    /// `N`, seen as a layer of `Self`.
    type Net: Layer<Self, Out = Self::Out>;
    /// What `N` produces from `Self`.
    type Out;
    /// `net` as a layer of `Self` (the identity).
    fn net(net: &N) -> &Self::Net;
    /// `net` as a layer of `Self`, writable (the identity).
    fn net_mut(net: &mut N) -> &mut Self::Net;
}

impl<X, N: Layer<X>> InputOf<N> for X {
    type Net = N;
    type Out = N::Out;
    #[inline]
    fn net(net: &N) -> &N {
        net
    }
    #[inline]
    fn net_mut(net: &mut N) -> &mut N {
        net
    }
}
