//! What every other folder builds on: the scalar, the layer contract, chains and networks,
//! the parameter visitor, the gradient-descent update, initialisation and `net!`. Nothing here
//! imports from another folder of the crate.

pub mod build;
mod chain;
mod context;
mod descent;
mod error;
pub(crate) mod image;
mod init;
mod layer;
mod net_macro;
pub(crate) mod network;
pub(crate) mod params;
#[cfg(feature = "alloc")]
mod samples;
mod scalar;
pub(crate) mod sequence;
pub(crate) mod shape;

pub use chain::Chain;
pub use context::TrainContext;
pub use descent::Descent;
#[allow(deprecated)]
pub use error::{Error, HyperparameterError};
pub use image::{Image, ImageBatch, ImageN, Values, Volume};
pub use init::Init;
pub use layer::{InputOf, Layer};
pub use network::{AnyImage, Batch, FirstLayer, Network, Wired};
pub use params::{Params, Role, Tensor, TensorInfo, TensorMut};
#[cfg(feature = "alloc")]
pub use samples::Samples;
pub use scalar::Float;
#[cfg(feature = "alloc")]
pub(crate) use sequence::backprop_through_time;
pub(crate) use sequence::layer_as_one_step;
pub use sequence::{SequenceLayer, StateValues, Stateless, StepInput, StepOf, StreamState};
pub use shape::{FlatWidth, Slide, WindowFits};
