//! The layers, one a file: [`Dense`] and the activations. Each implements the layer contract
//! ([`Layer`](crate::Layer)) and [`Params`](crate::Params), from `core`, computing with
//! `kernels`; nothing else in the crate has to know about a layer for it to train, load, save,
//! import from PyTorch and be checked.

mod dense;
pub(crate) mod elementwise;
mod relu;
mod sigmoid;
mod softmax;
mod tanh;

pub use dense::Dense;
pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use softmax::Softmax;
pub use tanh::Tanh;
