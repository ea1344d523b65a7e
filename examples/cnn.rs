//! Trains LeNet, a typed convolutional network, on handwritten digits.
//!
//! ```sh
//! cargo run --release --example cnn                          # the 10,000 digits shipped in data/
//! cargo run --release --example cnn -- --plot target/cnn-plots
//! cargo run --release --example cnn -- --data /usr/share/datasets/fashion-mnist --epochs 15
//! cargo run --release --example cnn -- --load target/cnn.typenet --epochs 0   # evaluate a saved model
//! ```
//!
//! Flags: `--data DIR` (the four standard IDX files, raw or `.gz`), `--epochs N`, `--batch N`,
//! `--lr X`, `--wd X`, `--optimizer adam | momentum | sgd`, `--seed N`, `--save FILE` (default
//! `target/cnn.typenet`), `--load FILE` (start from a saved model; with `--epochs 0` only
//! evaluate it), `--plot DIR` (write `training.png`, `confusion.png` and `misclassified.png`
//! there), `--limit N` (use only the first N training samples), `--test-limit N` (and the first
//! N test samples), `--no-augment`, `--quiet` (no progress bars). The last line printed is
//! `test accuracy: <fraction>`.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use rand::{SeedableRng, rngs::StdRng};
use typenet::data::OneHot;
use typenet::prelude::*;
use typenet::{build, model_file};

#[allow(dead_code)]
#[path = "support/common.rs"]
mod common;
#[allow(dead_code)]
#[path = "support/plot.rs"]
pub mod plot;

use common::Evaluation;

/// LeNet-5 as the issue writes it: the sides 24, 12, 8 and 4 in between are computed by the
/// types, never written.
pub type LeNet = net![
    Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
    Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
    Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu, Dense<84, 10>,
];

/// A mini-batch of images, as the network takes it.
type Images = Image<f32, 1, 28, 28, Dyn>;

/// What a run was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub data: Option<PathBuf>,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub optimizer: String,
    pub seed: u64,
    pub save: PathBuf,
    pub load: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    pub limit: Option<usize>,
    pub test_limit: Option<usize>,
    pub quiet: bool,
    pub augment: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            data: None,
            epochs: 12,
            batch: 32,
            lr: 0.003,
            weight_decay: 0.0,
            optimizer: "adam".into(),
            seed: 1,
            save: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/cnn.typenet")),
            load: None,
            plot: None,
            limit: None,
            test_limit: None,
            quiet: false,
            augment: true,
        }
    }
}

/// What a run achieved.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub train_losses: Vec<f64>,
    pub test_losses: Vec<f64>,
    pub test_accuracies: Vec<f64>,
    pub test_accuracy: f64,
    pub reloaded_accuracy: f64,
    pub misclassified: usize,
    /// The pictures written (with `--plot`), and their width and height in pixels.
    pub pictures: Vec<(PathBuf, (u32, u32))>,
    pub seconds: f64,
}

impl Options {
    /// Parses command-line flags.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            fn number<V: std::str::FromStr>(flag: &str, v: String) -> Result<V, String> {
                v.parse()
                    .map_err(|_| format!("{flag}: `{v}` is not a valid number"))
            }
            match flag.as_str() {
                "--data" => o.data = Some(PathBuf::from(value()?)),
                "--epochs" => o.epochs = number(flag, value()?)?,
                "--batch" => o.batch = number(flag, value()?)?,
                "--lr" => o.lr = number(flag, value()?)?,
                "--wd" => o.weight_decay = number(flag, value()?)?,
                "--optimizer" => o.optimizer = value()?,
                "--seed" => o.seed = number(flag, value()?)?,
                "--save" => o.save = PathBuf::from(value()?),
                "--load" => o.load = Some(PathBuf::from(value()?)),
                "--plot" => o.plot = Some(PathBuf::from(value()?)),
                "--limit" => o.limit = Some(number(flag, value()?)?),
                "--test-limit" => o.test_limit = Some(number(flag, value()?)?),
                "--quiet" => o.quiet = true,
                "--no-augment" => o.augment = false,
                "--help" | "-h" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown flag `{other}`\n{USAGE}")),
            }
        }
        if o.batch == 0 {
            return Err("--batch must be at least 1".into());
        }
        Ok(o)
    }
}

const USAGE: &str = "usage: cnn [--data DIR] [--epochs N] [--batch N] [--lr X] [--wd X] \
[--optimizer adam|momentum|sgd] [--seed N] [--save FILE] [--load FILE] [--plot DIR] [--limit N] \
[--test-limit N] [--no-augment] [--quiet]";

/// Loads the data, trains LeNet (or loads it), evaluates, saves and reloads it, and draws the
/// pictures.
pub fn run(options: &Options) -> Result<Outcome, Box<dyn Error>> {
    let start = Instant::now();
    // where the model and the pictures go is checked before any training: not after it
    let save = &options.save;
    let cannot_save = |e: &dyn std::fmt::Display| format!("cannot save to {}: {e}", save.display());
    if let Some(dir) = save.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| cannot_save(&e))?;
    }
    model_file::check_save_path(save).map_err(|e| cannot_save(&e))?;
    if let Some(dir) = &options.plot {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot write pictures to {}: {e}", dir.display()))?;
    }

    let (mut train, mut test) = common::load(options.data.as_deref())?;
    if let Some(limit) = options.limit {
        train = train.split_at(limit.min(train.len()))?.0;
    }
    if let Some(limit) = options.test_limit {
        test = test.split_at(limit.min(test.len()))?.0;
    }
    train.check_labels(10)?;
    test.check_labels(10)?;
    // the network takes 28 x 28 images: a data set of another size is refused here, by name
    test.images::<f32, 1, 28, 28>(&[])?;
    println!(
        "data: {} training and {} test images of 28 x 28",
        train.len(),
        test.len(),
    );

    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut net: Box<LeNet> = build::random_boxed_with(&mut rng, Init::He);
    if let Some(file) = &options.load {
        model_file::load(&mut *net, file)
            .map_err(|e| format!("cannot load {}: {e}", file.display()))?;
        println!("model loaded from {}", file.display());
    }
    let mut grad = build::zeroed_boxed::<LeNet, f32>();
    let mut opt = common::Choice::new(&options.optimizer, options.lr, options.weight_decay)?;
    println!(
        "network: {} ({} parameters), {} at lr {}, batch {}, {} epochs, seed {}",
        model_file::signature::<LeNet, f32>(),
        net.param_count(),
        options.optimizer,
        options.lr,
        options.batch,
        options.epochs,
        options.seed
    );

    let mut outcome = Outcome {
        train_losses: Vec::new(),
        test_losses: Vec::new(),
        test_accuracies: Vec::new(),
        test_accuracy: 0.0,
        reloaded_accuracy: 0.0,
        misclassified: 0,
        pictures: Vec::new(),
        seconds: 0.0,
    };
    let mut x = Images::zeros_batch(Dyn(0));
    let mut y = OMatrix::<f32, Const<10>, Dyn>::zeros(0);
    for epoch in 1..=options.epochs {
        opt.set_learning_rate(common::cosine_lr(options.lr, epoch, options.epochs))?;
        let bar = common::progress_bar(options.quiet, train.len() as u64, epoch);
        let epoch_start = Instant::now();
        let order = train.shuffled_indices(&mut rng);
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for chunk in order.chunks(options.batch) {
            train.images_into(chunk, &mut x)?;
            if options.augment {
                for i in 0..chunk.len() {
                    common::shift_randomly(x.sample_mut(i), &mut rng);
                }
            }
            train.targets_into(chunk, OneHot::PLAIN, &mut y)?;
            let loss = net.train_step_with(&mut grad, &mut opt, &SoftmaxCrossEntropy, &x, &y);
            if !loss.is_finite() {
                return Err(format!(
                    "epoch {epoch}: the loss became {loss}; the step was skipped and training \
                     stops (try a smaller --lr)"
                )
                .into());
            }
            loss_sum += f64::from(loss) * chunk.len() as f64;
            seen += chunk.len();
            let rate = seen as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
            bar.set_position(seen as u64);
            bar.set_message(format!(
                "loss {:.4}  {:.0} images/s",
                loss_sum / seen as f64,
                rate
            ));
        }
        bar.finish_and_clear();
        let train_loss = loss_sum / seen.max(1) as f64;
        let tested = Evaluation::of::<Images, _>(&*net, &test)?;
        println!(
            "epoch {epoch:>3}: train loss {train_loss:.4}, test loss {:.4}, test accuracy {:.4} \
             ({:.2} s)",
            tested.loss,
            tested.confusion.accuracy(),
            epoch_start.elapsed().as_secs_f64()
        );
        outcome.train_losses.push(train_loss);
        outcome.test_losses.push(tested.loss);
        outcome.test_accuracies.push(tested.confusion.accuracy());
    }

    let tested = Evaluation::of::<Images, _>(&*net, &test)?;
    println!(
        "confusion matrix (rows: true class, columns: predicted):\n{}",
        tested.confusion
    );
    outcome.seconds = start.elapsed().as_secs_f64();
    println!("total time: {:.2} s", outcome.seconds);

    model_file::save(&*net, save)?;
    let mut reloaded = build::zeroed_boxed::<LeNet, f32>();
    model_file::load(&mut *reloaded, save)?;
    outcome.reloaded_accuracy = Evaluation::of::<Images, _>(&*reloaded, &test)?
        .confusion
        .accuracy();
    println!(
        "model saved to {} and loaded back: test accuracy {:.4}",
        save.display(),
        outcome.reloaded_accuracy
    );

    outcome.misclassified = tested.mistakes.len();
    if let Some(dir) = &options.plot {
        let run = common::Run {
            network: "LeNet",
            data: options.data.as_deref(),
            train_len: train.len(),
            setup: format!(
                "{} at lr {}, batch {}",
                options.optimizer, options.lr, options.batch
            ),
            train_loss: &outcome.train_losses,
            test_loss: &outcome.test_losses,
            test_accuracy: &outcome.test_accuracies,
        };
        outcome.pictures = common::pictures(dir, &run, &tested, &test)?;
        for (path, (w, h)) in &outcome.pictures {
            println!("wrote {} ({w} x {h})", path.display());
        }
    }
    outcome.test_accuracy = tested.confusion.accuracy();
    println!("test accuracy: {:.4}", outcome.test_accuracy);
    Ok(outcome)
}

#[allow(dead_code)]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = Options::parse(&args)
        .map_err(Into::into)
        .and_then(|options| run(&options));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
