//! The finite-difference checker through time: backpropagation through a whole sequence
//! against the numbers, for every parameter, every value of the initial state and every input.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, DimName, OMatrix, OVector};

use super::gradcheck::{GradCheck, GradReport, Location};
use super::numerical::{CHECK_SEED, for_each_partial};
use crate::core::{
    Float, Network, Params, SequenceLayer, StateValues, TrainContext, backprop_through_time,
};
use crate::loss::{Loss, TargetOf};

/// Checks backpropagation through time against central differences, with the default
/// settings: the loss is the mean over the steps of `loss` between the output at each step of
/// `xs` (one column a time step) and that column of `ys`, from the zero initial state; every
/// parameter of `net`, every value of the initial state and every input value is checked. Use
/// an `f64` network.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Net = net![Gru<2, 3, f64>, Dense<3, 1, f64>];
/// let net = Net::random(&mut StdRng::seed_from_u64(4));
/// let xs = OMatrix::<f64, Const<2>, Dyn>::from_fn(12, |r, t| ((r * 5 + t) as f64).cos());
/// let ys = OMatrix::<f64, Const<1>, Dyn>::from_fn(12, |_, t| (t as f64 / 4.0).sin());
/// let report = gradcheck_sequence(&net, &Mse, &xs, &ys);
/// assert!(report.passes(1e-6), "{report}");
/// // 3·3·(2 + 3) + 2·9 weights and biases of the GRU, 3 + 1 of the Dense, 3 state values, 24 inputs
/// assert_eq!(report.checked(), 45 + 18 + 4 + 3 + 24);
/// ```
pub fn gradcheck_sequence<N, T, L, R, RY, C>(
    net: &N,
    loss: &L,
    xs: &OMatrix<T, N::InputDim, C>,
    ys: &OMatrix<T, RY, C>,
) -> GradReport
where
    T: Float,
    N: Network<Scalar = T>
        + SequenceLayer<OVector<T, N::InputDim>, Out = OVector<T, R>>
        + Params<T>
        + Clone,
    <N as SequenceLayer<OVector<T, N::InputDim>>>::State: StateValues<T>,
    OVector<T, RY>: TargetOf<L, OVector<T, R>, Scalar = T>,
    R: DimName,
    RY: DimName,
    C: Dim,
    DefaultAllocator: Allocator<N::InputDim, C>
        + Allocator<RY, C>
        + Allocator<N::InputDim>
        + Allocator<R>
        + Allocator<RY>,
{
    let state = <N as SequenceLayer<OVector<T, N::InputDim>>>::zero_state(1);
    GradCheck::default().run_sequence(net, loss, &state, xs, ys)
}

impl GradCheck {
    /// [`gradcheck_sequence`] with these settings, from the initial state `state` (a non-zero
    /// state checks the recurrent paths from the first step on).
    pub fn run_sequence<N, T, L, R, RY, C>(
        &self,
        net: &N,
        loss: &L,
        state: &<N as SequenceLayer<OVector<T, N::InputDim>>>::State,
        xs: &OMatrix<T, N::InputDim, C>,
        ys: &OMatrix<T, RY, C>,
    ) -> GradReport
    where
        T: Float,
        N: Network<Scalar = T>
            + SequenceLayer<OVector<T, N::InputDim>, Out = OVector<T, R>>
            + Params<T>
            + Clone,
        <N as SequenceLayer<OVector<T, N::InputDim>>>::State: StateValues<T>,
        OVector<T, RY>: TargetOf<L, OVector<T, R>, Scalar = T>,
        R: DimName,
        RY: DimName,
        C: Dim,
        DefaultAllocator: Allocator<N::InputDim, C>
            + Allocator<RY, C>
            + Allocator<N::InputDim>
            + Allocator<R>
            + Allocator<RY>,
    {
        assert_eq!(
            xs.ncols(),
            ys.ncols(),
            "gradcheck_sequence: the inputs have {} steps and the targets {}",
            xs.ncols(),
            ys.ncols()
        );
        let difference = self.difference::<T>();
        let steps = xs.ncols();
        let inv_steps = T::of_f64(1.0 / steps as f64);
        let target = |t: usize| ys.column(t).into_owned();

        let mut analytic = N::default();
        let mut dxs = xs.clone();
        let d_state = backprop_through_time(
            net,
            &mut state.clone(),
            &mut TrainContext::seeded(CHECK_SEED),
            0..steps,
            1,
            |t| xs.column(t).into_owned(),
            |t, out| {
                let (_, d) = <OVector<T, RY> as TargetOf<L, _>>::loss(loss)
                    .loss_and_gradient(out, &target(t));
                d * inv_steps
            },
            |t, dx| dxs.column_mut(t).copy_from(&dx),
            &mut analytic,
        );

        let sequence_loss = |net: &N,
                             state: &<N as SequenceLayer<OVector<T, N::InputDim>>>::State,
                             xs: &OMatrix<T, N::InputDim, C>| {
            let mut state = state.clone();
            let mut ctx = TrainContext::seeded(CHECK_SEED);
            let mut sum = 0.0;
            for t in 0..steps {
                let (out, _) = net.step_train(&mut state, xs.column(t).into_owned(), &mut ctx);
                sum += <OVector<T, RY> as TargetOf<L, _>>::loss(loss)
                    .loss(&out, &target(t))
                    .as_f64();
            }
            sum / steps as f64
        };

        let mut report = GradReport {
            worst: None,
            checked: 0,
        };
        // the parameters
        let mut probe = net.clone();
        let f0 = sequence_loss(net, state, xs);
        let mut k = 0;
        while let Some((info, index, &mut p0)) = probe.param_mut(k) {
            let numeric = difference.partial(p0, f0, |v| {
                *probe.param_mut(k).expect("the same parameter").2 = v;
                sequence_loss(&probe, state, xs)
            });
            *probe.param_mut(k).expect("the same parameter").2 = p0;
            let analytic = *analytic
                .clone()
                .param_mut(k)
                .expect("a gradient like the net")
                .2;
            let (row, col) = info.position(index);
            let location = Location::Param {
                tensor: info,
                row,
                col,
            };
            report.record(location, analytic.as_f64(), numeric, self.abs_floor);
            k += 1;
        }
        // the initial state
        let analytic_state = flat_values(&d_state);
        let mut probe_state = state.clone();
        for (i, &a) in analytic_state.iter().enumerate() {
            let s0 = state_value(&mut probe_state, i);
            let numeric = difference.partial(s0, f0, |v| {
                set_state_value(&mut probe_state, i, v);
                sequence_loss(net, &probe_state, xs)
            });
            set_state_value(&mut probe_state, i, s0);
            report.record(
                Location::InitialState { index: i },
                a.as_f64(),
                numeric,
                self.abs_floor,
            );
        }
        // the inputs
        let rows = xs.nrows();
        for_each_partial(
            xs,
            difference,
            |probe| sequence_loss(net, state, probe),
            |i, numeric| {
                let location = Location::Input {
                    row: i % rows,
                    col: i / rows,
                };
                report.record(
                    location,
                    dxs.as_slice()[i].as_f64(),
                    numeric,
                    self.abs_floor,
                );
            },
        );
        report
    }
}

/// Every value of a state, in visiting order.
fn flat_values<T: Copy, S: StateValues<T>>(state: &S) -> alloc::vec::Vec<T> {
    let mut out = alloc::vec::Vec::new();
    state.for_each_slice(&mut |s| out.extend_from_slice(s));
    out
}

/// The `index`-th value of a state.
fn state_value<T: Float, S: StateValues<T>>(state: &mut S, index: usize) -> T {
    let mut value = T::zero();
    with_state_value(state, index, |v| value = *v);
    value
}

/// Sets the `index`-th value of a state.
fn set_state_value<T: Float, S: StateValues<T>>(state: &mut S, index: usize, value: T) {
    with_state_value(state, index, |v| *v = value);
}

fn with_state_value<T, S: StateValues<T>>(state: &mut S, index: usize, mut f: impl FnMut(&mut T)) {
    let mut skip = index;
    state.for_each_slice_mut(&mut |s| {
        if skip < s.len() {
            f(&mut s[skip]);
            skip = usize::MAX;
        } else if skip != usize::MAX {
            skip -= s.len();
        }
    });
}
