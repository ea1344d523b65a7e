//! Accuracy and the confusion matrix.

use std::fmt;

use nalgebra::{Const, Dyn, OMatrix};

use super::{DataError, DataProblem, Dataset, SampleBatch};
use crate::core::{Float, InputOf, Layer};

/// Counts of (true class, predicted class) pairs, and of samples of each class that got no
/// prediction at all (an output of NaN only: [`record_unanswered`](Self::record_unanswered)),
/// which are never correct.
///
/// ```
/// use typenet::data::ConfusionMatrix;
/// let mut m = ConfusionMatrix::new(2);
/// m.record(0, 0);
/// m.record(1, 0);
/// m.record(1, 1);
/// m.record(1, 1);
/// assert_eq!(m.count(1, 0), 1);
/// assert_eq!(m.accuracy(), 0.75);
/// m.record_unanswered(0);
/// assert_eq!(m.accuracy(), 0.6);
/// assert!(ConfusionMatrix::new(2).accuracy().is_nan()); // no sample, no accuracy
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
    /// Per true class, the samples that got no prediction.
    unanswered: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
            unanswered: vec![0; classes],
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Counts one sample of class `actual` predicted as `predicted`.
    ///
    /// # Panics
    ///
    /// If either is not below the number of classes.
    pub fn record(&mut self, actual: usize, predicted: usize) {
        assert!(
            actual < self.classes && predicted < self.classes,
            "class out of range"
        );
        self.counts[actual * self.classes + predicted] += 1;
    }

    /// Counts one sample of class `actual` that got no prediction (its output held no number):
    /// a wrong answer.
    ///
    /// # Panics
    ///
    /// If `actual` is not below the number of classes.
    pub fn record_unanswered(&mut self, actual: usize) {
        assert!(actual < self.classes, "class out of range");
        self.unanswered[actual] += 1;
    }

    /// How many samples of class `actual` got no prediction.
    pub fn unanswered(&self, actual: usize) -> u64 {
        self.unanswered[actual]
    }

    /// How many samples of class `actual` were predicted as `predicted`.
    pub fn count(&self, actual: usize, predicted: usize) -> u64 {
        self.counts[actual * self.classes + predicted]
    }

    /// Number of samples counted, unanswered ones included.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.unanswered.iter().sum::<u64>()
    }

    /// The fraction predicted correctly; NaN when nothing was counted (no sample, no
    /// accuracy: not 0).
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..self.classes).map(|c| self.count(c, c)).sum();
        correct as f64 / self.total() as f64
    }
}

impl fmt::Display for ConfusionMatrix {
    /// A table: one row per true class, one column per predicted class.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cell = self
            .counts
            .iter()
            .map(|c| c.to_string().len())
            .max()
            .unwrap_or(1)
            .max(self.classes.to_string().len())
            + 1;
        write!(f, "{:>7}", "true\\pred")?;
        for p in 0..self.classes {
            write!(f, "{p:>cell$}")?;
        }
        for a in 0..self.classes {
            write!(f, "\n{a:>9}")?;
            for p in 0..self.classes {
                write!(f, "{:>cell$}", self.count(a, p))?;
            }
        }
        let unanswered: u64 = self.unanswered.iter().sum();
        if unanswered > 0 {
            write!(f, "\nno prediction (NaN output): {unanswered}")?;
        }
        Ok(())
    }
}

/// The index of the largest entry of each column (the first, on ties), or `None` for a column
/// that holds no number: NaN is never picked, and a column of NaN has no answer.
///
/// ```
/// use typenet::data::argmax_columns;
/// use typenet::prelude::*;
/// let out = OMatrix::<f32, Const<2>, Dyn>::from_column_slice(&[0.2, 0.8, f32::NAN, 0.1, f32::NAN, f32::NAN]);
/// assert_eq!(argmax_columns(&out).collect::<Vec<_>>(), [Some(1), Some(1), None]);
/// ```
pub fn argmax_columns<T: Float, const C: usize>(
    outputs: &OMatrix<T, Const<C>, Dyn>,
) -> impl Iterator<Item = Option<usize>> + '_ {
    outputs.column_iter().map(|col| {
        (0..C).fold(None, |best: Option<usize>, i| {
            let v = col[i];
            match best {
                _ if v.is_nan() => best,
                Some(b) if col[b] >= v => best,
                _ => Some(i),
            }
        })
    })
}

/// Runs `net` over every sample of `data`, `batch` samples at a time, and counts its
/// predictions (the largest output) against the labels; a sample whose output is all NaN is
/// counted as unanswered, a wrong answer. An empty data set is an error (it has no accuracy),
/// as is a label not below `C`.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::data::{evaluate, Dataset};
/// use typenet::prelude::*;
/// type Net = net![Dense<2, 3>, Softmax];
/// let net = Net::random(&mut StdRng::seed_from_u64(0));
/// let data = Dataset::new("toy", 2, vec![0, 255, 255, 0, 9, 9], vec![0, 1, 2]).unwrap();
/// let confusion = evaluate::<Net, f32, 2, 3>(&net, &data, 2).unwrap();
/// assert_eq!(confusion.total(), 3);
/// ```
pub fn evaluate<N, T, const I: usize, const C: usize>(
    net: &N,
    data: &Dataset,
    batch: usize,
) -> Result<ConfusionMatrix, DataError>
where
    T: Float,
    OMatrix<T, Const<I>, Dyn>: InputOf<N, Out = OMatrix<T, Const<C>, Dyn>>,
{
    evaluate_as::<OMatrix<T, Const<I>, Dyn>, N, T, C>(net, data, batch)
}

/// [`evaluate`] for a network that takes its samples as batches of type `X`: images
/// (`Image<T, C, H, W, Dyn>`, for a network that starts with a convolution) or columns
/// (`OMatrix<T, Const<N>, Dyn>`, which is what `evaluate` does). Name `X`, and the rest is
/// inferred: `evaluate_as::<Image<f32, 1, 28, 28, Dyn>, _, _, _>(&net, &test, 500)`.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::data::{evaluate_as, Dataset};
/// use typenet::prelude::*;
/// type Net = net![Conv2d<1, 2, 2>, Relu, Flatten, Dense<4, 3>]; // 2 x 3 → 2 channels of 1 x 2
/// let net = Net::random(&mut StdRng::seed_from_u64(0));
/// // three 2 x 3 images of one channel
/// let data = Dataset::new("toy", 6, (0..18).map(|p| p * 14).collect(), vec![0, 1, 2]).unwrap();
/// let confusion = evaluate_as::<Image<f32, 1, 2, 3, Dyn>, _, _, _>(&net, &data, 2).unwrap();
/// assert_eq!(confusion.total(), 3);
/// ```
pub fn evaluate_as<X, N, T, const C: usize>(
    net: &N,
    data: &Dataset,
    batch: usize,
) -> Result<ConfusionMatrix, DataError>
where
    T: Float,
    X: SampleBatch + InputOf<N, Out = OMatrix<T, Const<C>, Dyn>>,
{
    data.check_labels(C)?;
    if data.is_empty() {
        return Err(data.error(DataProblem::InvalidArgument(
            "the data set is empty: there is no accuracy to measure",
        )));
    }
    let mut confusion = ConfusionMatrix::new(C);
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut x = X::empty();
    for chunk in indices.chunks(batch.max(1)) {
        x.fill_from(data, chunk)?;
        let out = X::as_layer(net).forward(&x);
        for (&i, predicted) in chunk.iter().zip(argmax_columns(&out)) {
            let actual = usize::from(data.labels()[i]);
            match predicted {
                Some(p) => confusion.record(actual, p),
                None => confusion.record_unanswered(actual),
            }
        }
    }
    Ok(confusion)
}
