//! Batches that can be cut into slices of samples: what a data-parallel step hands each thread.

use core::ops::Range;

use nalgebra::{DimName, Dyn, OMatrix};

use super::{Float, ImageBatch, ImageN, Values};

/// A batch of any number of samples (a `Dyn` batch: columns `OMatrix<T, R, Dyn>` or images
/// `ImageN<T, C, H, W, Dyn>`), whose samples can be copied out in ranges: what
/// [`DataParallel`](crate::parallel::DataParallel) cuts a batch into, one slice per thread.
///
/// ```
/// use typenet::Samples;
/// use typenet::nalgebra::Dyn;
/// use typenet::prelude::*;
/// let batch = Image::<f32, 1, 2, 2, Dyn>::from_fn_batch(Dyn(3), |n, _, y, x| (4 * n + 2 * y + x) as f32);
/// let mut slice = Image::<f32, 1, 2, 2, Dyn>::empty();
/// slice.copy_samples(&batch, 1..3);
/// assert_eq!(slice.samples(), 2);
/// assert_eq!(slice.as_slice()[0], 4.0);
/// ```
pub trait Samples: Values + Sized {
    /// A batch of no samples.
    fn empty() -> Self;
    /// The number of samples.
    fn samples(&self) -> usize;
    /// Makes `self` the samples `range` of `batch`, reusing `self`'s storage where it has the
    /// room.
    ///
    /// # Panics
    ///
    /// If `range` is not within `batch`'s samples.
    fn copy_samples(&mut self, batch: &Self, range: Range<usize>);
}

impl<T: Float, R: DimName> Samples for OMatrix<T, R, Dyn>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, Dyn>,
{
    fn empty() -> Self {
        OMatrix::<T, R, Dyn>::zeros(0)
    }

    fn samples(&self) -> usize {
        self.ncols()
    }

    fn copy_samples(&mut self, batch: &Self, range: Range<usize>) {
        let src = &batch.as_slice()[range.start * R::DIM..range.end * R::DIM];
        if self.len() == src.len() {
            self.as_mut_slice().copy_from_slice(src);
        } else {
            *self = OMatrix::<T, R, Dyn>::from_column_slice(src);
        }
    }
}

impl<T: Float, C: DimName, H: DimName, W: DimName> Samples for ImageN<T, C, H, W, Dyn>
where
    Dyn: ImageBatch<T, C, H, W>,
{
    fn empty() -> Self {
        Self::zeros_batch(Dyn(0))
    }

    fn samples(&self) -> usize {
        self.batch_size()
    }

    fn copy_samples(&mut self, batch: &Self, range: Range<usize>) {
        let src = &batch.as_slice()[range.start * Self::VOLUME..range.end * Self::VOLUME];
        if self.as_slice().len() == src.len() {
            self.as_mut_slice().copy_from_slice(src);
        } else {
            *self = Self::from_slice_batch(Dyn(range.len()), src);
        }
    }
}
