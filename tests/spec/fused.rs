//! The fused SGD step: each layer steps inside backward, and the result is the plain SGD step's
//! to the bit for single samples and fixed batches, and to rounding for large dynamic batches.

use approx::assert_relative_eq;
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

type Deep = net![
    Dense<10, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid,
    Dense<32, 2>, Sigmoid
];
type Mixed64 =
    net![Tanh, Dense<5, 9, f64>, Relu, net![Dense<9, 7, f64>, Sigmoid], Dense<7, 3, f64>, Softmax];

#[test]
fn a_single_sample_step_is_train_steps_to_the_bit_with_and_without_weight_decay() {
    for sgd in [Sgd::new(0.3), Sgd::new(0.3).with_weight_decay(0.01)] {
        let start = Deep::random(&mut StdRng::seed_from_u64(1));
        let (mut fused, mut plain) = (start.clone(), start.clone());
        let mut grad = Deep::zeros();
        let x = SVector::<f32, 10>::from_fn(|i, _| (i as f32 - 4.5) / 3.0);
        let y = SVector::<f32, 2>::new(0.2, 0.9);
        for _ in 0..50 {
            let a = fused.sgd_step(&sgd, &HalfSse, &x, &y);
            let b = plain.train_step_with(&mut grad, &mut sgd.clone(), &HalfSse, &x, &y);
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert!(fused == plain, "parameters differ after 50 steps");
        assert!(fused != start, "the steps moved the network");
    }
}

#[test]
fn fixed_batches_and_f64_chains_of_chains_match_to_the_bit() {
    let start = Mixed64::random(&mut StdRng::seed_from_u64(2));
    let (mut fused, mut plain) = (start.clone(), start.clone());
    let x = SMatrix::<f64, 5, 6>::from_fn(|r, c| ((r * 3 + c * 5) % 7) as f64 / 7.0 - 0.4);
    let y = SMatrix::<f64, 3, 6>::from_fn(|r, c| f64::from(r == c % 3));
    let sgd = Sgd::new(0.2).with_weight_decay(0.001);
    for _ in 0..20 {
        let a = fused.sgd_step(&sgd, &SoftmaxCrossEntropy, &x, &y);
        let b = plain.train_step(&mut sgd.clone(), &SoftmaxCrossEntropy, &x, &y);
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert!(fused == plain);
}

#[test]
fn a_large_dynamic_batch_takes_the_same_step_up_to_rounding() {
    type Mlp = net![Dense<64, 48, f64>, Relu, Dense<48, 10, f64>];
    let start = Mlp::random(&mut StdRng::seed_from_u64(3));
    let (mut fused, mut plain) = (start.clone(), start.clone());
    let x =
        OMatrix::<f64, Const<64>, Dyn>::from_fn(40, |r, c| ((r * 7 + c * 11) % 13) as f64 / 13.0);
    let y = OMatrix::<f64, Const<10>, Dyn>::from_fn(40, |r, c| f64::from(r == c % 10));
    for sgd in [Sgd::new(0.1), Sgd::new(0.1).with_weight_decay(0.01)] {
        let a = fused.sgd_step(&sgd, &SoftmaxCrossEntropy, &x, &y);
        let b = plain.train_step(&mut sgd.clone(), &SoftmaxCrossEntropy, &x, &y);
        assert!((a - b).abs() <= 1e-12 * a.abs(), "{a} vs {b}");
        assert_relative_eq!(fused, plain, epsilon = 1e-12, max_relative = 1e-12);
    }
}

#[test]
fn a_non_finite_loss_or_output_gradient_changes_nothing() {
    let before = Deep::random(&mut StdRng::seed_from_u64(4));
    let mut net = before.clone();
    let y = SVector::<f32, 2>::new(0.2, 0.9);
    let mut x = SVector::<f32, 10>::repeat(0.5);
    x[3] = f32::NAN;
    assert!(net.sgd_step(&Sgd::new(0.1), &HalfSse, &x, &y).is_nan());
    assert!(net == before);
    let x = SVector::<f32, 10>::repeat(0.5);
    let y = SVector::<f32, 2>::new(f32::INFINITY, 0.0);
    assert!(!net.sgd_step(&Sgd::new(0.1), &HalfSse, &x, &y).is_finite());
    assert!(net == before);
}

#[test]
fn the_fused_step_learns_xor() {
    type Xor = net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid];
    let mut net = Xor::random(&mut StdRng::seed_from_u64(0));
    let xs = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]].map(SVector::<f32, 2>::from);
    let ys = [0.0f32, 1.0, 1.0, 0.0].map(SVector::<f32, 1>::new);
    let sgd = Sgd::new(0.5);
    for _ in 0..2000 {
        for (x, y) in xs.iter().zip(&ys) {
            net.sgd_step(&sgd, &Mse, x, y);
        }
    }
    for (x, y) in xs.iter().zip(&ys) {
        assert!((net.forward(x)[0] - y[0]).abs() < 0.1, "{x:?}");
    }
}
