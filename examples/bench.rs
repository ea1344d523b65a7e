//! The speed workloads of the seed tutorials, timed: one line per workload,
//! `<name> <median seconds>`, so that any script can compare typenet with other programs.
//!
//! ```sh
//! cargo run --release --example bench [-- --rounds N] [--data DIR]
//! ```
//!
//! - `W1`: the deep sigmoid network (10 -> 5 x 32 -> 2, sigmoid, half-MSE), one sample, one SGD
//!   step; seconds per step.
//! - `W2`: the 2-2-2 sigmoid network on the nine seed points, batch 1, 1000 epochs; seconds per
//!   run.
//! - `W3-784-100-10`, `W3-784-50-10`: ReLU MLPs, softmax cross-entropy, SGD at 0.1, batches of
//!   100, one epoch of 600 steps over 60,000 samples (Fashion-MNIST's training set with
//!   `--data`, else the shipped 10,000 digits six times over); seconds per epoch, including
//!   the conversion of each batch from bytes.
//! - `W4-deep-sigmoid`, `W4-784-100-10`: one sample forward; seconds per call.
//!
//! All in `f32`, on one thread. Each figure is the median of `--rounds` rounds (default 5).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use rand::{SeedableRng, rngs::StdRng};
use typenet::data::{Dataset, OneHot};
use typenet::prelude::*;

type DeepSigmoid = net![
    Dense<10, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid,
    Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 2>, Sigmoid
];
type Tiny = net![Dense<2, 2>, Sigmoid, Dense<2, 2>, Sigmoid];
type Mlp100 = net![Dense<784, 100>, Relu, Dense<100, 10>];
type Mlp50 = net![Dense<784, 50>, Relu, Dense<50, 10>];

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

fn w1(rounds: usize) -> f64 {
    let mut net = DeepSigmoid::random(&mut StdRng::seed_from_u64(0));
    let mut grad = DeepSigmoid::zeros();
    let mut opt = Sgd::new(0.01);
    let x = SVector::<f32, 10>::from_fn(|i, _| i as f32 / 10.0);
    let y = SVector::<f32, 2>::new(0.2, 0.8);
    let steps = 20_000;
    median(rounds, steps, || {
        for _ in 0..steps {
            black_box(net.train_step_with(&mut grad, &mut opt, &HalfSse, black_box(&x), &y));
        }
    })
}

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
    let labels = [0u8, 0, 0, 0, 1, 1, 1, 1, 1];
    let smoothing = OneHot::smoothed(0.01, 0.99);
    let data: Vec<_> = points
        .iter()
        .zip(labels)
        .map(|(p, l)| {
            (
                SVector::<f32, 2>::from(*p) / 20.0,
                smoothing.encode::<f32, 2>(l).unwrap(),
            )
        })
        .collect();
    median(rounds, 1, || {
        let mut net = Tiny::random(&mut StdRng::seed_from_u64(2));
        let mut opt = Sgd::new(2.0);
        for _ in 0..1000 {
            for (x, y) in &data {
                black_box(net.train_step(&mut opt, &HalfSse, x, y));
            }
        }
        black_box(&net);
    })
}

fn w3<N>(rounds: usize, data: &Dataset) -> f64
where
    N: Network + Params<f32> + typenet::bytemuck::Zeroable,
    OMatrix<f32, Const<784>, Dyn>: InputOf<N, Out = OMatrix<f32, Const<10>, Dyn>>,
{
    let mut rng = StdRng::seed_from_u64(3);
    let mut net: Box<N> = typenet::build::random_boxed_with(&mut rng, Init::He);
    let mut grad: Box<N> = typenet::build::zeros_boxed();
    let mut opt = Sgd::new(0.1);
    let mut x = OMatrix::<f32, Const<784>, Dyn>::zeros(100);
    median(rounds, 1, || {
        let order = data.shuffled_indices(&mut rng);
        for batch in order.chunks(100).take(600) {
            data.inputs_into(batch, &mut x).unwrap();
            let y = data.targets::<f32, 10>(batch, OneHot::PLAIN).unwrap();
            black_box(net.train_step_with(&mut grad, &mut opt, &SoftmaxCrossEntropy, &x, &y));
        }
    })
}

fn w4<N, const I: usize, const O: usize>(rounds: usize, net: &N) -> f64
where
    SVector<f32, I>: InputOf<N, Out = SVector<f32, O>>,
{
    let x = SVector::<f32, I>::from_fn(|i, _| (i % 7) as f32 / 7.0);
    let calls = 20_000;
    median(rounds, calls, || {
        for _ in 0..calls {
            black_box(<SVector<f32, I> as InputOf<N>>::net(net).forward(black_box(&x)));
        }
    })
}

/// 60,000 training samples: Fashion-MNIST's (or any MNIST-format directory's) with `--data`,
/// else the shipped 10,000 digits six times over.
fn training_set(dir: Option<PathBuf>) -> Result<Dataset, Box<dyn std::error::Error>> {
    if let Some(dir) = dir {
        let file = |stem: &str| {
            let plain = dir.join(stem);
            if plain.is_file() {
                plain
            } else {
                dir.join(format!("{stem}.gz"))
            }
        };
        return Ok(Dataset::load(
            file("train-images-idx3-ubyte"),
            file("train-labels-idx1-ubyte"),
        )?);
    }
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist-10k/");
    let digits = Dataset::load(
        format!("{shipped}images-idx3-ubyte.gz"),
        format!("{shipped}labels-idx1-ubyte.gz"),
    )?;
    let six_times: Vec<usize> = (0..6 * digits.len()).map(|i| i % digits.len()).collect();
    Ok(digits.subset(&six_times))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let rounds = match value("--rounds") {
        Some(r) => r
            .parse()
            .map_err(|_| format!("--rounds: `{r}` is not a count"))?,
        None => 5,
    };
    let data = training_set(value("--data").map(PathBuf::from))?;
    if data.len() < 60_000 || data.width() != 784 {
        return Err(format!(
            "the training set has {} samples of {} pixels; W3 needs 60,000 of 784",
            data.len(),
            data.width()
        )
        .into());
    }
    println!("W1 {:.9}", w1(rounds));
    println!("W2 {:.9}", w2(rounds));
    println!("W3-784-100-10 {:.9}", w3::<Mlp100>(rounds, &data));
    println!("W3-784-50-10 {:.9}", w3::<Mlp50>(rounds, &data));
    let mut rng = StdRng::seed_from_u64(4);
    println!(
        "W4-deep-sigmoid {:.9}",
        w4::<_, 10, 2>(rounds, &DeepSigmoid::random(&mut rng))
    );
    println!(
        "W4-784-100-10 {:.9}",
        w4::<_, 784, 10>(rounds, &*Mlp100::random_boxed(&mut rng))
    );
    Ok(())
}
