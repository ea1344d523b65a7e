//! Data-parallel training steps: the batch's columns shared among threads give the step that
//! the whole batch gives on one thread (up to the rounding of the sums), whatever the split;
//! panics reach the caller without hanging; idle workers use no CPU.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

use rand::{SeedableRng, rngs::StdRng};
use typenet::kernels::available_cores;
use typenet::parallel::DataParallel;
use typenet::prelude::*;

use crate::support::assert_all_close;

type Net = net![Dense<5, 7, f64>, Relu, Dense<7, 4, f64>];
type X = OMatrix<f64, Const<5>, Dyn>;
type Y = OMatrix<f64, Const<4>, Dyn>;

fn batch(columns: usize) -> (X, Y) {
    let x = X::from_fn(columns, |r, c| ((r * 13 + c * 7) % 11) as f64 / 11.0 - 0.4);
    let y = Y::from_fn(columns, |r, c| f64::from(r == c % 4));
    (x, y)
}

fn params(net: &Net) -> Vec<f64> {
    net.tensors().flat_map(|t| t.data.to_vec()).collect()
}

/// `a` and `b` agree to 1e-12 relatively.
#[track_caller]
fn assert_same_loss(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-12 * a.abs(), "{what}: {a} vs {b}");
}

#[test]
fn every_split_gives_the_single_thread_step_for_every_loss() {
    for threads in [1, 2, 3, 8] {
        for columns in [1, 2, 5, 16, 33] {
            let (x, y) = batch(columns);
            let start = Net::random(&mut StdRng::seed_from_u64(7));
            let (mut one, mut many) = (start.clone(), start.clone());
            // unclamped: a 3- or 8-way split even on a machine with fewer cores
            let mut parallel = DataParallel::<Net>::new_unclamped(threads).unwrap();
            assert_eq!(parallel.threads(), threads);
            for _ in 0..3 {
                let a = one.train_step(&mut Sgd::new(0.3), &SoftmaxCrossEntropy, &x, &y);
                let b = parallel.train_step(
                    &mut many,
                    &mut Sgd::new(0.3),
                    &SoftmaxCrossEntropy,
                    &x,
                    &y,
                );
                assert_same_loss(a, b, &format!("{threads} threads, {columns} columns"));
                let a = one.train_step(&mut Sgd::new(0.1), &Mse, &x, &y);
                let b = parallel.train_step(&mut many, &mut Sgd::new(0.1), &Mse, &x, &y);
                assert_same_loss(a, b, "mse");
            }
            assert_all_close(&params(&many), &params(&one), 1e-12);
        }
    }
}

/// Plain SGD (with weight decay) is updated by every thread on its own range of the
/// parameters; the stateful optimizers on the calling thread. Both give the one-thread step.
#[test]
fn every_optimizer_gives_the_single_thread_step() {
    fn check<O: Optimizer<Net, f64>>(make: impl Fn() -> O, name: &str) {
        for threads in [2, 3] {
            for columns in [5, 16] {
                let (x, y) = batch(columns);
                let start = Net::random(&mut StdRng::seed_from_u64(17));
                let (mut one, mut many) = (start.clone(), start.clone());
                let (mut opt_one, mut opt_many) = (make(), make());
                let mut parallel = DataParallel::<Net>::new_unclamped(threads).unwrap();
                parallel.run(&mut many, &SoftmaxCrossEntropy, |session| {
                    for step in 0..5 {
                        let a = one.train_step(&mut opt_one, &SoftmaxCrossEntropy, &x, &y);
                        let b = session.train_step(&mut opt_many, &x, &y);
                        assert_same_loss(a, b, &format!("{name}, {threads} threads, step {step}"));
                    }
                });
                assert_all_close(&params(&many), &params(&one), 1e-12);
            }
        }
    }
    check(
        || Sgd::new(0.2).with_weight_decay(0.01),
        "sgd with weight decay",
    );
    check(|| Momentum::<Net, Box<Net>>::new(0.1, 0.9), "momentum");
    check(|| Adam::<Net, Box<Net>>::new(0.01), "adam");
}

#[test]
fn the_gradient_left_behind_is_the_whole_batchs() {
    let (x, y) = batch(9);
    let net = Net::random(&mut StdRng::seed_from_u64(8));
    let mut expected = Net::zeros();
    net.accumulate_gradient(&Mse, &x, &y, &mut expected);
    // SGD leaves the combined gradient in pieces, one per thread, until the session ends;
    // Momentum has it whole; one step of a session, and a second session, for each
    for threads in [2, 4] {
        let mut parallel = DataParallel::<Net>::new_unclamped(threads).unwrap();
        assert_eq!(parallel.threads(), threads);
        let mut moved = net.clone();
        parallel.train_step(&mut moved, &mut Sgd::new(0.5), &Mse, &x, &y);
        assert_all_close(&params(parallel.gradient()), &params(&expected), 1e-12);

        let mut moved = net.clone();
        let mut momentum = Momentum::<Net, Box<Net>>::new(0.5, 0.9);
        parallel.train_step(&mut moved, &mut momentum, &Mse, &x, &y);
        assert_all_close(&params(parallel.gradient()), &params(&expected), 1e-12);

        // a session of several steps leaves its last one's (consecutive steps use different
        // buffers), for either kind of optimizer
        for sgd in [true, false] {
            let (mut moved, mut stepped) = (net.clone(), net.clone());
            let mut momentum = Momentum::<Net, Box<Net>>::new(0.1, 0.9);
            let mut twin = Momentum::<Net, Box<Net>>::new(0.1, 0.9);
            parallel.run(&mut moved, &Mse, |session| {
                for _ in 0..2 {
                    if sgd {
                        session.train_step(&mut Sgd::new(0.1), &x, &y);
                    } else {
                        session.train_step(&mut momentum, &x, &y);
                    }
                }
            });
            if sgd {
                stepped.train_step(&mut Sgd::new(0.1), &Mse, &x, &y);
            } else {
                stepped.train_step(&mut twin, &Mse, &x, &y);
            }
            let mut last = Net::zeros();
            stepped.accumulate_gradient(&Mse, &x, &y, &mut last);
            assert_all_close(&params(parallel.gradient()), &params(&last), 1e-12);
        }
    }
}

#[test]
fn a_non_finite_slice_leaves_the_network_untouched() {
    let (mut x, y) = batch(6);
    x[(2, 5)] = f64::NAN; // in the last slice of any split
    let before = Net::random(&mut StdRng::seed_from_u64(9));
    let mut net = before.clone();
    let loss = DataParallel::<Net>::new_unclamped(3).unwrap().train_step(
        &mut net,
        &mut Sgd::new(0.5),
        &Mse,
        &x,
        &y,
    );
    assert!(loss.is_nan());
    assert!(net == before);
}

/// Mean squared error whose gradient is NaN on slices of one column, its loss finite.
#[derive(Clone, Copy, Debug)]
struct NanGradientOnOneColumn;

impl Loss<Y> for NanGradientOnOneColumn {
    type Scalar = f64;
    fn loss(&self, p: &Y, y: &Y) -> f64 {
        Mse.loss(p, y)
    }
    fn loss_and_gradient(&self, p: Y, y: &Y) -> (f64, Y) {
        let one = p.ncols() == 1;
        let (loss, mut gradient) = Mse.loss_and_gradient(p, y);
        if one {
            gradient[(0, 0)] = f64::NAN;
        }
        (loss, gradient)
    }
}

#[test]
fn a_non_finite_gradient_with_a_finite_loss_leaves_the_network_untouched() {
    // 3 columns on 2 threads: slices of 2 and 1 columns, the second with a NaN gradient
    let (x, y) = batch(3);
    let before = Net::random(&mut StdRng::seed_from_u64(19));
    let mut parallel = DataParallel::<Net>::new_unclamped(2).unwrap();
    let mut net = before.clone();
    let loss = parallel.train_step(
        &mut net,
        &mut Sgd::new(0.5),
        &NanGradientOnOneColumn,
        &x,
        &y,
    );
    assert!(loss.is_finite(), "{loss}");
    assert!(net == before, "plain SGD");
    let mut adam = Adam::<Net, Box<Net>>::new(0.1);
    let loss = parallel.train_step(&mut net, &mut adam, &NanGradientOnOneColumn, &x, &y);
    assert!(loss.is_finite(), "{loss}");
    assert!(net == before, "Adam");
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
    let err = DataParallel::<Net>::new_unclamped(0)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("threads"), "{err}");
}

#[test]
fn more_threads_than_cores_are_clamped_to_the_cores() {
    let cores = available_cores();
    let parallel = DataParallel::<Net>::new(1000).unwrap();
    assert!(
        (1..=cores).contains(&parallel.threads()),
        "{} threads on {cores} cores",
        parallel.threads()
    );
    assert_eq!(DataParallel::<Net>::new(1).unwrap().threads(), 1);
    assert_eq!(DataParallel::<Net>::new(2).unwrap().threads(), 2.min(cores));
}

#[test]
fn inputs_and_targets_of_different_widths_are_refused() {
    let (x, _) = batch(4);
    let (_, y) = batch(5);
    let mut net = Net::random(&mut StdRng::seed_from_u64(14));
    for threads in [1, 2] {
        let mut parallel = DataParallel::<Net>::new_unclamped(threads).unwrap();
        let payload = catch_unwind(AssertUnwindSafe(|| {
            parallel.train_step(&mut net, &mut Sgd::new(0.1), &Mse, &x, &y)
        }))
        .expect_err("refused");
        assert!(
            message(&*payload).contains("inputs and targets must have as many columns"),
            "{}",
            message(&*payload)
        );
    }
}

#[test]
fn a_session_keeps_its_workers_across_steps_and_trains_as_one_thread_does() {
    let (x, y) = batch(17);
    let start = Net::random(&mut StdRng::seed_from_u64(11));
    let (mut one, mut many) = (start.clone(), start.clone());
    let mut opt_one = Sgd::new(0.2);
    let mut opt_many = Sgd::new(0.2);
    let losses: Vec<f64> = DataParallel::<Net>::new_unclamped(3).unwrap().run(
        &mut many,
        &SoftmaxCrossEntropy,
        |session| {
            let losses: Vec<f64> = (0..10)
                .map(|_| session.train_step(&mut opt_many, &x, &y))
                .collect();
            // between steps the network can be read (to evaluate it)
            let now = session.with_net(|net| SoftmaxCrossEntropy.loss(&net.forward(&x), &y));
            assert!(now < losses[0], "{now} after {losses:?}");
            losses
        },
    );
    for (k, l) in losses.iter().enumerate() {
        let single = one.train_step(&mut opt_one, &SoftmaxCrossEntropy, &x, &y);
        assert_same_loss(*l, single, &format!("step {k}"));
    }
    assert_all_close(&params(&many), &params(&one), 1e-12);
}

#[test]
fn slices_filled_on_their_own_threads_give_the_same_step() {
    for threads in [1, 2, 3] {
        for columns in [1, 7, 16] {
            let (x, y) = batch(columns);
            let start = Net::random(&mut StdRng::seed_from_u64(15));
            let (mut copied, mut filled) = (start.clone(), start.clone());
            let mut parallel = DataParallel::<Net>::new_unclamped(threads).unwrap();
            let (mut opt_copied, mut opt_filled) = (Sgd::new(0.2), Sgd::new(0.2));
            let expected: Vec<f64> = parallel.run(&mut copied, &Mse, |session| {
                (0..3)
                    .map(|_| session.train_step(&mut opt_copied, &x, &y))
                    .collect()
            });
            let losses: Vec<f64> = parallel.run(&mut filled, &Mse, |session| {
                (0..3)
                    .map(|_| {
                        session.train_step_from(&mut opt_filled, columns, |range, xs, ys| {
                            *xs = X::from_fn(range.len(), |r, c| x[(r, range.start + c)]);
                            *ys = Y::from_fn(range.len(), |r, c| y[(r, range.start + c)]);
                        })
                    })
                    .collect()
            });
            assert_eq!(losses, expected, "{threads} threads, {columns} columns");
            assert!(filled == copied);
        }
    }
}

#[test]
fn a_fill_that_leaves_the_wrong_number_of_columns_is_refused() {
    for threads in [1, 2] {
        let mut net = Net::random(&mut StdRng::seed_from_u64(16));
        let before = net.clone();
        let mut parallel = DataParallel::<Net>::new_unclamped(threads).unwrap();
        let payload = catch_unwind(AssertUnwindSafe(|| {
            parallel.run(&mut net, &Mse, |session| {
                session.train_step_from(&mut Sgd::new(0.1), 6, |_, xs, ys| {
                    (*xs, *ys) = batch(1);
                })
            })
        }))
        .expect_err("refused");
        assert_eq!(
            message(&*payload),
            "fill must leave one column of inputs and of targets per index of its range"
        );
        assert!(net == before);
    }
}

/// The message of a panic's payload.
fn message(payload: &(dyn Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "<a payload that is not a string>".to_owned(),
    }
}

/// Runs `scenario` on a thread of its own and returns what it returns; fails if it has not
/// returned within a minute (a hang) or panicked.
fn without_hanging<R: Send + 'static>(scenario: impl FnOnce() -> R + Send + 'static) -> R {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(scenario());
    });
    receive
        .recv_timeout(Duration::from_secs(60))
        .expect("the scenario returns, within a minute")
}

/// After a panic, the same `DataParallel` still takes the one-thread step.
#[track_caller]
fn assert_usable(parallel: &mut DataParallel<Net>, net: &Net) {
    let (x, y) = batch(8);
    let (mut one, mut many) = (net.clone(), net.clone());
    let a = one.train_step(&mut Sgd::new(0.1), &Mse, &x, &y);
    let b = parallel.train_step(&mut many, &mut Sgd::new(0.1), &Mse, &x, &y);
    assert_same_loss(a, b, "the step after the panic");
    assert_all_close(&params(&many), &params(&one), 1e-12);
}

#[test]
fn a_panic_in_the_training_loop_propagates_with_its_payload_and_nothing_hangs() {
    let (payload, mut parallel, net) = without_hanging(|| {
        let (x, y) = batch(8);
        let mut net = Net::random(&mut StdRng::seed_from_u64(12));
        let mut parallel = DataParallel::<Net>::new_unclamped(2).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            parallel.run(&mut net, &Mse, |session| {
                session.train_step(&mut Sgd::new(0.1), &x, &y);
                panic!("the caller's own panic");
            })
        }));
        let payload = message(&*outcome.expect_err("the panic reaches the caller"));
        (payload, parallel, net)
    });
    assert_eq!(payload, "the caller's own panic");
    assert_usable(&mut parallel, &net);
}

/// Mean squared error that panics on slices of one column: the workers get those.
#[derive(Clone, Copy, Debug)]
struct PanicsOnOneColumn;

impl Loss<Y> for PanicsOnOneColumn {
    type Scalar = f64;
    fn loss(&self, p: &Y, y: &Y) -> f64 {
        assert!(p.ncols() != 1, "a slice of one column");
        Mse.loss(p, y)
    }
    fn loss_and_gradient(&self, p: Y, y: &Y) -> (f64, Y) {
        assert!(p.ncols() != 1, "a slice of one column");
        Mse.loss_and_gradient(p, y)
    }
}

#[test]
fn a_worker_that_panics_fails_the_step_with_its_payload_instead_of_hanging_it() {
    let start = Net::random(&mut StdRng::seed_from_u64(13));
    for threads in [2, 3] {
        let begin = start.clone();
        let (payload, mut parallel, net) = without_hanging(move || {
            // 3 columns on 2 threads: slices of 2 and 1 columns, the calling thread's first;
            // 5 on 3: slices of 2, 2 and 1
            let (x, y) = batch(2 * threads - 1);
            let mut net = begin;
            let mut parallel = DataParallel::<Net>::new_unclamped(threads).unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                parallel.train_step(&mut net, &mut Sgd::new(0.1), &PanicsOnOneColumn, &x, &y)
            }));
            let payload = message(&*outcome.expect_err("the worker's panic reaches the caller"));
            (payload, parallel, net)
        });
        assert_eq!(payload, "a slice of one column", "{threads} threads");
        assert!(net == start, "the failed step changed nothing");
        assert_usable(&mut parallel, &net);
    }
}

/// Idle workers sleep: between two steps of a session, a process whose only work is this
/// test uses almost no CPU while the caller sleeps for 300 ms. Measured in a process of its
/// own (this test binary, run again for this test alone), where no other test uses CPU
/// meanwhile.
#[cfg(target_os = "linux")]
#[test]
fn idle_workers_use_no_cpu() {
    use std::time::Instant;

    const ALONE: &str = "TYPENET_SPEC_IDLE_WORKERS_ALONE";
    if std::env::var_os(ALONE).is_none() {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "parallel::idle_workers_use_no_cpu",
                "--exact",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(ALONE, "1")
            .output()
            .expect("the test binary runs again");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }

    /// CPU time of the whole process (all threads), user and system, in seconds: fields 14
    /// and 15 of `/proc/self/stat`, in clock ticks of 1/100 s (Linux's `USER_HZ`).
    fn cpu_seconds() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        // the command name (field 2) is in parentheses and may hold spaces
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks as f64 / 100.0
    }

    let (x, y) = batch(16);
    let mut net = Net::random(&mut StdRng::seed_from_u64(18));
    // unclamped: one worker even on one core
    let mut parallel = DataParallel::<Net>::new_unclamped(2).unwrap();
    let (used, slept) = parallel.run(&mut net, &Mse, |session| {
        session.train_step(&mut Sgd::new(0.1), &x, &y);
        let (cpu, wall) = (cpu_seconds(), Instant::now());
        std::thread::sleep(Duration::from_millis(300));
        let used = cpu_seconds() - cpu;
        let slept = wall.elapsed();
        session.train_step(&mut Sgd::new(0.1), &x, &y);
        (used, slept)
    });
    assert!(
        used < 0.1,
        "{used} s of CPU while the caller slept {slept:?} between two steps"
    );
}
