//! Adam.

use core::borrow::BorrowMut;
use core::marker::PhantomData;

use nalgebra::ComplexField;

use super::Optimizer;
use crate::core::{Float, HyperparameterError, Params};

/// Adam (Kingma & Ba, 2015), bias-corrected, as PyTorch defines it: at step `t`, with
/// `g = ∇θ + wd · θ`,
///
/// - `m ← β₁ m + (1 - β₁) g`, `v ← β₂ v + (1 - β₂) g²`
/// - `m̂ = m / (1 - β₁ᵗ)`, `v̂ = v / (1 - β₂ᵗ)`
/// - `θ ← θ - η m̂ / (√v̂ + ε)`
///
/// Defaults: `β₁ = 0.9`, `β₂ = 0.999`, `ε = 1e-8`, no weight decay. The moments are values
/// of the network's type, kept in `S`: `Box<N>` for [`Adam::new`], `N` for
/// [`Adam::new_inline`].
///
/// State smaller than the smallest normal number is flushed to zero
/// ([`Float::flush_subnormal`](crate::Float::flush_subnormal)): where a gradient is exactly zero
/// (an always-black pixel's weights), the state decays geometrically into the subnormals, on
/// which many CPUs compute a hundred times slower (`docs/performance.md`).
///
/// PyTorch: `torch.optim.Adam(params, lr=η, betas=(β₁, β₂), eps=ε, weight_decay=wd)`.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::optim::Adam;
/// // the first step of Adam moves every parameter by lr against the sign of its gradient
/// let mut net = Dense::<2, 1, f64>::zeros();
/// let mut grad = Dense::<2, 1, f64>::zeros();
/// grad.w[0] = 3.0;
/// grad.w[1] = -0.001;
/// let mut opt = Adam::new(0.01);
/// opt.update(&mut net, &grad);
/// assert!((net.w[0] + 0.01).abs() < 1e-9 && (net.w[1] - 0.01).abs() < 1e-6);
/// assert_eq!(net.b[0], 0.0); // zero gradient, no move
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Adam<N, S> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    t: i32,
    m: S,
    v: S,
    network: PhantomData<fn(N)>,
}

#[cfg(feature = "alloc")]
impl<N> Adam<N, alloc::boxed::Box<N>> {
    /// Adam with learning rate `lr` and the default betas and epsilon; the moments are kept on
    /// the heap.
    ///
    /// # Panics
    ///
    /// If `lr` is not finite and positive, with the message of the [`HyperparameterError`].
    #[track_caller]
    pub fn new<T: Float>(lr: f64) -> Self
    where
        N: Params<T>,
    {
        super::or_panic(Self::try_new(lr))
    }

    /// [`new`](Self::new), returning an error instead of panicking.
    pub fn try_new<T: Float>(lr: f64) -> Result<Self, HyperparameterError>
    where
        N: Params<T>,
    {
        let zeroed = crate::core::build::zeroed_boxed::<N, T>;
        Adam::with_state(lr, zeroed(), zeroed())
    }
}

impl<N: Default> Adam<N, N> {
    /// [`Adam::new`] with the moments kept inside the optimizer: no heap.
    #[track_caller]
    pub fn new_inline(lr: f64) -> Self {
        super::or_panic(Adam::with_state(lr, N::default(), N::default()))
    }
}

impl<N, S> Adam<N, S> {
    fn with_state(lr: f64, m: S, v: S) -> Result<Self, HyperparameterError> {
        Ok(Adam {
            lr: super::positive("learning rate", lr)?,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            t: 0,
            m,
            v,
            network: PhantomData,
        })
    }

    /// The same optimizer with decay rates `beta1` and `beta2` for the two moments.
    ///
    /// # Panics
    ///
    /// If either is not in `[0, 1)`.
    #[track_caller]
    pub fn with_betas(self, beta1: f64, beta2: f64) -> Self {
        Adam {
            beta1: super::or_panic(super::unit_interval("beta1", beta1)),
            beta2: super::or_panic(super::unit_interval("beta2", beta2)),
            ..self
        }
    }

    /// The same optimizer with `eps` added to the denominator.
    ///
    /// # Panics
    ///
    /// If `eps` is not finite and positive.
    #[track_caller]
    pub fn with_eps(self, eps: f64) -> Self {
        Adam {
            eps: super::or_panic(super::positive("epsilon", eps)),
            ..self
        }
    }

    /// The same optimizer with L2 weight decay `wd`, added to the gradient (PyTorch's `Adam`,
    /// not `AdamW`).
    ///
    /// # Panics
    ///
    /// If `wd` is negative or not finite.
    #[track_caller]
    pub fn with_weight_decay(self, wd: f64) -> Self {
        Adam {
            weight_decay: super::or_panic(super::non_negative("weight decay", wd)),
            ..self
        }
    }

    /// Number of steps taken.
    pub fn steps(&self) -> i32 {
        self.t
    }
}

impl<T: Float, N: Params<T>, S: BorrowMut<N>> Optimizer<N, T> for Adam<N, S> {
    super::learning_rate_methods!();

    fn check(&self) -> Result<(), HyperparameterError> {
        super::positive_in::<T>("learning rate", self.lr)?;
        super::positive_in::<T>("epsilon", self.eps)?;
        super::below_one_in::<T>("beta1", self.beta1)?;
        super::below_one_in::<T>("beta2", self.beta2)?;
        super::finite_in::<T>("weight decay", self.weight_decay)
    }

    fn update(&mut self, net: &mut N, grad: &N) {
        self.t = self.t.saturating_add(1);
        let correction1 = 1.0 - self.beta1.powi(self.t);
        let correction2 = 1.0 - self.beta2.powi(self.t);
        let of = T::of_f64;
        let (b1, b2, wd, eps) = (
            of(self.beta1),
            of(self.beta2),
            of(self.weight_decay),
            of(self.eps),
        );
        // θ -= lr/c1 · m / (√v / √c2 + ε)
        let step = of(self.lr / correction1);
        let inv_sqrt_c2 = of(1.0 / ComplexField::sqrt(correction2));
        let (m, v) = (self.m.borrow_mut(), self.v.borrow_mut());
        net.zip_params_mut(grad, [m, v], &mut |p, g, [m, v]| {
            let elements = p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut());
            for (((p, &g), m), v) in elements {
                let g = g + wd * *p;
                *m = (b1 * *m + (T::one() - b1) * g).flush_subnormal();
                *v = (b2 * *v + (T::one() - b2) * g * g).flush_subnormal();
                *p -= step * *m / (v.sqrt() * inv_sqrt_c2 + eps);
            }
        });
    }
}
