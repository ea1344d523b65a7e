//! The speed workloads of the seed tutorials, timed: one line per workload,
//! `<name> <median seconds>`, so that any script can compare typenet with other programs
//! (`bench/compare.py` does, with NumPy, PyTorch and dfdx).
//!
//! ```sh
//! cargo run --release --example bench [-- --rounds N] [--threads T] [--data DIR] [--only NAMES]
//! ```
//!
//! Names: `W1` (seconds per step), `W2` (per run), `W3-784-100-10` and `W3-784-50-10` (per
//! epoch), `W4-deep-sigmoid` and `W4-784-100-10` (per call), `W5-LeNet` and
//! `W5-SimpleConvNet` (per epoch), `W5-LeNet-infer` and `W5-SimpleConvNet-infer` (per image),
//! the per-sample streaming steps of issue 14 (per sample): `W6-GRU-8`, `W6-GRU-16`,
//! `W6-GRU-32` (`Gru<1, H>` + `Dense<H, 1>`) and `W6-Dense-8`, `W6-Dense-16`, `W6-Dense-32`
//! (`Dense<N, N>`), `W6-LSTM-8`, `W6-LSTM-16`, `W6-LSTM-32` (`Lstm<1, H>` + `Dense<H, 1>`),
//! `W6-Conv1d-d1` and `W6-Conv1d-d4` (`Conv1d<8, 8, 3, D>`), and `W6-BPTT` (seconds per step
//! of backpropagation through time on 16 sequences of 256 samples), and, printed only when
//! `--only`
//! names them, the machine's peaks for the roofline: `GEMM-512` (per 512³ product), `READ-L2`
//! and `READ-MEMORY` (per byte read from a 314 KB array kept in cache, and from a 256 MiB one).
//! The workloads are defined in `benches/workloads.rs`.
//!
//! - `--rounds N`: each figure is the median of N rounds (default 5).
//! - `--threads T` (default 1): W3's and W5's steps run data-parallel on T threads
//!   (`typenet::parallel::DataParallel`), GEMM-512's product is split over T threads
//!   (`typenet::kernels::set_threads`); W1, W2 and W4 are single-sample work and run on one
//!   thread whatever T is, and so does W5's single-image inference.
//! - `--gemm-threads T` (default 1): the products of `Dyn` batches (W3's and W5's) split over
//!   T threads by the gemm crate (`typenet::kernels::set_threads`), instead of or beside the
//!   data-parallel threads.
//! - `--data DIR`: W3's and W5's 60,000 samples from an MNIST-format directory (e.g. Fashion-MNIST),
//!   else the 10,000 shipped digits six times over.
//! - `--only A,B`: just these workloads.

#[path = "../benches/workloads.rs"]
mod workloads;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use rand::{SeedableRng, rngs::StdRng};

use workloads::{
    Gemm, LeNet, Mlp50, Mlp100, Read, SimpleConvNet, W1, W2, W3, W5, W6_SAMPLES, W6Bptt, W6Conv,
    W6Dense, W6Gru, W6Lstm, W6Stream, w4, w4_input, w4_networks, w5_image, w5_infer,
};

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

/// W6's streaming figure: seconds a sample, the median of `rounds` runs of `W6_SAMPLES`
/// steps, after one untimed run of a tenth as many (the caches and the branch predictors warm).
fn w6_stream(rounds: usize, mut run: impl FnMut(usize) -> f32) -> f64 {
    black_box(run(W6_SAMPLES / 10));
    median(rounds, W6_SAMPLES, || {
        black_box(run(W6_SAMPLES));
    })
}

struct Options {
    rounds: usize,
    threads: usize,
    gemm_threads: usize,
    data: Option<String>,
    only: Option<Vec<String>>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options {
            rounds: 5,
            threads: 1,
            gemm_threads: 1,
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
                "--gemm-threads" => options.gemm_threads = count(value()?)?,
                "--data" => options.data = Some(value()?),
                "--only" => {
                    options.only = Some(value()?.split(',').map(str::to_owned).collect());
                }
                _ => return Err(format!("unknown argument `{flag}`")),
            }
        }
        Ok(options)
    }

    /// Whether to run workload `name`; the peaks (`GEMM-512`, `READ-…`) only on request.
    fn wants(&self, name: &str) -> bool {
        match &self.only {
            Some(only) => only.iter().any(|o| o == name),
            None => name != "GEMM-512" && !name.starts_with("READ-"),
        }
    }
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    run(&args)
}

/// Times the workloads `args` ask for (the flags above), one line each.
pub fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let options = Options::parse(args)?;
    let rounds = options.rounds;
    let report = |name: &str, seconds: f64| println!("{name} {seconds:.6e}");
    typenet::kernels::set_threads(options.gemm_threads);

    if options.wants("W1") {
        let mut w1 = W1::new();
        let steps = 20_000;
        report(
            "W1",
            median(rounds, steps, || {
                for _ in 0..steps {
                    black_box(w1.step());
                }
            }),
        );
    }
    if options.wants("W2") {
        let w2 = W2::new();
        report(
            "W2",
            median(rounds, 1, || {
                black_box(w2.run());
            }),
        );
    }
    let w5 = ["W5-LeNet", "W5-SimpleConvNet"];
    let data = if options.wants("W3-784-100-10")
        || options.wants("W3-784-50-10")
        || w5.iter().any(|w| options.wants(w))
    {
        let data = workloads::training_set(options.data.as_deref().map(Path::new))?;
        if data.len() < workloads::W3_SAMPLES || data.width() != 784 {
            return Err(format!(
                "the training set has {} samples of {} pixels; W3 needs 60,000 of 784",
                data.len(),
                data.width()
            )
            .into());
        }
        Some(data)
    } else {
        None
    };
    if let Some(data) = &data {
        if options.wants("W3-784-100-10") {
            let mut w3 = W3::<Mlp100>::new(data, options.threads);
            report("W3-784-100-10", median(rounds, 1, || w3.epoch()));
        }
        if options.wants("W3-784-50-10") {
            let mut w3 = W3::<Mlp50>::new(data, options.threads);
            report("W3-784-50-10", median(rounds, 1, || w3.epoch()));
        }
        if options.wants("W5-LeNet") {
            let mut w5 = W5::<LeNet>::new(data, options.threads);
            report("W5-LeNet", median(rounds, 1, || w5.epoch()));
        }
        if options.wants("W5-SimpleConvNet") {
            let mut w5 = W5::<SimpleConvNet>::new(data, options.threads);
            report("W5-SimpleConvNet", median(rounds, 1, || w5.epoch()));
        }
    }
    let (deep, mlp) = w4_networks();
    let calls = 20_000;
    if options.wants("W4-deep-sigmoid") {
        let x = w4_input::<10>();
        report(
            "W4-deep-sigmoid",
            median(rounds, calls, || {
                for _ in 0..calls {
                    black_box(w4(&deep, &x));
                }
            }),
        );
    }
    if options.wants("W4-784-100-10") {
        let x = w4_input::<784>();
        report(
            "W4-784-100-10",
            median(rounds, calls, || {
                for _ in 0..calls {
                    black_box(w4(&*mlp, &x));
                }
            }),
        );
    }
    let image = w5_image();
    if options.wants("W5-LeNet-infer") {
        let net = LeNet::random_boxed(&mut StdRng::seed_from_u64(6));
        report(
            "W5-LeNet-infer",
            median(rounds, calls, || {
                for _ in 0..calls {
                    black_box(w5_infer(&*net, &image));
                }
            }),
        );
    }
    if options.wants("W5-SimpleConvNet-infer") {
        let net = SimpleConvNet::random_boxed(&mut StdRng::seed_from_u64(6));
        let calls = calls / 4;
        report(
            "W5-SimpleConvNet-infer",
            median(rounds, calls, || {
                for _ in 0..calls {
                    black_box(w5_infer(&*net, &image));
                }
            }),
        );
    }
    // W6: one sample at a time through a sequence network; seeds as RTNeural's benchmark
    // numbers its models (101.. GRU, 201.. LSTM, 301.. Conv1d, 401.. Dense)
    macro_rules! w6 {
        ($name:literal, $net:ty, $inputs:literal, $seed:literal) => {
            if options.wants($name) {
                let mut s = W6Stream::<$net, $inputs>::new($seed);
                report($name, w6_stream(rounds, |n| s.run(n)));
            }
        };
    }
    w6!("W6-GRU-8", W6Gru<8>, 1, 101);
    w6!("W6-GRU-16", W6Gru<16>, 1, 102);
    w6!("W6-GRU-32", W6Gru<32>, 1, 103);
    w6!("W6-LSTM-8", W6Lstm<8>, 1, 201);
    w6!("W6-LSTM-16", W6Lstm<16>, 1, 202);
    w6!("W6-LSTM-32", W6Lstm<32>, 1, 203);
    w6!("W6-Conv1d-d1", W6Conv<1>, 8, 301);
    w6!("W6-Conv1d-d4", W6Conv<4>, 8, 302);
    w6!("W6-Dense-8", W6Dense<8>, 8, 401);
    w6!("W6-Dense-16", W6Dense<16>, 16, 402);
    w6!("W6-Dense-32", W6Dense<32>, 32, 403);
    if options.wants("W6-BPTT") {
        let mut w6 = W6Bptt::new();
        black_box(w6.step());
        let steps = 20;
        report(
            "W6-BPTT",
            median(rounds, steps, || {
                for _ in 0..steps {
                    black_box(w6.step());
                }
            }),
        );
    }
    if options.wants("GEMM-512") {
        typenet::kernels::set_threads(options.threads.max(options.gemm_threads));
        let mut gemm = Gemm::new();
        let products = 20;
        report(
            "GEMM-512",
            median(rounds, products, || {
                for _ in 0..products {
                    gemm.run();
                }
            }),
        );
    }
    for (name, read) in [
        ("READ-L2", Read::l2 as fn() -> Read),
        ("READ-MEMORY", Read::memory),
    ] {
        if options.wants(name) {
            let read = read();
            let passes = (1 << 28) / read.bytes();
            report(
                name,
                median(rounds, passes * read.bytes(), || {
                    for _ in 0..passes {
                        black_box(read.run());
                    }
                }),
            );
        }
    }
    Ok(())
}
