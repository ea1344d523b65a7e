//! Building networks from generic code.
//!
//! Concrete network types have these as inherent associated functions (`Net::random(&mut rng)`,
//! `Net::zeros_boxed()`, …), which also check at compile time that the layers fit. Code that is
//! generic over the network type calls these functions instead.
//!
//! ```
//! use rand::{rngs::StdRng, SeedableRng};
//! use typenet::prelude::*;
//! use typenet::build;
//!
//! fn fresh<N: Params<f32> + typenet::bytemuck::Zeroable>(seed: u64) -> Box<N> {
//!     build::random_boxed_with(&mut StdRng::seed_from_u64(seed), Init::He)
//! }
//! let net: Box<net![Dense<784, 100>, Relu, Dense<100, 10>]> = fresh(1);
//! assert!(net.head.w.iter().any(|&w| w != 0.0));
//! ```

use rand::Rng;

use super::{Float, Init, Params};

/// A network with weights drawn by `init` and zero biases.
pub fn random_with<N, T, R>(rng: &mut R, init: Init) -> N
where
    N: Params<T> + Default,
    T: Float,
    R: Rng + ?Sized,
{
    let mut net = N::default();
    init.apply(&mut net, rng);
    net
}

/// A network whose parameters are all zero, built directly on the heap: the parameters never
/// pass through the stack, so networks far larger than a thread's stack can be built.
#[cfg(feature = "alloc")]
pub fn zeros_boxed<N: bytemuck::Zeroable>() -> alloc::boxed::Box<N> {
    bytemuck::zeroed_box()
}

/// A network with weights drawn by `init` and zero biases, built directly on the heap.
#[cfg(feature = "alloc")]
pub fn random_boxed_with<N, T, R>(rng: &mut R, init: Init) -> alloc::boxed::Box<N>
where
    N: Params<T> + bytemuck::Zeroable,
    T: Float,
    R: Rng + ?Sized,
{
    let mut net = zeros_boxed::<N>();
    init.apply(&mut *net, rng);
    net
}
