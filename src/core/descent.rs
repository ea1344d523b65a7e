//! The plain gradient-descent update, written once: [`Sgd`](crate::optim::Sgd) applies it to a
//! whole network after backward, layers that fuse it into their backward pass
//! ([`Layer::backward_descend`](super::Layer::backward_descend)) apply it as they go, and
//! data-parallel steps apply it to the combined gradient.

use super::Float;

/// One step of gradient descent with learning rate `lr` and L2 weight decay `wd`, in the
/// network's scalar: `θ ← θ - lr (g + wd θ)` for each parameter `θ` and its gradient `g`.
///
/// ```
/// use typenet::Descent;
/// let step = Descent::<f64> { lr: 0.5, wd: 0.0 };
/// let mut theta = [1.0, 2.0];
/// step.apply(&mut theta, &[2.0, -2.0]);
/// assert_eq!(theta, [0.0, 3.0]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Descent<T> {
    /// The learning rate.
    pub lr: T,
    /// The weight decay (0 for none).
    pub wd: T,
}

impl<T: Float> Descent<T> {
    /// The same step in another scalar (exact when it is the same one).
    #[inline(always)]
    pub fn cast<U: Float>(self) -> Descent<U> {
        Descent {
            lr: U::of_f64(self.lr.as_f64()),
            wd: U::of_f64(self.wd.as_f64()),
        }
    }

    /// The step as the coefficients of a product that accumulates into `θ`:
    /// `θ ← β θ + α G` with `α = -lr`, `β = 1 - lr wd` is `θ - lr (G + wd θ)`, up to rounding.
    /// A dense layer folds the step into the product that computes its weight gradient
    /// (`G = G_out Xᵀ`) this way, so that the gradient is never stored.
    #[inline(always)]
    pub fn product_coefficients(&self) -> (T, T) {
        (-self.lr, T::one() - self.lr * self.wd)
    }

    /// `θ ← θ - lr (g + wd θ)` for each parameter and its gradient (over the common length).
    #[inline(always)]
    pub fn apply(&self, theta: &mut [T], grad: &[T]) {
        self.apply_scaled(theta, grad, T::one());
    }

    /// `θ ← θ - lr (s g + wd θ)`: the step for the gradient `s g`, given as `g` and a scale `s`
    /// (a dense layer's weight column on one sample: the output gradient times one input).
    /// With `s = 1` it is [`apply`](Self::apply), to the bit: `g · 1 = g` exactly.
    #[inline(always)]
    pub fn apply_scaled(&self, theta: &mut [T], grad: &[T], s: T) {
        let (lr, wd) = (self.lr, self.wd);
        // Two loops rather than one with `wd θ` always added: without decay, `g + 0 θ` would
        // change the sign of a zero gradient and cost a multiply-add per parameter.
        if wd == T::zero() {
            for (p, &g) in theta.iter_mut().zip(grad) {
                *p -= lr * (g * s);
            }
        } else {
            for (p, &g) in theta.iter_mut().zip(grad) {
                *p -= lr * (g * s + wd * *p);
            }
        }
    }
}
