//! Accuracy and the confusion matrix.

use std::fmt;

use nalgebra::{Const, Dyn, OMatrix};

use super::{DataError, Dataset};
use crate::core::{Float, InputOf, Layer};

/// Counts of (true class, predicted class) pairs.
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
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
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

    /// How many samples of class `actual` were predicted as `predicted`.
    pub fn count(&self, actual: usize, predicted: usize) -> u64 {
        self.counts[actual * self.classes + predicted]
    }

    /// Number of samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The fraction predicted correctly (0 when empty).
    pub fn accuracy(&self) -> f64 {
        let correct: u64 = (0..self.classes).map(|c| self.count(c, c)).sum();
        match self.total() {
            0 => 0.0,
            total => correct as f64 / total as f64,
        }
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
        Ok(())
    }
}

/// The index of the largest entry of each column: the first, on ties; NaN counts as smaller
/// than everything, so it is never picked over a number.
pub fn argmax_columns<T: Float, const C: usize>(
    outputs: &OMatrix<T, Const<C>, Dyn>,
) -> impl Iterator<Item = usize> + '_ {
    let key = |v: T| if v.is_nan() { T::NEG_INFINITY } else { v };
    outputs.column_iter().map(move |col| {
        (1..C).fold(0, |best, i| {
            if key(col[i]) > key(col[best]) {
                i
            } else {
                best
            }
        })
    })
}

/// Runs `net` over every sample of `data`, `batch` samples at a time, and counts its
/// predictions (the largest output) against the labels.
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
    data.check_labels(C)?;
    let mut confusion = ConfusionMatrix::new(C);
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut x = OMatrix::<T, Const<I>, Dyn>::zeros(0);
    for chunk in indices.chunks(batch.max(1)) {
        data.inputs_into(chunk, &mut x)?;
        let out = <OMatrix<T, Const<I>, Dyn> as InputOf<N>>::as_layer(net).forward(&x);
        for (&i, predicted) in chunk.iter().zip(argmax_columns(&out)) {
            confusion.record(usize::from(data.labels()[i]), predicted);
        }
    }
    Ok(confusion)
}
