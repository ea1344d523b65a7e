//! Training: backpropagation through a whole network and the steps built on it
//! ([`Train`]), backpropagation through time ([`TrainSequence`], with `alloc`), and data-parallel steps on several threads (`parallel`, with `std`).

#[cfg(feature = "alloc")]
mod bptt;
mod fused;
#[cfg(feature = "std")]
pub mod parallel;
mod sequence_error;
mod step;

#[cfg(feature = "alloc")]
pub use bptt::{Bptt, TrainSequence};
#[allow(deprecated)]
pub use fused::FusedSgd;
pub use sequence_error::SequenceError;
pub use step::{AsSlice, Train};
