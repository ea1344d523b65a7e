//! typenet's speed workloads written with [dfdx](https://crates.io/crates/dfdx) 0.13 (CPU
//! device, `f32`): a peer of `examples/bench.rs` in the benchmark comparison, never a dependency
//! of typenet. It is its own crate with its own workspace and `Cargo.lock`, so building it
//! never touches typenet's build.
//!
//! ```sh
//! cd bench/dfdx
//! cargo run --release -- [--rounds N] [--threads T] [--data DIR] [--only NAME,NAME]
//! # or, once built:
//! target/release/typenet-bench-dfdx --rounds 3
//! ```
//!
//! It prints one line per workload, `<name> <median seconds>`, in this order:
//!
//! - `W1` (seconds per SGD step): the deep sigmoid network 10 -> 5 x (32, sigmoid) -> 2 sigmoid,
//!   one sample `x_i = i / 10` with target `(0.2, 0.8)`, half the sum of squared errors, SGD at
//!   0.01; 20,000 steps a round.
//! - `W2` (seconds per run): a fresh 2-2-2 sigmoid network (seed 2) trained on the seeds' nine
//!   points (scaled by 1/20, targets one-hot smoothed to 0.01/0.99), batch 1, 1000 epochs, SGD
//!   at 2, half-SSE.
//! - `W3-784-100-10`, `W3-784-50-10` (seconds per epoch): ReLU MLPs 784-H-10 with He-normal
//!   weights and zero biases, softmax cross-entropy on the logits (averaged over the batch), SGD
//!   at 0.1, batches of 100, one epoch = the samples shuffled, then 600 steps over 60,000
//!   samples; each batch is converted from bytes (`/ 255`) and one-hot targets when it is used.
//! - `W4-deep-sigmoid`, `W4-784-100-10` (seconds per call): one sample `x_i = (i mod 7) / 7`
//!   forward through the W1 network and through 784-100-10; 20,000 calls a round.
//! - `GEMM-512` (seconds per product), only when `--only` names it, as in typenet's bench: one
//!   512 x 512 x 512 `matmul`, to see what `--threads` does to a product that splits well.
//!
//! The dfdx way throughout: `dev.build_module::<Model, f32>()`, gradients allocated once with
//! `alloc_grads` and zeroed after each step, `x.trace(grads)` then `forward_mut`, the loss,
//! `backward`, `Sgd::update`. Single samples are `Rank1` tensors, W3's batches
//! `Rank2<100, 784>` tensors refilled in place with `copy_from`. dfdx's allocation cache
//! (`dev.enable_cache()`, off by default in 0.13) was tried and changed nothing measurable, so it
//! stays off. In W3, dfdx also computes the gradient with respect to the input batch (the tape
//! enters the graph through the input, and `matmul`'s backward fills both operands' gradients),
//! a product typenet skips: one more 100 x 100 x 784 product per step. dfdx's products run on
//! the `gemm` crate 0.15 with AVX2/FMA kernels, picked at run time; its AVX-512 kernels need
//! dfdx's `nightly` feature (a nightly compiler), so they are not used here.
//!
//! Half-SSE: typenet's W1 and W2 loss is `0.5 * Σ (y - t)²` per sample over the 2 outputs. With
//! one sample of 2 outputs, dfdx's `mse_loss` (the mean of the 2 squared errors) is exactly
//! that, so `mse_loss` is used as is: same value, same gradients, same learning rates.
//!
//! Initial weights come from dfdx's own generator (seeded 0, 2, 3, 4 as typenet's are), so they
//! are not typenet's numbers; W1, W2 and W4 keep dfdx's default `Linear` initialisation, W3
//! draws He-normal weights like typenet's `Init::He`. None of this changes the work done.
//!
//! Options (the same for every program in the comparison):
//!
//! - `--rounds N`: each figure is the median of N rounds (default 5).
//! - `--threads T`: threads for the matrix products (default 1); see [`run_with_threads`].
//! - `--data DIR`: W3's samples from an MNIST-format directory holding
//!   `train-images-idx3-ubyte[.gz]` and `train-labels-idx1-ubyte[.gz]` (at least 60,000
//!   samples, e.g. Fashion-MNIST at `/usr/share/datasets/fashion-mnist`); default: typenet's
//!   shipped 10,000 digits (`data/mnist-10k`) six times over.
//! - `--only A,B`: just these workloads (unknown names are ignored, as typenet's bench does).

use std::error::Error;
use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dfdx::optim::{Optimizer, Sgd};
use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};

/// The W1 (and W4) network: 10 -> five sigmoid layers of 32 -> 2, sigmoid.
type DeepSigmoid = (
    (Linear<10, 32>, Sigmoid),
    (Linear<32, 32>, Sigmoid),
    (Linear<32, 32>, Sigmoid),
    (Linear<32, 32>, Sigmoid),
    (Linear<32, 32>, Sigmoid),
    (Linear<32, 2>, Sigmoid),
);
/// The W2 network: 2-2-2, sigmoid.
type Tiny = ((Linear<2, 2>, Sigmoid), (Linear<2, 2>, Sigmoid));
/// W3's and W4's MNIST networks: 784-H-10 with ReLU.
type Mlp<const H: usize> = ((Linear<784, H>, ReLU), Linear<H, 10>);

/// The workloads, in the order they are printed.
const NAMES: [&str; 6] = [
    "W1",
    "W2",
    "W3-784-100-10",
    "W3-784-50-10",
    "W4-deep-sigmoid",
    "W4-784-100-10",
];
/// SGD steps in one W1 round.
const W1_STEPS: usize = 20_000;
/// Calls in one W4 round.
const W4_CALLS: usize = 20_000;
/// Samples in one W3 epoch.
const W3_SAMPLES: usize = 60_000;
/// W3's batch size.
const W3_BATCH: usize = 100;
/// Pixels in one image.
const PIXELS: usize = 784;

/// Plain SGD at learning rate `lr`, as typenet's `Sgd::new(lr)`.
fn sgd(lr: f64) -> SgdConfig {
    SgdConfig {
        lr,
        momentum: None,
        weight_decay: None,
    }
}

/// The median of `rounds` timings of `f`, each divided by `per`.
fn median(rounds: usize, per: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() / per as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The gradients out of `slot`, for `trace`, which takes them by value; `backward` gives them
/// back. (An empty `Gradients::leaky()` holds no buffer, so this costs nothing.)
fn take(slot: &mut Gradients<f32, Cpu>) -> Gradients<f32, Cpu> {
    std::mem::replace(slot, Gradients::leaky())
}

/// W1: seconds per SGD step.
fn w1(rounds: usize) -> f64 {
    let dev = Cpu::seed_from_u64(0);
    let mut model = dev.build_module::<DeepSigmoid, f32>();
    let mut grads = model.alloc_grads();
    let mut opt = Sgd::new(&model, sgd(0.01));
    let x: Tensor<Rank1<10>, f32, Cpu> = dev.tensor(std::array::from_fn(|i| i as f32 / 10.0));
    let y: Tensor<Rank1<2>, f32, Cpu> = dev.tensor([0.2, 0.8]);
    median(rounds, W1_STEPS, || {
        for _ in 0..W1_STEPS {
            let pred = model.forward_mut(black_box(&x).trace(take(&mut grads)));
            // Half-SSE of one 2-output sample = the mean of its 2 squared errors.
            let loss = mse_loss(pred, y.clone());
            let value = loss.array();
            grads = loss.backward();
            opt.update(&mut model, &grads)
                .expect("every parameter has a gradient");
            model.zero_grads(&mut grads);
            black_box(value);
        }
    })
}

/// W2: seconds per whole run (network drawn, 1000 epochs of 9 single-sample steps).
fn w2(rounds: usize) -> f64 {
    let points = [
        [2.0f32, 4.0],
        [4.0, 11.0],
        [6.0, 6.0],
        [8.0, 5.0],
        [10.0, 7.0],
        [12.0, 16.0],
        [14.0, 8.0],
        [16.0, 3.0],
        [18.0, 7.0],
    ];
    let labels = [0usize, 0, 0, 0, 1, 1, 1, 1, 1];
    let samples: Vec<([f32; 2], [f32; 2])> = points
        .iter()
        .zip(labels)
        .map(|(p, l)| {
            let target = std::array::from_fn(|c| if c == l { 0.99 } else { 0.01 });
            (p.map(|v| v / 20.0), target)
        })
        .collect();
    median(rounds, 1, || {
        // A fresh network from seed 2, as typenet draws one per run.
        let dev = Cpu::seed_from_u64(2);
        let data: Vec<(Tensor<Rank1<2>, f32, Cpu>, Tensor<Rank1<2>, f32, Cpu>)> = samples
            .iter()
            .map(|(x, y)| (dev.tensor(*x), dev.tensor(*y)))
            .collect();
        let mut model = dev.build_module::<Tiny, f32>();
        let mut grads = model.alloc_grads();
        let mut opt = Sgd::new(&model, sgd(2.0));
        for _ in 0..1000 {
            for (x, y) in &data {
                let pred = model.forward_mut(x.trace(take(&mut grads)));
                let loss = mse_loss(pred, y.clone());
                let value = loss.array();
                grads = loss.backward();
                opt.update(&mut model, &grads)
                    .expect("every parameter has a gradient");
                model.zero_grads(&mut grads);
                black_box(value);
            }
        }
        black_box(&model);
    })
}

/// Labelled images: `labels.len()` images of [`PIXELS`] bytes each, row after row.
struct Images {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

/// W3: seconds per epoch of 784-`H`-10.
fn w3<const H: usize>(rounds: usize, data: &Images) -> f64 {
    let dev = Cpu::seed_from_u64(3);
    let mut model = dev.build_module::<Mlp<H>, f32>();
    // He initialisation, as typenet's `Init::He`: weights ~ N(0, 2 / fan_in), biases 0.
    model.0 .0.weight = dev.sample_normal() * (2.0 / PIXELS as f32).sqrt();
    model.0 .0.bias = dev.zeros();
    model.1.weight = dev.sample_normal() * (2.0 / H as f32).sqrt();
    model.1.bias = dev.zeros();
    let mut grads = model.alloc_grads();
    let mut opt = Sgd::new(&model, sgd(0.1));
    let mut rng = StdRng::seed_from_u64(3);

    // One batch as f32, reused: the bytes are converted when the batch is used.
    let mut x_buf = vec![0.0f32; W3_BATCH * PIXELS];
    let mut y_buf = vec![0.0f32; W3_BATCH * 10];
    let mut x: Tensor<Rank2<W3_BATCH, PIXELS>, f32, Cpu> = dev.zeros();
    let mut y: Tensor<Rank2<W3_BATCH, 10>, f32, Cpu> = dev.zeros();
    let mut order: Vec<usize> = (0..data.labels.len()).collect();

    median(rounds, 1, || {
        order.shuffle(&mut rng);
        for batch in order.chunks(W3_BATCH).take(W3_SAMPLES / W3_BATCH) {
            for (row, &i) in batch.iter().enumerate() {
                let image = &data.pixels[i * PIXELS..(i + 1) * PIXELS];
                for (v, &p) in x_buf[row * PIXELS..(row + 1) * PIXELS]
                    .iter_mut()
                    .zip(image)
                {
                    *v = p as f32 / 255.0;
                }
                let target = &mut y_buf[row * 10..(row + 1) * 10];
                target.fill(0.0);
                target[data.labels[i] as usize] = 1.0;
            }
            // The tensors are no longer shared once the previous step's tape is gone, so
            // these copy into their buffers in place.
            x.copy_from(&x_buf);
            y.copy_from(&y_buf);
            let logits = model.forward_mut(x.trace(take(&mut grads)));
            let loss = cross_entropy_with_logits_loss(logits, y.clone());
            let value = loss.array();
            grads = loss.backward();
            opt.update(&mut model, &grads)
                .expect("every parameter has a gradient");
            model.zero_grads(&mut grads);
            black_box(value);
        }
    })
}

/// W4: seconds per call of `model.forward` on one sample of `I` inputs.
fn w4<const I: usize, M>(rounds: usize, dev: &Cpu, model: &M) -> f64
where
    M: Module<Tensor<Rank1<I>, f32, Cpu>>,
{
    let x: Tensor<Rank1<I>, f32, Cpu> = dev.tensor(std::array::from_fn(|i| (i % 7) as f32 / 7.0));
    median(rounds, W4_CALLS, || {
        for _ in 0..W4_CALLS {
            // `forward` takes its input by value: a clone of a tensor shares its buffer.
            black_box(model.forward(black_box(&x).clone()));
        }
    })
}

/// `GEMM-512` (seconds per product, printed only when `--only` names it, as typenet's bench
/// does): a 512 x 512 x 512 `matmul`, the path of every `Linear`, with typenet's operands; it
/// shows what `--threads` does to a product large enough to split well.
fn gemm_512(rounds: usize, dev: &Cpu) -> f64 {
    const N: usize = 512;
    let fill = |r: usize, c: usize| ((r * 31 + c * 17) % 97) as f32 / 97.0;
    let a: Vec<f32> = (0..N * N).map(|i| fill(i / N, i % N)).collect();
    let b: Vec<f32> = (0..N * N).map(|i| fill(i % N, i / N)).collect();
    let a: Tensor<Rank2<N, N>, f32, Cpu> = dev.tensor(a);
    let b: Tensor<Rank2<N, N>, f32, Cpu> = dev.tensor(b);
    let products = 20;
    median(rounds, products, || {
        for _ in 0..products {
            black_box(black_box(&a).clone().matmul(b.clone()));
        }
    })
}

/// The contents of `path`, gunzipped if they start with gzip's magic bytes.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: bad gzip data: {e}", path.display()))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// The big-endian `u32`s of an IDX header: the magic number and `dims` sizes.
fn idx_header(bytes: &[u8], dims: usize, path: &Path) -> Result<Vec<usize>, String> {
    let len = 4 * (1 + dims);
    if bytes.len() < len {
        return Err(format!(
            "{}: {} bytes, too short for an IDX header of {dims} dimensions",
            path.display(),
            bytes.len()
        ));
    }
    Ok(bytes[..len]
        .chunks(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect())
}

/// Reads an IDX image file (magic 0x803, unsigned bytes, 3 dimensions) and an IDX label file
/// (magic 0x801, 1 dimension) of the same count, checking the images are 28 x 28 and the labels
/// below 10.
fn load_idx(images: &Path, labels: &Path) -> Result<Images, String> {
    let img = read_maybe_gz(images)?;
    let header = idx_header(&img, 3, images)?;
    if header[0] != 0x0803 {
        return Err(format!(
            "{}: magic number {:#010x}, not 0x00000803 (IDX unsigned bytes, 3 dimensions)",
            images.display(),
            header[0]
        ));
    }
    let (count, rows, cols) = (header[1], header[2], header[3]);
    if rows * cols != PIXELS {
        return Err(format!(
            "{}: images of {rows} x {cols} pixels, not 28 x 28",
            images.display()
        ));
    }
    let pixels = img[16..].to_vec();
    if pixels.len() != count * PIXELS {
        return Err(format!(
            "{}: the header announces {count} images ({} bytes) but {} bytes follow",
            images.display(),
            count * PIXELS,
            pixels.len()
        ));
    }

    let lab = read_maybe_gz(labels)?;
    let header = idx_header(&lab, 1, labels)?;
    if header[0] != 0x0801 {
        return Err(format!(
            "{}: magic number {:#010x}, not 0x00000801 (IDX unsigned bytes, 1 dimension)",
            labels.display(),
            header[0]
        ));
    }
    let labels_vec = lab[8..].to_vec();
    if header[1] != labels_vec.len() {
        return Err(format!(
            "{}: the header announces {} labels but {} bytes follow",
            labels.display(),
            header[1],
            labels_vec.len()
        ));
    }
    if labels_vec.len() != count {
        return Err(format!(
            "{} images but {} labels ({} and {})",
            count,
            labels_vec.len(),
            images.display(),
            labels.display()
        ));
    }
    if let Some(bad) = labels_vec.iter().find(|&&l| l >= 10) {
        return Err(format!("{}: label {bad} is not below 10", labels.display()));
    }
    Ok(Images {
        pixels,
        labels: labels_vec,
    })
}

/// W3's training set: the MNIST-format directory `dir` (raw or gzip files), else typenet's
/// shipped 10,000 digits six times over.
fn training_set(dir: Option<&Path>) -> Result<Images, String> {
    let data = match dir {
        Some(dir) => {
            let file = |stem: &str| {
                let plain = dir.join(stem);
                if plain.is_file() {
                    plain
                } else {
                    dir.join(format!("{stem}.gz"))
                }
            };
            load_idx(
                &file("train-images-idx3-ubyte"),
                &file("train-labels-idx1-ubyte"),
            )?
        }
        None => {
            let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-10k");
            let digits = load_idx(
                &shipped.join("images-idx3-ubyte.gz"),
                &shipped.join("labels-idx1-ubyte.gz"),
            )?;
            Images {
                pixels: digits.pixels.repeat(6),
                labels: digits.labels.repeat(6),
            }
        }
    };
    if data.labels.len() < W3_SAMPLES {
        return Err(format!(
            "the training set has {} samples; W3 needs {W3_SAMPLES}",
            data.labels.len()
        ));
    }
    Ok(data)
}

struct Options {
    rounds: usize,
    threads: usize,
    data: Option<PathBuf>,
    only: Option<Vec<String>>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options {
            rounds: 5,
            threads: 1,
            data: None,
            only: None,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| format!("{flag} needs a value"))
                    .cloned()
            };
            let count = |v: String| match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{flag}: `{v}` is not a positive count")),
            };
            match flag.as_str() {
                "--rounds" => options.rounds = count(value()?)?,
                "--threads" => options.threads = count(value()?)?,
                "--data" => options.data = Some(PathBuf::from(value()?)),
                "--only" => {
                    options.only = Some(value()?.split(',').map(str::to_owned).collect());
                }
                _ => {
                    return Err(format!(
                        "unknown argument `{flag}`\nusage: typenet-bench-dfdx [--rounds N] \
                         [--threads T] [--data DIR] [--only {}]",
                        NAMES.join(",")
                    ))
                }
            }
        }
        Ok(options)
    }

    /// Whether to run workload `name`: all six unless `--only` says otherwise.
    fn wants(&self, name: &str) -> bool {
        self.only.is_none() || self.only_names(name)
    }

    /// Whether `--only` names `name` (the way to ask for `GEMM-512`).
    fn only_names(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_some_and(|only| only.iter().any(|o| o == name))
    }
}

fn run(options: &Options) -> Result<(), Box<dyn Error>> {
    let rounds = options.rounds;
    let report = |name: &str, seconds: f64| println!("{name} {seconds:.9}");

    if options.wants("W1") {
        report("W1", w1(rounds));
    }
    if options.wants("W2") {
        report("W2", w2(rounds));
    }
    if options.wants("W3-784-100-10") || options.wants("W3-784-50-10") {
        let data = training_set(options.data.as_deref())?;
        if options.wants("W3-784-100-10") {
            report("W3-784-100-10", w3::<100>(rounds, &data));
        }
        if options.wants("W3-784-50-10") {
            report("W3-784-50-10", w3::<50>(rounds, &data));
        }
    }
    // Both W4 networks drawn from seed 4, in typenet's order, whichever are timed.
    let dev = Cpu::seed_from_u64(4);
    let deep = dev.build_module::<DeepSigmoid, f32>();
    let mlp = dev.build_module::<Mlp<100>, f32>();
    if options.wants("W4-deep-sigmoid") {
        report("W4-deep-sigmoid", w4::<10, _>(rounds, &dev, &deep));
    }
    if options.wants("W4-784-100-10") {
        report("W4-784-100-10", w4::<784, _>(rounds, &dev, &mlp));
    }
    if options.only_names("GEMM-512") {
        report("GEMM-512", gemm_512(rounds, &dev));
    }
    Ok(())
}

/// Runs `f` with `threads` threads for dfdx's matrix products.
///
/// What controls dfdx 0.13's CPU threads: every `Cpu` matrix product (`matmul`, hence every
/// `Linear` forward and backward) calls the `gemm` crate (0.15) with
/// `gemm::Parallelism::Rayon(rayon::current_num_threads())`, i.e. the size of the rayon pool the
/// calling code runs in (the global pool by default: `RAYON_NUM_THREADS` or one thread per
/// core). `gemm` then splits a product over that many threads only when its work
/// `m * n * k` reaches its threading threshold (48 * 48 * 256 = 589,824 multiply-adds), so
/// W3's batch products (100 x 784 x H) go parallel while W1, W2 and W4's single samples stay on
/// the calling thread. Nothing else in dfdx 0.13's CPU kernels (element-wise ops, reductions,
/// the optimiser) uses threads; `matrixmultiply` and `MATMUL_NUM_THREADS` play no part.
///
/// So the whole benchmark runs inside a rayon pool of exactly `threads` threads, whatever
/// `RAYON_NUM_THREADS` says; with 1 thread `gemm` never leaves the calling thread.
///
/// Measured on an idle 2-core machine (alternating 1- and 2-thread runs): 2 threads make
/// `GEMM-512` 1.75-1.85x faster (2.9 -> 1.6 ms), but W3's epoch no faster: over nine pairs from
/// 6% faster to 15% slower, typically 8-11% slower (0.49 -> 0.53 s), with this pool or with
/// rayon's global one alike. Its 100-sample products are split, but the second worker, asleep
/// between products, seldom wakes in time to take its half (under `perf` it ran 2% of the
/// samples), and the fork-joins cost more than they save.
fn run_with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("cannot start {threads} threads: {e}"))?;
    Ok(pool.install(f))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = Options::parse(&args)
        .map_err(Box::<dyn Error>::from)
        .and_then(|options| {
            run_with_threads(options.threads, || run(&options).map_err(|e| e.to_string()))?
                .map_err(Box::<dyn Error>::from)
        });
    if let Err(e) = result {
        eprintln!("typenet-bench-dfdx: {e}");
        std::process::exit(2);
    }
}
