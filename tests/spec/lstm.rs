//! `Lstm` is PyTorch's `nn.LSTM` (gates i, f, g, o; `c' = f c + i g`, `h' = o tanh(c')`):
//! one unit by hand and by the equations written out in f64; its gradients agree with finite
//! differences for single steps, batches and through time (parameters and the initial state);
//! streaming, whole sequences and batches of sequences give the same bits; `reset` starts a
//! sequence again.

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;
use typenet::{GradCheck, Role, TensorInfo};

use crate::support::{assert_all_close, assert_close};

/// The tolerance of every gradient check (f64, central differences).
const TOL: f64 = 1e-6;

fn sigma(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

/// A sequence of `steps` columns of `R` values, smooth and not periodic in a short time.
fn sequence<const R: usize>(steps: usize, phase: f64) -> OMatrix<f64, Const<R>, Dyn> {
    OMatrix::<f64, Const<R>, Dyn>::from_fn(steps, |r, t| {
        ((r * 7 + t * 3) as f64 * 0.37 + phase).sin()
    })
}

#[test]
fn one_unit_by_hand() {
    // every weight zero but W_ig = 1: i = f = o = σ(0) = 1/2, g = tanh(x)
    let mut lstm = Lstm::<1, 1, f64>::default();
    lstm.w_ih[0][2][0] = 1.0;
    let x = SVector::<f64, 1>::new(0.6f64.atanh()); // g = 0.6
    let mut state = lstm.initial_state();
    let h1 = lstm.step(&mut state, &x)[0];
    // c1 = f·0 + i·g = 0.3, h1 = o·tanh(c1)
    assert_close(state.1[0], 0.3, 1e-15);
    assert_close(h1, 0.5 * 0.3f64.tanh(), 1e-15);
    let h2 = lstm.step(&mut state, &x)[0];
    // c2 = f·c1 + i·g = 0.15 + 0.3
    assert_close(state.1[0], 0.45, 1e-15);
    assert_close(h2, 0.5 * 0.45f64.tanh(), 1e-15);
    assert_eq!(state.0[0], h2, "the state's h is the output");
}

#[test]
fn one_unit_follows_the_equations_written_out() {
    // a different weight in every place, so a gate in the wrong order would show
    let w_ii = [0.5, -0.3, 0.8, 0.2]; // i, f, g, o
    let w_hh = [0.1, 0.4, -0.6, 0.7];
    let b_ih = [0.05, 0.1, -0.2, 0.3];
    let b_hh = [-0.1, 0.2, 0.15, -0.05];
    let lstm = Lstm::<1, 1, f64> {
        w_ih: [w_ii.map(|w| [w])],
        w_hh: [w_hh.map(|w| [w])],
        b_ih: b_ih.map(|b| [b]),
        b_hh: b_hh.map(|b| [b]),
    };
    let xs = [1.0, -0.5, 2.0, 0.25, -1.5];
    let (mut h, mut c) = (0.0f64, 0.0f64);
    let mut state = lstm.initial_state();
    for x in xs {
        let a = |g: usize| w_ii[g] * x + b_ih[g] + w_hh[g] * h + b_hh[g];
        let (i, f, g, o) = (sigma(a(0)), sigma(a(1)), a(2).tanh(), sigma(a(3)));
        c = f * c + i * g;
        h = o * c.tanh();
        let y = lstm.step(&mut state, &SVector::<f64, 1>::new(x));
        assert_close(y[0], h, 1e-14);
        assert_close(state.1[0], c, 1e-14);
    }
}

#[test]
fn its_parameters_are_pytorchs() {
    let lstm = Lstm::<3, 4>::default();
    let infos: Vec<TensorInfo> = lstm.tensors().map(|t| t.info).collect();
    let shape = |i: usize| (infos[i].role, infos[i].rows, infos[i].cols);
    assert_eq!(shape(0), (Role::InputWeight(4), 16, 3));
    assert_eq!(shape(1), (Role::RecurrentWeight(4), 16, 4));
    assert_eq!(shape(2), (Role::InputBias, 16, 1));
    assert_eq!(shape(3), (Role::RecurrentBias, 16, 1));
    let names: Vec<&str> = infos.iter().map(|i| i.role.name()).collect();
    assert_eq!(
        names,
        ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    );
    assert_eq!(lstm.param_count(), 4 * 4 * (3 + 4) + 2 * 4 * 4);
    let mut signature = String::new();
    <Lstm<3, 4> as Params<f32>>::write_signature(&mut signature).unwrap();
    assert_eq!(signature, "Lstm<3, 4, f32>");
    // row g·H + k, column c of weight_ih_l0 is w_ih[c][g][k]
    let mut lstm = lstm;
    lstm.w_ih[2][1][3] = 7.0;
    let w = lstm.tensors().next().unwrap();
    assert_eq!(w.data[2 * 16 + 4 + 3], 7.0);
    assert_eq!(w.info.position(2 * 16 + 4 + 3), (4 + 3, 2));
}

#[test]
fn as_a_layer_it_is_one_step_from_the_zero_state() {
    type Net = net![Lstm<3, 5, f64>, Dense<5, 2, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(1));
    let x = SVector::<f64, 3>::new(0.3, -0.8, 0.5);
    let mut state = net.initial_state();
    assert_eq!(net.forward(&x), net.step(&mut state, &x));
}

#[test]
fn gradients_of_single_steps_and_batches_agree_with_finite_differences() {
    type Net = net![Lstm<3, 4, f64>, Dense<4, 2, f64>];
    let mut net = Net::random(&mut StdRng::seed_from_u64(2));
    // biases away from zero, so that every path carries something
    for (n, b) in net.head.b_ih.as_flattened_mut().iter_mut().enumerate() {
        *b = (n as f64 * 0.7).sin() * 0.5;
    }
    let x = SVector::<f64, 3>::new(0.4, -0.9, 0.2);
    let y = SVector::<f64, 2>::new(0.5, -0.25);
    let report = gradcheck(&net, &Mse, &x, &y);
    assert!(report.passes(TOL), "single step: {report}");
    let params = 4 * 4 * (3 + 4) + 2 * 16 + 4 * 2 + 2;
    assert_eq!(report.checked(), params + 3);

    let xb = SMatrix::<f64, 3, 4>::from_fn(|r, c| ((r * 4 + c) as f64 * 0.61).cos());
    let yb = SMatrix::<f64, 2, 4>::from_fn(|r, c| ((r + c) as f64 * 0.3).sin());
    let report = gradcheck(&net, &Mse, &xb, &yb);
    assert!(report.passes(TOL), "Const batch: {report}");

    let xd = OMatrix::<f64, Const<3>, Dyn>::from_fn(5, |r, c| ((r * 5 + c) as f64 * 0.43).sin());
    let yd = OMatrix::<f64, Const<2>, Dyn>::from_fn(5, |r, c| ((r + 2 * c) as f64 * 0.2).cos());
    let report = gradcheck(&net, &Mse, &xd, &yd);
    assert!(report.passes(TOL), "Dyn batch: {report}");
    assert_eq!(report.checked(), params + 3 * 5);
}

#[test]
fn backpropagation_through_time_agrees_with_finite_differences() {
    type Net = net![Lstm<2, 3, f64>, Dense<3, 1, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(3));
    let xs = sequence::<2>(30, 0.0);
    let ys = OMatrix::<f64, Const<1>, Dyn>::from_fn(30, |_, t| (t as f64 / 5.0).sin());
    let report = gradcheck_sequence(&net, &Mse, &xs, &ys);
    assert!(report.passes(TOL), "from the zero state: {report}");
    // 4·3·(2 + 3) weights and 2·12 biases, the Dense's 3 + 1, h and c, 2·30 inputs
    assert_eq!(report.checked(), 60 + 24 + 4 + 6 + 60);

    // from a state reached by streaming: the recurrent paths carry from the first step on
    let mut state = net.initial_state();
    net.forward_sequence_from(&mut state, &sequence::<2>(7, 1.0));
    assert!(state.0.1.iter().all(|&c| c != 0.0));
    let report = GradCheck::default().run_sequence(&net, &Mse, &state, &xs, &ys);
    assert!(report.passes(TOL), "from a streamed state: {report}");
}

#[test]
fn streaming_whole_sequences_and_batches_of_sequences_give_the_same_bits() {
    type Net = net![Lstm<3, 5, f64>, Dense<5, 2, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(4));
    let seqs = [0.0, 0.9, 2.1].map(|phase| sequence::<3>(200, phase));
    let whole = seqs.each_ref().map(|xs| net.forward_sequence(xs));

    let mut state = net.initial_state();
    for t in 0..200 {
        let y = net.step(&mut state, &seqs[0].column(t).into_owned());
        assert_eq!(y, whole[0].column(t), "step {t}");
    }

    type Step = OMatrix<f64, Const<3>, Dyn>;
    let mut batch = <Net as SequenceLayer<Step>>::zero_state(3);
    let mut ctx = TrainContext::seeded(0);
    for t in 0..200 {
        let x = Step::from_fn(3, |r, b| seqs[b][(r, t)]);
        let (y, _) = SequenceLayer::<Step>::step_train(&net, &mut batch, x, &mut ctx);
        for (b, ys) in whole.iter().enumerate() {
            assert_eq!(y.column(b), ys.column(t), "sequence {b}, step {t}");
        }
    }
    // the batch's (h, c) are the three streams' side by side
    assert_eq!(batch.0.0.column(0), state.0.0.column(0));
    assert_eq!(batch.0.1.column(0), state.0.1.column(0));
}

#[test]
fn reset_returns_to_the_start_of_a_sequence() {
    type Net = net![Lstm<2, 4>, Dense<4, 1>];
    let net = Net::random(&mut StdRng::seed_from_u64(5));
    let xs = OMatrix::<f32, Const<2>, Dyn>::from_fn(20, |r, t| ((r + t) as f32 * 0.5).sin());
    let first = net.forward_sequence(&xs);
    let mut state = net.initial_state();
    net.forward_sequence_from(&mut state, &xs);
    assert_ne!(state, net.initial_state());
    net.reset(&mut state);
    assert_eq!(state, net.initial_state());
    assert_eq!(state.0.0, SVector::<f32, 4>::zeros());
    assert_eq!(state.0.1, SVector::<f32, 4>::zeros());
    assert_eq!(net.forward_sequence_from(&mut state, &xs), first);
}

#[test]
fn a_stack_of_lstms_trains_its_gradients_right() {
    // two recurrent layers: each carries its own (h, c) back through time
    type Net = net![Lstm<2, 3, f64>, Lstm<3, 2, f64>, Dense<2, 1, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(6));
    let xs = sequence::<2>(30, 0.5);
    let ys = OMatrix::<f64, Const<1>, Dyn>::from_fn(30, |_, t| (t as f64 / 3.0).cos());
    let report = gradcheck_sequence(&net, &Mse, &xs, &ys);
    assert!(report.passes(TOL), "{report}");
    let mut outs = Vec::new();
    let mut state = net.initial_state();
    for t in 0..30 {
        outs.push(net.step(&mut state, &xs.column(t).into_owned())[0]);
    }
    assert_all_close(&outs, net.forward_sequence(&xs).as_slice(), 0.0);
}
