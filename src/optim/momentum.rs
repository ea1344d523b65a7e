//! Stochastic gradient descent with momentum (heavy ball or Nesterov).

use core::borrow::BorrowMut;
use core::marker::PhantomData;

use super::Optimizer;
use crate::core::{Float, HyperparameterError, Params};

/// SGD with momentum, as PyTorch defines it: with `g = ∇θ + wd · θ`,
///
/// - `v ← μ v + g`
/// - `θ ← θ - η v` (heavy ball), or `θ ← θ - η (g + μ v)` (Nesterov).
///
/// The velocity `v` is a value of the network's type, `S` where it is kept: `Box<N>` for
/// [`Momentum::new`] (on the heap, any size), `N` for [`Momentum::new_inline`] (no heap).
///
/// State smaller than the smallest normal number is flushed to zero
/// ([`Float::flush_subnormal`](crate::Float::flush_subnormal)): where a gradient is exactly zero
/// (an always-black pixel's weights), the state decays geometrically into the subnormals, on
/// which many CPUs compute a hundred times slower (`docs/performance.md`).
///
/// PyTorch: `torch.optim.SGD(params, lr=η, momentum=μ, nesterov=…, weight_decay=wd)`.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::optim::Momentum;
/// // on f(θ) = θ²/2 the gradient is θ itself
/// let mut net = Dense::<1, 1, f64>::zeros();
/// net.b[0] = 1.0;
/// let mut opt = Momentum::new(0.1, 0.9);
/// let grad = net.clone();
/// opt.update(&mut net, &grad); // v = 1, θ = 1 - 0.1
/// assert_eq!(net.b[0], 0.9);
/// let grad = net.clone();
/// opt.update(&mut net, &grad); // v = 0.9 + 0.9, θ = 0.9 - 0.18
/// assert!((net.b[0] - 0.72).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Momentum<N, S> {
    lr: f64,
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    velocity: S,
    network: PhantomData<fn(N)>,
}

#[cfg(feature = "alloc")]
impl<N> Momentum<N, alloc::boxed::Box<N>> {
    /// Heavy-ball momentum `momentum` with learning rate `lr`; the velocity, zero at first,
    /// is kept on the heap.
    ///
    /// # Panics
    ///
    /// If `lr` is not finite and positive, or `momentum` is not in `[0, 1)`, with the message
    /// of the [`HyperparameterError`].
    #[track_caller]
    pub fn new<T: Float>(lr: f64, momentum: f64) -> Self
    where
        N: Params<T>,
    {
        super::or_panic(Self::try_new(lr, momentum))
    }

    /// [`new`](Self::new), returning an error instead of panicking.
    pub fn try_new<T: Float>(lr: f64, momentum: f64) -> Result<Self, HyperparameterError>
    where
        N: Params<T>,
    {
        Momentum::with_state(lr, momentum, crate::core::build::zeroed_boxed::<N, T>())
    }
}

impl<N: Default> Momentum<N, N> {
    /// [`Momentum::new`] with the velocity kept inside the optimizer: no heap.
    #[track_caller]
    pub fn new_inline(lr: f64, momentum: f64) -> Self {
        super::or_panic(Momentum::with_state(lr, momentum, N::default()))
    }
}

impl<N, S> Momentum<N, S> {
    fn with_state(lr: f64, momentum: f64, velocity: S) -> Result<Self, HyperparameterError> {
        Ok(Momentum {
            lr: super::positive("learning rate", lr)?,
            momentum: super::unit_interval("momentum", momentum)?,
            nesterov: false,
            weight_decay: 0.0,
            velocity,
            network: PhantomData,
        })
    }

    /// The same optimizer with Nesterov's look-ahead.
    pub fn nesterov(self) -> Self {
        Momentum {
            nesterov: true,
            ..self
        }
    }

    /// The same optimizer with L2 weight decay `wd`.
    ///
    /// # Panics
    ///
    /// If `wd` is negative or not finite.
    #[track_caller]
    pub fn with_weight_decay(self, wd: f64) -> Self {
        Momentum {
            weight_decay: super::or_panic(super::non_negative("weight decay", wd)),
            ..self
        }
    }
}

impl<T: Float, N: Params<T>, S: BorrowMut<N>> Optimizer<N, T> for Momentum<N, S> {
    super::learning_rate_methods!();

    fn check(&self) -> Result<(), HyperparameterError> {
        super::positive_in::<T>("learning rate", self.lr)?;
        super::below_one_in::<T>("momentum", self.momentum)?;
        super::finite_in::<T>("weight decay", self.weight_decay)
    }

    fn update(&mut self, net: &mut N, grad: &N) {
        let (lr, mu, wd) = (
            T::of_f64(self.lr),
            T::of_f64(self.momentum),
            T::of_f64(self.weight_decay),
        );
        let nesterov = self.nesterov;
        let velocity: &mut N = self.velocity.borrow_mut();
        net.zip_params_mut(grad, [velocity], &mut |p, g, [v]| {
            for ((p, &g), v) in p.iter_mut().zip(g).zip(v.iter_mut()) {
                let g = g + wd * *p;
                *v = (mu * *v + g).flush_subnormal();
                *p -= lr * if nesterov { g + mu * *v } else { *v };
            }
        });
    }
}
