//! What leaves and enters the program: model files (`model_file`), networks baked into Rust
//! source (`bake`) and parameters imported from PyTorch (`pytorch`, with the `pytorch`
//! feature). Each works for any network through the parameter visitor
//! ([`Params`](crate::Params)); baking also needs [`bake::Bake`], which typenet's layers
//! implement.

#[cfg(feature = "std")]
mod atomic_file;
pub mod bake;
pub mod model_file;
#[cfg(feature = "pytorch")]
pub mod pytorch;
