//! Average pooling over square windows.

use nalgebra::DimName;

use super::max_pool2d::pool_window;
use crate::core::{Float, ImageBatch, ImageN, Layer, Slide};
use crate::kernels::conv;

/// Average pooling: each output is the mean of a `K x K` window of its channel, the windows
/// `S` apart (default `K`). No padding; a partial window at the edge is dropped, as PyTorch's
/// `nn.AvgPool2d(K, stride=S)` does by default. Sizes as [`MaxPool2d`](crate::MaxPool2d)'s.
///
/// ```
/// use typenet::prelude::*;
/// let x: Image<f32, 1, 2, 4> = Image::from_fn(|_, y, x| (4 * y + x) as f32);
/// assert_eq!(AvgPool2d::<2>.forward(&x).as_slice(), [2.5, 4.5]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AvgPool2d<const K: usize, const S: usize = K>;

impl<const K: usize, const S: usize, T, C, H, W, B> Layer<ImageN<T, C, H, W, B>> for AvgPool2d<K, S>
where
    T: Float,
    C: DimName,
    H: Slide<K, S, 0>,
    W: Slide<K, S, 0>,
    B: ImageBatch<T, C, H, W> + ImageBatch<T, C, H::Out, W::Out>,
{
    type Out = ImageN<T, C, H::Out, W::Out, B>;
    /// Nothing: the gradient of a mean does not depend on the values.
    type Cache = B;

    fn forward(&self, x: &ImageN<T, C, H, W, B>) -> Self::Out {
        let g = pool_window::<H, W, K, S>();
        let scale = T::one() / T::of_f64((K * K) as f64);
        let mut y = Self::Out::zeros_batch(x.batch());
        conv::for_each_window(&g, x.as_slice(), y.as_mut_slice(), |plane, out, r, c| {
            *out = conv::window_sum(&g, plane, r, c) * scale;
        });
        y
    }

    fn forward_train(&self, x: ImageN<T, C, H, W, B>) -> (Self::Out, Self::Cache) {
        (self.forward(&x), x.batch())
    }

    fn backward(&self, batch: B, d_out: Self::Out, _: &mut Self) -> ImageN<T, C, H, W, B> {
        let g = pool_window::<H, W, K, S>();
        let scale = T::one() / T::of_f64((K * K) as f64);
        let mut d_in = ImageN::<T, C, H, W, B>::zeros_batch(batch);
        let (plane_in, plane_out) = (g.rows * g.cols, g.out_rows * g.out_cols);
        let planes = d_out
            .as_slice()
            .chunks_exact(plane_out)
            .zip(d_in.as_mut_slice().chunks_exact_mut(plane_in));
        for (d_plane, d_in_plane) in planes {
            for (y, row) in d_plane.chunks_exact(g.out_cols).enumerate() {
                for (x, &d) in row.iter().enumerate() {
                    let d = d * scale;
                    for ky in 0..K {
                        let start = g.input_of(y, ky) * g.cols + g.input_of(x, 0);
                        d_in_plane[start..start + K]
                            .iter_mut()
                            .for_each(|v| *v += d);
                    }
                }
            }
        }
        d_in
    }

    crate::layers::elementwise::descends_without_parameters!(ImageN<T, C, H, W, B>);
}

crate::layers::elementwise::parameter_free_layer!(
    [const K: usize, const S: usize,] AvgPool2d<K, S>, "AvgPool2d<{K}, {S}>"
);
