//! Data-parallel training steps: the batch's columns shared among threads give the step that
//! the whole batch gives on one thread (up to the rounding of the sums), whatever the split.

use rand::{SeedableRng, rngs::StdRng};
use typenet::parallel::DataParallel;
use typenet::prelude::*;

use crate::support::assert_all_close;

type Net = net![Dense<5, 7, f64>, Relu, Dense<7, 4, f64>];

fn batch(columns: usize) -> (OMatrix<f64, Const<5>, Dyn>, OMatrix<f64, Const<4>, Dyn>) {
    let x = OMatrix::<f64, Const<5>, Dyn>::from_fn(columns, |r, c| {
        ((r * 13 + c * 7) % 11) as f64 / 11.0 - 0.4
    });
    let y = OMatrix::<f64, Const<4>, Dyn>::from_fn(columns, |r, c| f64::from(r == c % 4));
    (x, y)
}

fn params(net: &Net) -> Vec<f64> {
    net.tensors().flat_map(|t| t.data.to_vec()).collect()
}

#[test]
fn every_split_gives_the_single_thread_step_for_every_loss() {
    for threads in [1, 2, 3, 8] {
        for columns in [1, 2, 5, 16, 33] {
            let (x, y) = batch(columns);
            let start = Net::random(&mut StdRng::seed_from_u64(7));
            let (mut one, mut many) = (start.clone(), start.clone());
            let mut parallel = DataParallel::<Net>::new(threads).unwrap();
            for _ in 0..3 {
                let a = one.train_step(&mut Sgd::new(0.3), &SoftmaxCrossEntropy, &x, &y);
                let b = parallel.train_step(
                    &mut many,
                    &mut Sgd::new(0.3),
                    &SoftmaxCrossEntropy,
                    &x,
                    &y,
                );
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs(),
                    "loss {a} vs {b}, {threads} threads, {columns} columns"
                );
                let a = one.train_step(&mut Sgd::new(0.1), &Mse, &x, &y);
                let b = parallel.train_step(&mut many, &mut Sgd::new(0.1), &Mse, &x, &y);
                assert!((a - b).abs() <= 1e-12 * a.abs(), "mse {a} vs {b}");
            }
            assert_all_close(&params(&many), &params(&one), 1e-12);
        }
    }
}

#[test]
fn the_gradient_left_behind_is_the_whole_batchs() {
    let (x, y) = batch(9);
    let net = Net::random(&mut StdRng::seed_from_u64(8));
    let mut expected = Net::zeros();
    net.accumulate_gradient(&Mse, &x, &y, &mut expected);
    let mut parallel = DataParallel::<Net>::new(4).unwrap();
    let mut moved = net.clone();
    parallel.train_step(&mut moved, &mut Sgd::new(0.5), &Mse, &x, &y);
    assert_all_close(&params(parallel.gradient()), &params(&expected), 1e-12);
    assert_eq!(parallel.threads(), 4);
}

#[test]
fn a_non_finite_slice_leaves_the_network_untouched() {
    let (mut x, y) = batch(6);
    x[(2, 5)] = f64::NAN; // in the last slice of any split
    let before = Net::random(&mut StdRng::seed_from_u64(9));
    let mut net = before.clone();
    let loss =
        DataParallel::<Net>::new(3)
            .unwrap()
            .train_step(&mut net, &mut Sgd::new(0.5), &Mse, &x, &y);
    assert!(loss.is_nan());
    assert!(net == before);
}

#[test]
fn an_empty_batch_has_no_mean_and_changes_nothing() {
    let (x, y) = batch(0);
    let before = Net::random(&mut StdRng::seed_from_u64(10));
    let mut net = before.clone();
    let loss =
        DataParallel::<Net>::new(2)
            .unwrap()
            .train_step(&mut net, &mut Sgd::new(0.5), &Mse, &x, &y);
    assert!(loss.is_nan());
    assert!(net == before);
}

#[test]
fn zero_threads_is_refused() {
    let err = DataParallel::<Net>::new(0).err().expect("refused");
    assert!(err.to_string().contains("threads"), "{err}");
}

#[test]
fn a_session_keeps_its_workers_across_steps_and_trains_as_one_thread_does() {
    let (x, y) = batch(17);
    let start = Net::random(&mut StdRng::seed_from_u64(11));
    let (mut one, mut many) = (start.clone(), start.clone());
    let mut opt_one = Sgd::new(0.2);
    let mut opt_many = Sgd::new(0.2);
    let losses: Vec<f64> =
        DataParallel::<Net>::new(3)
            .unwrap()
            .run(&mut many, &SoftmaxCrossEntropy, |session| {
                let losses: Vec<f64> = (0..10)
                    .map(|_| session.train_step(&mut opt_many, &x, &y))
                    .collect();
                // between steps the network can be read (to evaluate it)
                let now = session.with_net(|net| SoftmaxCrossEntropy.loss(&net.forward(&x), &y));
                assert!(now < losses[0], "{now} after {losses:?}");
                losses
            });
    for (k, l) in losses.iter().enumerate() {
        let single = one.train_step(&mut opt_one, &SoftmaxCrossEntropy, &x, &y);
        assert!(
            (l - single).abs() <= 1e-12 * single.abs(),
            "step {k}: {l} vs {single}"
        );
    }
    assert_all_close(&params(&many), &params(&one), 1e-12);
}

#[test]
fn a_panic_in_the_training_loop_stops_the_workers_and_propagates() {
    let (x, y) = batch(8);
    let mut net = Net::random(&mut StdRng::seed_from_u64(12));
    let mut parallel = DataParallel::<Net>::new(2).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parallel.run(&mut net, &Mse, |session| {
            session.train_step(&mut Sgd::new(0.1), &x, &y);
            panic!("the caller's own panic");
        })
    }));
    assert!(
        outcome.is_err(),
        "the panic reaches the caller, and nothing hangs"
    );
}

/// Mean squared error that panics on slices of one column: the workers get those.
#[derive(Clone, Copy, Debug)]
struct PanicsOnOneColumn;

impl Loss<OMatrix<f64, Const<4>, Dyn>> for PanicsOnOneColumn {
    type Scalar = f64;
    fn loss(&self, p: &OMatrix<f64, Const<4>, Dyn>, y: &OMatrix<f64, Const<4>, Dyn>) -> f64 {
        assert!(p.ncols() != 1, "a slice of one column");
        Mse.loss(p, y)
    }
    fn loss_and_gradient(
        &self,
        p: OMatrix<f64, Const<4>, Dyn>,
        y: &OMatrix<f64, Const<4>, Dyn>,
    ) -> (f64, OMatrix<f64, Const<4>, Dyn>) {
        assert!(p.ncols() != 1, "a slice of one column");
        Mse.loss_and_gradient(p, y)
    }
}

#[test]
fn a_worker_that_panics_fails_the_step_instead_of_hanging_it() {
    // 5 columns on 3 threads: slices of 2, 2 and 1 columns; the calling thread takes 2
    let (x, y) = batch(5);
    let mut net = Net::random(&mut StdRng::seed_from_u64(13));
    let mut parallel = DataParallel::<Net>::new(3).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parallel.train_step(&mut net, &mut Sgd::new(0.1), &PanicsOnOneColumn, &x, &y)
    }));
    assert!(outcome.is_err());
}
