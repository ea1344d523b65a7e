//! The `mnist` example, run in a quick form: it learns, it is deterministic, it saves a model
//! that loads back, and bad data directories end in a clear error naming the file.

#[path = "../../examples/mnist.rs"]
mod example;

use example::{Options, run};

use crate::support::TempDir;

fn quick(seed: u64, dir: &TempDir) -> Options {
    Options {
        epochs: 2,
        limit: Some(2_000),
        seed,
        quiet: true,
        save: dir.join("model.typenet"),
        ..Options::default()
    }
}

#[test]
fn a_quick_run_learns_saves_and_reloads_the_same_model() {
    let dir = TempDir::new("mnist-learns");
    let outcome = run(&quick(1, &dir)).unwrap();
    assert_eq!(outcome.train_losses.len(), 2);
    assert!(
        outcome.train_losses[1] < outcome.train_losses[0],
        "{outcome:?}"
    );
    assert!(outcome.test_accuracy > 0.85, "{outcome:?}");
    assert_eq!(outcome.reloaded_accuracy, outcome.test_accuracy);
}

#[test]
fn the_same_seed_gives_the_same_numbers() {
    let (dir_a, dir_b) = (TempDir::new("mnist-seed-a"), TempDir::new("mnist-seed-b"));
    let a = run(&quick(7, &dir_a)).unwrap();
    let b = run(&quick(7, &dir_b)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn flags_are_parsed_and_bad_ones_refused() {
    let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let o = Options::parse(&args(
        "--epochs 3 --batch 32 --lr 0.05 --optimizer adam --arch 784-256-128-10 --seed 9",
    ))
    .unwrap();
    assert_eq!((o.epochs, o.batch, o.lr, o.seed), (3, 32, 0.05, 9));
    assert_eq!(
        (o.optimizer.as_str(), o.arch.as_str()),
        ("adam", "784-256-128-10")
    );
    assert!(
        Options::parse(&args("--epochs many"))
            .unwrap_err()
            .contains("--epochs")
    );
    assert!(Options::parse(&args("--batch 0")).is_err());
    assert!(
        Options::parse(&args("--bogus"))
            .unwrap_err()
            .contains("--bogus")
    );
    assert!(
        Options::parse(&args("--lr"))
            .unwrap_err()
            .contains("needs a value")
    );
    let dir = TempDir::new("mnist-flags");
    let bad_arch = Options {
        arch: "784-10".into(),
        ..quick(1, &dir)
    };
    assert!(run(&bad_arch).unwrap_err().to_string().contains("784-10"));
    let bad_lr = Options {
        lr: 0.0,
        ..quick(1, &dir)
    };
    assert!(
        run(&bad_lr)
            .unwrap_err()
            .to_string()
            .contains("learning rate")
    );
}

#[test]
fn a_bad_data_directory_is_an_error_naming_the_file() {
    let temp = TempDir::new("mnist-bad-data");
    let dir = temp.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let with_data = |data| Options {
        data: Some(data),
        ..quick(1, &temp)
    };

    // missing files
    let err = run(&with_data(dir.clone())).unwrap_err().to_string();
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");

    // present but damaged: a truncated image file
    let header = |dims: &[u32]| {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        dims.iter()
            .for_each(|d| b.extend_from_slice(&d.to_be_bytes()));
        b
    };
    let mut images = header(&[2, 28, 28]);
    images.extend_from_slice(&[0; 784]); // one image of the two promised
    std::fs::write(dir.join("train-images-idx3-ubyte"), &images).unwrap();
    let mut labels = header(&[2]);
    labels.extend_from_slice(&[1, 2]);
    std::fs::write(dir.join("train-labels-idx1-ubyte"), &labels).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    let err = run(&with_data(dir.clone())).unwrap_err().to_string();
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("truncated"),
        "{err}"
    );

    // labels outside the ten classes
    let mut images = header(&[2, 28, 28]);
    images.extend_from_slice(&[0; 2 * 784]);
    std::fs::write(dir.join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    let mut labels = header(&[2]);
    labels.extend_from_slice(&[1, 12]);
    std::fs::write(dir.join("train-labels-idx1-ubyte"), &labels).unwrap();
    let err = run(&with_data(dir.clone())).unwrap_err().to_string();
    assert!(err.contains("label 12"), "{err}");
}

#[test]
fn a_save_path_that_cannot_be_written_is_refused_before_any_training() {
    let temp = TempDir::new("mnist-bad-save");
    let not_a_dir = temp.join("a-file");
    std::fs::write(&not_a_dir, b"in the way").unwrap();
    let options = Options {
        save: not_a_dir.join("model.typenet"),
        // a data directory that does not exist: the save path is checked before the data is
        // even read, so that is not the error reported
        data: Some(temp.join("no-such-data")),
        ..quick(1, &temp)
    };
    let err = run(&options).unwrap_err().to_string();
    assert!(err.starts_with("cannot save to "), "{err}");
    assert!(err.contains("a-file"), "{err}");
}
