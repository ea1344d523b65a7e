//! Sequence networks: streaming one sample at a time, whole sequences, batches side by side,
//! training through time (full and truncated, clipped) and the checker through time.

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;
use typenet::{GradCheck, Location, SequenceError, StreamState};

type Seq<const R: usize, T = f64> = OMatrix<T, Const<R>, Dyn>;

fn wave<const R: usize>(steps: usize, phase: f64) -> Seq<R> {
    Seq::<R>::from_fn(steps, |r, t| {
        ((t as f64 * 0.37 + r as f64 * 1.3 + phase).sin() * 0.8) + 0.1 * (t as f64 * 0.05).cos()
    })
}

#[test]
fn a_gru_step_computes_pytorchs_equations() {
    // one unit, one input, every weight chosen: the equations of torch.nn.GRU written out
    let mut gru = Gru::<1, 1, f64>::zeros();
    let (wir, wiz, win, whr, whz, whn) = (0.5, -0.3, 0.8, 0.2, 0.4, -0.6);
    let (bir, biz, bin, bhr, bhz, bhn) = (0.1, 0.05, -0.2, -0.1, 0.3, 0.25);
    gru.w_ih = [[[wir], [wiz], [win]]];
    gru.w_hh = [[[whr], [whz], [whn]]];
    gru.b_ih = [[bir], [biz], [bin]];
    gru.b_hh = [[bhr], [bhz], [bhn]];
    let sigma = |a: f64| 1.0 / (1.0 + (-a).exp());
    let mut h = 0.0;
    let mut state = gru.initial_state();
    for x in [1.0, -0.5, 0.25, 2.0] {
        let r = sigma(wir * x + bir + whr * h + bhr);
        let z = sigma(wiz * x + biz + whz * h + bhz);
        let n = (win * x + bin + r * (whn * h + bhn)).tanh();
        h = (1.0 - z) * n + z * h;
        let y = gru.step(&mut state, &SVector::<f64, 1>::new(x));
        assert!((y[0] - h).abs() < 1e-15, "{} vs {h}", y[0]);
        assert_eq!(state[0], y[0]);
    }
}

#[test]
fn streaming_equals_forward_sequence_and_a_batch_of_streams_to_the_bit() {
    type Net = net![Gru<2, 12>, Tanh, Gru<12, 5>, Dense<5, 3>];
    let net = Net::random(&mut StdRng::seed_from_u64(11));
    let xs: Seq<2, f32> = wave::<2>(300, 0.0).cast();
    let ys = net.forward_sequence(&xs);
    let mut state: StreamState<Net> = net.initial_state();
    for t in 0..300 {
        let y = net.step(&mut state, &xs.column(t).into_owned());
        assert_eq!(y, ys.column(t), "step {t}");
    }
    // three streams side by side (the training layout): each column is its own stream
    let others: [Seq<2, f32>; 2] = [wave::<2>(300, 1.0).cast(), wave::<2>(300, 2.0).cast()];
    let mut batch_state = <Net as SequenceLayer<OMatrix<f32, Const<2>, Dyn>>>::zero_state(3);
    let mut ctx = TrainContext::seeded(1);
    for t in 0..300 {
        let x = OMatrix::<f32, Const<2>, Dyn>::from_columns(&[
            xs.column(t),
            others[0].column(t),
            others[1].column(t),
        ]);
        let (y, _) = <Net as SequenceLayer<OMatrix<f32, Const<2>, Dyn>>>::step_train(
            &net,
            &mut batch_state,
            x,
            &mut ctx,
        );
        assert_eq!(y.column(0), ys.column(t), "step {t}");
    }
    let alone = net.forward_sequence(&others[1]);
    let mut state = net.initial_state();
    for t in 0..300 {
        net.step(&mut state, &others[1].column(t).into_owned());
    }
    assert_eq!(net.step(&mut state, &xs.column(0).into_owned()).len(), 3);
    assert_eq!(alone.ncols(), 300);
}

#[test]
fn a_stack_sequence_and_blocks_of_a_stream_give_the_same_outputs() {
    type Net = net![Gru<1, 6>, Dense<6, 1>];
    let net = Net::random(&mut StdRng::seed_from_u64(3));
    let xs = SMatrix::<f32, 1, 40>::from_fn(|_, t| (t as f32 * 0.2).sin());
    let whole: SMatrix<f32, 1, 40> = net.forward_sequence(&xs);
    let dyn_xs = OMatrix::<f32, Const<1>, Dyn>::from_row_slice(xs.as_slice());
    let mut state = net.initial_state();
    let first = net.forward_sequence_from(&mut state, &dyn_xs.columns(0, 25).into_owned());
    let rest = net.forward_sequence_from(&mut state, &dyn_xs.columns(25, 15).into_owned());
    assert_eq!(first.as_slice(), &whole.as_slice()[..25]);
    assert_eq!(rest.as_slice(), &whole.as_slice()[25..]);
    net.reset(&mut state);
    assert_eq!(state, net.initial_state());
}

#[test]
fn a_recurrent_layer_between_other_layers_is_one_step_from_zero_as_a_plain_layer() {
    type Net = net![Dense<3, 4>, Relu, Gru<4, 4>, Dense<4, 2>];
    let net = Net::random(&mut StdRng::seed_from_u64(9));
    let x = SVector::<f32, 3>::new(0.3, -0.2, 0.9);
    let mut state = net.initial_state();
    assert_eq!(net.forward(&x), net.step(&mut state, &x));
}

#[test]
fn backprop_through_time_agrees_with_finite_differences() {
    type Net = net![Gru<2, 4, f64>, Tanh, Gru<4, 3, f64>, Dense<3, 2, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(21));
    let xs = wave::<2>(25, 0.3);
    let ys = wave::<2>(25, 2.0) * 0.5;
    let report = gradcheck_sequence(&net, &Mse, &xs, &ys);
    assert!(report.passes(1e-6), "{report}");
    let params = Params::<f64>::param_count(&net);
    assert_eq!(report.checked(), params + (4 + 3) + 2 * 25);

    // from a state that is not zero, so that every recurrent weight matters from step one
    let mut state = net.initial_state();
    state.0.fill(0.4);
    state.1.1.0.fill(-0.3);
    let report = GradCheck::default().run_sequence(&net, &Mse, &state, &xs, &ys);
    assert!(report.passes(1e-6), "{report}");
}

#[test]
fn the_checker_reports_the_initial_state_where_it_disagrees() {
    let report = {
        type Net = net![Gru<1, 2, f64>, Dense<2, 1, f64>];
        let net = Net::random(&mut StdRng::seed_from_u64(2));
        gradcheck_sequence(&net, &Mse, &wave::<1>(6, 0.0), &wave::<1>(6, 1.0))
    };
    assert!(report.passes(1e-6), "{report}");
    assert_eq!(
        Location::InitialState { index: 1 }.to_string(),
        "initial state[1]"
    );
}

#[test]
fn full_bptt_learns_a_delay_line_that_needs_memory() {
    // y_t = x_{t-3}: no function of the current input alone fits it
    type Net = net![Gru<1, 12>, Dense<12, 1>];
    let mut net = Net::random(&mut StdRng::seed_from_u64(7));
    let make = |seed: u64| {
        let mut rng = StdRng::seed_from_u64(seed);
        let xs = OMatrix::<f32, Const<1>, Dyn>::from_fn(60, |_, _| {
            rand::RngExt::random_range(&mut rng, -1.0f32..1.0)
        });
        let ys =
            OMatrix::<f32, Const<1>, Dyn>::from_fn(60, |_, t| if t < 3 { 0.0 } else { xs[t - 3] });
        (xs, ys)
    };
    let data: Vec<_> = (0..8).map(make).collect();
    let xs: Vec<_> = data.iter().map(|d| d.0.clone()).collect();
    let ys: Vec<_> = data.iter().map(|d| d.1.clone()).collect();
    let mut opt = Adam::new(0.01);
    let bptt = Bptt::full().clip_norm(1.0);
    let first = net
        .train_sequences(&mut opt, &Mse, &xs, &ys, &bptt)
        .unwrap();
    let mut last = first;
    for _ in 0..400 {
        last = net
            .train_sequences(&mut opt, &Mse, &xs, &ys, &bptt)
            .unwrap();
    }
    assert!(last < first * 0.05, "{first} -> {last}");
    // and it generalises to a sequence it never saw
    let (x, y) = make(99);
    let out = net.forward_sequence(&x);
    let err = (out - &y).map(|e| e * e).mean();
    assert!(err < 0.02, "held-out MSE {err}");
}

#[test]
fn truncated_bptt_takes_one_step_per_window_and_carries_the_state() {
    type Net = net![Gru<1, 4>, Dense<4, 1>];
    let net0 = Net::random(&mut StdRng::seed_from_u64(1));
    let xs = vec![
        wave::<1>(100, 0.0).cast::<f32>(),
        wave::<1>(100, 0.5).cast(),
    ];
    let ys = vec![
        wave::<1>(100, 1.0).cast::<f32>(),
        wave::<1>(100, 1.5).cast(),
    ];
    // plain SGD: a window of 30 steps after 10 of warm-up is 3 steps of 30 and one of 0… 30
    let mut counted = net0.clone();
    let mut opt = CountingSgd::default();
    counted
        .train_sequences(&mut opt, &Mse, &xs, &ys, &Bptt::truncated(30).warmup(10))
        .unwrap();
    assert_eq!(opt.updates, 3); // 90 steps after the warm-up: 30 + 30 + 30
    let mut opt = CountingSgd::default();
    counted
        .train_sequences(&mut opt, &Mse, &xs, &ys, &Bptt::truncated(40))
        .unwrap();
    assert_eq!(opt.updates, 3); // 40 + 40 + 20
    let mut opt = CountingSgd::default();
    counted
        .train_sequences(&mut opt, &Mse, &xs, &ys, &Bptt::full())
        .unwrap();
    assert_eq!(opt.updates, 1);

    // one window as long as the sequence is full BPTT, to the bit
    let (mut a, mut b) = (net0.clone(), net0.clone());
    let la = a
        .train_sequences(&mut Sgd::new(0.1), &Mse, &xs, &ys, &Bptt::full())
        .unwrap();
    let lb = b
        .train_sequences(&mut Sgd::new(0.1), &Mse, &xs, &ys, &Bptt::truncated(100))
        .unwrap();
    assert_eq!((la, &a), (lb, &b));
    assert_ne!(a, net0);
}

/// Plain SGD that counts its updates.
#[derive(Default)]
struct CountingSgd {
    updates: usize,
}

impl<N: Params<f32>> Optimizer<N, f32> for CountingSgd {
    fn update(&mut self, net: &mut N, grad: &N) {
        self.updates += 1;
        net.zip_params_mut(grad, [], &mut |p: &mut [f32], g: &[f32], []| {
            p.iter_mut().zip(g).for_each(|(p, g)| *p -= 0.01 * g)
        });
    }
    fn learning_rate(&self) -> f64 {
        0.01
    }
    fn set_learning_rate(&mut self, _: f64) -> Result<(), typenet::HyperparameterError> {
        Ok(())
    }
}

#[test]
fn one_sequence_trains_as_a_batch_of_one() {
    type Net = net![Gru<1, 5, f64>, Dense<5, 1, f64>];
    let net0 = Net::random(&mut StdRng::seed_from_u64(8));
    let (x, y) = (wave::<1>(50, 0.0), wave::<1>(50, 0.7));
    let (mut a, mut b) = (net0.clone(), net0);
    let la = a.train_sequence(&mut Sgd::new(0.05), &Mse, &x, &y).unwrap();
    let lb = b
        .train_sequences(&mut Sgd::new(0.05), &Mse, &[x], &[y], &Bptt::full())
        .unwrap();
    assert!((la - lb).abs() < 1e-14);
    assert!(approx::relative_eq!(a, b, epsilon = 1e-13));
}

#[test]
fn clipping_bounds_every_step_by_the_global_norm() {
    type Net = net![Gru<1, 4, f64>, Dense<4, 1, f64>];
    let net0 = Net::random(&mut StdRng::seed_from_u64(4));
    let (x, y) = (wave::<1>(40, 0.0) * 30.0, wave::<1>(40, 0.7) * 30.0);
    let (mut clipped, mut free) = (net0.clone(), net0.clone());
    let bptt = Bptt::full().clip_norm(0.5);
    clipped
        .train_sequence_with(&mut Sgd::new(1.0), &Mse, &x, &y, &bptt)
        .unwrap();
    free.train_sequence(&mut Sgd::new(1.0), &Mse, &x, &y)
        .unwrap();
    // with SGD at rate 1 the step is the (clipped) gradient itself
    let step = |n: &Net| {
        let mut d = n.clone();
        d.zip_params_mut(&net0, [], &mut |p: &mut [f64], q: &[f64], []| {
            p.iter_mut().zip(q).for_each(|(p, q)| *p -= q)
        });
        typenet::optim::global_norm(&d)
    };
    assert!((step(&clipped) - 0.5).abs() < 1e-6, "{}", step(&clipped));
    assert!(step(&free) > 0.5);
}

#[test]
fn bad_sequences_are_refused_and_change_nothing() {
    type Net = net![Gru<1, 3>, Dense<3, 1>];
    let net0 = Net::random(&mut StdRng::seed_from_u64(5));
    let mut net = net0.clone();
    let mut opt = Adam::new(0.01);
    let s = |n: usize| OMatrix::<f32, Const<1>, Dyn>::zeros(n);
    let full = Bptt::full();
    assert_eq!(
        net.train_sequence(&mut opt, &Mse, &s(10), &s(9)),
        Err(SequenceError::LengthMismatch {
            sequence: 0,
            inputs: 10,
            targets: 9
        })
    );
    assert_eq!(
        net.train_sequences(&mut opt, &Mse, &[s(10), s(10)], &[s(10)], &full),
        Err(SequenceError::CountMismatch {
            inputs: 2,
            targets: 1
        })
    );
    assert_eq!(
        net.train_sequences(&mut opt, &Mse, &[s(10), s(8)], &[s(10), s(8)], &full),
        Err(SequenceError::UnequalLengths {
            sequence: 1,
            length: 8,
            first: 10
        })
    );
    assert_eq!(
        net.train_sequences(&mut opt, &Mse, &[], &[], &full),
        Err(SequenceError::Empty)
    );
    assert_eq!(
        net.train_sequence(&mut opt, &Mse, &s(0), &s(0)),
        Err(SequenceError::Empty)
    );
    let err = net
        .train_sequence_with(&mut opt, &Mse, &s(10), &s(10), &Bptt::full().warmup(10))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "a warm-up of 10 steps leaves nothing to train on in sequences of 10 steps"
    );
    // a NaN in the data: the loss says so and the network is as it was
    let mut x = s(10);
    x[4] = f32::NAN;
    let loss = net.train_sequence(&mut opt, &Mse, &x, &s(10)).unwrap();
    assert!(loss.is_nan());
    assert_eq!(net, net0);
    // hyperparameters out of range are errors before anything runs
    assert!(Bptt::try_truncated(0).is_err());
    assert_eq!(
        Bptt::full().try_clip_norm(-1.0).unwrap_err().to_string(),
        "invalid gradient norm bound -1: must be finite and positive"
    );
    assert!(Bptt::full().try_clip_norm(f64::NAN).is_err());
}
