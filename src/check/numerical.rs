//! Numerical differentiation: gradients by finite differences, of any function of a vector and
//! of a network's loss with respect to its parameters.

use nalgebra::{DefaultAllocator, Dim, OMatrix, allocator::Allocator};

use crate::core::{Float, InputOf, Layer, Params, TrainContext, Values};
use crate::loss::{Loss, TargetOf};

/// A finite-difference formula and its step `h`.
///
/// The perturbed point is rounded to the scalar type, and the quotient uses the step actually
/// taken, so `f32` inputs are differentiated as accurately as their precision allows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Difference {
    /// `(f(x + h) - f(x)) / h`: one extra evaluation per coordinate, error `O(h)`.
    Forward(f64),
    /// `(f(x + h) - f(x - h)) / 2h`: two evaluations per coordinate, error `O(h²)`.
    Central(f64),
}

impl Default for Difference {
    /// Central differences with the seed tutorials' step `h = 1e-4`.
    fn default() -> Self {
        Difference::Central(1e-4)
    }
}

impl Difference {
    /// The partial derivative at `x0` of the function `f` of one coordinate, given
    /// `f0 = f(x0)` (used by the forward formula).
    pub(crate) fn partial<T: Float>(self, x0: T, f0: f64, mut f: impl FnMut(T) -> f64) -> f64 {
        let at = |h: f64| T::of_f64(x0.as_f64() + h);
        match self {
            Difference::Forward(h) => {
                let xp = at(h);
                (f(xp) - f0) / (xp.as_f64() - x0.as_f64())
            }
            Difference::Central(h) => {
                let (xp, xm) = (at(h), at(-h));
                (f(xp) - f(xm)) / (xp.as_f64() - xm.as_f64())
            }
        }
    }
}

/// The gradient of `f` at `x` by central differences with `h = 1e-4`, as in the seed
/// tutorials' `numerical_gradient`.
///
/// ```
/// use typenet::prelude::*;
/// let f = |x: &SVector<f64, 2>| x[0] * x[0] + x[1] * x[1];
/// let g = numerical_gradient(f, &SVector::<f64, 2>::new(3.0, 4.0));
/// assert!((g - SVector::<f64, 2>::new(6.0, 8.0)).amax() < 1e-6);
/// ```
pub fn numerical_gradient<T, R, C, F>(f: F, x: &OMatrix<T, R, C>) -> OMatrix<T, R, C>
where
    T: Float,
    R: Dim,
    C: Dim,
    F: FnMut(&OMatrix<T, R, C>) -> T,
    DefaultAllocator: Allocator<R, C>,
{
    numerical_gradient_with(f, x, Difference::default())
}

/// The gradient of `f` at `x` by the given finite-difference formula.
///
/// ```
/// use typenet::prelude::*;
/// let f = |x: &SVector<f64, 1>| x[0] * x[0];
/// let forward = numerical_gradient_with(f, &SVector::<f64, 1>::new(1.0), Difference::Forward(1e-3));
/// assert!((forward[0] - 2.001).abs() < 1e-9); // forward differences are off by h
/// ```
pub fn numerical_gradient_with<T, R, C, F>(
    mut f: F,
    x: &OMatrix<T, R, C>,
    difference: Difference,
) -> OMatrix<T, R, C>
where
    T: Float,
    R: Dim,
    C: Dim,
    F: FnMut(&OMatrix<T, R, C>) -> T,
    DefaultAllocator: Allocator<R, C>,
{
    let mut grad = x.clone();
    for_each_partial(
        x,
        difference,
        |x| f(x).as_f64(),
        |i, d| grad.as_mut_slice()[i] = T::of_f64(d),
    );
    grad
}

/// Calls `visit(i, ∂f/∂xᵢ)` for every value of `x` (columns or images), each partial derivative
/// by `difference` on a copy of `x` that is restored after each value: no buffer, so the
/// checker runs without a heap.
pub(crate) fn for_each_partial<X: Values>(
    x: &X,
    difference: Difference,
    mut f: impl FnMut(&X) -> f64,
    mut visit: impl FnMut(usize, f64),
) where
    X::Scalar: Float,
{
    let mut probe = x.clone();
    let f0 = f(&probe);
    for (i, &x0) in x.values().iter().enumerate() {
        let d = difference.partial(x0, f0, |v| {
            probe.values_mut()[i] = v;
            f(&probe)
        });
        probe.values_mut()[i] = x0;
        visit(i, d);
    }
}

/// The gradient of `loss(net(x), y)` with respect to every parameter of `net`, by finite
/// differences: a value of the network's own type, like the gradient backprop computes.
///
/// It costs one or two forward passes per parameter, which is why backprop exists; the
/// `backprop_vs_numerical` example measures by how much.
///
/// ```
/// use typenet::prelude::*;
/// let net = Dense::<2, 1, f64>::new(SMatrix::<f64, 1, 2>::new(1.0, -1.0), SVector::<f64, 1>::new(0.0));
/// let (x, y) = (SVector::<f64, 2>::new(2.0, 1.0), SVector::<f64, 1>::new(0.0));
/// // L = (w·x + b - y)² = 1, dL/dw = 2 (w·x + b - y) x = [4, 2], dL/db = 2
/// let g = numerical_param_gradient(&net, &Mse, &x, &y, Difference::Central(1e-5));
/// assert!((g.w[0] - 4.0).abs() < 1e-8 && (g.w[1] - 2.0).abs() < 1e-8 && (g.b[0] - 2.0).abs() < 1e-8);
/// ```
pub fn numerical_param_gradient<N, X, L, Y, T>(
    net: &N,
    loss: &L,
    x: &X,
    y: &Y,
    difference: Difference,
) -> N
where
    T: Float,
    X: InputOf<N> + Clone,
    Y: TargetOf<L, X::Out, Scalar = T>,
    N: Params<T> + Clone + Default,
{
    let mut probe = net.clone();
    let mut grad = N::default();
    let f0 = training_loss(&probe, loss, x.clone(), y);
    let mut k = 0;
    while let Some((_, _, p)) = probe.param_mut(k) {
        let x0 = *p;
        let d = difference.partial(x0, f0, |v| {
            set_param(&mut probe, k, v);
            training_loss(&probe, loss, x.clone(), y)
        });
        set_param(&mut probe, k, x0);
        set_param(&mut grad, k, T::of_f64(d));
        k += 1;
    }
    grad
}

/// The seed of the training context the checker holds fixed: every evaluation of the loss
/// draws the same dropout masks.
pub(crate) const CHECK_SEED: u64 = 0x7E57_5EED;

/// `loss(net(x), y)` in training mode (batch statistics, the checker's fixed dropout masks):
/// the function backprop differentiates.
pub(crate) fn training_loss<N, X, L, Y, T>(net: &N, loss: &L, x: X, y: &Y) -> f64
where
    T: Float,
    X: InputOf<N>,
    Y: TargetOf<L, X::Out, Scalar = T>,
{
    let mut ctx = TrainContext::seeded(CHECK_SEED);
    let (out, _) = X::as_layer(net).forward_train_in(x, &mut ctx);
    Y::loss(loss).loss(&out, y).as_f64()
}

fn set_param<T: Float, N: Params<T>>(net: &mut N, index: usize, value: T) {
    if let Some((_, _, p)) = net.param_mut(index) {
        *p = value;
    }
}
