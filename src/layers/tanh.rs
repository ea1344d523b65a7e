//! The hyperbolic tangent.

use crate::core::Float;

/// The hyperbolic tangent, element-wise: `tanh(x) = (e^x - e^(-x)) / (e^x + e^(-x))`.
///
/// - Derivative: `1 - tanh(x)²`, computed from the cached output.
/// - Stable form: the platform `tanh`, which saturates to ±1 without overflow.
/// - PyTorch: `torch.nn.Tanh`.
///
/// ```
/// use typenet::prelude::*;
/// let y = Tanh.forward(&SVector::<f64, 3>::new(0.0, 1000.0, -1000.0));
/// assert_eq!(y, SVector::<f64, 3>::new(0.0, 1.0, -1.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tanh;

impl Tanh {
    /// `tanh(x)`.
    #[inline]
    pub fn value<T: Float>(x: T) -> T {
        x.tanh()
    }

    /// The derivative written in terms of the output `y = tanh(x)`: `1 - y²`.
    #[inline]
    pub fn derivative_from_output<T: Float>(y: T) -> T {
        T::one() - y * y
    }
}

super::elementwise::elementwise_layer!(Tanh);
