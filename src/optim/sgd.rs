//! Plain stochastic gradient descent.

use crate::{Error, Float, Optimizer, Params};

/// Stochastic gradient descent: `θ ← θ - η ∇θ`.
///
/// PyTorch: `torch.optim.SGD(params, lr=η)`.
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
        match Self::try_new(lr) {
            Ok(sgd) => sgd,
            Err(e) => panic!("{e}"),
        }
    }

    /// SGD with learning rate `lr`, or [`Error::InvalidHyperparameter`] if `lr` is not finite
    /// and strictly positive.
    pub fn try_new(lr: f64) -> Result<Self, Error> {
        Ok(Sgd {
            lr: super::positive("learning rate", lr)?,
        })
    }

    /// The learning rate.
    pub fn learning_rate(&self) -> f64 {
        self.lr
    }
}

impl<T: Float, N: Params<T>> Optimizer<N, T> for Sgd {
    fn update(&mut self, net: &mut N, grad: &N) {
        let lr = T::of_f64(self.lr);
        for (p, g) in net.tensors_mut().zip(grad.tensors()) {
            for (p, &g) in p.data.iter_mut().zip(g.data) {
                *p -= lr * g;
            }
        }
    }
}
