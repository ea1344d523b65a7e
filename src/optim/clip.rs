//! Gradient clipping by global norm, which recurrent networks need: one long sequence can give
//! a gradient many times the usual size, and one step along it undoes the training so far.

use crate::core::{Float, Params};

/// Scales `grad` (a gradient: a value of the network's type) so that its global L2 norm, over
/// every parameter of every layer, is at most `max_norm`, and returns the norm it had. As
/// PyTorch's `torch.nn.utils.clip_grad_norm_`: the factor is `max_norm / (norm + 1e-6)`, applied
/// only when it is below one, so a gradient within the bound is left as it is, to the bit. The
/// norm is summed in `f64`. A gradient that is not finite is left as it is (the training steps
/// refuse it), and its norm returned.
///
/// ```
/// use typenet::optim::clip_grad_norm;
/// use typenet::prelude::*;
/// let mut grad = Dense::<2, 1, f64>::zeros();
/// grad.w[(0, 0)] = 3.0;
/// grad.w[(0, 1)] = 4.0;
/// assert_eq!(clip_grad_norm(&mut grad, 10.0), 5.0); // within the bound: unchanged
/// assert_eq!(grad.w[(0, 1)], 4.0);
/// assert_eq!(clip_grad_norm(&mut grad, 1.0), 5.0);
/// assert!((grad.w[(0, 0)] - 0.6).abs() < 1e-6 && (grad.w[(0, 1)] - 0.8).abs() < 1e-6);
/// ```
///
/// # Panics
///
/// If `max_norm` is not finite and positive, with the message `invalid gradient norm bound
/// {max_norm}: must be finite and positive` (the value is the caller's, not data).
pub fn clip_grad_norm<T: Float, N: Params<T>>(grad: &mut N, max_norm: f64) -> f64 {
    super::or_panic(super::positive("gradient norm bound", max_norm));
    let norm = global_norm(grad);
    let scale = max_norm / (norm + 1e-6);
    if norm.is_finite() && scale < 1.0 {
        let s = T::of_f64(scale);
        for t in grad.tensors_mut() {
            t.data.iter_mut().for_each(|g| *g *= s);
        }
    }
    norm
}

/// The L2 norm of every parameter of `grad` together, summed in `f64`.
///
/// ```
/// use typenet::optim::global_norm;
/// use typenet::prelude::*;
/// let mut g = Dense::<1, 2, f32>::zeros();
/// g.b[0] = 6.0;
/// g.w[(1, 0)] = 8.0;
/// assert_eq!(global_norm(&g), 10.0);
/// ```
pub fn global_norm<T: Float, N: Params<T>>(grad: &N) -> f64 {
    let squares: f64 = grad
        .tensors()
        .flat_map(|t| t.data.iter())
        .map(|g| g.as_f64() * g.as_f64())
        .sum();
    nalgebra::ComplexField::sqrt(squares)
}
