//! # typenet
//!
//! Neural networks whose shapes are part of their types. A network is declared as a type, the
//! compiler checks that every layer fits the one before it, each layer derives its own
//! backward pass, and one generic call checks those gradients against finite differences.
//!
//! ```
//! use rand::{rngs::StdRng, SeedableRng};
//! use typenet::prelude::*;
//!
//! type Xor = net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid];
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let mut net = Xor::random(&mut rng);
//! let mut opt = Sgd::new(0.5);
//! let xs = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]].map(SVector::<f32, 2>::from);
//! let ys = [0.0f32, 1.0, 1.0, 0.0].map(SVector::<f32, 1>::new);
//! for _ in 0..2000 {
//!     for (x, y) in xs.iter().zip(&ys) {
//!         net.train_step(&mut opt, &Mse, x, y); // returns the loss before the step
//!     }
//! }
//! assert!(net.forward(&xs[1])[0] > 0.9 && net.forward(&xs[3])[0] < 0.1);
//!
//! // the generic finite-difference checker agrees with backprop
//! type Xor64 = net![Dense<2, 8, f64>, Tanh, Dense<8, 1, f64>, Sigmoid];
//! let net64 = Xor64::random(&mut rng);
//! let report = gradcheck(&net64, &Mse, &SVector::<f64, 2>::new(0.3, -0.7), &SVector::<f64, 1>::new(1.0));
//! assert!(report.max_rel_error() < 1e-6);
//! ```
//!
//! ## The pieces
//!
//! - [`Layer`]: the contract every layer and network fulfils: `forward`, `forward_train`
//!   (`forward_train_in`, with the step's [`TrainContext`]), `backward`. The input is a
//!   nalgebra matrix with one column per sample, or an [`Image`] (channels, rows, columns, in
//!   PyTorch's NCHW order), so the same implementation serves a single sample (`SVector`, one
//!   image: on the stack), a fixed batch (`SMatrix<T, N, K>`, `Image<T, C, H, W, Const<K>>`: on
//!   the stack) and a batch of any size (`OMatrix<T, Const<N>, Dyn>`, `Image<…, Dyn>`).
//! - [`Params`]: the one description of a layer's parameters, walked by the optimizers, the
//!   initialisers ([`Init`]), the checker, model files and the PyTorch import. A layer is
//!   [`Layer`] and [`Params`], written in one file (`docs/layer-contract.md`).
//! - [`layers`]: [`Dense`], the activations [`Sigmoid`], [`Relu`], [`Tanh`], [`Softmax`], and
//!   for images [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`], [`Flatten`], [`BatchNorm2d`] and
//!   [`Dropout`]. Output sizes of convolutions and pools are computed in the types, on stable
//!   Rust ([`Slide`]): nobody writes the 24, 12, 8 and 4 between LeNet's layers.
//! - [`Chain`] and [`net!`]: layers in sequence; a mismatch is a compile error that says
//!   `shape mismatch` and names the layer.
//! - [`loss`]: [`Mse`], [`Sse`], [`HalfSse`], [`CrossEntropy`], [`SoftmaxCrossEntropy`].
//! - [`optim`]: [`Sgd`], [`Momentum`], [`Adam`], with state on the heap or inline; [`Descent`],
//!   the plain gradient-descent update they and the fused steps share.
//! - [`Train`]: gradients and training steps for any network; [`Train::sgd_step`], plain SGD
//!   fused into backward.
//! - [`gradcheck`], [`numerical_gradient`]: finite differences, generic over networks and
//!   losses.
//! - [`model_file`]: a versioned binary format (files with `std`, byte slices anywhere);
//!   [`bake`]: a trained network as Rust source; [`build`]: constructors for generic code.
//! - [`kernels`]: the arithmetic layers compute with, and [`kernels::set_threads`].
//! - With `std`: [`data`] (IDX/MNIST, data sets, evaluation) and [`parallel`] (data-parallel
//!   training steps); with `pytorch`: `pytorch` (safetensors import and export).
//!
//! The source folders are the architecture, and their imports point one way: `core` (the
//! scalar, the layer contract, chains, parameters) and `kernels` (the arithmetic) ← `layers` ←
//! `loss`, `optim`, `check` ← `train` ← `io` (model files, baking, PyTorch) and `data`
//! (`docs/design.md`).
//!
//! ## Features
//!
//! - `std` (default, implies `alloc`): data loading, model files on disk, products of `Dyn`
//!   batches through the gemm crates (AVX-512 where the CPU has it), and threads
//!   ([`kernels::set_threads`], [`parallel::DataParallel`]).
//! - `alloc`: batches of any size (`Dyn`), networks and optimizer state on the heap.
//! - `pytorch` (implies `std`): `pytorch::load_safetensors` and `pytorch::save_safetensors`,
//!   with the `safetensors` crate and serde, which only its users compile.
//! - Neither `std` nor `alloc`: `#![no_std]` with no heap: single samples and `Const<K>`
//!   batches, forward, backward and training steps, inline optimizer state, the checker, baked
//!   networks and model-file blobs (see `docs/embedded.md`).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod check;
mod core;
#[cfg(feature = "std")]
pub mod data;
mod io;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod optim;
mod train;

#[cfg(feature = "alloc")]
pub use crate::check::gradcheck_sequence;
pub use crate::check::{
    Comparison, Difference, GradCheck, GradReport, Location, gradcheck, numerical_gradient,
    numerical_gradient_with, numerical_param_gradient,
};
#[allow(deprecated)]
pub use crate::core::Error;
#[cfg(feature = "alloc")]
pub use crate::core::Samples;
pub use crate::core::build;
pub use crate::core::{
    AnyImage, Batch, Chain, Descent, FirstLayer, FlatWidth, Float, HyperparameterError, Image,
    ImageBatch, ImageN, Init, InputOf, Layer, Network, Params, Role, Slide, Tensor, TensorInfo,
    TensorMut, TrainContext, Values, Volume, WindowFits, Wired,
};
pub use crate::core::{SequenceLayer, StateValues, Stateless, StepInput, StepOf, StreamState};
#[cfg(feature = "pytorch")]
pub use crate::io::pytorch;
pub use crate::io::{bake, model_file};
pub use crate::layers::{
    AvgPool2d, BatchNorm2d, Conv1d, Conv2d, Dense, Dropout, Flatten, Gru, Lstm, MaxPool2d, Relu,
    Sigmoid, Softmax, Tanh,
};
pub use crate::loss::{CrossEntropy, HalfSse, Loss, Mse, SoftmaxCrossEntropy, Sse, TargetOf};
pub use crate::optim::{Adam, Momentum, Optimizer, Sgd};
#[allow(deprecated)]
pub use crate::train::FusedSgd;
#[cfg(feature = "std")]
pub use crate::train::parallel;
pub use crate::train::{AsSlice, SequenceError, Train};
#[cfg(feature = "alloc")]
pub use crate::train::{Bptt, TrainSequence};

/// The former name of [`FirstLayer`]: a layer that can come first in a network.
#[doc(hidden)]
pub use crate::core::FirstLayer as Leads;

pub use bytemuck;
pub use nalgebra;

/// The parameter-free activation layers (which live in [`layers`]).
pub mod activation {
    pub use crate::layers::{Relu, Sigmoid, Softmax, Tanh};
}

/// The former name of [`kernels`].
#[deprecated(note = "renamed `typenet::kernels`")]
pub mod linalg {
    pub use crate::kernels::{gemm, gemm_tr, set_threads, threads};
}

/// Everything a program that builds and trains networks needs, and the nalgebra types it
/// feeds them.
pub mod prelude {
    #[allow(deprecated)]
    pub use crate::FusedSgd;
    pub use crate::{
        Adam, AvgPool2d, Batch, BatchNorm2d, Chain, Conv1d, Conv2d, CrossEntropy, Dense,
        Difference, Dropout, Flatten, Float, GradCheck, Gru, HalfSse, Image, Init, InputOf, Layer,
        Loss, Lstm, MaxPool2d, Momentum, Mse, Network, Optimizer, Params, Relu, SequenceLayer, Sgd,
        Sigmoid, Softmax, SoftmaxCrossEntropy, Sse, Tanh, TargetOf, Train, TrainContext, gradcheck,
        net, numerical_gradient, numerical_gradient_with, numerical_param_gradient,
    };
    #[cfg(feature = "alloc")]
    pub use crate::{Bptt, TrainSequence, gradcheck_sequence};
    pub use nalgebra::{Const, Dyn, OMatrix, SMatrix, SVector, U1};
}

/// The README's program, compiled and run as a doctest so the front page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// `docs/layer-contract.md`, compiled and run so that the guide to writing layers stays true.
#[cfg(doctest)]
#[doc = include_str!("../docs/layer-contract.md")]
pub struct LayerContractDoctests;

/// `docs/guide.md`, compiled and run so that the tour stays true.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;

/// `docs/cnn.md`, compiled and run so that the guide to convolutional networks stays true.
#[cfg(doctest)]
#[doc = include_str!("../docs/cnn.md")]
pub struct CnnDoctests;

/// `docs/sequences.md`, compiled and run so that the guide to sequence networks stays true.
#[cfg(doctest)]
#[doc = include_str!("../docs/sequences.md")]
pub struct SequenceDoctests;
