//! Optimizers: each step against a hand computation, each run on a quadratic whose minimum is
//! known, heap and inline state alike, and bad hyperparameters refused.

use typenet::optim::{Adam, Momentum};
use typenet::prelude::*;

use crate::support::assert_close;

type Line = Dense<1, 1, f64>;

/// A single-parameter-pair "network" with the given weight and bias.
fn line(w: f64, b: f64) -> Line {
    Dense::new(SMatrix::<f64, 1, 1>::new(w), SVector::<f64, 1>::new(b))
}

#[test]
fn sgd_with_weight_decay_matches_a_hand_computed_step() {
    let mut net = line(2.0, -1.0);
    let grad = line(0.5, 0.25);
    Sgd::new(0.1)
        .with_weight_decay(0.01)
        .update(&mut net, &grad);
    // θ - lr (g + wd θ)
    assert_close(net.w[0], 2.0 - 0.1 * (0.5 + 0.01 * 2.0), 1e-15);
    let (b, wd) = (-1.0, 0.01);
    assert_close(net.b[0], b - 0.1 * (0.25 + wd * b), 1e-15);
}

#[test]
fn momentum_and_nesterov_match_hand_computed_steps() {
    let (lr, mu) = (0.1, 0.9);
    let grads = [line(1.0, -2.0), line(0.5, 0.5)];
    for nesterov in [false, true] {
        let mut opt = Momentum::new(lr, mu);
        if nesterov {
            opt = opt.nesterov();
        }
        let mut net = line(0.0, 0.0);
        let (mut v, mut theta) = ([0.0f64; 2], [0.0f64; 2]);
        for g in &grads {
            opt.update(&mut net, g);
            for (i, gi) in [g.w[0], g.b[0]].into_iter().enumerate() {
                v[i] = mu * v[i] + gi;
                theta[i] -= lr * if nesterov { gi + mu * v[i] } else { v[i] };
            }
            assert_close(net.w[0], theta[0], 1e-15);
            assert_close(net.b[0], theta[1], 1e-15);
        }
    }
}

#[test]
fn adam_matches_a_hand_computed_bias_corrected_step() {
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let grads = [line(0.3, -4.0), line(-0.1, 2.0), line(0.2, 0.0)];
    let mut opt = Adam::new(lr);
    let mut net = line(1.0, 1.0);
    let (mut m, mut v, mut theta) = ([0.0f64; 2], [0.0f64; 2], [1.0f64; 2]);
    for (t, g) in grads.iter().enumerate() {
        let t = t as i32 + 1;
        opt.update(&mut net, g);
        for (i, gi) in [g.w[0], g.b[0]].into_iter().enumerate() {
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            theta[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        assert_close(net.w[0], theta[0], 1e-12);
        assert_close(net.b[0], theta[1], 1e-12);
    }
    assert_eq!(opt.steps(), 3);
}

#[test]
fn inline_state_behaves_exactly_like_heap_state() {
    let grads = [line(1.0, -2.0), line(0.5, 0.5), line(-0.3, 0.1)];
    let (mut a, mut b, mut c, mut d) = (
        line(1.0, 2.0),
        line(1.0, 2.0),
        line(1.0, 2.0),
        line(1.0, 2.0),
    );
    let (mut heap_m, mut inline_m) = (
        Momentum::new(0.1, 0.9),
        Momentum::<Line, Line>::new_inline(0.1, 0.9),
    );
    let (mut heap_a, mut inline_a) = (Adam::new(0.1), Adam::<Line, Line>::new_inline(0.1));
    for g in &grads {
        heap_m.update(&mut a, g);
        inline_m.update(&mut b, g);
        heap_a.update(&mut c, g);
        inline_a.update(&mut d, g);
    }
    assert_eq!(a, b);
    assert_eq!(c, d);
}

/// Fits y = 2x - 1 on four points by full-batch steps: the mean squared error is a quadratic
/// in (w, b) with its minimum at (2, -1).
fn fit<O: Optimizer<Line, f64>>(mut opt: O, steps: usize) -> Line {
    let x = SMatrix::<f64, 1, 4>::new(-1.0, 0.0, 1.0, 2.0);
    let y = x.map(|x| 2.0 * x - 1.0);
    let mut net = line(0.0, 0.0);
    for _ in 0..steps {
        net.train_step(&mut opt, &Mse, &x, &y);
    }
    net
}

#[test]
fn every_optimizer_finds_the_minimum_of_a_quadratic() {
    let results = [
        ("sgd", fit(Sgd::new(0.1), 2000)),
        ("momentum", fit(Momentum::new(0.05, 0.9), 2000)),
        ("nesterov", fit(Momentum::new(0.05, 0.9).nesterov(), 2000)),
        ("adam", fit(Adam::new(0.05), 4000)),
    ];
    for (name, net) in results {
        assert!(
            (net.w[0] - 2.0).abs() < 1e-4 && (net.b[0] + 1.0).abs() < 1e-4,
            "{name} ended at w = {}, b = {}",
            net.w[0],
            net.b[0]
        );
    }
    // weight decay minimises MSE + wd/2 |θ|² instead, whose minimum lies nearer zero
    let decayed = fit(Sgd::new(0.1).with_weight_decay(0.1), 2000);
    assert!(
        decayed.w[0] < 1.99 && decayed.w[0] > 1.5,
        "{}",
        decayed.w[0]
    );
}

#[test]
fn hyperparameters_out_of_range_are_refused_with_their_name() {
    use typenet::HyperparameterError;
    for lr in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            Sgd::try_new(lr),
            Err(HyperparameterError {
                name: "learning rate",
                ..
            })
        ));
        assert!(Momentum::<Line, Box<Line>>::try_new(lr, 0.9).is_err());
        assert!(Adam::<Line, Box<Line>>::try_new(lr).is_err());
    }
    for mu in [-0.1, 1.0, f64::NAN] {
        let err = Momentum::<Line, Box<Line>>::try_new(0.1, mu).unwrap_err();
        assert!(
            matches!(
                err,
                HyperparameterError {
                    name: "momentum",
                    ..
                }
            ),
            "{err}"
        );
    }
    let mut opt = Adam::<Line, Box<Line>>::new(0.1);
    let err = Optimizer::<Line, f64>::set_learning_rate(&mut opt, 0.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid learning rate 0: must be finite and positive"
    );
    assert_eq!(Optimizer::<Line, f64>::learning_rate(&opt), 0.1);
    Optimizer::<Line, f64>::set_learning_rate(&mut opt, 0.01).unwrap();
    assert_eq!(Optimizer::<Line, f64>::learning_rate(&opt), 0.01);
}

#[test]
#[should_panic(expected = "invalid weight decay -1: must be finite and not negative")]
fn a_negative_weight_decay_panics_with_its_documented_message() {
    let _ = Sgd::new(0.1).with_weight_decay(-1.0);
}

#[test]
#[should_panic(expected = "invalid beta1 1: must be in [0, 1)")]
fn a_beta_of_one_panics_with_its_documented_message() {
    let _ = Adam::<Line, Box<Line>>::new(0.1).with_betas(1.0, 0.999);
}
