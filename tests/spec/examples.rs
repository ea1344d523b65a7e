//! The seed tutorials' workloads, as the examples run them (in a quick form).

#[path = "../../examples/backprop_vs_numerical.rs"]
mod backprop_vs_numerical;
#[path = "../../examples/deep_sigmoid.rs"]
mod deep_sigmoid;
#[path = "../../examples/linear_regression.rs"]
mod linear_regression;
#[path = "../../examples/minimize.rs"]
mod minimize;
#[path = "../../examples/tiny_classifier.rs"]
mod tiny_classifier;

#[test]
fn deep_sigmoid_backprop_and_numerical_training_follow_the_same_falling_curve() {
    let s = deep_sigmoid::run(true);
    assert_eq!(s.params, 10 * 32 + 32 + 4 * (32 * 32 + 32) + 32 * 2 + 2);
    assert_eq!(s.backprop[0], s.numerical[0], "the same starting network");
    for curve in [&s.backprop, &s.numerical] {
        assert!(
            curve.windows(2).all(|w| w[1] < w[0]),
            "falls every step: {curve:?}"
        );
    }
    for (b, n) in s.backprop.iter().zip(&s.numerical) {
        // forward differences with h = 1e-4 are biased by O(h): 1e-5 relative over the run
        assert!(
            (b - n).abs() <= 1e-4 * b.abs(),
            "backprop {b} vs numerical {n}"
        );
    }
    // the times are printed, not judged (tests run on shared machines); the work is judged:
    // one forward pass a step for backprop, one per parameter and one more for forward
    // differences
    assert_eq!(s.backprop_forward_passes, 1);
    assert_eq!(s.numerical_forward_passes, s.params + 1);
}

#[test]
fn numerical_gradients_cost_a_forward_pass_per_parameter_and_backprop_one() {
    let rows = backprop_vs_numerical::run(true);
    assert_eq!(rows.len(), 8);
    for (d, r) in rows.iter().enumerate() {
        assert_eq!(r.hidden_layers, d + 1);
        assert_eq!(r.params, 10 * 16 + 16 + d * (16 * 16 + 16) + 16 * 2 + 2);
        assert_eq!(r.backprop_passes, 1);
        assert_eq!(r.numerical_passes, r.params + 1);
    }
    // each forward pass costs ∝ params, so numerical work grows with params² and backprop's
    // with params: from d = 1 to 8 the ratio of passes alone grows tenfold
    assert!(rows[7].numerical_passes > 10 * rows[0].numerical_passes);
}

#[test]
fn the_tiny_classifier_learns_the_nine_points() {
    let s = tiny_classifier::run(true);
    assert_eq!(s.test_points.len(), 2, "20% of 9, rounded");
    assert!(s.last_loss < s.first_loss / 100.0, "{s:?}");
    assert_eq!(s.train_accuracy, 1.0, "{s:?}");
    assert_eq!(s.test_accuracy, 1.0, "{s:?}");
}

#[test]
fn linear_regression_recovers_w_and_the_bias_of_3() {
    let s = linear_regression::run(true);
    for (t, l) in s.true_w.iter().zip(&s.learned_w) {
        assert!((t - l).abs() < 1e-3, "{s:?}");
    }
    assert!((s.learned_b - 3.0).abs() < 1e-3, "{s:?}");
    assert!(s.final_loss < 1e-6);
}

#[test]
fn the_learning_rate_decides_between_converging_diverging_and_standing_still() {
    let s = minimize::run(true);
    assert!(
        *s.converged.last().unwrap() < 1e-6,
        "lr 0.1: {:?}",
        s.converged.last()
    );
    // lr 10 multiplies x by -19 a step until the gradient can no longer be estimated
    assert!(s.diverged[4] > 1e6, "lr 10: {:?}", &s.diverged[..5]);
    assert!(
        s.diverged.last().unwrap().is_nan(),
        "and then it says so instead of stopping"
    );
    assert!(
        (s.stuck.last().unwrap() - 5.0).abs() < 1e-6,
        "lr 1e-10: {:?}",
        s.stuck.last()
    );
    assert!(*s.stuck.last().unwrap() < 5.0, "but it does move, a little");
}
