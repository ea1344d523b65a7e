//! Parameter initialisation.

use nalgebra::ComplexField;
use rand::{Rng, RngExt};

use super::{Float, Params, Role};

/// How weights are drawn when a network is built with `random_with`. Biases always start at
/// zero.
///
/// `fan_in` and `fan_out` are a weight matrix's input and output widths (`I` and `O` of
/// `Dense<I, O>`).
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// let mut rng = StdRng::seed_from_u64(7);
/// // the seed tutorials' initialisation: weights from Normal(0, 0.01), zero biases
/// let net = <net![Dense<784, 50>, Relu, Dense<50, 10>]>::random_boxed_with(&mut rng, Init::Normal { std: 0.01 });
/// assert!(net.head.w.iter().all(|w| w.abs() < 0.1));
/// assert!(net.head.b.iter().all(|&b| b == 0.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// Glorot/Xavier uniform: `U(-a, a)` with `a = sqrt(6 / (fan_in + fan_out))`. Keeps the
    /// variance of activations and gradients steady through `Sigmoid`/`Tanh` layers. The
    /// default. PyTorch: `torch.nn.init.xavier_uniform_`.
    #[default]
    Xavier,
    /// He/Kaiming normal: `Normal(0, sqrt(2 / fan_in))`, suited to `Relu` layers.
    /// PyTorch: `torch.nn.init.kaiming_normal_(nonlinearity="relu")`.
    He,
    /// `Normal(0, std)` whatever the layer's size: the seed tutorials use `std = 0.01`.
    Normal {
        /// Standard deviation.
        std: f64,
    },
}

impl Init {
    /// Draws every weight of `net` from this distribution and sets every bias to zero.
    ///
    /// A convolution's kernel counts its window in both fans, as PyTorch does (`fan_in` is
    /// input channels · K², `fan_out` output channels · K²); a recurrent layer's stacked gates
    /// are drawn as one matrix each (`fan_out` is the hidden width). A per-channel scale starts at
    /// one, and the buffers at their starting values: running means at zero, running
    /// variances at one.
    pub fn apply<T: Float, N: Params<T>, R: Rng + ?Sized>(self, net: &mut N, rng: &mut R) {
        for t in net.buffers_mut() {
            t.data.fill(match t.info.role {
                Role::RunningVar => T::one(),
                _ => T::zero(),
            });
        }
        for t in net.tensors_mut() {
            match t.info.role {
                Role::Bias
                | Role::InputBias
                | Role::RecurrentBias
                | Role::RunningMean
                | Role::RunningVar => t.data.fill(T::zero()),
                Role::Scale => t.data.fill(T::one()),
                _ => {
                    // a kernel's window counts in both fans; stacked gates are one matrix
                    // each
                    let (window, gates) = match t.info.role {
                        Role::Kernel2d(k) => ((k * k) as f64, 1.0),
                        Role::Kernel1d(k) => (k as f64, 1.0),
                        Role::InputWeight(g) | Role::RecurrentWeight(g) => (1.0, g as f64),
                        _ => (1.0, 1.0),
                    };
                    let fan_out = t.info.rows as f64 * window / gates;
                    let fan_in = t.info.cols as f64;
                    for w in t.data.iter_mut() {
                        *w = T::of_f64(match self {
                            Init::Xavier => {
                                let a = ComplexField::sqrt(6.0 / (fan_in + fan_out));
                                a * (2.0 * rng.random::<f64>() - 1.0)
                            }
                            Init::He => ComplexField::sqrt(2.0 / fan_in) * standard_normal(rng),
                            Init::Normal { std } => std * standard_normal(rng),
                        });
                    }
                }
            }
        }
    }
}

/// One draw from `Normal(0, 1)` by the Box–Muller transform.
fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 - U[0, 1) lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    ComplexField::sqrt(-2.0 * ComplexField::ln(u1))
        * ComplexField::cos(2.0 * core::f64::consts::PI * u2)
}
