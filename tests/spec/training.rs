//! Training steps: XOR is learned; a non-finite step changes nothing; a bad learning rate is
//! refused; a batch step equals the mean of its samples' steps; initialisation draws what it
//! says.

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;
use typenet::{HyperparameterError, Role};

use crate::support::{assert_all_close, assert_close};

type Xor = net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid];

fn xor_data() -> ([SVector<f32, 2>; 4], [SVector<f32, 1>; 4]) {
    let xs = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]].map(SVector::<f32, 2>::from);
    let ys = [0.0f32, 1.0, 1.0, 0.0].map(SVector::<f32, 1>::new);
    (xs, ys)
}

#[test]
fn xor_is_learned_sample_by_sample() {
    let (xs, ys) = xor_data();
    let mut net = Xor::random(&mut StdRng::seed_from_u64(0));
    let mut opt = Sgd::new(0.5);
    let mut first_epoch = 0.0;
    for epoch in 0..2000 {
        let mut total = 0.0;
        for (x, y) in xs.iter().zip(&ys) {
            total += net.train_step(&mut opt, &Mse, x, y);
        }
        if epoch == 0 {
            first_epoch = total;
        }
    }
    for (x, y) in xs.iter().zip(&ys) {
        assert!(
            (net.forward(x)[0] - y[0]).abs() < 0.1,
            "{x:?} -> {}",
            net.forward(x)[0]
        );
    }
    let last: f32 = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| Mse.loss(&net.forward(x), y))
        .sum();
    assert!(last < first_epoch / 10.0);
}

#[test]
fn a_step_whose_loss_is_not_finite_leaves_every_parameter_untouched() {
    let mut net = Xor::random(&mut StdRng::seed_from_u64(1));
    let before = net.clone();
    let mut opt = Sgd::new(0.5);
    let nan_x = SVector::<f32, 2>::new(f32::NAN, 0.0);
    let loss = net.train_step(&mut opt, &Mse, &nan_x, &SVector::<f32, 1>::new(1.0));
    assert!(loss.is_nan());
    assert_eq!(net, before);
    let loss = net.train_step(
        &mut opt,
        &Mse,
        &SVector::<f32, 2>::new(1.0, 0.0),
        &SVector::<f32, 1>::new(f32::INFINITY),
    );
    assert!(loss.is_infinite());
    assert_eq!(net, before);
    // a finite step does move it
    net.train_step(
        &mut opt,
        &Mse,
        &SVector::<f32, 2>::new(1.0, 0.0),
        &SVector::<f32, 1>::new(1.0),
    );
    assert_ne!(net, before);
}

#[test]
fn a_step_whose_gradient_overflows_leaves_every_parameter_untouched() {
    // A finite loss with an infinite gradient: cross-entropy at p = 0 against a target of
    // 1e32 costs 1e32 · 16.1 (finite in f32) and has gradient 1e32 / 1e-7 (not).
    let mut net = Dense::<1, 1>::zeros();
    net.w[0] = 0.5;
    let before = net.clone();
    let (x, y) = (SVector::<f32, 1>::new(0.0), SVector::<f32, 1>::new(1e32));
    let mut grad = Dense::<1, 1>::zeros();
    let loss = net.accumulate_gradient(&CrossEntropy, &x, &y, &mut grad);
    assert!(
        loss.is_finite() && !grad.all_finite(),
        "the setup: {loss}, {grad:?}"
    );
    let loss = net.train_step(&mut Sgd::new(0.1), &CrossEntropy, &x, &y);
    assert!(loss.is_finite());
    assert_eq!(net, before);
}

#[test]
fn learning_rates_that_are_not_finite_and_positive_are_refused() {
    for lr in [0.0, -0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = Sgd::try_new(lr).unwrap_err();
        assert!(matches!(
            err,
            HyperparameterError {
                name: "learning rate",
                ..
            }
        ));
        assert!(
            err.to_string().ends_with("must be finite and positive"),
            "{err}"
        );
    }
    assert_eq!(Optimizer::<Xor, f32>::learning_rate(&Sgd::new(0.25)), 0.25);
}

#[test]
#[should_panic(expected = "invalid learning rate 0: must be finite and positive")]
fn sgd_new_panics_on_a_zero_learning_rate_with_the_documented_message() {
    let _ = Sgd::new(0.0);
}

#[test]
#[should_panic(expected = "invalid learning rate NaN: must be finite and positive")]
fn sgd_new_panics_on_a_nan_learning_rate_with_the_documented_message() {
    let _ = Sgd::new(f64::NAN);
}

#[test]
#[should_panic(expected = "invalid learning rate -0.5: must be finite and positive")]
fn sgd_new_panics_on_a_negative_learning_rate_with_the_documented_message() {
    let _ = Sgd::new(-0.5);
}

#[test]
#[should_panic(expected = "invalid learning rate inf: must be finite and positive")]
fn sgd_new_panics_on_an_infinite_learning_rate_with_the_documented_message() {
    let _ = Sgd::new(f64::INFINITY);
}

/// `y = w·x + b` with `w = [0.5, -0.25]`, `b = 0.1`.
fn line() -> Dense<2, 1, f64> {
    Dense::new(
        SMatrix::<f64, 1, 2>::new(0.5, -0.25),
        SVector::<f64, 1>::new(0.1),
    )
}

#[test]
fn an_sgd_step_on_one_sample_matches_the_hand_computed_step() {
    // x = [2, 4], y = 1: prediction 1 - 1 + 0.1 = 0.1, MSE (0.1 - 1)² = 0.81,
    // dL/dpred = 2 (0.1 - 1) = -1.8, dL/dw = -1.8 x = [-3.6, -7.2], dL/db = -1.8.
    // With lr 0.1: w = [0.5 + 0.36, -0.25 + 0.72] = [0.86, 0.47], b = 0.1 + 0.18 = 0.28.
    let mut net = line();
    let x = SVector::<f64, 2>::new(2.0, 4.0);
    let loss = net.train_step(&mut Sgd::new(0.1), &Mse, &x, &SVector::<f64, 1>::new(1.0));
    assert_close(loss, 0.81, 1e-14);
    assert_all_close(net.w.as_slice(), &[0.86, 0.47], 1e-14);
    assert_close(net.b[0], 0.28, 1e-14);
}

#[test]
fn an_sgd_step_on_a_batch_matches_the_hand_computed_step_with_its_mean() {
    // Samples x₁ = [2, 4], y₁ = 1 (prediction 0.1) and x₂ = [1, 0], y₂ = 0 (prediction 0.6).
    // HalfSse = (½·0.81 + ½·0.36) / 2 = 0.2925; dL/dpred = (p - y) / 2 = [-0.45, 0.3];
    // dL/dw = -0.45 [2, 4] + 0.3 [1, 0] = [-0.6, -1.8], dL/db = -0.15.
    // With lr 0.1: w = [0.56, -0.07], b = 0.115.
    let mut net = line();
    let x = SMatrix::<f64, 2, 2>::new(2.0, 1.0, 4.0, 0.0);
    let y = SMatrix::<f64, 1, 2>::new(1.0, 0.0);
    let loss = net.train_step(&mut Sgd::new(0.1), &HalfSse, &x, &y);
    assert_close(loss, 0.2925, 1e-14);
    assert_all_close(net.w.as_slice(), &[0.56, -0.07], 1e-14);
    assert_close(net.b[0], 0.115, 1e-14);
    // the same batch as Dyn takes the same step
    let mut dynamic = line();
    let xd = OMatrix::<f64, Const<2>, Dyn>::from_column_slice(x.as_slice());
    let yd = OMatrix::<f64, Const<1>, Dyn>::from_column_slice(y.as_slice());
    let loss_d = dynamic.train_step(&mut Sgd::new(0.1), &HalfSse, &xd, &yd);
    assert_eq!((loss_d, &dynamic), (loss, &net));
}

#[test]
fn an_sgd_step_is_theta_minus_lr_times_the_gradient() {
    let mut net =
        <net![Dense<2, 2, f64>, Sigmoid, Dense<2, 1, f64>]>::random(&mut StdRng::seed_from_u64(2));
    let before = net.clone();
    let (x, y) = (
        SVector::<f64, 2>::new(0.3, -0.2),
        SVector::<f64, 1>::new(0.7),
    );
    let mut grad = <net![Dense<2, 2, f64>, Sigmoid, Dense<2, 1, f64>]>::zeros();
    let loss = net.accumulate_gradient(&Mse, &x, &y, &mut grad);
    let stepped = net.train_step(&mut Sgd::new(0.3), &Mse, &x, &y);
    assert_eq!(loss, stepped);
    for ((p, b), g) in net.tensors().zip(before.tensors()).zip(grad.tensors()) {
        let expected: Vec<f64> = b
            .data
            .iter()
            .zip(g.data)
            .map(|(b, g)| b - 0.3 * g)
            .collect();
        assert_all_close(p.data, &expected, 1e-15);
    }
}

/// The gradient of a batch, against the mean of its samples' gradients.
fn mean_of_samples<const K: usize>(
    net: &net![Dense<3, 4, f64>, Tanh, Dense<4, 2, f64>],
    x: &SMatrix<f64, 3, K>,
    y: &SMatrix<f64, 2, K>,
) -> (f64, Vec<f64>) {
    let mut sum = <net![Dense<3, 4, f64>, Tanh, Dense<4, 2, f64>]>::zeros();
    let mut loss = 0.0;
    for k in 0..K {
        loss += net.accumulate_gradient(
            &SoftmaxCrossEntropy,
            &x.column(k).into_owned(),
            &y.column(k).into_owned(),
            &mut sum,
        );
    }
    let flat = sum
        .tensors()
        .flat_map(|t| t.data.iter().map(|g| g / K as f64).collect::<Vec<_>>())
        .collect();
    (loss / K as f64, flat)
}

#[test]
fn a_batch_gradient_is_the_mean_of_the_sample_gradients_for_fixed_and_dynamic_batches() {
    type Net = net![Dense<3, 4, f64>, Tanh, Dense<4, 2, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(3));
    let x = SMatrix::<f64, 3, 5>::from_fn(|r, c| (r as f64 * 0.3 - c as f64 * 0.2).sin());
    let y = SMatrix::<f64, 2, 5>::from_fn(|r, c| ((r + c) % 2) as f64);
    let (mean_loss, mean_grad) = mean_of_samples(&net, &x, &y);

    let mut fixed = Net::zeros();
    let loss = net.accumulate_gradient(&SoftmaxCrossEntropy, &x, &y, &mut fixed);
    assert_close(loss, mean_loss, 1e-12);
    let flat: Vec<f64> = fixed.tensors().flat_map(|t| t.data.to_vec()).collect();
    assert_all_close(&flat, &mean_grad, 1e-12);

    let xd = OMatrix::<f64, Const<3>, Dyn>::from_column_slice(x.as_slice());
    let yd = OMatrix::<f64, Const<2>, Dyn>::from_column_slice(y.as_slice());
    let mut dynamic = Net::zeros();
    let loss = net.accumulate_gradient(&SoftmaxCrossEntropy, &xd, &yd, &mut dynamic);
    assert_close(loss, mean_loss, 1e-12);
    assert_eq!(dynamic, fixed);
}

#[test]
fn normal_initialisation_draws_weights_with_the_asked_spread_and_zero_biases() {
    let net = <net![Dense<100, 50, f64>, Relu, Dense<50, 10, f64>]>::random_with(
        &mut StdRng::seed_from_u64(4),
        Init::Normal { std: 0.01 },
    );
    for t in net.tensors() {
        match t.info.role {
            Role::Bias => assert!(t.data.iter().all(|&b| b == 0.0)),
            Role::Weight => {
                let n = t.data.len() as f64;
                let mean = t.data.iter().sum::<f64>() / n;
                let std = (t.data.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / n).sqrt();
                assert!(
                    mean.abs() < 0.002 && (std - 0.01).abs() < 0.001,
                    "mean {mean}, std {std}"
                );
            }
            other => unreachable!("a dense network has no {other:?} tensor"),
        }
    }
}

#[test]
fn xavier_stays_within_its_bound_and_he_has_its_variance() {
    let mut rng = StdRng::seed_from_u64(5);
    let xavier = Dense::<200, 100, f64>::random(&mut rng);
    let bound = (6.0f64 / 300.0).sqrt();
    assert!(xavier.w.iter().all(|w| w.abs() <= bound));
    assert!(xavier.w.amax() > 0.9 * bound, "uses the whole range");
    // U(-a, a) has variance a² / 3
    let var = xavier.w.iter().map(|w| w * w).sum::<f64>() / xavier.w.len() as f64;
    assert!(
        (var / (bound * bound / 3.0) - 1.0).abs() < 0.05,
        "variance {var}"
    );
    assert!(xavier.b.iter().all(|&b| b == 0.0));
    let he = Dense::<200, 100, f64>::random_with(&mut rng, Init::He);
    let var = he.w.iter().map(|w| w * w).sum::<f64>() / he.w.len() as f64;
    assert!((var / (2.0 / 200.0) - 1.0).abs() < 0.05, "variance {var}");
}

#[test]
fn parameters_are_counted_and_visited_in_layer_order() {
    type Net = net![Dense<3, 4>, Relu, Dense<4, 2>, Softmax];
    let net = Net::zeros();
    assert_eq!(Params::<f32>::param_count(&net), 3 * 4 + 4 + 4 * 2 + 2);
    let order: Vec<_> = net
        .tensors()
        .map(|t| (t.info.layer, t.info.role, t.info.rows, t.info.cols))
        .collect();
    assert_eq!(
        order,
        [
            (0, Role::Weight, 4, 3),
            (0, Role::Bias, 4, 1),
            (2, Role::Weight, 2, 4),
            (2, Role::Bias, 2, 1)
        ]
    );
}
