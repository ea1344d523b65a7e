//! Numerics: stable softmax, sigmoid and cross-entropy at ±1000, NaN never swallowed, zero in
//! gives zero out, determinism, and the numbers the seed tutorials print.

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

use crate::support::{assert_all_close, assert_close};

#[test]
fn softmax_of_equal_huge_logits_is_uniform() {
    let y = Softmax.forward(&SVector::<f64, 3>::new(1000.0, 1000.0, 1000.0));
    assert_all_close(y.as_slice(), &[1.0 / 3.0; 3], 1e-15);
    let y = Softmax.forward(&SVector::<f32, 3>::new(1000.0, 1000.0, 1000.0));
    assert!(y.iter().all(|&v| (v - 1.0 / 3.0).abs() < 1e-6));
}

#[test]
fn softmax_of_minus_1000_0_1000_is_one_hot_and_finite() {
    for y in [
        Softmax.forward(&SVector::<f64, 3>::new(-1000.0, 0.0, 1000.0)),
        Softmax
            .forward(&SVector::<f32, 3>::new(-1000.0, 0.0, 1000.0))
            .map(f64::from),
    ] {
        assert_eq!(y.as_slice(), [0.0, 0.0, 1.0]);
    }
    // and its backward pass stays finite
    let (y, cache) = Softmax.forward_train(SVector::<f64, 3>::new(-1000.0, 0.0, 1000.0));
    let d = Softmax.backward(cache, SVector::<f64, 3>::new(1.0, -2.0, 3.0), &mut Softmax);
    assert!(y.iter().chain(d.iter()).all(|v| v.is_finite()));
}

#[test]
fn sigmoid_saturates_to_exact_values_with_a_zero_finite_gradient() {
    let x = SVector::<f64, 2>::new(1000.0, -1000.0);
    let (y, cache) = Sigmoid.forward_train(x);
    assert_eq!(y.as_slice(), [1.0, 0.0]);
    let d = Sigmoid.backward(cache, SVector::<f64, 2>::new(1.0, 1.0), &mut Sigmoid);
    assert_eq!(d.as_slice(), [0.0, 0.0]);
    let y32 = Sigmoid.forward(&SVector::<f32, 2>::new(1000.0, -1000.0));
    assert_eq!(y32.as_slice(), [1.0, 0.0]);
    assert_eq!(Sigmoid::value(0.0f64), 0.5);
}

#[test]
fn softmax_cross_entropy_from_huge_logits_is_finite_with_a_finite_gradient() {
    let z = SVector::<f64, 2>::new(1000.0, 0.0);
    for y in [
        SVector::<f64, 2>::new(0.0, 1.0),
        SVector::<f64, 2>::new(1.0, 0.0),
    ] {
        let (loss, grad) = SoftmaxCrossEntropy.loss_and_gradient(z, &y);
        assert!(loss.is_finite() && grad.iter().all(|g| g.is_finite()));
    }
    assert_eq!(
        SoftmaxCrossEntropy.loss(&z, &SVector::<f64, 2>::new(0.0, 1.0)),
        1000.0
    );
    assert_eq!(
        SoftmaxCrossEntropy.loss(&z, &SVector::<f64, 2>::new(1.0, 0.0)),
        0.0
    );
    let z32 = SVector::<f32, 2>::new(1000.0, -1000.0);
    assert_eq!(
        SoftmaxCrossEntropy.loss(&z32, &SVector::<f32, 2>::new(0.0, 1.0)),
        2000.0
    );
}

/// Whether a NaN put in at `index` of the input comes out somewhere in the output.
fn nan_survives<N: Layer<SVector<f64, 4>, Out = O>, O: AsRef<[f64]>>(net: &N) -> bool {
    (0..4).all(|i| {
        let mut x = SVector::<f64, 4>::new(0.5, -0.5, 2.0, -2.0);
        x[i] = f64::NAN;
        net.forward(&x).as_ref().iter().any(|v| v.is_nan())
    })
}

#[test]
fn a_nan_input_gives_a_nan_output_through_every_layer_and_network() {
    let mut rng = StdRng::seed_from_u64(3);
    let dense = Dense::<4, 4, f64>::random(&mut rng);
    let nets = [
        nan_survives(&Sigmoid),
        nan_survives(&Tanh),
        nan_survives(&Relu),
        nan_survives(&Softmax),
        nan_survives(&dense),
        nan_survives(&<net![Dense<4, 3, f64>, Relu, Dense<3, 2, f64>, Softmax]>::random(&mut rng)),
    ];
    assert_eq!(nets, [true; 6]);
    // Relu in particular: max(NaN, 0) must not be 0
    assert!(Relu::value(f64::NAN).is_nan() && Relu::value(f32::NAN).is_nan());
    // and the losses
    let nan = SVector::<f64, 2>::new(f64::NAN, 0.5);
    let y = SVector::<f64, 2>::new(0.0, 1.0);
    for loss in [
        Mse.loss(&nan, &y),
        Sse.loss(&nan, &y),
        HalfSse.loss(&nan, &y),
        CrossEntropy.loss(&nan, &y.map(|v| 1.0 - v)),
        SoftmaxCrossEntropy.loss(&nan, &y),
    ] {
        assert!(loss.is_nan());
    }
}

#[test]
fn a_zero_upstream_gradient_gives_exactly_zero_gradients() {
    type Net = net![Dense<4, 5, f64>, Tanh, Dense<5, 3, f64>, Sigmoid, Dense<3, 2, f64>, Softmax];
    let net = Net::random(&mut StdRng::seed_from_u64(4));
    let x = SMatrix::<f64, 4, 3>::from_fn(|r, c| r as f64 - c as f64);
    let (out, cache) = net.forward_train(x);
    let mut grad = Net::zeros();
    let dx = net.backward(cache, out.map(|_| 0.0), &mut grad);
    assert!(grad.tensors().all(|t| t.data.iter().all(|&g| g == 0.0)));
    assert!(dx.iter().all(|&g| g == 0.0));
}

#[test]
fn the_same_seed_gives_the_same_network_and_another_seed_another() {
    type Net = net![Dense<6, 5>, Relu, Dense<5, 2>];
    let a = Net::random(&mut StdRng::seed_from_u64(42));
    let b = Net::random(&mut StdRng::seed_from_u64(42));
    let c = Net::random(&mut StdRng::seed_from_u64(43));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn two_backward_passes_give_bit_identical_gradients() {
    type Net = net![Dense<4, 8>, Tanh, Dense<8, 3>, Softmax];
    let net = Net::random(&mut StdRng::seed_from_u64(5));
    let x = OMatrix::<f32, Const<4>, Dyn>::from_fn(10, |r, c| ((r * 7 + c * 3) % 11) as f32 / 11.0);
    let y = OMatrix::<f32, Const<3>, Dyn>::from_fn(10, |r, c| (r == c % 3) as u8 as f32);
    let (mut g1, mut g2) = (Net::zeros(), Net::zeros());
    let l1 = net.accumulate_gradient(&CrossEntropy, &x, &y, &mut g1);
    let l2 = net.accumulate_gradient(&CrossEntropy, &x, &y, &mut g2);
    assert_eq!(l1.to_bits(), l2.to_bits());
    let bits = |g: &Net| {
        g.tensors()
            .flat_map(|t| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&g1), bits(&g2));
}

/// The seed tutorials' example: the network says 0.6 for digit 2, which is right.
fn seed_prediction() -> (SVector<f64, 10>, SVector<f64, 10>) {
    let p = SVector::<f64, 10>::from([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]);
    let mut t = SVector::<f64, 10>::zeros();
    t[2] = 1.0;
    (p, t)
}

#[test]
fn the_seeds_mean_squared_error_is_0_0195() {
    let (p, t) = seed_prediction();
    assert_close(Mse.loss(&p, &t), 0.0195, 1e-12);
    // the other conventions, by their formulas: Σ (p - t)² = 0.195
    assert_close(Sse.loss(&p, &t), 0.195, 1e-12);
    assert_close(HalfSse.loss(&p, &t), 0.0975, 1e-12);
}

#[test]
fn the_squared_error_conventions_follow_their_formulas_on_a_batch() {
    // n = 3 outputs, B = 2 samples, s = Σ (p - y)² over the whole batch:
    // Mse = s / nB with gradient 2(p - y) / nB, Sse = s / B with 2(p - y) / B,
    // HalfSse = s / 2B with (p - y) / B.
    let p = SMatrix::<f64, 3, 2>::new(0.5, -1.0, 2.0, 0.25, 3.0, 0.0);
    let y = SMatrix::<f64, 3, 2>::new(1.0, 0.0, 0.0, 0.5, 1.0, -1.0);
    let diff = p - y;
    let (s, n, b) = (diff.norm_squared(), 3.0, 2.0);
    let expected = |loss: f64, slope: f64| (loss, diff * slope);
    for ((loss, grad), (want_loss, want_grad)) in [
        (
            Mse.loss_and_gradient(p, &y),
            expected(s / (n * b), 2.0 / (n * b)),
        ),
        (Sse.loss_and_gradient(p, &y), expected(s / b, 2.0 / b)),
        (
            HalfSse.loss_and_gradient(p, &y),
            expected(s / (2.0 * b), 1.0 / b),
        ),
    ] {
        assert_close(loss, want_loss, 1e-14);
        assert_all_close(grad.as_slice(), want_grad.as_slice(), 1e-14);
    }
    // so half-SSE is half of SSE, and MSE is SSE over the number of outputs
    assert_close(HalfSse.loss(&p, &y), Sse.loss(&p, &y) / 2.0, 1e-15);
    assert_close(Mse.loss(&p, &y), Sse.loss(&p, &y) / n, 1e-15);
}

#[test]
fn the_seeds_cross_entropy_is_minus_ln_0_6_with_the_guard() {
    let (p, t) = seed_prediction();
    assert_close(CrossEntropy.loss(&p, &t), 0.510825457099338, 1e-12);
    assert_close(CrossEntropy.loss(&p, &t), -(0.6f64 + 1e-7).ln(), 1e-15);
}

#[test]
fn the_cross_entropy_gradient_is_minus_one_over_p_at_the_true_class_only() {
    // One seed computes this gradient with the one-hot vector used as class indices; the
    // correct value is -1 / (0.6 + 1e-7) at index 2 and 0 everywhere else.
    let (p, t) = seed_prediction();
    let (_, g) = CrossEntropy.loss_and_gradient(p, &t);
    let mut expected = [0.0; 10];
    expected[2] = -1.0 / (0.6 + 1e-7);
    assert_all_close(g.as_slice(), &expected, 1e-12);
}

#[test]
fn a_prediction_of_zero_for_the_true_class_costs_a_finite_16_1() {
    let p = SVector::<f64, 2>::new(1.0, 0.0);
    let t = SVector::<f64, 2>::new(0.0, 1.0);
    assert_close(CrossEntropy.loss(&p, &t), -(1e-7f64).ln(), 1e-12);
}

#[test]
fn all_finite_rejects_exactly_nan_and_the_infinities() {
    fn check<T: Float>(finite: &[T], not: &[T]) {
        let mut net = Dense::<3, 3, T>::zeros();
        for &v in finite {
            net.w[4] = v;
            assert!(net.all_finite(), "{v} is finite");
        }
        for &v in not {
            for i in [0, 4, 8] {
                net.w.fill(T::zero());
                net.w[i] = v;
                assert!(!net.all_finite(), "{v} at {i} is not finite");
            }
            net.w.fill(T::zero());
            net.b[2] = v;
            assert!(!net.all_finite(), "{v} in the bias is not finite");
        }
    }
    check::<f32>(
        &[0.0, -0.0, f32::MAX, f32::MIN, f32::MIN_POSITIVE / 4.0, 1.0],
        &[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -f32::NAN],
    );
    check::<f64>(
        &[0.0, -0.0, f64::MAX, f64::MIN, f64::MIN_POSITIVE / 4.0, 1.0],
        &[
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::from_bits(0x7ff0_0000_0000_0001),
        ],
    );
}

#[test]
fn subnormals_flush_to_zero_and_everything_else_is_kept() {
    fn check<T: Float>(tiny: T) {
        assert_eq!(tiny.flush_subnormal(), T::zero(), "{tiny} is subnormal");
        assert_eq!((-tiny).flush_subnormal(), T::zero());
        assert_eq!(T::MIN_POSITIVE.flush_subnormal(), T::MIN_POSITIVE);
        assert_eq!((-T::MIN_POSITIVE).flush_subnormal(), -T::MIN_POSITIVE);
        assert_eq!(T::one().flush_subnormal(), T::one());
        assert_eq!(T::NEG_INFINITY.flush_subnormal(), T::NEG_INFINITY);
        assert!(
            T::of_f64(f64::NAN).flush_subnormal().is_nan(),
            "NaN stays NaN"
        );
    }
    check(f32::MIN_POSITIVE / 2.0);
    check(f64::MIN_POSITIVE / 2.0);
}
