//! `Chain<A, B>`: two layers in sequence, the building block of every network.

use core::mem::MaybeUninit;

use super::{Descent, FirstLayer, Float, Layer, Network, Params, Tensor, TensorMut, TrainContext};

/// Layer `head` followed by `tail`: a layer of `In` whenever `head` is a layer of `In` and
/// `tail` is a layer of `head`'s output. Chains nest (`tail` is usually another chain, and so
/// can `head` be), so a network of any depth is one `Chain` type, written with [`net!`].
///
/// If one layer cannot take what the previous one gives, the chain is not a layer of anything,
/// and using it is a compile error that names the layer (see `docs/shape-errors.md`).
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Encoder = net![Dense<8, 4>, Tanh];
/// type Decoder = net![Dense<4, 8>, Sigmoid];
/// type AutoEncoder = net![Encoder, Decoder]; // a chain of chains
/// let net = AutoEncoder::random(&mut StdRng::seed_from_u64(1));
/// let y = net.forward(&SVector::<f32, 8>::repeat(0.5));
/// assert_eq!(y.len(), 8);
/// ```
///
/// [`net!`]: crate::net
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Chain<A, B> {
    /// The first layer.
    pub head: A,
    /// Everything after it.
    pub tail: B,
}

impl<A, B> Chain<A, B> {
    /// `head` followed by `tail`.
    pub const fn new(head: A, tail: B) -> Self {
        Chain { head, tail }
    }
}

super::network::network_inherent_methods!([A, B] Chain<A, B>);

// SAFETY: a `Chain` is a plain struct of its two fields, and both are `Zeroable`, so the
// all-zero bit pattern is a valid value of each field and hence of the struct.
unsafe impl<A: bytemuck::Zeroable, B: bytemuck::Zeroable> bytemuck::Zeroable for Chain<A, B> {}

impl<In, A, B> Layer<In> for Chain<A, B>
where
    A: Layer<In>,
    B: Layer<A::Out>,
{
    type Out = B::Out;
    type Cache = (A::Cache, B::Cache);

    fn forward(&self, x: &In) -> Self::Out {
        self.tail.forward(&self.head.forward(x))
    }

    fn forward_train(&self, x: In) -> (Self::Out, Self::Cache) {
        let (mid, head_cache) = self.head.forward_train(x);
        let (out, tail_cache) = self.tail.forward_train(mid);
        (out, (head_cache, tail_cache))
    }

    fn forward_train_in(&self, x: In, ctx: &mut TrainContext) -> (Self::Out, Self::Cache) {
        let (mid, head_cache) = self.head.forward_train_in(x, ctx);
        let (out, tail_cache) = self.tail.forward_train_in(mid, ctx);
        (out, (head_cache, tail_cache))
    }

    fn backward(&self, cache: Self::Cache, d_out: Self::Out, grad: &mut Self) -> In {
        let d_mid = self.tail.backward(cache.1, d_out, &mut grad.tail);
        self.head.backward(cache.0, d_mid, &mut grad.head)
    }

    fn backward_params(&self, cache: Self::Cache, d_out: Self::Out, grad: &mut Self) {
        let d_mid = self.tail.backward(cache.1, d_out, &mut grad.tail);
        self.head.backward_params(cache.0, d_mid, &mut grad.head);
    }

    const DESCENDS: bool = A::DESCENDS && B::DESCENDS;

    fn backward_descend<S: Float>(
        &mut self,
        cache: Self::Cache,
        d_out: Self::Out,
        step: Descent<S>,
    ) -> In {
        let d_mid = self.tail.backward_descend(cache.1, d_out, step);
        self.head.backward_descend(cache.0, d_mid, step)
    }

    fn backward_descend_params<S: Float>(
        &mut self,
        cache: Self::Cache,
        d_out: Self::Out,
        step: Descent<S>,
    ) {
        let d_mid = self.tail.backward_descend(cache.1, d_out, step);
        self.head.backward_descend_params(cache.0, d_mid, step);
    }
}

impl<T: Float, A: Params<T>, B: Params<T>> Params<T> for Chain<A, B> {
    const LAYERS: usize = A::LAYERS + B::LAYERS;

    fn write_signature(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        A::write_signature(out)?;
        out.write_str(", ")?;
        B::write_signature(out)
    }

    fn zeroed_in(slot: &mut MaybeUninit<Self>) -> &mut Self {
        let chain = slot.as_mut_ptr();
        // SAFETY: `chain` points to the (uninitialised) `Chain` in `slot`, which we borrow
        // mutably. `&raw mut (*chain).head` only computes a field's address (no read, no
        // reference to uninitialised memory), and a `MaybeUninit<A>` has the size, alignment and
        // validity of any bytes of an `A`, so each field is a valid, exclusive
        // `&mut MaybeUninit` for as long as `slot` is borrowed, and the two do not overlap.
        let (head, tail) = unsafe {
            (
                &mut *(&raw mut (*chain).head).cast::<MaybeUninit<A>>(),
                &mut *(&raw mut (*chain).tail).cast::<MaybeUninit<B>>(),
            )
        };
        A::zeroed_in(head);
        B::zeroed_in(tail);
        // SAFETY: both fields were just initialised (`zeroed_in` returns only after writing its
        // slot), and a struct whose fields are initialised is initialised (padding needs no
        // value). Exercised by every training step of every chain
        // (`tests/spec/footprint.rs` measures that no second gradient is built).
        unsafe { slot.assume_init_mut() }
    }

    fn fill(&mut self, value: T) {
        self.head.fill(value);
        self.tail.fill(value);
    }

    fn all_finite(&self) -> bool {
        // `&`, not `&&`: no branch per layer
        self.head.all_finite() & self.tail.all_finite()
    }

    fn buffers(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        self.head
            .buffers()
            .chain(self.tail.buffers().map(|t| Tensor {
                info: t.info.shifted(A::LAYERS),
                data: t.data,
            }))
    }

    fn buffers_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        self.head
            .buffers_mut()
            .chain(self.tail.buffers_mut().map(|t| TensorMut {
                info: t.info.shifted(A::LAYERS),
                data: t.data,
            }))
    }

    fn zip_params_mut<const K: usize, F>(&mut self, grad: &Self, state: [&mut Self; K], f: &mut F)
    where
        F: FnMut(&mut [T], &[T], [&mut [T]; K]),
    {
        let mut halves = state.map(|s| (Some(&mut s.head), Some(&mut s.tail)));
        let heads = core::array::from_fn(|i| halves[i].0.take().expect("taken once"));
        let tails = core::array::from_fn(|i| halves[i].1.take().expect("taken once"));
        self.head.zip_params_mut(&grad.head, heads, f);
        self.tail.zip_params_mut(&grad.tail, tails, f);
    }

    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        self.head
            .tensors()
            .chain(self.tail.tensors().map(|t| Tensor {
                info: t.info.shifted(A::LAYERS),
                data: t.data,
            }))
    }

    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        self.head
            .tensors_mut()
            .chain(self.tail.tensors_mut().map(|t| TensorMut {
                info: t.info.shifted(A::LAYERS),
                data: t.data,
            }))
    }
}

impl<A: FirstLayer<B>, B> Network for Chain<A, B> {
    type Scalar = A::Scalar;
    type InputDim = A::InputDim;
    type Input = A::Input;
}

impl<A: FirstLayer<Chain<B, Rest>>, B, Rest> FirstLayer<Rest> for Chain<A, B> {
    type Scalar = A::Scalar;
    type InputDim = A::InputDim;
    type Input = A::Input;
}

super::params::approx_via_params!(
    [A, B] Chain<A, B>, <Self as Network>::Scalar,
    where Self: Network + Params<<Self as Network>::Scalar> + PartialEq
);
