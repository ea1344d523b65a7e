//! One-hot targets, with optional label smoothing.

use nalgebra::SVector;

use super::{DataError, DataProblem};
use crate::core::Float;

/// How a class label becomes a target vector: `on` at the label's index, `off` elsewhere.
///
/// ```
/// use typenet::data::OneHot;
/// use typenet::prelude::*;
/// assert_eq!(OneHot::PLAIN.encode::<f32, 3>(1).unwrap(), SVector::<f32, 3>::new(0.0, 1.0, 0.0));
/// // the seed tutorials' smoothing
/// let y = OneHot::smoothed(0.01, 0.99).encode::<f64, 2>(0).unwrap();
/// assert_eq!(y, SVector::<f64, 2>::new(0.99, 0.01));
/// assert!(OneHot::PLAIN.encode::<f32, 3>(3).is_err()); // no class 3 among 3
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneHot {
    /// The value for every class but the label.
    pub off: f64,
    /// The value for the label's class.
    pub on: f64,
}

impl OneHot {
    /// 1 for the label, 0 elsewhere.
    pub const PLAIN: OneHot = OneHot { off: 0.0, on: 1.0 };

    /// `on` for the label and `off` elsewhere: the seeds use `smoothed(0.01, 0.99)`.
    pub const fn smoothed(off: f64, on: f64) -> Self {
        OneHot { off, on }
    }

    /// The target vector of `label` among `C` classes, or an error if `label >= C`.
    pub fn encode<T: Float, const C: usize>(&self, label: u8) -> Result<SVector<T, C>, DataError> {
        let label = usize::from(label);
        if label >= C {
            return Err(DataError::new(
                "one-hot encoding",
                DataProblem::LabelOutOfRange {
                    index: 0,
                    label: label as u8,
                    classes: C,
                },
            ));
        }
        Ok(SVector::from_fn(|i, _| {
            T::of_f64(if i == label { self.on } else { self.off })
        }))
    }
}

impl Default for OneHot {
    fn default() -> Self {
        Self::PLAIN
    }
}
