//! Bad input gets a clear error and loses nothing (issue 11): one test, or a few, a fault.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

/// The message of the panic `f` raises (it must raise one).
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .expect("a message")
}

#[test]
fn every_loss_refuses_a_target_of_another_batch_width_in_every_method() {
    let pred = OMatrix::<f64, Const<3>, Dyn>::from_element(8, 0.25);
    let target = OMatrix::<f64, Const<3>, Dyn>::from_element(7, 0.5);
    fn both<L: Loss<OMatrix<f64, Const<3>, Dyn>>>(
        loss: L,
        pred: &OMatrix<f64, Const<3>, Dyn>,
        target: &OMatrix<f64, Const<3>, Dyn>,
    ) -> [String; 2] {
        [
            panic_message(|| {
                loss.loss(pred, target);
            }),
            panic_message(|| {
                loss.loss_and_gradient(pred.clone(), target);
            }),
        ]
    }
    let messages = [
        both(Mse, &pred, &target),
        both(Sse, &pred, &target),
        both(HalfSse, &pred, &target),
        both(CrossEntropy, &pred, &target),
        both(SoftmaxCrossEntropy, &pred, &target),
    ];
    for m in messages.iter().flatten() {
        assert_eq!(
            m,
            "batch width mismatch: the prediction has 8 columns and the target 7; \
             a batch's inputs and targets must have as many"
        );
    }
}

#[test]
fn a_training_step_on_targets_of_another_batch_panics_before_it_changes_anything() {
    type Net = net![Dense<3, 4, f64>, Tanh, Dense<4, 2, f64>];
    let before = Net::random(&mut StdRng::seed_from_u64(1));
    let x = OMatrix::<f64, Const<3>, Dyn>::from_element(8, 0.5);
    let y = OMatrix::<f64, Const<2>, Dyn>::from_element(7, 0.5);
    let mut net = before.clone();
    let m = panic_message(|| {
        net.train_step(&mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
    });
    assert!(m.starts_with("batch width mismatch"), "{m}");
    let m = panic_message(|| {
        net.sgd_step(&Sgd::new(0.1), &Mse, &x, &y);
    });
    assert!(m.starts_with("batch width mismatch"), "{m}");
    assert!(net == before);
}

#[test]
fn an_empty_data_set_has_no_accuracy_and_a_nan_output_is_never_right() {
    use typenet::data::{Dataset, evaluate};
    type Net = net![Dense<2, 3>, Softmax];
    let net = Net::random(&mut StdRng::seed_from_u64(0));
    let empty = Dataset::new("empty", 2, vec![], vec![]).unwrap();
    let err = evaluate::<Net, f32, 2, 3>(&net, &empty, 10).unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
    // a network whose every output is NaN answers nothing, whatever the labels
    let mut broken = net.clone();
    broken.head.b[0] = f32::NAN;
    let data = Dataset::new("zeros", 2, vec![0; 6], vec![0, 0, 0]).unwrap();
    let confusion = evaluate::<Net, f32, 2, 3>(&broken, &data, 2).unwrap();
    assert_eq!((confusion.total(), confusion.unanswered(0)), (3, 3));
    assert_eq!(confusion.accuracy(), 0.0, "class 0 is not a NaN's answer");
}

#[test]
fn a_data_set_whose_size_overflows_is_an_error_not_a_wrapped_multiplication() {
    use typenet::data::Dataset;
    let err = Dataset::new("huge", usize::MAX / 2 + 1, vec![0; 4], vec![0, 1]).unwrap_err();
    assert!(err.to_string().contains("overflows"), "{err}");
}
