//! The error of a hyperparameter out of its range. (Shape errors are not run-time errors: they
//! are compile errors.)

use core::fmt;

/// A hyperparameter (a learning rate, a decay, a number of threads) outside its valid range:
/// which one, the value refused and what it must be.
///
/// ```
/// use typenet::{HyperparameterError, Sgd};
/// let err = Sgd::try_new(0.0).unwrap_err();
/// assert_eq!(err.name, "learning rate");
/// assert_eq!(err.to_string(), "invalid learning rate 0: must be finite and positive");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct HyperparameterError {
    /// Which hyperparameter (`"learning rate"`, …).
    pub name: &'static str,
    /// The value that was refused.
    pub value: f64,
    /// What the value must satisfy.
    pub requirement: &'static str,
}

impl fmt::Display for HyperparameterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let HyperparameterError {
            name,
            value,
            requirement,
        } = self;
        // very large and very small values in scientific notation: `1e39`, not forty digits
        let magnitude = value.abs();
        if magnitude != 0.0 && !(1e-5..1e16).contains(&magnitude) {
            write!(f, "invalid {name} {value:e}: must be {requirement}")
        } else {
            write!(f, "invalid {name} {value}: must be {requirement}")
        }
    }
}

impl core::error::Error for HyperparameterError {}

/// The former name of [`HyperparameterError`], an enum whose one variant was
/// `InvalidHyperparameter`.
#[deprecated(note = "renamed `HyperparameterError` (a struct: the enum had one variant)")]
pub type Error = HyperparameterError;
