//! The layers, one a file: [`Dense`] and the activations. Each implements the layer contract
//! ([`Layer`](crate::Layer)) and [`Params`](crate::Params), from `core`, computing with
//! `kernels`; nothing else in the crate has to know about a layer for it to train, load, save,
//! import from PyTorch and be checked.

mod avg_pool2d;
mod batch_norm2d;
mod conv1d;
mod conv2d;
mod dense;
mod dropout;
pub(crate) mod elementwise;
mod flatten;
mod gru;
mod lstm;
mod max_pool2d;
mod relu;
mod sigmoid;
mod softmax;
mod tanh;

pub use avg_pool2d::AvgPool2d;
pub use batch_norm2d::{BatchNorm2d, BatchNormCache};
pub use conv1d::{Conv1d, Conv1dCache, Conv1dState};
pub use conv2d::Conv2d;
pub use dense::Dense;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use gru::{Gru, GruCache};
pub use lstm::{Lstm, LstmCache};
pub use max_pool2d::MaxPool2d;
pub use relu::Relu;
pub use sigmoid::Sigmoid;
pub use softmax::Softmax;
pub use tanh::Tanh;
