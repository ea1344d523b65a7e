//! The former trait of fused SGD steps, kept so that code naming it still compiles.

use crate::core::Layer;

/// The former trait of layers that take a plain SGD step inside their backward pass. The
/// capability is now part of the layer contract ([`Layer::DESCENDS`],
/// [`Layer::backward_descend`]), and [`Train::sgd_step`](crate::Train::sgd_step) works for
/// every network; this trait is implemented for every layer, and bounds on it hold for all.
#[deprecated(
    note = "fused steps are part of `Layer` (`DESCENDS`, `backward_descend`); \
                     `sgd_step` works for every network"
)]
pub trait FusedSgd<In>: Layer<In> {}

#[allow(deprecated)]
impl<In, L: Layer<In>> FusedSgd<In> for L {}
