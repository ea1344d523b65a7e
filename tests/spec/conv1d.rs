//! `Conv1d` is a causal convolution over time, PyTorch's `nn.Conv1d` padded with `(K−1)·D`
//! zeros on the left: `y_t = b + Σ_k W[:, :, k] x_{t−(K−1−k)·D}`, the kernel's last tap on the
//! newest sample. Its impulse response and the definition written out; its gradients agree
//! with finite differences for single steps, batches and through time (parameters and the
//! ring buffer of the initial state); streaming, whole sequences and batches of sequences give
//! the same bits; `reset` empties the ring.

use rand::{SeedableRng, rngs::StdRng};
use typenet::layers::Conv1dState;
use typenet::prelude::*;
use typenet::{GradCheck, Role, StateValues};

use crate::support::assert_all_close;

/// The tolerance of every gradient check (f64, central differences).
const TOL: f64 = 1e-6;

/// A sequence of `steps` columns of `R` values, smooth and not periodic in a short time.
fn sequence<const R: usize>(steps: usize, phase: f64) -> OMatrix<f64, Const<R>, Dyn> {
    OMatrix::<f64, Const<R>, Dyn>::from_fn(steps, |r, t| {
        ((r * 7 + t * 3) as f64 * 0.37 + phase).sin()
    })
}

#[test]
fn the_impulse_response_is_the_kernel_reversed_and_spaced_by_the_dilation() {
    let conv = Conv1d::<1, 1, 3, 2, f64>::new([[[1.0], [2.0], [3.0]]], [0.5]);
    let mut xs = OMatrix::<f64, Const<1>, Dyn>::zeros(9);
    xs[0] = 1.0;
    let ys = conv.forward_sequence(&xs);
    // weight[..., 2] on the newest sample, weight[..., 1] two steps back, weight[..., 0] four
    assert_eq!(ys.as_slice(), [3.5, 0.5, 2.5, 0.5, 1.5, 0.5, 0.5, 0.5, 0.5]);

    // no dilation: the taps are adjacent
    let conv = Conv1d::<1, 1, 3>::new([[[1.0], [2.0], [3.0]]], [0.0]);
    let mut xs = OMatrix::<f32, Const<1>, Dyn>::zeros(5);
    xs[0] = 1.0;
    assert_eq!(
        conv.forward_sequence(&xs).as_slice(),
        [3.0, 2.0, 1.0, 0.0, 0.0]
    );
}

#[test]
fn it_follows_the_definition_written_out() {
    // 2 channels in, 3 out, 3 taps 2 apart, every weight different
    const K: usize = 3;
    const D: usize = 2;
    let mut conv = Conv1d::<2, 3, K, D, f64>::default();
    for c in 0..2 {
        for k in 0..K {
            for o in 0..3 {
                conv.w[c][k][o] = ((o * 6 + c * 3 + k) as f64 * 0.83).sin();
            }
        }
    }
    conv.b = [0.1, -0.2, 0.3];
    let xs = sequence::<2>(25, 0.0);
    let ys = conv.forward_sequence(&xs);
    for t in 0..25 {
        for o in 0..3 {
            let mut want = conv.b[o];
            for c in 0..2 {
                for k in 0..K {
                    let lag = (K - 1 - k) * D;
                    if t >= lag {
                        want += conv.weight(o, c, k) * xs[(c, t - lag)];
                    }
                }
            }
            assert!(
                (ys[(o, t)] - want).abs() < 1e-14,
                "y[{o}, {t}] = {} ≠ {want}",
                ys[(o, t)]
            );
        }
    }
}

#[test]
fn its_weight_is_pytorchs_cout_cin_k_in_place() {
    let mut conv = Conv1d::<2, 3, 4, 1, f64>::default();
    conv.w[1][2][0] = 7.0; // PyTorch's weight[0, 1, 2]
    assert_eq!(conv.weight(0, 1, 2), 7.0);
    // column-major 3 x (2·4): column c·K + k
    assert_eq!(conv.w_slice()[(4 + 2) * 3], 7.0);
    let infos: Vec<_> = conv.tensors().map(|t| t.info).collect();
    assert_eq!(
        (infos[0].role, infos[0].rows, infos[0].cols),
        (Role::Kernel1d(4), 3, 8)
    );
    assert_eq!(
        (infos[1].role, infos[1].rows, infos[1].cols),
        (Role::Bias, 3, 1)
    );
    assert_eq!(infos[0].role.name(), "weight");
    assert_eq!(conv.param_count(), 3 * 2 * 4 + 3);
    let mut signature = String::new();
    <Conv1d<2, 3, 4, 2> as Params<f32>>::write_signature(&mut signature).unwrap();
    assert_eq!(signature, "Conv1d<2, 3, 4, 2, f32>");
}

#[test]
fn the_state_is_a_ring_of_the_last_k_times_d_inputs() {
    let conv = Conv1d::<1, 1, 2, 2>::new([[[1.0], [10.0]]], [0.0]);
    let mut state = conv.initial_state();
    assert_eq!(state.value_count(), 4, "K·D = 4 slots of 1 channel");
    for t in 1..=6usize {
        let y = conv.step(&mut state, &SVector::<f32, 1>::new(t as f32));
        // 10·x_t + x_{t−2}
        let back = t.saturating_sub(2);
        assert_eq!(y[0], 10.0 * t as f32 + back as f32);
        assert_eq!(state.position(), t % 4);
        assert_eq!(state.past(0).unwrap()[0], t as f32);
    }
    assert_eq!(state.past(3).unwrap()[0], 3.0);
    assert_eq!(state.past(4), None);
    let mut values = Vec::new();
    state.for_each_slice(&mut |s| values.extend_from_slice(s));
    assert_eq!(
        values,
        [5.0, 6.0, 3.0, 4.0],
        "slot by slot, 6 and 5 written over 2 and 1"
    );
}

#[test]
fn as_a_layer_it_is_one_step_from_the_zero_state() {
    let mut conv = Conv1d::<2, 2, 3, 2, f64>::default();
    conv.w[0][2] = [1.0, 2.0]; // the newest tap
    conv.w[1][2] = [3.0, 4.0];
    conv.w[0][0] = [100.0, 100.0]; // an older tap, on zeros
    conv.b = [0.5, -0.5];
    let x = SVector::<f64, 2>::new(1.0, 10.0);
    assert_eq!(conv.forward(&x), SVector::<f64, 2>::new(31.5, 41.5));
    let mut state = conv.initial_state();
    assert_eq!(conv.forward(&x), conv.step(&mut state, &x));
}

#[test]
fn gradients_of_single_steps_and_batches_agree_with_finite_differences() {
    type Net = net![Conv1d<3, 4, 3, 2, f64>, Tanh, Dense<4, 2, f64>];
    let mut net = Net::random(&mut StdRng::seed_from_u64(2));
    net.head.b = [0.1, -0.3, 0.2, 0.05];
    let x = SVector::<f64, 3>::new(0.4, -0.9, 0.2);
    let y = SVector::<f64, 2>::new(0.5, -0.25);
    let report = gradcheck(&net, &Mse, &x, &y);
    assert!(report.passes(TOL), "single step: {report}");
    let params = 4 * 3 * 3 + 4 + 4 * 2 + 2;
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
    type Net = net![Conv1d<3, 4, 3, 2, f64>, Tanh, Dense<4, 1, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(3));
    let xs = sequence::<3>(30, 0.0);
    let ys = OMatrix::<f64, Const<1>, Dyn>::from_fn(30, |_, t| (t as f64 / 5.0).sin());
    let report = gradcheck_sequence(&net, &Mse, &xs, &ys);
    assert!(report.passes(TOL), "from the zero state: {report}");
    // 4·3·3 + 4 of the convolution, 4 + 1 of the Dense, the ring's 3·2·3, 3·30 inputs
    assert_eq!(report.checked(), 40 + 5 + 18 + 90);

    // from a ring filled by streaming, its write position part way round
    let mut state = net.initial_state();
    net.forward_sequence_from(&mut state, &sequence::<3>(10, 1.0));
    assert_eq!(state.0.position(), 10 % 6);
    let report = GradCheck::default().run_sequence(&net, &Mse, &state, &xs, &ys);
    assert!(report.passes(TOL), "from a streamed state: {report}");
}

#[test]
fn a_stack_of_dilated_convolutions_backpropagates_through_time() {
    // a small temporal convolutional network: dilations 1 and 4, one tap, a remainder column
    type Net = net![
        Conv1d<2, 4, 3, 1, f64>,
        Tanh,
        Conv1d<4, 3, 2, 4, f64>,
        Conv1d<3, 3, 1, 1, f64>,
        Dense<3, 1, f64>
    ];
    let net = Net::random(&mut StdRng::seed_from_u64(4));
    let xs = sequence::<2>(30, 0.3);
    let ys = OMatrix::<f64, Const<1>, Dyn>::from_fn(30, |_, t| (t as f64 / 3.0).cos());
    let report = gradcheck_sequence(&net, &Mse, &xs, &ys);
    assert!(report.passes(TOL), "{report}");
}

#[test]
fn streaming_whole_sequences_and_batches_of_sequences_give_the_same_bits() {
    type Net = net![Conv1d<3, 8, 3, 2, f64>, Relu, Conv1d<8, 2, 2, 1, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(5));
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
    let first: &Conv1dState<f64, 3, 3, 2, Dyn> = &batch.0;
    assert_eq!(first.position(), state.0.position());
    for lag in 0..6 {
        assert_eq!(
            first.past(lag).unwrap().column(0),
            state.0.past(lag).unwrap().column(0)
        );
    }
}

#[test]
fn reset_empties_the_ring() {
    type Net = net![Conv1d<2, 3, 4, 2>, Dense<3, 1>];
    let net = Net::random(&mut StdRng::seed_from_u64(6));
    let xs = OMatrix::<f32, Const<2>, Dyn>::from_fn(13, |r, t| ((r + t) as f32 * 0.5).sin());
    let first = net.forward_sequence(&xs);
    let mut state = net.initial_state();
    net.forward_sequence_from(&mut state, &xs);
    assert_ne!(state, net.initial_state());
    net.reset(&mut state);
    assert_eq!(state, net.initial_state());
    assert_eq!(state.0.position(), 0);
    let mut values = Vec::new();
    state.0.for_each_slice(&mut |s| values.extend_from_slice(s));
    assert_eq!(values, [0.0; 2 * 4 * 2]);
    assert_eq!(net.forward_sequence_from(&mut state, &xs), first);
}

#[test]
fn f32_streaming_matches_the_f64_definition() {
    // 8 channels to 8, 3 taps: the streaming shape of an audio plugin
    type Conv = Conv1d<8, 8, 3, 1, f32>;
    let conv = Conv::random(&mut StdRng::seed_from_u64(7));
    let mut conv64 = Conv1d::<8, 8, 3, 1, f64>::default();
    for (a, &b) in conv64.w_slice_mut().iter_mut().zip(conv.w_slice()) {
        *a = b as f64;
    }
    let xs = sequence::<8>(50, 0.2);
    let ys64 = conv64.forward_sequence(&xs);
    let mut state = conv.initial_state();
    let mut ys = Vec::new();
    for t in 0..50 {
        let x = xs.column(t).map(|v| v as f32);
        ys.extend(conv.step(&mut state, &x).iter().map(|&v| v as f64));
    }
    assert_all_close(&ys, ys64.as_slice(), 1e-5);
}
