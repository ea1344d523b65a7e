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
//! - [`Layer`]: the contract every layer and network fulfils: `forward`, `forward_train`,
//!   `backward`. The input is a nalgebra matrix with one column per sample, so the same
//!   implementation serves a single sample (`SVector`, on the stack), a fixed batch
//!   (`SMatrix<T, N, K>`, on the stack) and a batch of any size (`OMatrix<T, Const<N>, Dyn>`).
//! - [`Dense`] and the activations [`Sigmoid`], [`Relu`], [`Tanh`], [`Softmax`].
//! - [`Chain`] and [`net!`]: layers in sequence; a mismatch is a compile error that says
//!   `shape mismatch` and names the layer.
//! - [`Loss`]: [`Mse`], [`Sse`], [`HalfSse`], [`CrossEntropy`], [`SoftmaxCrossEntropy`].
//! - [`Params`]: the one description of a network's parameters, walked by the optimizers
//!   ([`Sgd`]), the initialisers ([`Init`]) and the checkers.
//! - [`Train`]: gradients and training steps for any network; [`Train::sgd_step`], plain SGD
//!   fused into backward ([`FusedSgd`]) for networks of typenet's own layers.
//! - [`gradcheck`], [`numerical_gradient`]: finite differences, generic over networks and
//!   losses.
//! - [`optim`]: [`Sgd`], [`Momentum`], [`Adam`], with state on the heap or inline.
//! - [`model_file`]: a versioned binary format (files with `std`, byte slices anywhere);
//!   [`bake`]: a trained network as Rust source; [`build`]: constructors for generic code.
//! - [`linalg`]: the products layers compute with, and [`linalg::set_threads`].
//! - With `std`: [`data`] (IDX/MNIST, data sets, evaluation), [`pytorch`] (safetensors
//!   import) and [`parallel`] (data-parallel training steps).
//!
//! ## Features
//!
//! - `std` (default, implies `alloc`): data loading, model files on disk, the safetensors
//!   import, products of `Dyn` batches through the `gemm` crate (AVX-512 where the CPU has it),
//!   and threads ([`linalg::set_threads`], [`parallel::DataParallel`]).
//! - `alloc`: batches of any size (`Dyn`), networks and optimizer state on the heap.
//! - Neither: `#![no_std]` with no heap: single samples and `Const<K>` batches, forward,
//!   backward and training steps, inline optimizer state, the checker, baked networks and
//!   model-file blobs (see `docs/embedded.md`).
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod activation;
pub mod bake;
pub mod build;
mod chain;
#[cfg(feature = "std")]
pub mod data;
mod dense;
mod error;
mod fused;
mod gradcheck;
mod init;
mod layer;
pub mod linalg;
pub mod loss;
mod macros;
mod math;
pub mod model_file;
mod network;
mod numerical;
pub mod optim;
#[cfg(feature = "std")]
pub mod parallel;
mod params;
#[cfg(feature = "std")]
pub mod pytorch;
mod scalar;
mod train;

pub use activation::{Relu, Sigmoid, Softmax, Tanh};
pub use chain::Chain;
pub use dense::Dense;
pub use error::Error;
pub use fused::FusedSgd;
pub use gradcheck::{Comparison, GradCheck, GradReport, Location, gradcheck};
pub use init::Init;
pub use layer::{InputOf, Layer};
pub use loss::{CrossEntropy, HalfSse, Loss, Mse, SoftmaxCrossEntropy, Sse, TargetOf};
pub use network::{Batch, Leads, Network};
pub use numerical::{
    Difference, numerical_gradient, numerical_gradient_with, numerical_param_gradient,
};
pub use optim::{Adam, Momentum, Optimizer, Sgd};
pub use params::{Params, Role, Tensor, TensorInfo, TensorMut};
pub use scalar::Float;
pub use train::{AsSlice, Train};

pub use bytemuck;
pub use nalgebra;

/// Everything a program that builds and trains networks needs, and the nalgebra types it
/// feeds them.
pub mod prelude {
    pub use crate::{
        Adam, Batch, Chain, CrossEntropy, Dense, Difference, Float, FusedSgd, GradCheck, HalfSse,
        Init, InputOf, Layer, Loss, Momentum, Mse, Network, Optimizer, Params, Relu, Sgd, Sigmoid,
        Softmax, SoftmaxCrossEntropy, Sse, Tanh, TargetOf, Train, gradcheck, net,
        numerical_gradient, numerical_gradient_with, numerical_param_gradient,
    };
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
