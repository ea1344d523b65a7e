//! What the `mnist` and `cnn` examples share: loading a data set of the MNIST family, the
//! optimizers the command line chooses, the learning-rate schedule, the progress bar, the
//! evaluation on the test set and the pictures of `--plot`. Examples are separate crates, so
//! each includes this file as a module `common` (`#[path]`), beside `support/plot.rs` as `plot`.

use std::error::Error;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use typenet::data::{ConfusionMatrix, Dataset, OneHot, SampleBatch, argmax_columns};
use typenet::optim::{Adam, Momentum};
use typenet::prelude::*;

use super::plot;

/// The shipped data: 10,000 digits, the first 8,000 for training.
pub const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-10k");
/// How many of the shipped digits are for training; the other 2,000 are held out.
pub const SHIPPED_TRAIN: usize = 8_000;

/// The training set and the test set, from `dir` (the four standard IDX files, raw or `.gz`)
/// or from the digits shipped in the repository.
pub fn load(dir: Option<&Path>) -> Result<(Dataset, Dataset), Box<dyn Error>> {
    match dir {
        None => {
            let dir = Path::new(SHIPPED);
            let all = Dataset::load(
                dir.join("images-idx3-ubyte.gz"),
                dir.join("labels-idx1-ubyte.gz"),
            )?;
            Ok(all.split_at(SHIPPED_TRAIN)?)
        }
        Some(dir) => {
            let file = |stem: &str| -> Result<PathBuf, String> {
                let plain = dir.join(stem);
                let gz = dir.join(format!("{stem}.gz"));
                if plain.is_file() {
                    Ok(plain)
                } else if gz.is_file() {
                    Ok(gz)
                } else {
                    Err(format!(
                        "{}: no such file (nor {})",
                        plain.display(),
                        gz.display()
                    ))
                }
            };
            let train = Dataset::load(
                file("train-images-idx3-ubyte")?,
                file("train-labels-idx1-ubyte")?,
            )?;
            let test = Dataset::load(
                file("t10k-images-idx3-ubyte")?,
                file("t10k-labels-idx1-ubyte")?,
            )?;
            Ok((train, test))
        }
    }
}

/// The names of the ten classes, for pictures: Fashion-MNIST's clothes where the data
/// directory's name says `fashion`, the digits otherwise.
pub fn class_names(dir: Option<&Path>) -> Vec<String> {
    const FASHION: [&str; 10] = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ];
    let fashion = dir.is_some_and(|d| d.to_string_lossy().to_lowercase().contains("fashion"));
    (0..10)
        .map(|c| {
            if fashion {
                FASHION[c].to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The optimizers the command line can choose, as one type.
pub enum Choice<N> {
    Sgd(Sgd),
    Momentum(Momentum<N, Box<N>>),
    Adam(Adam<N, Box<N>>),
}

impl<N: Params<f32>> Choice<N> {
    /// `sgd`, `momentum` (0.9) or `adam`, at learning rate `lr` with weight decay `wd`.
    pub fn new(name: &str, lr: f64, wd: f64) -> Result<Self, Box<dyn Error>> {
        Ok(match name {
            "sgd" => Choice::Sgd(Sgd::try_new(lr)?.with_weight_decay(wd)),
            "momentum" => Choice::Momentum(Momentum::try_new(lr, 0.9)?.with_weight_decay(wd)),
            "adam" => Choice::Adam(Adam::try_new(lr)?.with_weight_decay(wd)),
            other => {
                return Err(
                    format!("unknown optimizer `{other}`: choose sgd, momentum or adam").into(),
                );
            }
        })
    }
}

impl<N: Params<f32>> Optimizer<N, f32> for Choice<N> {
    fn update(&mut self, net: &mut N, grad: &N) {
        match self {
            Choice::Sgd(o) => o.update(net, grad),
            Choice::Momentum(o) => o.update(net, grad),
            Choice::Adam(o) => o.update(net, grad),
        }
    }

    fn learning_rate(&self) -> f64 {
        match self {
            Choice::Sgd(o) => Optimizer::<N, f32>::learning_rate(o),
            Choice::Momentum(o) => Optimizer::<N, f32>::learning_rate(o),
            Choice::Adam(o) => Optimizer::<N, f32>::learning_rate(o),
        }
    }

    fn set_learning_rate(&mut self, lr: f64) -> Result<(), typenet::HyperparameterError> {
        match self {
            Choice::Sgd(o) => Optimizer::<N, f32>::set_learning_rate(o, lr),
            Choice::Momentum(o) => Optimizer::<N, f32>::set_learning_rate(o, lr),
            Choice::Adam(o) => Optimizer::<N, f32>::set_learning_rate(o, lr),
        }
    }
}

/// The learning rate of epoch `epoch` (from 1) of `epochs`: cosine decay from `lr` in the first
/// epoch towards `lr / 100`.
pub fn cosine_lr(lr: f64, epoch: usize, epochs: usize) -> f64 {
    let progress = (epoch - 1) as f64 / epochs as f64;
    lr * (0.01 + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

/// Moves a 28 x 28 image by up to one pixel in each direction (at random), the classic
/// augmentation for MNIST: the network sees slightly different digits every epoch.
pub fn shift_randomly(image: &mut [f32], rng: &mut impl rand::Rng) {
    use rand::RngExt;
    let mut moved = [0.0f32; 784];
    let (dy, dx) = (rng.random_range(-1i32..=1), rng.random_range(-1i32..=1));
    for r in 0..28i32 {
        for c in 0..28i32 {
            let (sr, sc) = (r - dy, c - dx);
            moved[(r * 28 + c) as usize] = if (0..28).contains(&sr) && (0..28).contains(&sc) {
                image[(sr * 28 + sc) as usize]
            } else {
                0.0
            };
        }
    }
    image.copy_from_slice(&moved);
}

/// A progress bar for one epoch of `len` samples (hidden when `quiet`).
pub fn progress_bar(quiet: bool, len: u64, epoch: usize) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix:>3} [{bar:30}] {pos}/{len} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(epoch.to_string());
    bar
}

/// A network's answers on a data set of ten classes.
pub struct Evaluation {
    /// Mean loss (softmax cross-entropy of the outputs, taken as logits).
    pub loss: f64,
    /// Counts of (true class, predicted class).
    pub confusion: ConfusionMatrix,
    /// The samples it got wrong, in order, and what it said for each.
    pub mistakes: Vec<(usize, Option<usize>)>,
}

impl Evaluation {
    /// Runs `net` over `data`, 500 samples at a time, given to it as batches of type `X`
    /// (columns or images).
    pub fn of<X, N>(net: &N, data: &Dataset) -> Result<Self, Box<dyn Error>>
    where
        X: SampleBatch + InputOf<N, Out = OMatrix<f32, Const<10>, Dyn>>,
    {
        let mut confusion = ConfusionMatrix::new(10);
        let (mut loss_sum, mut mistakes) = (0.0f64, Vec::new());
        let (mut x, mut y) = (X::empty(), OMatrix::<f32, Const<10>, Dyn>::zeros(0));
        let indices: Vec<usize> = (0..data.len()).collect();
        for chunk in indices.chunks(500) {
            x.fill_from(data, chunk)?;
            data.targets_into(chunk, OneHot::PLAIN, &mut y)?;
            let out = X::as_layer(net).forward(&x);
            loss_sum += f64::from(SoftmaxCrossEntropy.loss(&out, &y)) * chunk.len() as f64;
            for (&i, predicted) in chunk.iter().zip(argmax_columns(&out)) {
                let actual = usize::from(data.labels()[i]);
                match predicted {
                    Some(p) => confusion.record(actual, p),
                    None => confusion.record_unanswered(actual),
                }
                if predicted != Some(actual) {
                    mistakes.push((i, predicted));
                }
            }
        }
        Ok(Evaluation {
            loss: loss_sum / data.len().max(1) as f64,
            confusion,
            mistakes,
        })
    }
}

/// What a run measured, for its pictures.
pub struct Run<'a> {
    /// The network, for titles (`LeNet`, `784-100-10`).
    pub network: &'a str,
    /// `--data`, if given.
    pub data: Option<&'a Path>,
    /// Training samples.
    pub train_len: usize,
    /// Optimizer, learning rate and batch size, for the title.
    pub setup: String,
    /// Mean training loss of each epoch.
    pub train_loss: &'a [f64],
    /// Test loss after each epoch.
    pub test_loss: &'a [f64],
    /// Test accuracy after each epoch.
    pub test_accuracy: &'a [f64],
}

/// Writes the three pictures of `--plot` into `dir`, and says where they are and their size.
pub fn pictures(
    dir: &Path,
    run: &Run<'_>,
    tested: &Evaluation,
    test: &Dataset,
) -> Result<Vec<(PathBuf, (u32, u32))>, Box<dyn Error>> {
    let names = class_names(run.data);
    let what = match run.data {
        None => "the shipped digits".to_string(),
        Some(d) => d.display().to_string(),
    };
    let mut written = Vec::new();
    let curves = dir.join(plot::CURVES_FILE);
    plot::training_curves(
        &curves,
        &plot::Curves {
            title: &format!(
                "{} on {what}: {} training samples, {}",
                run.network, run.train_len, run.setup
            ),
            train_loss: run.train_loss,
            test_loss: run.test_loss,
            test_accuracy: run.test_accuracy,
        },
    )?;
    written.push((curves, plot::CURVES_SIZE));
    let confusion = dir.join(plot::CONFUSION_FILE);
    plot::confusion_matrix(
        &confusion,
        &format!("{} on {what}: the test set", run.network),
        &tested.confusion,
        &names,
    )?;
    written.push((confusion, plot::CONFUSION_SIZE));
    let mistakes: Vec<plot::Mistake<'_>> = tested
        .mistakes
        .iter()
        .map(|&(i, predicted)| plot::Mistake {
            pixels: test.sample(i),
            actual: usize::from(test.labels()[i]),
            predicted,
        })
        .collect();
    let misclassified = dir.join(plot::MISCLASSIFIED_FILE);
    plot::misclassified(
        &misclassified,
        &mistakes,
        test.len(),
        test.image_sides().unwrap_or((28, 28)),
        &names,
    )?;
    written.push((misclassified, plot::MISCLASSIFIED_SIZE));
    Ok(written)
}
