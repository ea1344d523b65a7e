//! Plain stochastic gradient descent.

use super::Optimizer;
use crate::core::{Descent, Float, HyperparameterError, Params};

/// Stochastic gradient descent: `θ ← θ - η (∇θ + wd · θ)`.
///
/// PyTorch: `torch.optim.SGD(params, lr=η, weight_decay=wd)`. For momentum, see
/// [`Momentum`](crate::optim::Momentum).
///
/// ```
/// use typenet::prelude::*;
/// let mut layer = Dense::<1, 1, f64>::zeros();
/// let mut grad = Dense::<1, 1, f64>::zeros();
/// grad.w[0] = 2.0;
/// grad.b[0] = -1.0;
/// Sgd::new(0.5).update(&mut layer, &grad);
/// assert_eq!((layer.w[0], layer.b[0]), (-1.0, 0.5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    lr: f64,
    weight_decay: f64,
}

impl Sgd {
    /// SGD with learning rate `lr`.
    ///
    /// # Panics
    ///
    /// If `lr` is not finite and strictly positive, with the message
    /// `invalid learning rate {lr}: must be finite and positive`. Use [`Sgd::try_new`] to get
    /// an error instead.
    #[track_caller]
    pub fn new(lr: f64) -> Self {
        super::or_panic(Self::try_new(lr))
    }

    /// SGD with learning rate `lr`, or a [`HyperparameterError`] if `lr` is not finite and
    /// strictly positive.
    pub fn try_new(lr: f64) -> Result<Self, HyperparameterError> {
        Ok(Sgd {
            lr: super::positive("learning rate", lr)?,
            weight_decay: 0.0,
        })
    }

    /// The same optimizer with L2 weight decay `wd` (added to the gradient as `wd · θ`).
    ///
    /// # Panics
    ///
    /// If `wd` is negative or not finite (`invalid weight decay {wd}: must be finite and not
    /// negative`).
    #[track_caller]
    pub fn with_weight_decay(self, wd: f64) -> Self {
        Sgd {
            weight_decay: super::or_panic(super::non_negative("weight decay", wd)),
            ..self
        }
    }
}

impl Sgd {
    /// The step this optimizer takes, in the network's scalar `T`.
    ///
    /// ```
    /// use typenet::{Descent, Sgd};
    /// let step = Sgd::new(0.5).with_weight_decay(0.01).descent::<f32>();
    /// assert_eq!(step, Descent { lr: 0.5f32, wd: 0.01 });
    /// ```
    pub fn descent<T: Float>(&self) -> Descent<T> {
        Descent {
            lr: T::of_f64(self.lr),
            wd: T::of_f64(self.weight_decay),
        }
    }
}

impl<T: Float, N: Params<T>> Optimizer<N, T> for Sgd {
    super::learning_rate_methods!();

    fn check(&self) -> Result<(), HyperparameterError> {
        super::positive_in::<T>("learning rate", self.lr)?;
        super::finite_in::<T>("weight decay", self.weight_decay)
    }

    fn update(&mut self, net: &mut N, grad: &N) {
        let step = self.descent::<T>();
        net.zip_params_mut(grad, [], &mut |p, g, []| {
            crate::kernels::apply_descent(step, p, g);
        });
    }

    fn as_descent(&self) -> Option<Descent<T>> {
        Some(self.descent())
    }
}
