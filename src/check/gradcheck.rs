//! The finite-difference gradient checker: does a network's backprop agree with the numbers?

use core::fmt;

use nalgebra::ComplexField;

use super::numerical::{
    CHECK_SEED, Difference, for_each_partial, numerical_param_gradient, training_loss,
};
use crate::core::{Float, InputOf, Layer, Params, TensorInfo, TrainContext, Values};
use crate::loss::{Loss, TargetOf};

/// Where a checked derivative sits. New kinds of checks may bring new places, so a `match`
/// needs a `_` arm.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Location {
    /// A parameter: its tensor, row and column.
    Param {
        /// The tensor (layer index, layer kind, weight or bias, shape).
        tensor: TensorInfo,
        /// Row in the tensor.
        row: usize,
        /// Column in the tensor.
        col: usize,
    },
    /// An element of the input: the feature (row) and the sample (column; for a sequence,
    /// the time step).
    Input {
        /// Feature.
        row: usize,
        /// Sample in the batch, or time step of a sequence.
        col: usize,
    },
    /// A value of the initial state of a sequence network, in the order its layers' states
    /// are visited ([`StateValues`](crate::StateValues)).
    InitialState {
        /// Index among the state's values.
        index: usize,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Param { tensor, row, col } => write!(
                f,
                "layer {} ({}) {}[{row}, {col}]",
                tensor.layer,
                tensor.layer_kind,
                tensor.role.name()
            ),
            Location::Input { row, col } => write!(f, "input[{row}, {col}]"),
            Location::InitialState { index } => write!(f, "initial state[{index}]"),
        }
    }
}

/// One derivative, computed both ways.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// Where it is.
    pub location: Location,
    /// What backprop says.
    pub analytic: f64,
    /// What finite differences say.
    pub numeric: f64,
    /// `|analytic - numeric| / max(|analytic|, |numeric|, floor)`; infinite if either is not
    /// finite.
    pub rel_error: f64,
}

/// The outcome of a gradient check: the worst disagreement and how many derivatives were
/// compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradReport {
    pub(super) worst: Option<Comparison>,
    pub(super) checked: usize,
}

impl GradReport {
    /// The largest relative error found (0 if nothing was checked; infinite if any derivative
    /// was NaN or infinite, so that `max_rel_error() < tol` fails).
    pub fn max_rel_error(&self) -> f64 {
        self.worst.map_or(0.0, |w| w.rel_error)
    }

    /// The derivative with the largest relative error.
    pub fn worst(&self) -> Option<Comparison> {
        self.worst
    }

    /// Number of derivatives compared (every parameter and every input element).
    pub fn checked(&self) -> usize {
        self.checked
    }

    /// Whether every derivative agrees within `tolerance`.
    pub fn passes(&self, tolerance: f64) -> bool {
        self.max_rel_error() < tolerance
    }

    pub(super) fn record(&mut self, location: Location, analytic: f64, numeric: f64, floor: f64) {
        let rel_error = if analytic.is_finite() && numeric.is_finite() {
            (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(floor)
        } else {
            f64::INFINITY
        };
        self.checked += 1;
        if self.worst.is_none_or(|w| rel_error > w.rel_error) {
            self.worst = Some(Comparison {
                location,
                analytic,
                numeric,
                rel_error,
            });
        }
    }
}

impl fmt::Display for GradReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.worst {
            None => write!(f, "gradient check: nothing to check"),
            Some(w) => write!(
                f,
                "gradient check of {} derivatives: worst relative error {:.3e} at {} \
                 (backprop {:.9e}, finite differences {:.9e})",
                self.checked, w.rel_error, w.location, w.analytic, w.numeric
            ),
        }
    }
}

/// Settings of the checker.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Net = net![Dense<3, 5, f64>, Sigmoid, Dense<5, 2, f64>, Softmax];
/// let net = Net::random(&mut StdRng::seed_from_u64(3));
/// let x = SVector::<f64, 3>::new(0.1, -0.4, 0.9);
/// let y = SVector::<f64, 2>::new(0.0, 1.0);
/// let report = GradCheck { abs_floor: 1e-6, ..GradCheck::default() }.run(&net, &CrossEntropy, &x, &y);
/// assert!(report.passes(1e-5), "{report}");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheck {
    /// Step of the central differences; `None` picks `ε^(1/3)` of the scalar type (about
    /// `6e-6` for `f64`), which balances truncation against rounding error.
    pub step: Option<f64>,
    /// The floor under the denominator of the relative error: a derivative smaller than this
    /// is judged by its absolute error divided by the floor, as PyTorch's `gradcheck` adds
    /// an `atol` to its `rtol`. Default `1e-3`.
    pub abs_floor: f64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            step: None,
            abs_floor: 1e-3,
        }
    }
}

impl GradCheck {
    /// The central difference of these settings in the scalar `T`.
    pub(super) fn difference<T: Float>(&self) -> Difference {
        let h = self
            .step
            .unwrap_or_else(|| ComplexField::cbrt(T::default_epsilon().as_f64()));
        Difference::Central(h)
    }

    /// Compares backprop's gradient of `loss(net(x), y)` with central differences, for every
    /// parameter of `net` and every element of `x`.
    pub fn run<N, T, X, L, Y>(&self, net: &N, loss: &L, x: &X, y: &Y) -> GradReport
    where
        T: Float,
        X: InputOf<N> + Values<Scalar = T>,
        Y: TargetOf<L, X::Out, Scalar = T>,
        N: Params<T> + Clone + Default,
    {
        let difference = self.difference::<T>();

        let mut analytic = N::default();
        let layer = X::as_layer(net);
        let mut ctx = TrainContext::seeded(CHECK_SEED);
        let (out, cache) = layer.forward_train_in(x.clone(), &mut ctx);
        let (_, d_out) = Y::loss(loss).loss_and_gradient(out, y);
        let dx = layer.backward(cache, d_out, X::as_layer_mut(&mut analytic));

        let numeric = numerical_param_gradient(net, loss, x, y, difference);
        let mut report = GradReport {
            worst: None,
            checked: 0,
        };
        for (ta, tn) in analytic.tensors().zip(numeric.tensors()) {
            for (i, (&a, &n)) in ta.data.iter().zip(tn.data).enumerate() {
                let (row, col) = ta.info.position(i);
                let location = Location::Param {
                    tensor: ta.info,
                    row,
                    col,
                };
                report.record(location, a.as_f64(), n.as_f64(), self.abs_floor);
            }
        }
        // the input, one value at a time (no buffer: the checker runs without a heap)
        let sample = x.sample_len();
        let analytic_dx = dx.values();
        let probe_loss = |probe: &X| training_loss(net, loss, probe.clone(), y);
        for_each_partial(x, difference, probe_loss, |i, n| {
            let location = Location::Input {
                row: i % sample,
                col: i / sample,
            };
            report.record(location, analytic_dx[i].as_f64(), n, self.abs_floor);
        });
        report
    }
}

/// Checks backprop against finite differences with the default settings: every parameter of
/// `net` and every element of the input `x`, for `loss` against target `y`. Use an `f64`
/// network: in `f32` finite differences are only good to about `1e-2`.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Net = net![Dense<4, 6, f64>, Tanh, Dense<6, 3, f64>];
/// let net = Net::random(&mut StdRng::seed_from_u64(0));
/// let x = SMatrix::<f64, 4, 2>::from_fn(|r, c| (r as f64 - c as f64) / 3.0); // a batch of 2
/// let y = SMatrix::<f64, 3, 2>::from_fn(|r, c| (r == c) as u8 as f64);
/// let report = gradcheck(&net, &SoftmaxCrossEntropy, &x, &y);
/// assert!(report.max_rel_error() < 1e-6, "{report}");
/// assert_eq!(report.checked(), (4 * 6 + 6 + 6 * 3 + 3) + 4 * 2);
/// ```
pub fn gradcheck<N, T, X, L, Y>(net: &N, loss: &L, x: &X, y: &Y) -> GradReport
where
    T: Float,
    X: InputOf<N> + Values<Scalar = T>,
    Y: TargetOf<L, X::Out, Scalar = T>,
    N: Params<T> + Clone + Default,
{
    GradCheck::default().run(net, loss, x, y)
}
