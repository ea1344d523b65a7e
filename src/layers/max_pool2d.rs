//! Max pooling over square windows.

use nalgebra::DimName;

use crate::core::{Float, ImageBatch, ImageN, Layer, Slide};
use crate::kernels::conv::{self, Window};

/// Max pooling: each output is the largest value of a `K x K` window of its channel, the
/// windows `S` apart (default `K`: side by side). No padding; a partial window at the bottom or
/// right edge is dropped, as PyTorch's `nn.MaxPool2d(K, stride=S)` does by default. An image of
/// `H x W` comes out `(H − K) / S + 1` by `(W − K) / S + 1`, sizes computed in the types.
///
/// - Gradient: each output's gradient goes to the place of its window's maximum. Ties go to
///   the first of the equal values in row-major order (the top-left one), and a NaN in a window
///   is its maximum (the first NaN): what PyTorch does on the CPU.
///
/// ```
/// use typenet::prelude::*;
/// let x: Image<f32, 1, 4, 4> = Image::from_fn(|_, y, x| (4 * y + x) as f32);
/// let y = MaxPool2d::<2>.forward(&x);
/// assert_eq!(y.as_slice(), [5.0, 7.0, 13.0, 15.0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MaxPool2d<const K: usize, const S: usize = K>;

/// The window of a pool of `K` with stride `S` over an image of `H x W`.
pub(crate) fn pool_window<H: Slide<K, S, 0>, W: Slide<K, S, 0>, const K: usize, const S: usize>()
-> Window {
    Window {
        rows: H::DIM,
        cols: W::DIM,
        out_rows: <H::Out as DimName>::DIM,
        out_cols: <W::Out as DimName>::DIM,
        k: K,
        s: S,
        p: 0,
    }
}

impl<const K: usize, const S: usize, T, C, H, W, B> Layer<ImageN<T, C, H, W, B>> for MaxPool2d<K, S>
where
    T: Float,
    C: DimName,
    H: Slide<K, S, 0>,
    W: Slide<K, S, 0>,
    B: ImageBatch<T, C, H, W> + ImageBatch<T, C, H::Out, W::Out>,
{
    type Out = ImageN<T, C, H::Out, W::Out, B>;
    type Cache = ImageN<T, C, H, W, B>;

    fn forward(&self, x: &ImageN<T, C, H, W, B>) -> Self::Out {
        let g = pool_window::<H, W, K, S>();
        let mut y = Self::Out::zeros_batch(x.batch());
        conv::max_pool(&g, x.as_slice(), y.as_mut_slice());
        y
    }

    fn forward_train(&self, x: ImageN<T, C, H, W, B>) -> (Self::Out, Self::Cache) {
        (self.forward(&x), x)
    }

    fn backward(&self, x: Self::Cache, d_out: Self::Out, _: &mut Self) -> Self::Cache {
        let g = pool_window::<H, W, K, S>();
        let mut d_in = Self::Cache::zeros_batch(x.batch());
        conv::max_pool_backward(&g, x.as_slice(), d_out.as_slice(), d_in.as_mut_slice());
        d_in
    }

    crate::layers::elementwise::descends_without_parameters!(ImageN<T, C, H, W, B>);
}

crate::layers::elementwise::parameter_free_layer!(
    [const K: usize, const S: usize,] MaxPool2d<K, S>, "MaxPool2d<{K}, {S}>"
);
