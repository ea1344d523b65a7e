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

mod model_files {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use rand::{SeedableRng, rngs::StdRng};
    use typenet::model_file::{self, BlobError, ModelError};
    use typenet::prelude::*;

    use crate::support::TempDir;

    type Net = net![Dense<6, 5>, Tanh, Dense<5, 3>];

    fn nets(count: u64) -> Vec<Net> {
        (0..count)
            .map(|seed| Net::random(&mut StdRng::seed_from_u64(seed)))
            .collect()
    }

    #[test]
    fn concurrent_saves_and_loads_of_one_path_see_whole_models_only() {
        let dir = TempDir::new("concurrent-saves");
        let path = dir.join("model.typenet");
        let candidates = nets(8);
        model_file::save(&candidates[0], &path).unwrap();
        let stop = AtomicBool::new(false);
        let (saves, loads) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for net in &candidates {
                let (path, stop, saves) = (&path, &stop, &saves);
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        model_file::save(net, path).expect("no save fails");
                        saves.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            for _ in 0..4 {
                let (path, stop, loads, candidates) = (&path, &stop, &loads, &candidates);
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let mut net = Net::zeros();
                        model_file::load(&mut net, path).expect("every load is whole");
                        assert!(candidates.contains(&net), "a model that was saved");
                        loads.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(600));
            stop.store(true, Ordering::Relaxed);
        });
        assert!(saves.into_inner() > 8 && loads.into_inner() > 4);
        let left: Vec<_> = std::fs::read_dir(dir.join("")).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind: {left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn saving_over_a_link_replaces_the_link_and_over_a_read_only_file_replaces_the_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("link-and-read-only");
        let [a, b] = [nets(1).remove(0), nets(2).remove(1)];
        let target = dir.join("target.typenet");
        model_file::save(&a, &target).unwrap();
        let link = dir.join("link.typenet");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        model_file::save(&b, &link).unwrap();
        assert!(
            std::fs::symlink_metadata(&link).unwrap().is_file(),
            "the link is replaced"
        );
        let mut loaded = Net::zeros();
        model_file::load(&mut loaded, &target).unwrap();
        assert!(loaded == a, "and its target is left alone");
        model_file::load(&mut loaded, &link).unwrap();
        assert!(loaded == b);

        let read_only = dir.join("read-only.typenet");
        model_file::save(&a, &read_only).unwrap();
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o444)).unwrap();
        model_file::save(&b, &read_only).unwrap();
        model_file::load(&mut loaded, &read_only).unwrap();
        assert!(
            loaded == b,
            "replaced: the directory decides, as for any atomic write"
        );
    }

    #[cfg(unix)]
    #[test]
    fn loading_from_a_device_or_a_named_pipe_is_refused_at_once() {
        let dir = TempDir::new("not-files");
        let mut net = Net::zeros();
        let err = model_file::load(&mut net, "/dev/zero").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // opening a named pipe for reading would wait for a writer: the load must not
            let (tx, rx) = std::sync::mpsc::channel();
            let path = fifo.clone();
            std::thread::spawn(move || {
                let mut net = Net::zeros();
                let _ = tx.send(model_file::load(&mut net, &path).map_err(|e| e.to_string()));
            });
            let result = rx.recv_timeout(Duration::from_secs(10)).expect("no hang");
            assert!(result.unwrap_err().contains("not a regular file"));
        }
        assert!(net == Net::zeros());
    }

    #[test]
    fn a_file_longer_than_the_networks_model_is_refused_with_the_reason() {
        let dir = TempDir::new("too-long");
        let net = nets(1).remove(0);
        let path = dir.join("model.typenet");
        let mut bytes = model_file::to_bytes(&net).unwrap();
        bytes.extend_from_slice(&[0; 1000]);
        std::fs::write(&path, &bytes).unwrap();
        let mut loaded = Net::zeros();
        let err = model_file::load(&mut loaded, &path).unwrap_err();
        assert!(matches!(err, ModelError::TooLarge { expected } if expected == bytes.len() - 1000));
        // a larger network's model: the signature is the reason given
        type Wide = net![Dense<6, 50>, Tanh, Dense<50, 3>];
        model_file::save(&Wide::random(&mut StdRng::seed_from_u64(3)), &path).unwrap();
        let err = model_file::load(&mut loaded, &path).unwrap_err();
        assert!(matches!(err, ModelError::SignatureMismatch { .. }), "{err}");
        assert!(loaded == Net::zeros());
    }

    #[test]
    fn non_finite_parameters_are_neither_saved_nor_loaded() {
        let dir = TempDir::new("non-finite");
        let path = dir.join("model.typenet");
        let good = nets(1).remove(0);
        model_file::save(&good, &path).unwrap();
        for bad_value in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut bad = good.clone();
            bad.tail.tail.w[(2, 1)] = bad_value;
            let err = model_file::save(&bad, &path).unwrap_err();
            assert_eq!(
                err.to_string(),
                "parameter [2, 1] of layer 2 (Dense) weight [3x5] is not finite (NaN or \
                 infinite): model files hold finite parameters only"
            );
            let mut loaded = Net::zeros();
            model_file::load(&mut loaded, &path).unwrap();
            assert!(loaded == good, "the old model is intact");
            // a file that holds one (written by hand, checksum and all) does not load
            let bytes = blob_with_every_parameter(&good, bad_value);
            let mut target = Net::zeros();
            let err = model_file::from_bytes(&mut target, &bytes).unwrap_err();
            assert!(
                matches!(
                    err,
                    ModelError::Format(BlobError::NonFinite { index: 0, .. })
                ),
                "{err}"
            );
            assert!(target == Net::zeros());
        }
    }

    /// The model file of `net` with every parameter replaced by `value`, with a valid checksum.
    fn blob_with_every_parameter(net: &Net, value: f32) -> Vec<u8> {
        let mut bytes = model_file::to_bytes(net).unwrap();
        let params = Params::<f32>::param_count(net);
        let body = bytes.len() - 8 - 4 * params;
        for chunk in bytes[body..body + 4 * params].chunks_exact_mut(4) {
            chunk.copy_from_slice(&value.to_le_bytes());
        }
        let end = bytes.len() - 8;
        let checksum = bytes[..end].iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        bytes[end..].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    /// With `TYPENET_SAVE_LOOP=<path>` in its environment, this test saves models at `path`
    /// until it is killed: the child process of the test below.
    #[test]
    fn saves_in_a_loop_when_asked_to() {
        let Some(path) = std::env::var_os("TYPENET_SAVE_LOOP") else {
            return;
        };
        let candidates = nets(4);
        for net in candidates.iter().cycle() {
            model_file::save(net, &path).unwrap();
        }
    }

    #[test]
    fn a_process_killed_mid_save_leaves_a_whole_model() {
        let dir = TempDir::new("killed");
        let path = dir.join("model.typenet");
        let candidates = nets(4);
        model_file::save(&candidates[0], &path).unwrap();
        let exe = std::env::current_exe().unwrap();
        for round in 0..6u64 {
            let mut child = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "hardening::model_files::saves_in_a_loop_when_asked_to",
                    "--test-threads=1",
                ])
                .env("TYPENET_SAVE_LOOP", &path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let started = Instant::now();
            std::thread::sleep(Duration::from_millis(40 + 37 * round));
            child.kill().unwrap();
            child.wait().unwrap();
            let mut loaded = Net::zeros();
            model_file::load(&mut loaded, &path).unwrap();
            assert!(
                candidates.contains(&loaded),
                "round {round}, killed after {:?}",
                started.elapsed()
            );
        }
    }
}

#[test]
fn hyperparameters_are_checked_in_the_networks_scalar_before_a_step() {
    use typenet::optim::{Adam, Momentum};
    type Net = net![Dense<2, 3>, Tanh, Dense<3, 1>];
    let before = Net::random(&mut StdRng::seed_from_u64(2));
    let (x, y) = (
        SVector::<f32, 2>::new(0.5, -0.5),
        SVector::<f32, 1>::new(1.0),
    );

    // a learning rate that is a finite f64 and an infinite f32
    let sgd = Sgd::try_new(1e39).expect("valid in f64");
    let err = Optimizer::<Net, f32>::check(&sgd).unwrap_err();
    assert_eq!((err.name, err.value), ("learning rate", 1e39));
    let mut net = before.clone();
    let m = panic_message(|| {
        net.train_step(&mut sgd.clone(), &Mse, &x, &y);
    });
    assert_eq!(m, err.to_string());
    let m = panic_message(|| {
        net.sgd_step(&sgd, &Mse, &x, &y);
    });
    assert_eq!(m, err.to_string());
    assert!(net == before, "nothing was computed, nothing changed");
    // the same rate is valid for an f64 network
    type Net64 = net![Dense<2, 3, f64>, Tanh, Dense<3, 1, f64>];
    assert!(Optimizer::<Net64, f64>::check(&sgd).is_ok());

    // an epsilon that rounds to 0 in f32, a beta that rounds to 1, a rate below f32's range
    let adam = Adam::<Net, Box<Net>>::new(0.01).with_eps(1e-50);
    let err = Optimizer::<Net, f32>::check(&adam).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid epsilon 1e-50: must be finite and positive in f32, the network's scalar \
         (from 1e-45 to 3.4e38)"
    );
    let adam = Adam::<Net, Box<Net>>::new(0.01).with_betas(0.9, 0.999_999_999);
    let err = Optimizer::<Net, f32>::check(&adam).unwrap_err();
    assert_eq!(err.name, "beta2");
    assert!(err.to_string().contains("below 1 in f32"), "{err}");
    let mut adam = adam;
    let m = panic_message(|| {
        net.train_step(&mut adam, &Mse, &x, &y);
    });
    assert!(m.starts_with("invalid beta2 0.999999999"), "{m}");
    let momentum = Momentum::<Net, Box<Net>>::new(1e-46, 0.9);
    assert_eq!(
        Optimizer::<Net, f32>::check(&momentum).unwrap_err().name,
        "learning rate"
    );
    assert!(net == before);
}

#[test]
fn a_data_parallel_step_checks_the_optimizer_too() {
    use typenet::parallel::DataParallel;
    type Net = net![Dense<2, 3>, Tanh, Dense<3, 1>];
    let before = Net::random(&mut StdRng::seed_from_u64(3));
    let x = OMatrix::<f32, Const<2>, Dyn>::from_element(4, 0.5);
    let y = OMatrix::<f32, Const<1>, Dyn>::from_element(4, 1.0);
    let mut net = before.clone();
    let mut parallel = DataParallel::<Net>::new(2).unwrap();
    let m = panic_message(|| {
        parallel.train_step(&mut net, &mut Sgd::try_new(1e39).unwrap(), &Mse, &x, &y);
    });
    assert!(m.starts_with("invalid learning rate 1e39"), "{m}");
    assert!(net == before);
}
