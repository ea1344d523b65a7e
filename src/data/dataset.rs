//! Labelled samples, kept as bytes until a batch needs them.

use std::path::Path;

use nalgebra::{Const, Dyn, OMatrix};
use rand::{Rng, SeedableRng, seq::SliceRandom};

use super::{DataError, DataProblem, IdxReader, Images, OneHot};
use crate::core::{Float, Image, ImageBatch, ImageN};

/// Labelled samples: `len()` samples of `width()` grey levels (bytes, 0–255) and one label
/// each. The bytes are converted to floats in `[0, 1]` only for the batch at hand, so a data set
/// takes a quarter of the memory it would as `f32`.
///
/// ```
/// use typenet::data::{Dataset, OneHot};
/// use typenet::prelude::*;
/// let data = Dataset::new("toy", 2, vec![0, 255, 51, 102, 255, 0], vec![1, 0, 1]).unwrap();
/// let x = data.inputs::<f32, 2>(&[2, 0]).unwrap(); // samples 2 and 0, as columns
/// assert_eq!(x, OMatrix::<f32, Const<2>, Dyn>::from_column_slice(&[1.0, 0.0, 0.0, 1.0]));
/// let y = data.targets::<f32, 2>(&[2, 0], OneHot::PLAIN).unwrap();
/// assert_eq!(y.column(0).as_slice(), [0.0, 1.0]);
/// // asking for samples of the wrong width is an error, not a panic
/// assert!(data.inputs::<f32, 3>(&[0]).is_err());
/// ```
///
/// Samples can be images too: [`images`](Self::images) gives a batch of
/// [`Image`]s for a network that starts with a convolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    name: String,
    width: usize,
    /// The rows and columns of each image, where the file said (IDX).
    sides: Option<(usize, usize)>,
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

impl Dataset {
    /// A data set called `name` (used in error messages) of samples of `width` bytes each,
    /// stored one after another in `pixels`, with one label per sample.
    pub fn new(
        name: impl Into<String>,
        width: usize,
        pixels: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        if width == 0 {
            return Err(DataError::new(
                name,
                DataProblem::InvalidArgument("samples must have a width of at least 1"),
            ));
        }
        let Some(expected) = width.checked_mul(labels.len()) else {
            return Err(DataError::new(
                name,
                DataProblem::InvalidArgument(
                    "the width times the number of labels overflows the address space",
                ),
            ));
        };
        if pixels.len() != expected {
            return Err(DataError::new(
                name,
                DataProblem::CountMismatch {
                    images: pixels.len() / width,
                    labels: labels.len(),
                },
            ));
        }
        Ok(Dataset {
            name,
            width,
            sides: None,
            pixels,
            labels,
        })
    }

    /// Images and labels read from IDX files, which must describe the same number of samples.
    pub fn from_idx(
        name: impl Into<String>,
        images: Images,
        labels: Vec<u8>,
    ) -> Result<Self, DataError> {
        let name = name.into();
        if images.count != labels.len() {
            return Err(DataError::new(
                name,
                DataProblem::CountMismatch {
                    images: images.count,
                    labels: labels.len(),
                },
            ));
        }
        let (width, sides) = (images.width(), (images.rows, images.cols));
        let mut data = Self::new(name, width, images.pixels, labels)?;
        data.sides = Some(sides);
        Ok(data)
    }

    /// Loads an image file and a label file (IDX, raw or gzip) as one data set.
    ///
    /// ```
    /// use typenet::data::Dataset;
    /// let data = Dataset::load(
    ///     "data/mnist-10k/images-idx3-ubyte.gz",
    ///     "data/mnist-10k/labels-idx1-ubyte.gz",
    /// ).unwrap();
    /// assert_eq!((data.len(), data.width()), (10_000, 784));
    /// ```
    pub fn load(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self, DataError> {
        Self::load_with(IdxReader::new(), images, labels)
    }

    /// [`load`](Self::load) with a reader of one's own: another limit on the data a file may
    /// declare ([`IdxReader::limit`]).
    pub fn load_with(
        reader: IdxReader,
        images: impl AsRef<Path>,
        labels: impl AsRef<Path>,
    ) -> Result<Self, DataError> {
        let (images, labels) = (images.as_ref(), labels.as_ref());
        let name = format!("{} + {}", images.display(), labels.display());
        Self::from_idx(
            name,
            reader.load_images(images)?,
            reader.load_labels(labels)?,
        )
    }

    /// The name used in error messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per sample.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The rows and columns of each sample, for a data set read from an image file (IDX);
    /// `None` for one made by [`new`](Self::new), whose samples are just `width` bytes.
    ///
    /// ```
    /// use typenet::data::Dataset;
    /// let data = Dataset::load(
    ///     "data/mnist-10k/images-idx3-ubyte.gz",
    ///     "data/mnist-10k/labels-idx1-ubyte.gz",
    /// ).unwrap();
    /// assert_eq!(data.image_sides(), Some((28, 28)));
    /// ```
    pub fn image_sides(&self) -> Option<(usize, usize)> {
        self.sides
    }

    /// All labels, in sample order.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The bytes of sample `index`.
    ///
    /// # Panics
    ///
    /// If `index >= len()`.
    pub fn sample(&self, index: usize) -> &[u8] {
        &self.pixels[index * self.width..(index + 1) * self.width]
    }

    /// Checks that every label is below `classes`.
    pub fn check_labels(&self, classes: usize) -> Result<(), DataError> {
        match self.labels.iter().position(|&l| usize::from(l) >= classes) {
            None => Ok(()),
            Some(index) => Err(self.error(DataProblem::LabelOutOfRange {
                index,
                label: self.labels[index],
                classes,
            })),
        }
    }

    /// The samples at `indices`, in that order, as a new data set.
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut pixels = Vec::with_capacity(indices.len() * self.width);
        for &i in indices {
            pixels.extend_from_slice(self.sample(i));
        }
        Dataset {
            name: self.name.clone(),
            width: self.width,
            sides: self.sides,
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Splits into `(train, test)`: the samples are shuffled with `seed`, and the test set gets
    /// `round(len × test_fraction)` of them. The same seed gives the same split.
    ///
    /// ```
    /// use typenet::data::Dataset;
    /// let data = Dataset::new("toy", 1, (0..10).collect(), vec![0; 10]).unwrap();
    /// let (train, test) = data.split(0.2, 7).unwrap();
    /// assert_eq!((train.len(), test.len()), (8, 2));
    /// assert!(data.split(1.5, 7).is_err());
    /// ```
    pub fn split(&self, test_fraction: f64, seed: u64) -> Result<(Dataset, Dataset), DataError> {
        if !(0.0..=1.0).contains(&test_fraction) {
            return Err(self.error(DataProblem::InvalidArgument(
                "the test fraction of a split must lie in [0, 1]",
            )));
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let test = (self.len() as f64 * test_fraction).round() as usize;
        Ok((self.subset(&order[test..]), self.subset(&order[..test])))
    }

    /// Splits into the first `n` samples and the rest, without shuffling (the shipped MNIST
    /// subset is already shuffled).
    pub fn split_at(&self, n: usize) -> Result<(Dataset, Dataset), DataError> {
        if n > self.len() {
            return Err(self.error(DataProblem::InvalidArgument(
                "cannot split off more samples than the data set has",
            )));
        }
        let (first, rest): (Vec<usize>, Vec<usize>) = ((0..n).collect(), (n..self.len()).collect());
        Ok((self.subset(&first), self.subset(&rest)))
    }

    /// Every sample index once, in an order drawn from `rng`: cut it with `chunks(batch)` for
    /// the shuffled mini-batches of one epoch.
    pub fn shuffled_indices<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        order
    }

    /// The samples at `indices` as a batch of network inputs: one column per sample, each
    /// byte divided by 255. Fails if the samples are not `N` wide.
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn inputs<T: Float, const N: usize>(
        &self,
        indices: &[usize],
    ) -> Result<OMatrix<T, Const<N>, Dyn>, DataError> {
        let mut batch = OMatrix::<T, Const<N>, Dyn>::zeros(indices.len());
        self.inputs_into(indices, &mut batch)?;
        Ok(batch)
    }

    /// [`inputs`](Self::inputs) into an existing matrix (resized to `indices.len()` columns),
    /// so that a training loop can reuse one buffer.
    pub fn inputs_into<T: Float, const N: usize>(
        &self,
        indices: &[usize],
        batch: &mut OMatrix<T, Const<N>, Dyn>,
    ) -> Result<(), DataError> {
        if self.width != N {
            return Err(self.error(DataProblem::WrongWidth {
                expected: N,
                found: self.width,
            }));
        }
        if batch.ncols() != indices.len() {
            *batch = OMatrix::<T, Const<N>, Dyn>::zeros(indices.len());
        }
        self.fill(indices, batch.as_mut_slice());
        Ok(())
    }

    /// The samples at `indices` as a batch of images of `C` channels, `H` rows and `W` columns
    /// (one image per sample, each byte divided by 255 as in [`inputs`](Self::inputs)), for a
    /// network that starts with a convolution. A sample's bytes are taken in the NCHW order of
    /// [`Image`]: channel by channel, row by row.
    ///
    /// Fails if the samples do not have `C · H · W` bytes or, for a data set read from an image
    /// file ([`image_sides`](Self::image_sides)), if its rows and columns are not `C · H` and
    /// `W` (so that 28 x 28 digits cannot be taken as images of 1 x 14 x 56 by mistake).
    ///
    /// ```
    /// use typenet::data::{DataProblem, Dataset};
    /// use typenet::prelude::*;
    /// // two samples of one channel of 2 x 3
    /// let data = Dataset::new("toy", 6, (0..12).map(|p| p * 20).collect(), vec![0, 1]).unwrap();
    /// let x = data.images::<f32, 1, 2, 3>(&[1]).unwrap();
    /// assert_eq!(x.batch_size(), 1);
    /// assert_eq!(x.at(0, 0, 1, 2), 220.0 / 255.0); // sample 1, row 1, column 2: byte 11
    /// let err = data.images::<f32, 1, 28, 28>(&[0]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "toy: images of 1 x 28 x 28 (784 values) were asked for, the samples have 6 values"
    /// );
    /// ```
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn images<T: Float, const C: usize, const H: usize, const W: usize>(
        &self,
        indices: &[usize],
    ) -> Result<Image<T, C, H, W, Dyn>, DataError>
    where
        Dyn: ImageBatch<T, Const<C>, Const<H>, Const<W>>,
    {
        let mut batch = ImageN::zeros_batch(Dyn(0));
        self.images_into(indices, &mut batch)?;
        Ok(batch)
    }

    /// [`images`](Self::images) into an existing batch (resized to `indices.len()` images), so
    /// that a training loop can reuse one buffer. On an error the batch is left as it was.
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn images_into<T: Float, const C: usize, const H: usize, const W: usize>(
        &self,
        indices: &[usize],
        batch: &mut Image<T, C, H, W, Dyn>,
    ) -> Result<(), DataError>
    where
        Dyn: ImageBatch<T, Const<C>, Const<H>, Const<W>>,
    {
        let fits_sides = self
            .sides
            .is_none_or(|(rows, cols)| rows == C * H && cols == W);
        if self.width != C * H * W || !fits_sides {
            return Err(self.error(DataProblem::WrongImageShape {
                expected: [C, H, W],
                width: self.width,
                sides: self.sides,
            }));
        }
        if batch.batch_size() != indices.len() {
            *batch = ImageN::zeros_batch(Dyn(indices.len()));
        }
        self.fill(indices, batch.as_mut_slice());
        Ok(())
    }

    /// The samples at `indices` as the batch type `X`: columns (`OMatrix<T, Const<N>, Dyn>`,
    /// as [`inputs`](Self::inputs) gives them) or images (`Image<T, C, H, W, Dyn>`, as
    /// [`images`](Self::images) gives them), whichever the caller names. For code generic in
    /// what its network takes.
    ///
    /// ```
    /// use typenet::data::Dataset;
    /// use typenet::prelude::*;
    /// let data = Dataset::new("toy", 4, vec![0, 51, 102, 255], vec![0]).unwrap();
    /// let columns: OMatrix<f32, Const<4>, Dyn> = data.batch(&[0]).unwrap();
    /// let images: Image<f32, 1, 2, 2, Dyn> = data.batch(&[0]).unwrap();
    /// assert_eq!(columns.as_slice(), images.as_slice());
    /// ```
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn batch<X: SampleBatch>(&self, indices: &[usize]) -> Result<X, DataError> {
        let mut batch = X::empty();
        batch.fill_from(self, indices)?;
        Ok(batch)
    }

    /// Writes the samples at `indices`, one after another, into `out` (of `indices.len() ×
    /// width` values), each byte divided by 255.
    fn fill<T: Float>(&self, indices: &[usize], out: &mut [T]) {
        debug_assert_eq!(out.len(), indices.len() * self.width);
        // `p / 255` in T, correctly rounded (the same values as a 256-entry table of the f64
        // quotients, checked by a test), vectorised: a table lookup per byte took half of an
        // MNIST training epoch.
        for (k, (sample, &i)) in out.chunks_exact_mut(self.width).zip(indices).enumerate() {
            // Samples come in shuffled order, so each is a fresh trip to memory: ask for the
            // one four places ahead now, and the trips overlap with the conversions.
            if let Some(&ahead) = indices.get(k + 4) {
                prefetch(self.sample(ahead));
            }
            crate::kernels::unit_from_bytes(sample, self.sample(i));
        }
    }

    /// The labels at `indices` as a batch of `C`-class one-hot targets. Fails if a label is
    /// not below `C`.
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn targets<T: Float, const C: usize>(
        &self,
        indices: &[usize],
        encoding: OneHot,
    ) -> Result<OMatrix<T, Const<C>, Dyn>, DataError> {
        let mut batch = OMatrix::<T, Const<C>, Dyn>::zeros(indices.len());
        self.targets_into(indices, encoding, &mut batch)?;
        Ok(batch)
    }

    /// [`targets`](Self::targets) into an existing matrix (resized to `indices.len()` columns),
    /// so that a training loop can reuse one buffer. On an error the matrix holds the targets
    /// before the offending label.
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    pub fn targets_into<T: Float, const C: usize>(
        &self,
        indices: &[usize],
        encoding: OneHot,
        batch: &mut OMatrix<T, Const<C>, Dyn>,
    ) -> Result<(), DataError> {
        if batch.ncols() != indices.len() {
            *batch = OMatrix::<T, Const<C>, Dyn>::zeros(indices.len());
        }
        for (mut column, &i) in batch.column_iter_mut().zip(indices) {
            let label = self.labels[i];
            let target = encoding.encode::<T, C>(label).map_err(|_| {
                self.error(DataProblem::LabelOutOfRange {
                    index: i,
                    label,
                    classes: C,
                })
            })?;
            column.copy_from(&target);
        }
        Ok(())
    }

    pub(crate) fn error(&self, problem: DataProblem) -> DataError {
        DataError::new(self.name.clone(), problem)
    }
}

/// A batch of network inputs that a [`Dataset`] can fill with its samples: columns
/// (`OMatrix<T, Const<N>, Dyn>`, [`Dataset::inputs`]) or images (`Image<T, C, H, W, Dyn>`,
/// [`Dataset::images`]). It lets code be generic in what its network takes:
/// [`Dataset::batch`], [`evaluate_as`](super::evaluate_as).
pub trait SampleBatch: Sized {
    /// A batch of no sample, to be filled.
    fn empty() -> Self;
    /// Fills the batch with the samples of `data` at `indices` (resizing it to their number),
    /// or fails as [`Dataset::inputs_into`] and [`Dataset::images_into`] do when the samples
    /// do not fit.
    ///
    /// # Panics
    ///
    /// If an index is out of range.
    fn fill_from(&mut self, data: &Dataset, indices: &[usize]) -> Result<(), DataError>;
}

impl<T: Float, const N: usize> SampleBatch for OMatrix<T, Const<N>, Dyn> {
    fn empty() -> Self {
        Self::zeros(0)
    }
    fn fill_from(&mut self, data: &Dataset, indices: &[usize]) -> Result<(), DataError> {
        data.inputs_into(indices, self)
    }
}

impl<T: Float, const C: usize, const H: usize, const W: usize> SampleBatch
    for Image<T, C, H, W, Dyn>
where
    Dyn: ImageBatch<T, Const<C>, Const<H>, Const<W>>,
{
    fn empty() -> Self {
        ImageN::zeros_batch(Dyn(0))
    }
    fn fill_from(&mut self, data: &Dataset, indices: &[usize]) -> Result<(), DataError> {
        data.images_into(indices, self)
    }
}

/// Asks the CPU to bring `bytes` into its caches (a hint: nothing happens where the target has
/// no prefetch instruction). Measured on W3 (`docs/performance.md`): a tenth of an MNIST
/// epoch, which otherwise waits for each shuffled sample to arrive from memory.
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: `_mm_prefetch` is `unsafe` only because it is a `#[target_feature(enable =
        // "sse")]` function, and SSE is part of every x86_64 target. The instruction is a hint:
        // it never faults, reads nothing into the program, writes nothing, and here gets a
        // pointer into a live slice anyway. Exercised by every test that reads a batch
        // (`tests/spec/dataset.rs`) on x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}
