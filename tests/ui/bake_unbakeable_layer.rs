// Baking a network with a layer that does not implement `Bake` is a compile error naming it.
use nalgebra::{DefaultAllocator, Dim, OMatrix, allocator::Allocator};
use typenet::prelude::*;
use typenet::{Tensor, TensorMut};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Negate;

impl<T: Float, R: Dim, B: Dim> Layer<OMatrix<T, R, B>> for Negate
where
    DefaultAllocator: Allocator<R, B>,
{
    type Out = OMatrix<T, R, B>;
    type Cache = ();
    fn forward(&self, x: &Self::Out) -> Self::Out {
        -x
    }
    fn forward_train(&self, x: Self::Out) -> (Self::Out, ()) {
        (-x, ())
    }
    fn backward(&self, _: (), d: Self::Out, _: &mut Self) -> Self::Out {
        -d
    }
}

impl<T: Float> Params<T> for Negate {
    const LAYERS: usize = 1;
    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        core::iter::empty()
    }
    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        core::iter::empty()
    }
}

fn main() {
    let net = <net![Dense<2, 3>, Negate, Dense<3, 1>]>::zeros();
    let _ = typenet::bake::to_rust_module(&net, "net");
}
