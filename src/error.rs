//! The crate's error type.

use core::fmt;

/// What can go wrong at run time. Shape errors are not here: they are compile errors.
///
/// ```
/// use typenet::{Error, Sgd};
/// let err = Sgd::try_new(0.0).unwrap_err();
/// assert!(matches!(err, Error::InvalidHyperparameter { name: "learning rate", .. }));
/// assert_eq!(
///     err.to_string(),
///     "invalid learning rate 0: must be finite and positive"
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An optimizer hyperparameter is outside its valid range.
    InvalidHyperparameter {
        /// Which hyperparameter (`"learning rate"`, …).
        name: &'static str,
        /// The value that was refused.
        value: f64,
        /// What the value must satisfy.
        requirement: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidHyperparameter {
                name,
                value,
                requirement,
            } => write!(f, "invalid {name} {value}: must be {requirement}"),
        }
    }
}

impl core::error::Error for Error {}
