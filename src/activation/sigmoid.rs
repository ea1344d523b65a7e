//! The logistic sigmoid.

use crate::Float;

/// The logistic sigmoid, element-wise: `σ(x) = 1 / (1 + e^(-x))`.
///
/// - Derivative: `σ'(x) = σ(x) (1 - σ(x))`, computed from the cached output.
/// - Stable form: `1 / (1 + e^(-x))` for `x ≥ 0` and `e^x / (1 + e^x)` for `x < 0`, so the
///   exponential never overflows: `σ(1000) = 1`, `σ(-1000) = 0`, both with derivative 0.
/// - NaN in, NaN out.
/// - PyTorch: `torch.nn.Sigmoid`.
///
/// ```
/// use typenet::prelude::*;
/// let y = Sigmoid.forward(&SVector::<f32, 3>::new(0.0, 1000.0, -1000.0));
/// assert_eq!(y, SVector::<f32, 3>::new(0.5, 1.0, 0.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sigmoid;

impl Sigmoid {
    /// `σ(x)`, in the stable form.
    #[inline]
    pub fn value<T: Float>(x: T) -> T {
        if x >= T::zero() {
            T::one() / (T::one() + (-x).exp())
        } else {
            // also reached by NaN, which the arithmetic carries through
            let e = x.exp();
            e / (T::one() + e)
        }
    }

    /// `σ'(x)` written in terms of the output `y = σ(x)`: `y (1 - y)`.
    #[inline]
    pub fn derivative_from_output<T: Float>(y: T) -> T {
        y * (T::one() - y)
    }
}

super::elementwise_layer!(Sigmoid);
