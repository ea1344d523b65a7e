//! `Image`: one image or a batch of images of C channels, H rows and W columns, stored as one
//! contiguous run of values in PyTorch's NCHW order (sample, channel, row, column).

use core::fmt;
use core::ops::Mul;

use generic_array::{ArrayLength, GenericArray};
#[cfg(feature = "alloc")]
use nalgebra::Dyn;
use nalgebra::{Const, Dim, DimName, ToTypenum, U1};
use typenum::Prod;

use super::Float;

/// An image of `C` channels, `H` rows and `W` columns with scalar `T`, or a batch of `B` of them
/// (`B = U1`, the default: one image, on the stack; `Const<K>`: K images, on the stack; `Dyn`:
/// any number, on the heap). Write it with plain numbers: `Image<f32, 1, 28, 28>`.
///
/// Values are stored in PyTorch's NCHW order (sample, channel, row, column), so
/// [`as_slice`](ImageN::as_slice) of a batch is a `[N, C, H, W]` tensor's data.
///
/// ```
/// use typenet::prelude::*;
/// let x: Image<f32, 2, 3, 4> = Image::from_fn(|c, y, x| (100 * c + 10 * y + x) as f32);
/// assert_eq!(x.get(1, 2, 3), 123.0);
/// assert_eq!(x.as_slice()[4 * 3 + 4 * 2 + 3], 123.0); // channel 1, row 2, column 3
/// let same = Image::<f32, 2, 3, 4>::from_slice(x.as_slice());
/// assert_eq!(same, x);
/// ```
pub type Image<T, const C: usize, const H: usize, const W: usize, B = U1> =
    ImageN<T, Const<C>, Const<H>, Const<W>, B>;

/// The number of values of one image of `C` channels, `H` rows and `W` columns, as a typenum
/// number: the length of its storage. Implemented for channels and sides up to 127.
pub trait Volume {
    /// `C · H · W`.
    type Len: ArrayLength;
}

impl<C, H, W> Volume for (C, H, W)
where
    C: ToTypenum,
    H: ToTypenum,
    W: ToTypenum,
    C::Typenum: Mul<H::Typenum>,
    Prod<C::Typenum, H::Typenum>: Mul<W::Typenum>,
    Prod<Prod<C::Typenum, H::Typenum>, W::Typenum>: ArrayLength,
{
    type Len = Prod<Prod<C::Typenum, H::Typenum>, W::Typenum>;
}

/// A batch dimension of images of `C` channels, `H` rows and `W` columns, and where their values
/// live: `Const<K>` (K up to 127; `U1` is `Const<1>`) in an array on the stack, `Dyn` in a
/// `Vec`.
pub trait ImageBatch<T, C, H, W>: Dim {
    /// The values of the batch.
    type Storage: Clone + PartialEq + fmt::Debug;
    /// `len` values equal to `value` (`len` is the batch's values, `self` images of
    /// `C · H · W`).
    fn filled(self, len: usize, value: T) -> Self::Storage;
    /// The values, in storage order.
    fn slice(storage: &Self::Storage) -> &[T];
    /// The values, writable.
    fn slice_mut(storage: &mut Self::Storage) -> &mut [T];
}

/// The storage length of `K` images of `(C, H, W)`.
type BatchLen<C, H, W, const K: usize> =
    Prod<<(C, H, W) as Volume>::Len, <Const<K> as ToTypenum>::Typenum>;

impl<T: Float, C, H, W, const K: usize> ImageBatch<T, C, H, W> for Const<K>
where
    (C, H, W): Volume,
    Const<K>: ToTypenum,
    <(C, H, W) as Volume>::Len: Mul<<Const<K> as ToTypenum>::Typenum>,
    BatchLen<C, H, W, K>: ArrayLength,
{
    type Storage = GenericArray<T, BatchLen<C, H, W, K>>;
    fn filled(self, _: usize, value: T) -> Self::Storage {
        GenericArray::from_iter(core::iter::repeat_n(value, BatchLen::<C, H, W, K>::USIZE))
    }
    fn slice(storage: &Self::Storage) -> &[T] {
        storage.as_slice()
    }
    fn slice_mut(storage: &mut Self::Storage) -> &mut [T] {
        storage.as_mut_slice()
    }
}

#[cfg(feature = "alloc")]
impl<T: Float, C, H, W> ImageBatch<T, C, H, W> for Dyn
where
    (C, H, W): Volume,
{
    type Storage = alloc::vec::Vec<T>;
    fn filled(self, len: usize, value: T) -> Self::Storage {
        alloc::vec![value; len]
    }
    fn slice(storage: &Self::Storage) -> &[T] {
        storage
    }
    fn slice_mut(storage: &mut Self::Storage) -> &mut [T] {
        storage
    }
}

use typenum::Unsigned as _;

/// An image, or a batch of images, with its channels and sides as nalgebra dimension types
/// (`Const<N>`): what the layers compute with. Users write [`Image`], its alias with plain
/// numbers; the layers' output sides are computed in these types ([`Slide`](crate::Slide)).
pub struct ImageN<T, C, H, W, B = U1>
where
    B: ImageBatch<T, C, H, W>,
{
    data: B::Storage,
    batch: B,
    _shape: core::marker::PhantomData<(C, H, W)>,
}

impl<T, C: DimName, H: DimName, W: DimName, B: ImageBatch<T, C, H, W>> ImageN<T, C, H, W, B> {
    /// Channels.
    pub const CHANNELS: usize = C::DIM;
    /// Rows of each channel.
    pub const ROWS: usize = H::DIM;
    /// Columns of each row.
    pub const COLS: usize = W::DIM;
    /// Values of one image: `C · H · W`.
    pub const VOLUME: usize = C::DIM * H::DIM * W::DIM;

    /// The values, in NCHW order: image by image, channel by channel, row by row.
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        B::slice(&self.data)
    }

    /// The values, writable.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        B::slice_mut(&mut self.data)
    }

    /// The number of images.
    #[inline]
    pub fn batch_size(&self) -> usize {
        self.batch.value()
    }

    /// The batch dimension (`U1`, `Const<K>` or `Dyn(n)`).
    #[inline]
    pub fn batch(&self) -> B {
        self.batch
    }

    /// The values of image `index` of the batch.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`batch_size`](Self::batch_size).
    #[inline]
    pub fn sample(&self, index: usize) -> &[T] {
        &self.as_slice()[index * Self::VOLUME..(index + 1) * Self::VOLUME]
    }

    /// The values of image `index` of the batch, writable.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`batch_size`](Self::batch_size).
    #[inline]
    pub fn sample_mut(&mut self, index: usize) -> &mut [T] {
        &mut self.as_mut_slice()[index * Self::VOLUME..(index + 1) * Self::VOLUME]
    }
}

impl<T: Float, C: DimName, H: DimName, W: DimName, B: ImageBatch<T, C, H, W>>
    ImageN<T, C, H, W, B>
{
    /// A batch of `batch` images whose values are all `value`.
    pub fn filled_batch(batch: B, value: T) -> Self {
        ImageN {
            data: batch.filled(batch.value() * Self::VOLUME, value),
            batch,
            _shape: core::marker::PhantomData,
        }
    }

    /// A batch of `batch` images of zeros.
    pub fn zeros_batch(batch: B) -> Self {
        Self::filled_batch(batch, T::zero())
    }

    /// A batch of `batch` images with value `f(image, channel, row, column)` at each place.
    pub fn from_fn_batch(batch: B, mut f: impl FnMut(usize, usize, usize, usize) -> T) -> Self {
        let mut image = Self::zeros_batch(batch);
        let (c, h, w) = (C::DIM, H::DIM, W::DIM);
        for (i, v) in image.as_mut_slice().iter_mut().enumerate() {
            let (x, rest) = (i % w, i / w);
            let (y, rest) = (rest % h, rest / h);
            *v = f(rest / c, rest % c, y, x);
        }
        image
    }

    /// A batch of `batch` images with the values of `values`, in NCHW order (the data of a
    /// PyTorch tensor `[N, C, H, W]`).
    ///
    /// # Panics
    ///
    /// If `values` does not hold `batch · C · H · W` values, with the message
    /// `Image::from_slice: expected … values (…), got …`.
    pub fn from_slice_batch(batch: B, values: &[T]) -> Self {
        let n = batch.value();
        let expected = n * Self::VOLUME;
        assert!(
            values.len() == expected,
            "Image::from_slice: expected {expected} values ({n} x {} x {} x {}, NCHW), got {}",
            C::DIM,
            H::DIM,
            W::DIM,
            values.len()
        );
        let mut image = Self::zeros_batch(batch);
        image.as_mut_slice().copy_from_slice(values);
        image
    }

    /// The value of image `index` at `channel`, `row`, `column`.
    ///
    /// # Panics
    ///
    /// If any index is out of range.
    #[inline]
    pub fn at(&self, index: usize, channel: usize, row: usize, column: usize) -> T {
        assert!(
            channel < C::DIM && row < H::DIM && column < W::DIM,
            "Image::at: index out of range"
        );
        self.sample(index)[(channel * H::DIM + row) * W::DIM + column]
    }
}

impl<T: Float, C: DimName, H: DimName, W: DimName> ImageN<T, C, H, W, U1>
where
    U1: ImageBatch<T, C, H, W>,
{
    /// One image of zeros.
    pub fn zeros() -> Self {
        Self::zeros_batch(U1)
    }

    /// One image with value `f(channel, row, column)` at each place.
    pub fn from_fn(mut f: impl FnMut(usize, usize, usize) -> T) -> Self {
        Self::from_fn_batch(U1, |_, c, y, x| f(c, y, x))
    }

    /// One image with the values of `values` in channel-row-column order (PyTorch's CHW).
    ///
    /// # Panics
    ///
    /// If `values` does not hold `C · H · W` values, with the message
    /// `Image::from_slice: expected … values (…), got …`.
    pub fn from_slice(values: &[T]) -> Self {
        Self::from_slice_batch(U1, values)
    }

    /// The value at `channel`, `row`, `column`.
    ///
    /// # Panics
    ///
    /// If any index is out of range.
    #[inline]
    pub fn get(&self, channel: usize, row: usize, column: usize) -> T {
        self.at(0, channel, row, column)
    }
}

#[cfg(feature = "alloc")]
impl<T: Float, C: DimName, H: DimName, W: DimName> ImageN<T, C, H, W, Dyn>
where
    Dyn: ImageBatch<T, C, H, W>,
{
    /// `n` images whose values are `sample(i, values)`'s, `values` being image `i`'s
    /// `C · H · W` places in CHW order: how a batch is built from a data set's samples.
    ///
    /// ```
    /// use typenet::prelude::*;
    /// use typenet::nalgebra::Dyn;
    /// let pixels: [[u8; 4]; 3] = [[0, 255, 0, 255], [255; 4], [0; 4]];
    /// let batch = Image::<f32, 1, 2, 2, Dyn>::from_samples(3, |i, values| {
    ///     for (v, &p) in values.iter_mut().zip(&pixels[i]) {
    ///         *v = f32::from(p) / 255.0;
    ///     }
    /// });
    /// assert_eq!(batch.batch_size(), 3);
    /// assert_eq!(batch.at(1, 0, 1, 0), 1.0);
    /// ```
    pub fn from_samples(n: usize, mut sample: impl FnMut(usize, &mut [T])) -> Self {
        let mut image = Self::zeros_batch(Dyn(n));
        for (i, values) in image
            .as_mut_slice()
            .chunks_exact_mut(Self::VOLUME)
            .enumerate()
        {
            sample(i, values);
        }
        image
    }
}

impl<T, C, H, W, B: ImageBatch<T, C, H, W>> Clone for ImageN<T, C, H, W, B> {
    fn clone(&self) -> Self {
        ImageN {
            data: self.data.clone(),
            batch: self.batch,
            _shape: core::marker::PhantomData,
        }
    }
}

impl<T, C, H, W, B: ImageBatch<T, C, H, W>> PartialEq for ImageN<T, C, H, W, B> {
    fn eq(&self, other: &Self) -> bool {
        self.batch == other.batch && self.data == other.data
    }
}

impl<T: fmt::Debug, C: DimName, H: DimName, W: DimName, B: ImageBatch<T, C, H, W>> fmt::Debug
    for ImageN<T, C, H, W, B>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Image[{} x {} x {} x {}] ",
            self.batch.value(),
            C::DIM,
            H::DIM,
            W::DIM
        )?;
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Values stored as one contiguous run of scalars: nalgebra's owned matrices (columns) and
/// images. What treats every value alike (the activations, dropout, the checker's finite
/// differences) takes this, so it works on columns and images with one implementation.
pub trait Values: Clone {
    /// The scalar.
    type Scalar;
    /// The values, in storage order.
    fn values(&self) -> &[Self::Scalar];
    /// The values, writable.
    fn values_mut(&mut self) -> &mut [Self::Scalar];
    /// How many values one sample has (a column's height, an image's `C · H · W`).
    fn sample_len(&self) -> usize;
}

impl<T: nalgebra::Scalar, R: Dim, C: Dim> Values for nalgebra::OMatrix<T, R, C>
where
    nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<R, C>,
{
    type Scalar = T;
    #[inline]
    fn values(&self) -> &[T] {
        self.as_slice()
    }
    #[inline]
    fn values_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
    fn sample_len(&self) -> usize {
        self.nrows()
    }
}

impl<T, C: DimName, H: DimName, W: DimName, B: ImageBatch<T, C, H, W>> Values
    for ImageN<T, C, H, W, B>
{
    type Scalar = T;
    #[inline]
    fn values(&self) -> &[T] {
        self.as_slice()
    }
    #[inline]
    fn values_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
    fn sample_len(&self) -> usize {
        Self::VOLUME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_order_for_every_batch_kind() {
        let f = |n: usize, c: usize, y: usize, x: usize| (1000 * n + 100 * c + 10 * y + x) as f64;
        let one = Image::<f64, 2, 3, 4>::from_fn(|c, y, x| f(0, c, y, x));
        let two = Image::<f64, 2, 3, 4, Const<2>>::from_fn_batch(Const, f);
        let dynamic = Image::<f64, 2, 3, 4, Dyn>::from_fn_batch(Dyn(2), f);
        assert_eq!(one.as_slice(), &two.as_slice()[..24]);
        assert_eq!(two.as_slice(), dynamic.as_slice());
        assert_eq!(two.at(1, 1, 2, 3), 1123.0);
        assert_eq!(two.as_slice()[24 + 12 + 8 + 3], 1123.0);
        assert_eq!(dynamic.sample(1)[0], 1000.0);
    }

    #[test]
    #[should_panic(
        expected = "Image::from_slice: expected 24 values (1 x 2 x 3 x 4, NCHW), got 23"
    )]
    fn a_wrong_length_is_refused() {
        let _ = Image::<f32, 2, 3, 4>::from_slice(&[0.0; 23]);
    }

    #[test]
    fn a_single_image_is_its_values_on_the_stack() {
        assert_eq!(size_of::<Image<f32, 1, 28, 28>>(), 28 * 28 * 4);
        assert_eq!(
            size_of::<Image<f32, 3, 8, 8, Const<4>>>(),
            4 * 3 * 8 * 8 * 4
        );
    }
}
