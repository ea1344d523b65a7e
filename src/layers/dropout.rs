//! Inverted dropout.

use crate::core::{Float, Layer, TrainContext, Values};

/// Inverted dropout with probability `PERCENT` / 100 (default 50: one half): in training, each
/// value is zeroed with that probability and the others are scaled by `1 / (1 − p)`, so that
/// inference, where the layer is the identity, needs no scaling. PyTorch: `nn.Dropout(p)`.
///
/// The masks are drawn from the step's [`TrainContext`]: [`Train::train_step`] makes a new one
/// each step; the `…_in` steps and [`Layer::forward_train_in`] take yours. The checker
/// ([`gradcheck`](crate::gradcheck)) holds one context fixed, so the mask is the same for every
/// evaluation. `Dropout<100>` drops everything and is a compile error.
///
/// [`Train::train_step`]: crate::Train::train_step
///
/// ```
/// use typenet::prelude::*;
/// let x = SVector::<f32, 1000>::repeat(1.0);
/// assert_eq!(Dropout::<20>.forward(&x), x); // inference: the identity
/// let (y, _) = Dropout::<20>.forward_train_in(x, &mut TrainContext::seeded(1));
/// let kept = y.iter().filter(|&&v| v != 0.0).count();
/// assert!((750..850).contains(&kept));
/// assert!(y.iter().all(|&v| v == 0.0 || v == 1.25));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Dropout<const PERCENT: u8 = 50>;

impl<const PERCENT: u8> Dropout<PERCENT> {
    /// The probability that a value is dropped.
    pub const P: f64 = {
        assert!(PERCENT < 100, "Dropout<PERCENT>: PERCENT must be below 100");
        PERCENT as f64 / 100.0
    };

    /// Draws the mask (`0` or `1 / (1 − p)` for each value) into `mask` and multiplies `x` by it.
    fn drop<T: Float>(x: &mut [T], mask: &mut [T], ctx: &mut TrainContext) {
        let keep = T::of_f64(1.0 / (1.0 - Self::P));
        let p = Self::P as f32;
        for (x, m) in x.iter_mut().zip(mask) {
            *m = if ctx.uniform() < p { T::zero() } else { keep };
            *x *= *m;
        }
    }
}

// one implementation for columns and images (any `Values`), as the activations
impl<const PERCENT: u8, X> Layer<X> for Dropout<PERCENT>
where
    X: Values,
    X::Scalar: Float,
{
    type Out = X;
    /// The mask.
    type Cache = X;

    fn forward(&self, x: &X) -> X {
        x.clone()
    }

    /// Draws the mask from a context of its own ([`TrainContext::next`]).
    fn forward_train(&self, x: X) -> (X, X) {
        self.forward_train_in(x, &mut TrainContext::next())
    }

    fn forward_train_in(&self, mut x: X, ctx: &mut TrainContext) -> (X, X) {
        let mut mask = x.clone();
        Self::drop(x.values_mut(), mask.values_mut(), ctx);
        (x, mask)
    }

    fn backward(&self, mask: X, mut d: X, _: &mut Self) -> X {
        crate::kernels::zip_map_in_place(d.values_mut(), mask.values(), |d, m| d * m);
        d
    }

    crate::layers::elementwise::descends_without_parameters!();
}

crate::layers::elementwise::parameter_free_layer!(
    [const PERCENT: u8,] Dropout<PERCENT>, "Dropout<{PERCENT}>"
);
