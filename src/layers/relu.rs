//! The rectified linear unit.

use crate::core::Float;

/// The rectified linear unit, element-wise: `relu(x) = max(x, 0)`.
///
/// - Derivative: 1 where `x > 0`, else 0 (0 at `x = 0`, as PyTorch), computed from the
///   cached output (`y > 0` exactly when `x > 0`).
/// - NaN in, NaN out (a plain `max` would swallow it).
/// - PyTorch: `torch.nn.ReLU`.
///
/// ```
/// use typenet::prelude::*;
/// let y = Relu.forward(&SVector::<f32, 3>::new(-2.0, 0.0, 3.0));
/// assert_eq!(y, SVector::<f32, 3>::new(0.0, 0.0, 3.0));
/// assert!(Relu.forward(&SVector::<f32, 1>::new(f32::NAN))[0].is_nan());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Relu;

impl Relu {
    /// `max(x, 0)`, keeping NaN.
    #[inline]
    pub fn value<T: Float>(x: T) -> T {
        if x > T::zero() || x.is_nan() {
            x
        } else {
            T::zero()
        }
    }

    /// The derivative written in terms of the output `y = relu(x)`: 1 if `y > 0`, else 0.
    #[inline]
    pub fn derivative_from_output<T: Float>(y: T) -> T {
        if y > T::zero() { T::one() } else { T::zero() }
    }
}

super::elementwise::elementwise_layer!(Relu);
