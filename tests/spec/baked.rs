//! A network baked into Rust source is the trained network, bit for bit: the file the `no_std`
//! program includes is exactly what baking the trained network writes today, and its outputs
//! equal the trained network's to the last bit.

#[path = "../../examples/bake.rs"]
mod example;

include!("../../embedded/src/baked.rs");

use rand::{RngExt, SeedableRng, rngs::StdRng};
use typenet::prelude::*;

#[test]
fn the_committed_baked_file_is_what_baking_the_trained_network_writes() {
    let (_, source) = example::train();
    let committed = std::fs::read_to_string(example::BAKED).unwrap();
    assert!(
        committed == source,
        "embedded/src/baked.rs is stale: run `cargo run --release --example bake`"
    );
}

#[test]
fn the_committed_blob_is_the_trained_network_in_the_model_file_format() {
    let (trained, _) = example::train();
    let committed = std::fs::read(example::BLOB).unwrap();
    assert!(
        committed == typenet::model_file::to_bytes(&trained).unwrap(),
        "embedded/src/xor.typenet is stale"
    );
    let mut net = xor::Net::zeros();
    typenet::model_file::decode_into(&mut net, &committed).unwrap();
    assert!(net == trained);
}

#[test]
fn the_baked_network_equals_the_trained_one_bit_for_bit() {
    let (trained, _) = example::train();
    assert!(xor::NET == trained, "parameters differ");
    let (xs, _) = example::xor_data();
    let mut rng = StdRng::seed_from_u64(99);
    let more = (0..200)
        .map(|_| SVector::<f32, 2>::new(rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0)));
    for x in xs.into_iter().chain(more) {
        let (a, b) = (xor::NET.forward(&x)[0], trained.forward(&x)[0]);
        assert_eq!(a.to_bits(), b.to_bits(), "at {x:?}");
    }
    let batch = OMatrix::<f32, Const<2>, Dyn>::from_fn(64, |r, c| (r as f32 - c as f32) / 16.0);
    let (a, b) = (xor::NET.forward(&batch), trained.forward(&batch));
    assert!(
        a.iter()
            .zip(b.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

#[test]
fn every_float_is_baked_exactly_including_signed_zero_and_nan() {
    let mut layer = Dense::<2, 2, f64>::zeros();
    layer.w[0] = -0.0;
    layer.w[1] = f64::MIN_POSITIVE / 3.0; // subnormal
    layer.w[2] = f64::from_bits(0x7ff8_0000_dead_beef); // a NaN with a payload
    layer.b[1] = f64::MAX;
    let source = typenet::bake::to_rust_module(&layer, "m");
    assert!(source.contains("f64::from_bits(0x8000000000000000)"));
    assert!(source.contains("f64::from_bits(0x7ff80000deadbeef)"));
    assert!(source.contains(&format!("f64::from_bits({:#018x})", f64::MAX.to_bits())));
}

/// A network whose layers are themselves chains, in the head and in the tail:
/// `Chain<Chain<Dense, Tanh>, Chain<Chain<Dense, Relu>, Chain<Dense, Sigmoid>>>`.
type Nested = net![net![Dense<4, 3>, Tanh], net![Dense<3, 3>, Relu], Dense<3, 4>, Sigmoid];

/// The committed bake of [`Nested`]: compiled here, so source that does not compile (a
/// flattened type for a nested value) fails this test crate's build.
const NESTED_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/baked_nested.rs"
);
include!("../fixtures/baked_nested.rs");

#[test]
fn a_chain_of_chains_bakes_into_source_that_compiles_to_the_same_network() {
    let net = Nested::random(&mut StdRng::seed_from_u64(5));
    let source = typenet::bake::to_rust_module(&net, "nested");
    if std::env::var_os("TYPENET_BLESS").is_some() {
        std::fs::write(NESTED_FILE, &source).unwrap();
    }
    let committed = std::fs::read_to_string(NESTED_FILE).unwrap();
    assert!(
        committed == source,
        "tests/fixtures/baked_nested.rs is stale: rerun this test with TYPENET_BLESS=1"
    );
    assert!(source.contains(
        "pub type Net = ::typenet::net![::typenet::net![Dense<4, 3, f32>, Tanh], \
         ::typenet::net![Dense<3, 3, f32>, Relu], Dense<3, 4, f32>, Sigmoid];"
    ));
    let baked: &Nested = &nested::NET; // the baked type is the network's type
    assert!(*baked == net);
    let x = SVector::<f32, 4>::new(0.5, -1.0, 2.0, 0.25);
    assert_eq!(baked.forward(&x), net.forward(&x));
}

/// A network with every convolutional layer: padding and stride, batch norm (its running
/// statistics moved by training), both pools, dropout, flatten.
type Cnn = net![
    Conv2d<1, 3, 3, 2, 1>, BatchNorm2d<3>, Relu, MaxPool2d<2, 1>, AvgPool2d<2>, Dropout<25>,
    Flatten, Dense<27, 4>,
];

const CNN_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/baked_cnn.rs");
include!("../fixtures/baked_cnn.rs");

/// [`Cnn`] from a seed, after eight training steps on a fixed batch of four 14 x 14 images
/// (so that batch norm's running statistics are neither their starting values nor equal).
fn trained_cnn() -> Cnn {
    let mut net = Cnn::random(&mut StdRng::seed_from_u64(8));
    let x = Image::<f32, 1, 14, 14, Const<4>>::from_fn_batch(Const, |i, _, y, x| {
        ((i * 7 + y * 3 + x * 5) % 11) as f32 / 11.0 - 0.3 * i as f32
    });
    let y = SMatrix::<f32, 4, 4>::identity();
    let mut ctx = TrainContext::seeded(3);
    for _ in 0..8 {
        net.train_step_in(&mut ctx, &mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
    }
    net
}

#[test]
fn a_cnn_with_batch_norm_bakes_into_the_same_network_running_statistics_included() {
    let net = trained_cnn();
    let bn = &net.tail.head;
    assert!(bn.running_mean.iter().all(|&m| m != 0.0));
    assert!(bn.running_var.iter().all(|&v| v != 1.0) && bn.running_var[0] != bn.running_var[1]);
    let source = typenet::bake::to_rust_module(&net, "cnn");
    if std::env::var_os("TYPENET_BLESS").is_some() {
        std::fs::write(CNN_FILE, &source).unwrap();
    }
    let committed = std::fs::read_to_string(CNN_FILE).unwrap();
    assert!(
        committed == source,
        "tests/fixtures/baked_cnn.rs is stale: rerun this test with TYPENET_BLESS=1"
    );
    assert!(source.contains(
        "pub type Net = ::typenet::net![Conv2d<1, 3, 3, 2, 1, f32>, BatchNorm2d<3, f32>, Relu, \
         MaxPool2d<2, 1>, AvgPool2d<2, 2>, Dropout<25>, Flatten, Dense<27, 4, f32>];"
    ));
    let baked: &Cnn = &cnn::NET;
    assert!(*baked == net, "parameters or running statistics differ");
    // inference uses the running statistics: the same bits out for images never trained on
    let x = Image::<f32, 1, 14, 14, Dyn>::from_samples(16, |i, v| {
        v.iter_mut()
            .enumerate()
            .for_each(|(j, p)| *p = ((i * 31 + j * 17) % 23) as f32 / 7.0 - 1.5);
    });
    let (a, b) = (baked.forward(&x), net.forward(&x));
    assert!(
        a.iter()
            .zip(b.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    for i in 0..16 {
        let one = Image::<f32, 1, 14, 14>::from_slice(x.sample(i));
        let (a, b) = (baked.forward(&one), net.forward(&one));
        assert!(
            a.iter()
                .zip(b.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert_eq!(a.as_slice(), b.column(0).as_slice());
    }
}

/// LeNet, as the convolution issue declares it: 44,426 parameters.
type LeNet = net![
    Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
    Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
    Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu, Dense<84, 10>,
];

/// The trained LeNet, as a model file: the original the baked one is compared with.
const TRAINED_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lenet.typenet");
/// Where it goes baked, for the `no_std` program (`embedded/src/main.rs`).
const LENET_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/embedded/src/lenet.rs");
/// Where the held-out digits it classifies on the device go, with the logits it computes here.
const DIGITS_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/embedded/src/digits.rs");
include!("../../embedded/src/lenet.rs");

/// The shipped digits: the first 8,000 for training (of which LeNet saw the first
/// [`LENET_SAMPLES`]), the last 2,000 held out, as the examples split them.
fn digits() -> &'static typenet::data::Dataset {
    static DATA: std::sync::OnceLock<typenet::data::Dataset> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        typenet::data::Dataset::load(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/data/mnist-10k/images-idx3-ubyte.gz"
            ),
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/data/mnist-10k/labels-idx1-ubyte.gz"
            ),
        )
        .unwrap()
    })
}

const LENET_SAMPLES: usize = 6000;
const HELD_OUT: usize = 8000;
/// How many held-out digits the `no_std` program classifies.
const DEVICE_DIGITS: usize = 4;

/// A digit's grey levels as an image in [0, 1]: `embedded/src/main.rs` converts the same way.
fn image_of(pixels: &[u8]) -> Image<f32, 1, 28, 28> {
    Image::from_fn(|_, y, x| f32::from(pixels[28 * y + x]) / 255.0)
}

/// LeNet trained briefly, from a seed: one pass over the first [`LENET_SAMPLES`] digits in
/// batches of ten, plain SGD with a learning rate of 0.1 (about 0.95 on the held-out digits).
fn train_lenet() -> Box<LeNet> {
    let data = digits();
    let mut net = LeNet::random_boxed(&mut StdRng::seed_from_u64(0));
    // a step on ten images keeps their activations and the gradient on the stack: more than a
    // test thread's 2 MiB without optimisations
    std::thread::scope(|s| {
        let train = || {
            let mut sgd = Sgd::new(0.1);
            for first in (0..LENET_SAMPLES).step_by(10) {
                let x = Image::<f32, 1, 28, 28, Const<10>>::from_fn_batch(Const, |i, _, y, x| {
                    f32::from(data.sample(first + i)[28 * y + x]) / 255.0
                });
                let y = SMatrix::<f32, 10, 10>::from_fn(|class, i| {
                    f32::from(usize::from(data.labels()[first + i]) == class)
                });
                net.train_step(&mut sgd, &SoftmaxCrossEntropy, &x, &y);
            }
        };
        let thread = std::thread::Builder::new().stack_size(64 << 20);
        thread.spawn_scoped(s, train).unwrap().join().unwrap();
    });
    net
}

/// The trained LeNet, read from its model file (`tests/fixtures/lenet.typenet`). With
/// `TYPENET_BLESS=retrain` it is trained again first ([`train_lenet`]) and the file rewritten;
/// the tests below then ask for the baked files to be blessed.
fn trained_lenet() -> &'static LeNet {
    static NET: std::sync::OnceLock<Box<LeNet>> = std::sync::OnceLock::new();
    NET.get_or_init(|| {
        if std::env::var_os("TYPENET_BLESS").is_some_and(|v| v == "retrain") {
            let bytes = typenet::model_file::to_bytes(&*train_lenet()).unwrap();
            std::fs::write(TRAINED_FILE, bytes).unwrap();
        }
        let mut net = LeNet::zeros_boxed();
        let bytes = std::fs::read(TRAINED_FILE).unwrap();
        typenet::model_file::from_bytes(&mut *net, &bytes).unwrap();
        net
    })
}

/// The class with the largest logit.
fn class_of(logits: &SVector<f32, 10>) -> usize {
    logits.argmax().0
}

/// The source of `embedded/src/digits.rs`: the first [`DEVICE_DIGITS`] held-out digits, their
/// labels, and the trained LeNet's logits for them (as bits).
fn digits_source(net: &LeNet) -> String {
    use std::fmt::Write;
    let data = digits();
    let picked = HELD_OUT..HELD_OUT + DEVICE_DIGITS;
    let mut s = String::from(
        "// Generated by tests/spec/baked.rs (TYPENET_BLESS=1): held-out digits, and the logits \
         the trained\n// LeNet of lenet.rs computes for them on the desktop. Do not edit.\n",
    );
    writeln!(
        s,
        "/// How many digits.\npub const COUNT: usize = {DEVICE_DIGITS};"
    )
    .unwrap();
    writeln!(
        s,
        "/// Samples {}..{} of `data/mnist-10k` (never trained on): 28 x 28 grey levels, row by \
         row.\npub static DIGITS: [[u8; 784]; COUNT] = [",
        picked.start, picked.end
    )
    .unwrap();
    for i in picked.clone() {
        s.push_str("[\n");
        for row in data.sample(i).chunks(28) {
            let row: Vec<String> = row.iter().map(u8::to_string).collect();
            writeln!(s, "{},", row.join(", ")).unwrap();
        }
        s.push_str("],\n");
    }
    s.push_str("];\n");
    let labels: Vec<String> = picked
        .clone()
        .map(|i| data.labels()[i].to_string())
        .collect();
    writeln!(
        s,
        "/// Their labels.\npub static LABELS: [usize; COUNT] = [{}];",
        labels.join(", ")
    )
    .unwrap();
    s.push_str(
        "/// The logits of each, as `f32` bits.\npub static LOGITS: [[u32; 10]; COUNT] = [\n",
    );
    for i in picked {
        let logits = net.forward(&image_of(data.sample(i)));
        let bits: Vec<String> = logits
            .iter()
            .map(|v| format!("{:#010x}", v.to_bits()))
            .collect();
        writeln!(s, "[{}],", bits.join(", ")).unwrap();
    }
    s.push_str("];\n");
    s
}

#[test]
fn the_committed_lenet_and_digits_are_what_baking_the_trained_lenet_writes() {
    let net = trained_lenet();
    let (source, digits) = (
        typenet::bake::to_rust_module(net, "lenet"),
        digits_source(net),
    );
    if std::env::var_os("TYPENET_BLESS").is_some() {
        std::fs::write(LENET_FILE, &source).unwrap();
        std::fs::write(DIGITS_FILE, &digits).unwrap();
    }
    let stale = "is stale: rerun this test with TYPENET_BLESS=1 (the logits change when the \
                 arithmetic of a forward pass does)";
    let committed = std::fs::read_to_string(LENET_FILE).unwrap();
    assert!(committed == source, "embedded/src/lenet.rs {stale}");
    let committed = std::fs::read_to_string(DIGITS_FILE).unwrap();
    assert!(committed == digits, "embedded/src/digits.rs {stale}");
}

#[test]
fn the_trained_lenet_has_learnt_and_knows_the_devices_digits() {
    let (net, data) = (trained_lenet(), digits());
    let held_out = HELD_OUT..data.len();
    let right = held_out
        .clone()
        .filter(|&i| {
            class_of(&net.forward(&image_of(data.sample(i)))) == usize::from(data.labels()[i])
        })
        .count();
    let accuracy = right as f64 / held_out.len() as f64;
    assert!(accuracy > 0.93, "held-out accuracy {accuracy}");
    for i in HELD_OUT..HELD_OUT + DEVICE_DIGITS {
        let logits = net.forward(&image_of(data.sample(i)));
        assert_eq!(
            class_of(&logits),
            usize::from(data.labels()[i]),
            "digit {i}"
        );
    }
}

#[test]
fn the_baked_lenet_equals_the_trained_one_bit_for_bit() {
    let (net, data) = (trained_lenet(), digits());
    let baked: &LeNet = &lenet::NET;
    assert!(baked == net, "parameters differ");
    for i in (HELD_OUT..data.len()).step_by(10) {
        let x = image_of(data.sample(i));
        let (a, b) = (baked.forward(&x), net.forward(&x));
        assert!(
            a.iter()
                .zip(b.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "digit {i}"
        );
    }
    let batch = Image::<f32, 1, 28, 28, Dyn>::from_samples(32, |i, v| {
        v.iter_mut()
            .zip(data.sample(HELD_OUT + i))
            .for_each(|(v, &p)| *v = f32::from(p) / 255.0);
    });
    let (a, b) = (baked.forward(&batch), net.forward(&batch));
    assert!(
        a.iter()
            .zip(b.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

/// The streaming GRU of the `no_std` program: one sample in, one out.
type GruAmp = net![Gru<1, 8>, Dense<8, 1>];

/// Where it goes baked, for the `no_std` program (`--features gru-only`, and the complete one).
const GRU_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/embedded/src/gru.rs");
/// Where the checksum and checkpoints of its outputs on the device's signal go.
const GRU_EXPECTED_FILE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/embedded/src/gru_expected.rs");
include!("../../embedded/src/gru.rs");

/// The device's test signal, shared with the `no_std` program: plain `f32` arithmetic.
mod signal {
    include!("../../embedded/src/signal.rs");
}

/// The effect the GRU learns: drive into a one-pole low-pass,
/// `y ← y + 0.25 · (0.7 · tanh(3x) − y)`, from rest.
fn gru_effect(xs: &[f32]) -> Vec<f32> {
    let mut y = 0.0f32;
    xs.iter()
        .map(|&x| {
            y += 0.25 * (0.7 * (3.0 * x).tanh() - y);
            y
        })
        .collect()
}

/// `n` samples of a [`signal::Source`].
fn samples(mut source: signal::Source, n: usize) -> Vec<f32> {
    (0..n).map(|_| source.next_sample()).collect()
}

/// The training signals: sines of other pitches and levels, then other strings, none of them
/// the device's.
fn gru_training_signals() -> Vec<Vec<f32>> {
    [
        (1.98, 0.05, 31, 0.9, 11),
        (1.80, 0.35, 53, 0.5, 12),
        (1.60, 0.16, 97, 1.0, 13),
        (1.95, 0.12, 41, 0.3, 14),
    ]
    .into_iter()
    .map(|(c, kick, period, velocity, seed)| {
        samples(
            signal::Source::new(c, kick, 256, period, velocity, seed),
            512,
        )
    })
    .collect()
}

/// Streams `xs` through `net` from its zero state, one sample at a time.
fn stream<N>(net: &N, xs: &[f32]) -> Vec<f32>
where
    N: typenet::SequenceLayer<SVector<f32, 1>, Out = SVector<f32, 1>>,
{
    let mut state = N::zero_state(1);
    xs.iter()
        .map(|&x| net.step(&mut state, &SVector::<f32, 1>::new(x))[0])
        .collect()
}

/// The error-to-signal ratio of `output` against `target`.
fn esr(target: &[f32], output: &[f32]) -> f64 {
    let err: f64 = target
        .iter()
        .zip(output)
        .map(|(&t, &o)| f64::from(t - o).powi(2))
        .sum();
    err / target.iter().map(|&t| f64::from(t).powi(2)).sum::<f64>()
}

/// [`GruAmp`] from a seed, trained through time on [`gru_training_signals`] to play
/// [`gru_effect`]: 30 passes of truncated BPTT (windows of 64 after 8 steps of warm-up,
/// clipped at norm 1), Adam at 0.02. Deterministic, and the same bits on every instruction set.
fn trained_gru() -> &'static GruAmp {
    static NET: std::sync::OnceLock<GruAmp> = std::sync::OnceLock::new();
    NET.get_or_init(|| {
        let signals = gru_training_signals();
        let column = |v: &[f32]| OMatrix::<f32, Const<1>, Dyn>::from_row_slice(v);
        let xs: Vec<_> = signals.iter().map(|s| column(s)).collect();
        let ys: Vec<_> = signals.iter().map(|s| column(&gru_effect(s))).collect();
        let mut net = GruAmp::random(&mut StdRng::seed_from_u64(21));
        let mut opt = Adam::new(0.02);
        let bptt = Bptt::truncated(64).warmup(8).clip_norm(1.0);
        for _ in 0..30 {
            net.train_sequences(&mut opt, &Mse, &xs, &ys, &bptt)
                .unwrap();
        }
        net
    })
}

/// The source of `embedded/src/gru_expected.rs`: the checksum of the bits of every output of
/// `net` on the device's signal, and the outputs at every 512th sample.
fn gru_expected_source(net: &GruAmp) -> String {
    use std::fmt::Write;
    let ys = stream(net, &samples(signal::Source::device(), signal::SAMPLES));
    let checksum = ys
        .iter()
        .fold(signal::FNV_OFFSET, |h, y| signal::fnv1a(h, y.to_bits()));
    let mut s = String::from(
        "// Generated by tests/spec/baked.rs (TYPENET_BLESS=1): what the trained GRU of gru.rs \
         computes on the\n// desktop for the device's signal (signal.rs). Do not edit.\n",
    );
    writeln!(
        s,
        "/// FNV-1a (signal::fnv1a) of the bits of all {} outputs, in order.\n\
         pub const CHECKSUM: u64 = {checksum:#018x};",
        signal::SAMPLES
    )
    .unwrap();
    let every = signal::SAMPLES / 8;
    let points: Vec<String> = ys
        .iter()
        .skip(every - 1)
        .step_by(every)
        .map(|y| format!("{:#010x}", y.to_bits()))
        .collect();
    writeln!(
        s,
        "/// The outputs at samples {}, {}, …, {} (every {every}th), as `f32` bits.\n\
         pub static CHECKPOINTS: [u32; 8] = [{}];",
        every - 1,
        2 * every - 1,
        signal::SAMPLES - 1,
        points.join(", ")
    )
    .unwrap();
    s
}

#[test]
fn the_committed_gru_and_its_expected_outputs_are_what_baking_the_trained_gru_writes() {
    let net = trained_gru();
    let (source, expected) = (
        typenet::bake::to_rust_module(net, "gru"),
        gru_expected_source(net),
    );
    if std::env::var_os("TYPENET_BLESS").is_some() {
        std::fs::write(GRU_FILE, &source).unwrap();
        std::fs::write(GRU_EXPECTED_FILE, &expected).unwrap();
    }
    let stale = "is stale: rerun this test with TYPENET_BLESS=1 (the outputs change when the \
                 arithmetic of a step or of training does)";
    assert!(source.contains("pub type Net = ::typenet::net![Gru<1, 8, f32>, Dense<8, 1, f32>];"));
    let committed = std::fs::read_to_string(GRU_FILE).unwrap();
    assert!(committed == source, "embedded/src/gru.rs {stale}");
    let committed = std::fs::read_to_string(GRU_EXPECTED_FILE).unwrap();
    assert!(
        committed == expected,
        "embedded/src/gru_expected.rs {stale}"
    );
}

#[test]
fn the_trained_gru_has_learnt_the_effect_on_a_signal_it_never_heard() {
    let xs = samples(signal::Source::device(), signal::SAMPLES);
    let untrained = GruAmp::random(&mut StdRng::seed_from_u64(21));
    let target = gru_effect(&xs);
    let (before, after) = (
        esr(&target, &stream(&untrained, &xs)),
        esr(&target, &stream(trained_gru(), &xs)),
    );
    assert!(
        after < 0.05 && after < before / 10.0,
        "ESR {before} -> {after}"
    );
}

#[test]
fn the_baked_gru_streams_the_trained_ones_outputs_bit_for_bit() {
    let net = trained_gru();
    let baked: &GruAmp = &gru::NET;
    assert!(baked == net, "parameters differ");
    let xs = samples(signal::Source::device(), signal::SAMPLES);
    let (a, b) = (stream(baked, &xs), stream(net, &xs));
    assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));
    // and through the network's own streaming methods, reset between two runs
    let mut state = baked.initial_state();
    for round in 0..2 {
        for (t, &x) in xs.iter().enumerate().take(300) {
            let y = baked.step(&mut state, &SVector::<f32, 1>::new(x))[0];
            assert_eq!(y.to_bits(), b[t].to_bits(), "round {round}, step {t}");
        }
        baked.reset(&mut state);
    }
}

/// A chain with every sequence layer: a dilated causal convolution, an LSTM and a GRU.
type Sequence = net![Conv1d<1, 4, 3, 2>, Tanh, Lstm<4, 6>, Gru<6, 5>, Dense<5, 1>];

const SEQUENCE_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/baked_sequence.rs"
);
include!("../fixtures/baked_sequence.rs");

#[test]
fn a_chain_of_conv1d_lstm_and_gru_bakes_into_a_network_that_streams_the_same_bits() {
    let net = Sequence::random(&mut StdRng::seed_from_u64(6));
    let source = typenet::bake::to_rust_module(&net, "sequence");
    if std::env::var_os("TYPENET_BLESS").is_some() {
        std::fs::write(SEQUENCE_FILE, &source).unwrap();
    }
    let committed = std::fs::read_to_string(SEQUENCE_FILE).unwrap();
    assert!(
        committed == source,
        "tests/fixtures/baked_sequence.rs is stale: rerun this test with TYPENET_BLESS=1"
    );
    assert!(source.contains(
        "pub type Net = ::typenet::net![Conv1d<1, 4, 3, 2, f32>, Tanh, Lstm<4, 6, f32>, \
         Gru<6, 5, f32>, Dense<5, 1, f32>];"
    ));
    let baked: &Sequence = &sequence::NET;
    assert!(*baked == net, "parameters differ");
    let xs = samples(signal::Source::new(1.7, 0.3, 200, 29, 0.9, 5), 400);
    let (a, b) = (stream(baked, &xs), stream(&net, &xs));
    assert!(a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()));
    // the dilated convolution's ring and the LSTM's cell state have moved
    assert!(a[200..].iter().any(|&y| y != a[199]));
    let whole = baked.forward_sequence(&OMatrix::<f32, Const<1>, Dyn>::from_row_slice(&xs));
    assert!(
        whole
            .iter()
            .zip(&b)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}
