//! Flattening images into columns.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, DimName, OMatrix};

use crate::core::{FlatWidth, Float, ImageBatch, ImageN, Layer, Volume};

/// Images of `C x H x W` to columns of `C · H · W` values, in channel-row-column order (each
/// image's values as they are stored, PyTorch's `nn.Flatten()` on NCHW): the bridge from
/// convolutions to [`Dense`](crate::Dense) layers, whose weights exported from PyTorch then
/// line up. The width is computed in the types, up to 8192 ([`FlatWidth`]); a `Dense` of
/// another width after it is a compile error naming both (`docs/shape-errors.md`).
///
/// ```
/// use typenet::prelude::*;
/// let x: Image<f32, 2, 2, 2> = Image::from_fn(|c, y, x| (4 * c + 2 * y + x) as f32);
/// let column: SVector<f32, 8> = Flatten.forward(&x);
/// assert_eq!(column.as_slice(), x.as_slice());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flatten;

/// The width of a flattened image of `C x H x W`.
type FlatDim<C, H, W> = <<(C, H, W) as Volume>::Len as FlatWidth>::Const;

impl<T, C, H, W, B> Layer<ImageN<T, C, H, W, B>> for Flatten
where
    T: Float,
    C: DimName,
    H: DimName,
    W: DimName,
    B: ImageBatch<T, C, H, W>,
    (C, H, W): Volume,
    <(C, H, W) as Volume>::Len: FlatWidth,
    DefaultAllocator: Allocator<FlatDim<C, H, W>, B>,
{
    type Out = OMatrix<T, FlatDim<C, H, W>, B>;
    /// The batch dimension, to rebuild the images' shape.
    type Cache = B;

    fn forward(&self, x: &ImageN<T, C, H, W, B>) -> Self::Out {
        OMatrix::from_column_slice_generic(FlatDim::<C, H, W>::name(), x.batch(), x.as_slice())
    }

    fn forward_train(&self, x: ImageN<T, C, H, W, B>) -> (Self::Out, Self::Cache) {
        (self.forward(&x), x.batch())
    }

    fn backward(&self, batch: B, d_out: Self::Out, _: &mut Self) -> ImageN<T, C, H, W, B> {
        ImageN::from_slice_batch(batch, d_out.as_slice())
    }

    crate::layers::elementwise::descends_without_parameters!(ImageN<T, C, H, W, B>);
}

crate::layers::elementwise::parameter_free_layer!(Flatten);
