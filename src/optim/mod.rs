//! Optimizers: how a network's parameters move, given their gradient.
//!
//! All of them follow PyTorch's definitions (`torch.optim.SGD`, `torch.optim.Adam`), including
//! weight decay, which adds `wd · θ` to the gradient before anything else.
//!
//! Optimizer state (velocity, Adam's moments) is network-shaped: values of the network's own
//! type, walked beside it with [`Params`](crate::Params). It lives on the heap (`new`, with the
//! `std` feature) or inline in the optimizer (`new_inline`, for programs without a heap).

mod adam;
mod clip;
mod momentum;
mod sgd;

pub use adam::Adam;
pub use clip::{clip_grad_norm, global_norm};
pub use momentum::Momentum;
pub use sgd::Sgd;

use crate::core::{Descent, Float, HyperparameterError};

/// An update rule. `N` is the network (and its gradient, which has the network's type), `T`
/// its scalar.
///
/// Implementations may assume the gradient is finite: the training steps of
/// [`Train`](crate::Train) never pass a non-finite one.
pub trait Optimizer<N, T: Float> {
    /// Moves `net` one step against `grad`.
    fn update(&mut self, net: &mut N, grad: &N);

    /// The learning rate.
    fn learning_rate(&self) -> f64;

    /// Changes the learning rate (for a schedule), keeping all other state. A rate that is
    /// not finite and positive is refused with a [`HyperparameterError`] and changes nothing.
    fn set_learning_rate(&mut self, lr: f64) -> Result<(), HyperparameterError>;

    /// The plain gradient-descent step this optimizer takes, if that is all it does: `Some`
    /// only when [`update`](Optimizer::update) is exactly [`Descent::apply`] on every
    /// parameter tensor and its gradient, and changes no other state. [`Sgd`] says so; the
    /// default, for optimizers with state, is `None`.
    ///
    /// Data-parallel steps ([`DataParallel`](crate::parallel::DataParallel), with `std`) use
    /// it to let each thread update its own range of every parameter tensor; for `None` they
    /// call [`update`](Optimizer::update) once, on the calling thread.
    ///
    /// ```
    /// use typenet::Descent;
    /// use typenet::prelude::*;
    /// type Net = Dense<2, 1, f32>;
    /// let sgd = Sgd::new(0.5).with_weight_decay(0.25);
    /// let step = Optimizer::<Net, f32>::as_descent(&sgd);
    /// assert_eq!(step, Some(Descent { lr: 0.5, wd: 0.25 }));
    /// let adam: Adam<Net, Box<Net>> = Adam::new(0.001);
    /// assert_eq!(Optimizer::<Net, f32>::as_descent(&adam), None);
    /// ```
    fn as_descent(&self) -> Option<Descent<T>> {
        None
    }

    /// Whether the hyperparameters, checked in `f64` when they were set, are still valid in
    /// the network's scalar `T`: a learning rate of `1e39` is a finite `f64` and an infinite
    /// `f32`, an epsilon of `1e-50` is `0` in `f32`, a beta of `0.999_999_999` is `1`. The error
    /// names the hyperparameter, its value and the limit.
    ///
    /// The training steps ([`Train`](crate::Train), data-parallel steps) call it before they
    /// compute anything, and panic with its message: an optimizer that would make every
    /// parameter NaN stops the first step, with the network as it was. Call it first to get
    /// the error instead. The default accepts anything.
    ///
    /// ```
    /// use typenet::prelude::*;
    /// type Net = Dense<2, 1, f32>;
    /// let sgd = Sgd::try_new(1e39)?; // a valid f64
    /// let err = Optimizer::<Net, f32>::check(&sgd).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid learning rate 1e39: must be finite and positive in f32, the network's \
    ///      scalar (from 1e-45 to 3.4e38)"
    /// );
    /// assert!(Optimizer::<Dense<2, 1, f64>, f64>::check(&sgd).is_ok());
    /// # Ok::<(), typenet::HyperparameterError>(())
    /// ```
    fn check(&self) -> Result<(), HyperparameterError> {
        Ok(())
    }
}

/// Panics with the message of [`Optimizer::check`]'s error, if there is one: what the
/// training steps do before they compute anything.
#[track_caller]
#[inline]
pub(crate) fn ensure_valid<N, T: Float, O: Optimizer<N, T> + ?Sized>(opt: &O) {
    if let Err(e) = opt.check() {
        panic!("{e}");
    }
}

/// Checks, in the scalar `T`, that a value checked positive in `f64` is still finite and
/// positive.
pub(crate) fn positive_in<T: Float>(
    name: &'static str,
    value: f64,
) -> Result<(), HyperparameterError> {
    let v = T::of_f64(value);
    let requirement = in_scalar::<T>(
        "finite and positive in f32, the network's scalar (from 1e-45 to 3.4e38)",
        "finite and positive in f64",
    );
    check(name, value, v.is_finite() && v > T::zero(), requirement).map(drop)
}

/// Checks, in the scalar `T`, that a value checked finite and not negative in `f64` is still
/// finite.
pub(crate) fn finite_in<T: Float>(
    name: &'static str,
    value: f64,
) -> Result<(), HyperparameterError> {
    let requirement = in_scalar::<T>(
        "finite in f32, the network's scalar (at most 3.4e38)",
        "finite in f64",
    );
    check(name, value, T::of_f64(value).is_finite(), requirement).map(drop)
}

/// Checks, in the scalar `T`, that a value checked in `[0, 1)` in `f64` is still below 1.
pub(crate) fn below_one_in<T: Float>(
    name: &'static str,
    value: f64,
) -> Result<(), HyperparameterError> {
    let requirement = in_scalar::<T>(
        "below 1 in f32, the network's scalar (at most 0.99999994)",
        "below 1 in f64",
    );
    check(name, value, T::of_f64(value) < T::one(), requirement).map(drop)
}

/// The requirement for `T`: the `f32` one or the `f64` one.
fn in_scalar<T: Float>(f32_text: &'static str, f64_text: &'static str) -> &'static str {
    if T::NAME == "f32" { f32_text } else { f64_text }
}

/// The `learning_rate`/`set_learning_rate` pair of an optimizer that keeps its rate in
/// `self.lr`.
macro_rules! learning_rate_methods {
    () => {
        fn learning_rate(&self) -> f64 {
            self.lr
        }

        fn set_learning_rate(&mut self, lr: f64) -> Result<(), crate::core::HyperparameterError> {
            self.lr = super::positive("learning rate", lr)?;
            Ok(())
        }
    };
}
use learning_rate_methods;

/// Checks that a hyperparameter is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, HyperparameterError> {
    check(name, value, value > 0.0, "finite and positive")
}

/// Checks that a hyperparameter is finite and not negative.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64, HyperparameterError> {
    check(name, value, value >= 0.0, "finite and not negative")
}

/// Checks that a hyperparameter lies in `[0, 1)`.
pub(crate) fn unit_interval(name: &'static str, value: f64) -> Result<f64, HyperparameterError> {
    check(name, value, (0.0..1.0).contains(&value), "in [0, 1)")
}

fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    requirement: &'static str,
) -> Result<f64, HyperparameterError> {
    if value.is_finite() && ok {
        Ok(value)
    } else {
        Err(HyperparameterError {
            name,
            value,
            requirement,
        })
    }
}

/// Unwraps a hyperparameter check, panicking with its message (the documented behaviour of
/// the optimizers' panicking constructors).
#[track_caller]
pub(crate) fn or_panic<V>(result: Result<V, HyperparameterError>) -> V {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
