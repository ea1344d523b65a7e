//! What every other folder builds on: the scalar, the layer contract, chains and networks,
//! the parameter visitor, the gradient-descent update, initialisation and `net!`. Nothing here
//! imports from another folder of the crate.

pub mod build;
mod chain;
mod descent;
mod error;
mod init;
mod layer;
mod net_macro;
pub(crate) mod network;
pub(crate) mod params;
mod scalar;

pub use chain::Chain;
pub use descent::Descent;
#[allow(deprecated)]
pub use error::{Error, HyperparameterError};
pub use init::Init;
pub use layer::{InputOf, Layer};
pub use network::{Batch, FirstLayer, Network};
pub use params::{Params, Role, Tensor, TensorInfo, TensorMut};
pub use scalar::Float;
