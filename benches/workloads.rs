//! The speed workloads of the seed tutorials (issue 5), defined once and timed by
//! `examples/bench.rs` (one `<name> <median seconds>` line per workload, for the cross-framework
//! driver `bench/compare.py`), which `cargo bench` runs too (`benches/speed.rs`).
//!
//! - `W1`: the deep sigmoid network (10 -> 5 x 32 -> 2, sigmoid, half-SSE), one sample, one SGD
//!   step at 0.01 (forward, backward, update).
//! - `W2`: the 2-2-2 sigmoid network on the seeds' nine points, batch 1, 1000 epochs, SGD at 2.
//! - `W3`: ReLU MLPs 784-H-10, softmax cross-entropy, SGD at 0.1, batches of 100, one epoch of
//!   600 steps over 60,000 samples, each batch converted from bytes when it is used.
//! - `W4`: one sample forward through the W1 network and through 784-100-10.
//! - `W5` (issue 13): convolutional networks on 28 x 28 images: LeNet-5 and the "Deep Learning
//!   from Scratch" SimpleConvNet, softmax cross-entropy, SGD at 0.1, batches of 100, one epoch
//!   of 600 steps over 60,000 images (W3's samples, as images); and one image forward through
//!   each.
//! - `W6` (issue 14): sequence networks streamed one sample at a time (GRU and LSTM of 8, 16
//!   and 32 hidden units from one input to one output, a causal 8 -> 8 convolution of 3 taps at
//!   dilations 1 and 4, a square dense layer of 8, 16 and 32), RTNeural's per-sample method;
//!   and one step of backpropagation through time with Adam.
//!
//! All in `f32`.

// Each harness uses its own part; the fixtures' `new` take no arguments but are not defaults.
#![allow(dead_code, clippy::new_without_default)]

use std::path::Path;

use rand::{RngExt, SeedableRng, rngs::StdRng};
use typenet::data::{DataError, Dataset, OneHot};
use typenet::nalgebra::DMatrix;
use typenet::parallel::DataParallel;
use typenet::prelude::*;
use typenet::{Bptt, TrainSequence};

/// The W1 network: 10 -> five sigmoid layers of 32 -> 2, sigmoid.
pub type DeepSigmoid = net![
    Dense<10, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid,
    Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 2>, Sigmoid
];
/// The W2 network (2-2-2, sigmoid) and the seeds' nine points, as the `tiny_classifier`
/// example has them.
#[path = "../examples/tiny_classifier.rs"]
mod tiny_classifier;
pub use tiny_classifier::Tiny;
/// W3's and W4's MNIST network with 100 hidden units.
pub type Mlp100 = net![Dense<784, 100>, Relu, Dense<100, 10>];
/// W3's MNIST network with 50 hidden units.
pub type Mlp50 = net![Dense<784, 50>, Relu, Dense<50, 10>];

/// W1: one SGD step of the deep sigmoid network on one sample.
pub struct W1 {
    net: DeepSigmoid,
    sgd: Sgd,
    x: SVector<f32, 10>,
    y: SVector<f32, 2>,
}

impl W1 {
    /// The network drawn from seed 0, the sample `x_i = i / 10`, the target `(0.2, 0.8)`.
    pub fn new() -> Self {
        W1 {
            net: DeepSigmoid::random(&mut StdRng::seed_from_u64(0)),
            sgd: Sgd::new(0.01),
            x: SVector::from_fn(|i, _| i as f32 / 10.0),
            y: SVector::<f32, 2>::new(0.2, 0.8),
        }
    }

    /// One SGD step (forward, backward, update: `Train::sgd_step`, which fuses the update into
    /// backward); returns the loss before it.
    #[inline]
    pub fn step(&mut self) -> f32 {
        let x = std::hint::black_box(&self.x);
        self.net.sgd_step(&self.sgd, &HalfSse, x, &self.y)
    }
}

/// W2: the seeds' nine two-feature points (scaled by 1/20) with one-hot targets smoothed to
/// 0.01/0.99.
pub struct W2 {
    data: Vec<(SVector<f32, 2>, SVector<f32, 2>)>,
}

impl W2 {
    /// The nine points.
    pub fn new() -> Self {
        let (points, labels) = (tiny_classifier::POINTS, tiny_classifier::LABELS);
        let smoothing = OneHot::smoothed(0.01, 0.99);
        let data = points
            .iter()
            .zip(labels)
            .map(|(p, l)| {
                let target = smoothing.encode::<f32, 2>(l).expect("labels are 0 and 1");
                (SVector::<f32, 2>::from(*p) / 20.0, target)
            })
            .collect();
        W2 { data }
    }

    /// A whole run: a fresh network (seed 2), 1000 epochs of nine single-sample SGD steps at
    /// learning rate 2. Returns the trained network.
    pub fn run(&self) -> Tiny {
        let mut net = Tiny::random(&mut StdRng::seed_from_u64(2));
        let sgd = Sgd::new(2.0);
        for _ in 0..1000 {
            for (x, y) in &self.data {
                net.sgd_step(&sgd, &HalfSse, x, y);
            }
        }
        net
    }
}

/// The number of samples in one W3 epoch.
pub const W3_SAMPLES: usize = 60_000;
/// W3's batch size.
pub const W3_BATCH: usize = 100;

/// W3: mini-batch SGD of a 784-H-10 ReLU network (`N`) with softmax cross-entropy, on one
/// thread or data-parallel on several.
pub struct W3<'d, N> {
    data: &'d Dataset,
    net: Box<N>,
    grads: DataParallel<N>,
    opt: Sgd,
    rng: StdRng,
}

impl<'d, N> W3<'d, N>
where
    N: Network + Params<f32> + Send + Sync,
    OMatrix<f32, Const<784>, Dyn>: InputOf<N, Out = OMatrix<f32, Const<10>, Dyn>>,
{
    /// A He-initialised network (seed 3) on the heap; each step on `threads` threads.
    pub fn new(data: &'d Dataset, threads: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(3);
        W3 {
            data,
            net: typenet::build::random_boxed_with(&mut rng, Init::He),
            grads: DataParallel::new(threads).expect("at least one thread"),
            opt: Sgd::new(0.1),
            rng,
        }
    }

    /// One epoch: the samples shuffled, 600 batches of 100, in one `DataParallel::run`; each
    /// thread converts its own columns of each batch from bytes
    /// (`Session::train_step_from`).
    pub fn epoch(&mut self) {
        let order = self.data.shuffled_indices(&mut self.rng);
        let W3 {
            data,
            net,
            grads,
            opt,
            ..
        } = self;
        grads.run(&mut **net, &SoftmaxCrossEntropy, |session| {
            for batch in order.chunks(W3_BATCH).take(W3_SAMPLES / W3_BATCH) {
                let loss = session.train_step_from(opt, batch.len(), |columns, x, y| {
                    data.inputs_into(&batch[columns.clone()], x)
                        .expect("784-pixel samples");
                    data.targets_into(&batch[columns], OneHot::PLAIN, y)
                        .expect("labels below 10");
                });
                std::hint::black_box(loss);
            }
        });
    }
}

/// Floating-point operations in one W3 epoch of a 784-`hidden`-10 network: the forward
/// products, the weight gradients (as many again), and the input gradient of the second layer
/// (the first layer's is not computed).
pub fn w3_flops(hidden: usize) -> f64 {
    let per_sample = 2 * (784 * hidden + hidden * 10);
    (W3_SAMPLES * (2 * per_sample + 2 * hidden * 10)) as f64
}

/// W4: one sample forward through `net`.
#[inline]
pub fn w4<N, const I: usize, const O: usize>(net: &N, x: &SVector<f32, I>) -> SVector<f32, O>
where
    SVector<f32, I>: InputOf<N, Out = SVector<f32, O>>,
{
    <SVector<f32, I> as InputOf<N>>::as_layer(net).forward(std::hint::black_box(x))
}

/// W4's input: `x_i = (i mod 7) / 7`.
pub fn w4_input<const I: usize>() -> SVector<f32, I> {
    SVector::from_fn(|i, _| (i % 7) as f32 / 7.0)
}

/// The W4 networks, drawn from seed 4.
pub fn w4_networks() -> (DeepSigmoid, Box<Mlp100>) {
    let mut rng = StdRng::seed_from_u64(4);
    let deep = DeepSigmoid::random(&mut rng);
    (deep, Mlp100::random_boxed(&mut rng))
}

/// W5's LeNet-5: two convolutions of 5 x 5 with max pooling, three dense layers.
pub type LeNet = net![
    Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
    Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
    Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu, Dense<84, 10>,
];
/// W5's SimpleConvNet of "Deep Learning from Scratch" (chapter 7): one convolution of 30
/// 5 x 5 filters, max pooling, two dense layers.
pub type SimpleConvNet =
    net![Conv2d<1, 30, 5>, Relu, MaxPool2d<2>, Flatten, Dense<4320, 100>, Relu, Dense<100, 10>];
/// One W5 input image.
pub type Digit = Image<f32, 1, 28, 28>;
/// A W5 batch of images.
pub type Digits = Image<f32, 1, 28, 28, Dyn>;

/// Floating-point operations of one LeNet-5 training step on one image: forward (convolutions
/// `2 · places · COUT · CIN · 25`: 172,800 and 307,200; dense layers 61,440, 20,160 and
/// 1,680), the weight gradients as many again, the input gradients of every layer but the
/// first. Pools, activations and the loss are not counted.
pub const LENET_TRAIN_FLOPS: f64 = 1_517_040.0;
/// Floating-point operations of one LeNet-5 forward pass on one image.
pub const LENET_INFER_FLOPS: f64 = 563_280.0;
/// As [`LENET_TRAIN_FLOPS`] for SimpleConvNet: the convolution 864,000 forward and as many for
/// its weights (no input gradient), `Dense<4320, 100>` 864,000 three times, `Dense<100, 10>`
/// 2,000 three times.
pub const SIMPLE_TRAIN_FLOPS: f64 = 4_326_000.0;
/// Floating-point operations of one SimpleConvNet forward pass on one image.
pub const SIMPLE_INFER_FLOPS: f64 = 1_730_000.0;

/// W5: mini-batch SGD of a convolutional network `N` on 28 x 28 images with softmax
/// cross-entropy, on one thread or data-parallel on several.
pub struct W5<'d, N> {
    data: &'d Dataset,
    net: Box<N>,
    grads: DataParallel<N>,
    opt: Sgd,
    rng: StdRng,
}

impl<'d, N> W5<'d, N>
where
    N: Network + Params<f32> + Send + Sync,
    Digits: InputOf<N, Out = OMatrix<f32, Const<10>, Dyn>>,
{
    /// A He-initialised network (seed 5) on the heap; each step on `threads` threads.
    pub fn new(data: &'d Dataset, threads: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(5);
        W5 {
            data,
            net: typenet::build::random_boxed_with(&mut rng, Init::He),
            grads: DataParallel::new(threads).expect("at least one thread"),
            opt: Sgd::new(0.1),
            rng,
        }
    }

    /// One epoch: the samples shuffled, 600 batches of 100 images, in one
    /// `DataParallel::run`; each thread converts its own images of each batch from bytes.
    pub fn epoch(&mut self) {
        self.steps(W3_SAMPLES / W3_BATCH);
    }

    /// The first `steps` steps of an epoch. Returns the last loss.
    pub fn steps(&mut self, steps: usize) -> f32 {
        let order = self.data.shuffled_indices(&mut self.rng);
        let W5 {
            data,
            net,
            grads,
            opt,
            ..
        } = self;
        grads.run(&mut **net, &SoftmaxCrossEntropy, |session| {
            let mut loss = f32::NAN;
            for batch in order.chunks(W3_BATCH).take(steps) {
                loss = session.train_step_from(opt, batch.len(), |images, x, y| {
                    data.images_into(&batch[images.clone()], x)
                        .expect("28 x 28 images");
                    data.targets_into(&batch[images], OneHot::PLAIN, y)
                        .expect("labels below 10");
                });
            }
            std::hint::black_box(loss)
        })
    }

    /// The network.
    pub fn net(&self) -> &N {
        &self.net
    }
}

/// W5's single-image inference: one image forward through `net`.
#[inline]
pub fn w5_infer<N>(net: &N, x: &Digit) -> SVector<f32, 10>
where
    Digit: InputOf<N, Out = SVector<f32, 10>>,
{
    <Digit as InputOf<N>>::as_layer(net).forward(std::hint::black_box(x))
}

/// W5's inference input: pixel `(y, x)` is `((y · 28 + x) mod 7) / 7`.
pub fn w5_image() -> Digit {
    Image::from_fn(|_, y, x| ((y * 28 + x) % 7) as f32 / 7.0)
}

/// 60,000 training samples: those of the MNIST-format directory `dir` (the four standard
/// file names, raw or gzip), else the 10,000 digits shipped in `data/` six times over.
pub fn training_set(dir: Option<&Path>) -> Result<Dataset, DataError> {
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
            Dataset::load(
                file("train-images-idx3-ubyte"),
                file("train-labels-idx1-ubyte"),
            )?
        }
        None => {
            let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k");
            let digits = Dataset::load(
                shipped.join("images-idx3-ubyte.gz"),
                shipped.join("labels-idx1-ubyte.gz"),
            )?;
            let six_times: Vec<usize> = (0..6 * digits.len()).map(|i| i % digits.len()).collect();
            digits.subset(&six_times)
        }
    };
    Ok(data)
}

/// The side of the square product that measures the machine's GEMM speed.
pub const GEMM_SIDE: usize = 512;

/// Operands of a `GEMM_SIDE`³ product, through the same path as W3's products.
pub struct Gemm {
    a: DMatrix<f32>,
    b: DMatrix<f32>,
    c: DMatrix<f32>,
}

impl Gemm {
    /// Operands with values in `[0, 1)`.
    pub fn new() -> Self {
        let n = GEMM_SIDE;
        let fill = |r: usize, c: usize| ((r * 31 + c * 17) % 97) as f32 / 97.0;
        Gemm {
            a: DMatrix::from_fn(n, n, fill),
            b: DMatrix::from_fn(n, n, |r, c| fill(c, r)),
            c: DMatrix::zeros(n, n),
        }
    }

    /// `C = A B`.
    #[inline]
    pub fn run(&mut self) {
        typenet::kernels::gemm(&mut self.c, 1.0, &self.a, &self.b, 0.0);
    }

    /// `2 n³`.
    pub fn flops() -> f64 {
        2.0 * (GEMM_SIDE as f64).powi(3)
    }
}

/// The machine's read bandwidth, for the roofline of the small workloads: the sum of an array
/// of `f32` read again and again, the array as large as an MNIST layer's weights (kept in the
/// L2 cache) or far larger than any cache (read from memory). Sixteen partial sums, so that
/// the adds keep up with the loads.
pub struct Read {
    data: Vec<f32>,
}

impl Read {
    /// 314 KB, the weights of `Dense<784, 100>`: they stay in a core's L2 cache.
    pub fn l2() -> Self {
        Read {
            data: vec![1.0; 784 * 100],
        }
    }

    /// 256 MiB: read from memory every time.
    pub fn memory() -> Self {
        Read {
            data: vec![1.0; 64 << 20],
        }
    }

    /// The bytes one [`run`](Self::run) reads.
    pub fn bytes(&self) -> usize {
        self.data.len() * 4
    }

    /// One pass over the array; returns its sum.
    #[inline(never)]
    pub fn run(&self) -> f32 {
        let mut sums = [[0.0f32; 16]; 4];
        for chunk in self.data.chunks_exact(64) {
            for (sums, chunk) in sums.iter_mut().zip(chunk.chunks_exact(16)) {
                for (s, &v) in sums.iter_mut().zip(chunk) {
                    *s += v;
                }
            }
        }
        sums.iter().flatten().sum()
    }
}

/// Samples in one timed W6 streaming round: ten seconds of 48 kHz audio.
pub const W6_SAMPLES: usize = 480_000;

/// W6 (issue 14): a sequence network `N` streamed one sample at a time, as a real-time audio
/// plug-in runs it (RTNeural's per-sample `forward`), from `I` inputs to `O` outputs.
///
/// Method, RTNeural's (`shared/peers/rtneural/bench.cpp`) so that the two compare: every
/// parameter, weights and biases, uniform in `[-1, 1]` (so the gates saturate as often as
/// RTNeural's do); the inputs a ring of pre-computed frames (4,096 of one value, 256 of
/// several), frame `i mod ring` fed to sample `i`; every output of every step summed into an
/// accumulator, which the caller passes to `black_box`. The state is carried from round to
/// round, never reset.
pub struct W6Stream<N: SequenceLayer<SVector<f32, I>>, const I: usize> {
    net: N,
    state: N::State,
    inputs: Vec<SVector<f32, I>>,
}

impl<N, const I: usize, const O: usize> W6Stream<N, I>
where
    N: SequenceLayer<SVector<f32, I>, Out = SVector<f32, O>> + Params<f32> + Default,
{
    /// The network drawn from `seed` (every parameter uniform in `[-1, 1]`), the zero state,
    /// and the input ring: channel `c` of frame `t` is `sin(0.05 t + c)`.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut net = N::default();
        for t in net.tensors_mut() {
            for v in t.data {
                *v = 2.0 * rng.random::<f32>() - 1.0;
            }
        }
        let frames = if I == 1 { 4096 } else { 256 };
        let inputs = (0..frames)
            .map(|t| SVector::from_fn(|c, _| (0.05 * t as f32 + c as f32).sin()))
            .collect();
        W6Stream {
            net,
            state: N::zero_state(1),
            inputs,
        }
    }

    /// `n` steps, one sample each; returns the sum of every output.
    #[inline(never)]
    pub fn run(&mut self, n: usize) -> f32 {
        let net = std::hint::black_box(&self.net);
        let mask = self.inputs.len() - 1;
        let mut acc = 0.0;
        for i in 0..n {
            acc += net.step(&mut self.state, &self.inputs[i & mask]).sum();
        }
        acc
    }
}

/// W6's GRU: one input, `H` hidden units, one output (an amplifier model's shape).
pub type W6Gru<const H: usize> = net![Gru<1, H>, Dense<H, 1>];
/// W6's square dense layer, per sample: the product inside every recurrent step, measured
/// alone (RTNeural's benchmark has it too).
pub type W6Dense<const N: usize> = Dense<N, N>;
/// W6's LSTM: one input, `H` hidden units, one output.
pub type W6Lstm<const H: usize> = net![Lstm<1, H>, Dense<H, 1>];
/// W6's causal convolution: 8 channels to 8, 3 taps, dilation `D`, one 8-channel sample at a
/// time.
pub type W6Conv<const D: usize> = Conv1d<8, 8, 3, D>;

/// The network W6-BPTT trains: `Gru<1, 16>` then `Dense<16, 1>`.
pub type W6BpttNet = net![Gru<1, 16>, Dense<16, 1>];
/// Sequences in one W6-BPTT step.
pub const W6_BPTT_SEQUENCES: usize = 16;
/// Samples in each W6-BPTT sequence.
pub const W6_BPTT_LENGTH: usize = 256;

/// W6-BPTT: one Adam step (learning rate 1e-3) of full backpropagation through time of
/// [`W6BpttNet`] on 16 sequences of 256 samples side by side, mean squared error over every
/// output (`TrainSequence::train_sequences`).
pub struct W6Bptt {
    net: W6BpttNet,
    opt: Adam<W6BpttNet, Box<W6BpttNet>>,
    xs: Vec<OMatrix<f32, Const<1>, Dyn>>,
    ys: Vec<OMatrix<f32, Const<1>, Dyn>>,
}

impl W6Bptt {
    /// The network drawn from seed 7 (the default initialisation); the input of sequence `s`
    /// at step `t` is `sin(0.05 t + 0.4 s)`, its target `0.5 tanh(2 x)` (as
    /// `bench/torch_peer.py` has them).
    pub fn new() -> Self {
        let xs: Vec<_> = (0..W6_BPTT_SEQUENCES)
            .map(|s| {
                OMatrix::<f32, Const<1>, Dyn>::from_fn(W6_BPTT_LENGTH, |_, t| {
                    (0.05 * t as f32 + 0.4 * s as f32).sin()
                })
            })
            .collect();
        let ys = xs
            .iter()
            .map(|x| x.map(|v| 0.5 * (2.0 * v).tanh()))
            .collect();
        W6Bptt {
            net: W6BpttNet::random(&mut StdRng::seed_from_u64(7)),
            opt: Adam::new(1e-3),
            xs,
            ys,
        }
    }

    /// One step: forward through the 256 steps of the 16 sequences, the loss, backward
    /// through time, the Adam update. Returns the loss before it.
    pub fn step(&mut self) -> f32 {
        self.net
            .train_sequences(&mut self.opt, &Mse, &self.xs, &self.ys, &Bptt::full())
            .expect("16 sequences of 256 samples")
    }
}
