//! `Chain<A, B>`: two layers in sequence, the building block of every network.

use crate::{Float, Layer, Leads, Network, Params, Tensor, TensorMut};

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

crate::network::network_inherent_methods!([A, B] Chain<A, B>);

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

    fn backward(&self, cache: Self::Cache, d_out: Self::Out, grad: &mut Self) -> In {
        let d_mid = self.tail.backward(cache.1, d_out, &mut grad.tail);
        self.head.backward(cache.0, d_mid, &mut grad.head)
    }

    fn backward_params(&self, cache: Self::Cache, d_out: Self::Out, grad: &mut Self) {
        let d_mid = self.tail.backward(cache.1, d_out, &mut grad.tail);
        self.head.backward_params(cache.0, d_mid, &mut grad.head);
    }
}

impl<T: Float, A: Params<T>, B: Params<T>> Params<T> for Chain<A, B> {
    const LAYERS: usize = A::LAYERS + B::LAYERS;

    fn write_signature(out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        A::write_signature(out)?;
        out.write_str(", ")?;
        B::write_signature(out)
    }

    fn write_rust_value(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        out.write_str("::typenet::Chain::new(\n")?;
        self.head.write_rust_value(out)?;
        out.write_str(",\n")?;
        self.tail.write_rust_value(out)?;
        out.write_str(",\n)")
    }

    fn fill(&mut self, value: T) {
        self.head.fill(value);
        self.tail.fill(value);
    }

    fn all_finite(&self) -> bool {
        // `&`, not `&&`: no branch per layer
        self.head.all_finite() & self.tail.all_finite()
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

impl<A: Leads<B>, B> Network for Chain<A, B> {
    type Scalar = A::Scalar;
    type InputDim = A::InputDim;
    type Input = A::Input;
}

impl<A: Leads<Chain<B, Rest>>, B, Rest> Leads<Rest> for Chain<A, B> {
    type Scalar = A::Scalar;
    type InputDim = A::InputDim;
    type Input = A::Input;
}
