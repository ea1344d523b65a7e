//! Labelled samples, kept as bytes until a batch needs them.

use std::path::Path;

use nalgebra::{Const, Dyn, OMatrix};
use rand::{Rng, SeedableRng, seq::SliceRandom};

use super::{DataError, DataProblem, IdxReader, Images, OneHot};
use crate::core::Float;

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    name: String,
    width: usize,
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
        let width = images.width();
        Self::new(name, width, images.pixels, labels)
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
        // `p / 255` in T, correctly rounded (the same values as a 256-entry table of the f64
        // quotients, checked by a test), vectorised: a table lookup per byte took half of an
        // MNIST training epoch.
        for (k, (column, &i)) in batch
            .as_mut_slice()
            .chunks_exact_mut(N)
            .zip(indices)
            .enumerate()
        {
            // Samples come in shuffled order, so each is a fresh trip to memory: ask for the
            // one four places ahead now, and the trips overlap with the conversions.
            if let Some(&ahead) = indices.get(k + 4) {
                prefetch(self.sample(ahead));
            }
            crate::kernels::unit_from_bytes(column, self.sample(i));
        }
        Ok(())
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
