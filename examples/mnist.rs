//! Trains a typed multi-layer perceptron on handwritten digits.
//!
//! ```sh
//! cargo run --release --example mnist                       # the 10,000 digits shipped in data/
//! cargo run --release --example mnist -- --data /usr/share/datasets/fashion-mnist \
//!     --arch 784-256-128-10 --epochs 15
//! ```
//!
//! Flags: `--data DIR` (the four standard IDX files, raw or `.gz`), `--arch 784-100-10 |
//! 784-50-10 | 784-256-128-10`, `--epochs N`, `--batch N`, `--lr X`, `--optimizer sgd |
//! momentum | adam`, `--seed N`, `--save PATH`, `--plot DIR` (write `training.png`,
//! `confusion.png` and `misclassified.png` there), `--limit N` (use only the first N training
//! samples), `--quiet` (no progress bars). The last line printed is `test accuracy: <fraction>`.

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use rand::{SeedableRng, rngs::StdRng};
use typenet::data::{Dataset, OneHot};
use typenet::prelude::*;
use typenet::{build, model_file};

// `cnn` includes these too, and the tests include both examples: one copy each
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "support/common.rs"]
mod common;
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "support/plot.rs"]
mod plot;

use common::Evaluation;

type Mlp100 = net![Dense<784, 100>, Relu, Dense<100, 10>];
type Mlp50 = net![Dense<784, 50>, Relu, Dense<50, 10>];
type Mlp256 = net![Dense<784, 256>, Relu, Dense<256, 128>, Relu, Dense<128, 10>];

/// A mini-batch of samples, as the networks take it: one column of 784 values per sample.
type Columns = OMatrix<f32, Const<784>, Dyn>;

/// What a run was asked to do.
#[derive(Clone, Debug)]
pub struct Options {
    pub data: Option<PathBuf>,
    pub arch: String,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub optimizer: String,
    pub seed: u64,
    pub save: PathBuf,
    pub plot: Option<PathBuf>,
    pub limit: Option<usize>,
    pub quiet: bool,
    pub augment: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            data: None,
            arch: "784-100-10".into(),
            epochs: 20,
            batch: 20,
            lr: 0.1,
            weight_decay: 0.0,
            optimizer: "sgd".into(),
            seed: 1,
            save: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/mnist.typenet")),
            plot: None,
            limit: None,
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
    /// The pictures written (with `--plot`), and their width and height in pixels.
    pub pictures: Vec<(PathBuf, (u32, u32))>,
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
                "--arch" => o.arch = value()?,
                "--epochs" => o.epochs = number(flag, value()?)?,
                "--batch" => o.batch = number(flag, value()?)?,
                "--lr" => o.lr = number(flag, value()?)?,
                "--wd" => o.weight_decay = number(flag, value()?)?,
                "--optimizer" => o.optimizer = value()?,
                "--seed" => o.seed = number(flag, value()?)?,
                "--save" => o.save = PathBuf::from(value()?),
                "--plot" => o.plot = Some(PathBuf::from(value()?)),
                "--limit" => o.limit = Some(number(flag, value()?)?),
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

const USAGE: &str = "usage: mnist [--data DIR] [--arch 784-100-10|784-50-10|784-256-128-10] \
[--epochs N] [--batch N] [--lr X] [--wd X] [--optimizer sgd|momentum|adam] [--seed N] [--save PATH] \
[--plot DIR] [--limit N] [--no-augment] [--quiet]";

/// Loads the data, trains the chosen architecture, saves and reloads it.
pub fn run(options: &Options) -> Result<Outcome, Box<dyn Error>> {
    // where the model goes is checked before any training: not after it
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
    let (mut train, test) = common::load(options.data.as_deref())?;
    if let Some(limit) = options.limit {
        train = train.split_at(limit.min(train.len()))?.0;
    }
    train.check_labels(10)?;
    test.check_labels(10)?;
    println!(
        "data: {} training and {} test samples of {} pixels",
        train.len(),
        test.len(),
        train.width()
    );
    match options.arch.as_str() {
        "784-100-10" => train_typed::<Mlp100>(options, &train, &test),
        "784-50-10" => train_typed::<Mlp50>(options, &train, &test),
        "784-256-128-10" => train_typed::<Mlp256>(options, &train, &test),
        other => Err(format!(
            "unknown architecture `{other}`: choose 784-100-10, 784-50-10 or 784-256-128-10"
        )
        .into()),
    }
}

fn train_typed<N>(
    options: &Options,
    train: &Dataset,
    test: &Dataset,
) -> Result<Outcome, Box<dyn Error>>
where
    N: Network + Params<f32> + Clone + typenet::bytemuck::Zeroable,
    N: Layer<<N as Network>::Input>,
    OMatrix<f32, Const<784>, Dyn>: InputOf<N, Out = OMatrix<f32, Const<10>, Dyn>>,
{
    let start = Instant::now();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut net: Box<N> = build::random_boxed_with(&mut rng, Init::He);
    let mut grad = build::zeros_boxed::<N>();
    let mut opt = common::Choice::new(&options.optimizer, options.lr, options.weight_decay)?;
    println!(
        "network: {} ({} parameters), {} at lr {}, batch {}, {} epochs, seed {}",
        typenet::model_file::signature::<N, f32>(),
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
        pictures: Vec::new(),
    };
    let mut x = OMatrix::<f32, Const<784>, Dyn>::zeros(0);
    for epoch in 1..=options.epochs {
        // cosine decay of the learning rate, from lr in the first epoch towards lr/100
        opt.set_learning_rate(common::cosine_lr(options.lr, epoch, options.epochs))?;
        let bar = common::progress_bar(options.quiet, train.len() as u64, epoch);
        let epoch_start = Instant::now();
        let order = train.shuffled_indices(&mut rng);
        let (mut loss_sum, mut seen) = (0.0f64, 0usize);
        for chunk in order.chunks(options.batch) {
            train.inputs_into(chunk, &mut x)?;
            if options.augment {
                for image in x.as_mut_slice().chunks_exact_mut(784) {
                    common::shift_randomly(image, &mut rng);
                }
            }
            let y = train.targets::<f32, 10>(chunk, OneHot::PLAIN)?;
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
                "loss {:.4}  {:.0} samples/s",
                loss_sum / seen as f64,
                rate
            ));
        }
        bar.finish_and_clear();
        let tested = Evaluation::of::<Columns, N>(&net, test)?;
        let accuracy = tested.confusion.accuracy();
        let train_loss = loss_sum / seen.max(1) as f64;
        println!(
            "epoch {epoch:>3}: train loss {train_loss:.4}, test loss {:.4}, test accuracy \
             {accuracy:.4} ({:.2} s)",
            tested.loss,
            epoch_start.elapsed().as_secs_f64()
        );
        outcome.train_losses.push(train_loss);
        outcome.test_losses.push(tested.loss);
        outcome.test_accuracies.push(accuracy);
    }

    let tested = Evaluation::of::<Columns, N>(&net, test)?;
    let confusion = &tested.confusion;
    println!("confusion matrix (rows: true digit, columns: predicted):\n{confusion}");
    println!("total time: {:.2} s", start.elapsed().as_secs_f64());

    model_file::save(&*net, &options.save)?;
    let mut reloaded = build::zeros_boxed::<N>();
    model_file::load(&mut *reloaded, &options.save)?;
    outcome.reloaded_accuracy = Evaluation::of::<Columns, N>(&reloaded, test)?
        .confusion
        .accuracy();
    println!(
        "model saved to {} and loaded back: test accuracy {:.4}",
        options.save.display(),
        outcome.reloaded_accuracy
    );
    if let Some(dir) = &options.plot {
        let run = common::Run {
            network: &options.arch,
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
        outcome.pictures = common::pictures(dir, &run, &tested, test)?;
        for (path, (w, h)) in &outcome.pictures {
            println!("wrote {} ({w} x {h})", path.display());
        }
    }
    outcome.test_accuracy = confusion.accuracy();
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
