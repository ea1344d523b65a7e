//! The logistic sigmoid.

use crate::core::Float;

/// The logistic sigmoid, element-wise: `σ(x) = 1 / (1 + e^(-x))`.
///
/// - Derivative: `σ'(x) = σ(x) (1 - σ(x))`, computed from the cached output.
/// - Stable form: `1 / (1 + e^(-x))` everywhere, with no branch (so that a layer of them runs
///   in vector instructions): where `e^(-x)` overflows, to `+∞`, the quotient is exactly 0, so
///   `σ(1000) = 1` and `σ(-1000) = 0`, both with derivative 0; the relative error stays that
///   of one division. In `f32`, `e^x` is typenet's vectorised exponential (within 2 ulp).
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
    #[inline(always)]
    pub fn value<T: Float>(x: T) -> T {
        T::one() / (T::one() + crate::kernels::exp(-x))
    }

    /// `σ(x)` through the maths library's `exp`: what a layer narrower than a vector register
    /// uses, since the library's exponential has the shorter latency while the vectorised one
    /// has the higher throughput (`docs/performance.md`).
    #[inline(always)]
    fn value_scalar<T: Float>(x: T) -> T {
        T::one() / (T::one() + (-x).exp())
    }

    /// `σ'(x)` written in terms of the output `y = σ(x)`: `y (1 - y)`.
    #[inline]
    pub fn derivative_from_output<T: Float>(y: T) -> T {
        y * (T::one() - y)
    }
}

super::elementwise::elementwise_layer!(Sigmoid, narrow = value_scalar);
