//! Training: backpropagation through a whole network and the steps built on it
//! ([`Train`]), and data-parallel steps on several threads (`parallel`, with `std`).

mod fused;
#[cfg(feature = "std")]
pub mod parallel;
mod step;

#[allow(deprecated)]
pub use fused::FusedSgd;
pub use step::{AsSlice, Train};
