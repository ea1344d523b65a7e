//! Checking backprop against the numbers: finite differences of any function and of a
//! network's loss, and the gradient checker that compares them with what each layer's backward
//! pass computes, for any network and loss.

mod gradcheck;
mod numerical;
#[cfg(feature = "alloc")]
mod sequence;

pub use gradcheck::{Comparison, GradCheck, GradReport, Location, gradcheck};
pub use numerical::{
    Difference, numerical_gradient, numerical_gradient_with, numerical_param_gradient,
};
#[cfg(feature = "alloc")]
pub use sequence::gradcheck_sequence;
