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

/// A network whose parameters are all zero, built directly on the heap from all-zero bytes:
/// the parameters never pass through the stack, so networks far larger than a thread's stack
/// can be built. (For a network of layers that are not `bytemuck::Zeroable`, see
/// [`zeroed_boxed`].)
#[cfg(feature = "alloc")]
pub fn zeros_boxed<N: bytemuck::Zeroable>() -> alloc::boxed::Box<N> {
    bytemuck::zeroed_box()
}

/// A network (or gradient, or optimizer state) whose parameters are all zero, built in place
/// on the heap by [`Params::zeroed_in`]: typenet's layers never pass through the stack, and a
/// layer of one's own passes through it once, alone (its `Default`). Needs no `unsafe impl` of
/// any layer.
///
/// ```
/// use typenet::prelude::*;
/// let net: Box<net![Dense<784, 512>, Relu, Dense<512, 10>]> = typenet::build::zeroed_boxed();
/// assert!(net.head.w.iter().all(|&w| w == 0.0));
/// ```
#[cfg(feature = "alloc")]
pub fn zeroed_boxed<N: Params<T>, T: Float>() -> alloc::boxed::Box<N> {
    let mut slot = alloc::boxed::Box::<N>::new_uninit();
    N::zeroed_in(&mut slot);
    // SAFETY: `zeroed_in` returns only once it has initialised the slot it was given (a
    // `&mut MaybeUninit<N>` of the box's own allocation, which nothing else can reach).
    // Exercised by every optimizer built with `new` and every `random_boxed` network.
    unsafe { slot.assume_init() }
}

/// A network with weights drawn by `init` and zero biases, built directly on the heap
/// ([`zeroed_boxed`], then initialised in place).
#[cfg(feature = "alloc")]
pub fn random_boxed_with<N, T, R>(rng: &mut R, init: Init) -> alloc::boxed::Box<N>
where
    N: Params<T>,
    T: Float,
    R: Rng + ?Sized,
{
    let mut net = zeroed_boxed::<N, T>();
    init.apply(&mut *net, rng);
    net
}
