//! typenet's convolutional layers against PyTorch's: for each fixture written by
//! `tests/fixtures/pytorch/make_cnn_fixtures.py` (float64, seeded), the weights are imported
//! with `load_safetensors`, and the output, the input's gradient and every parameter's gradient
//! (batch norm: and the running statistics after the step) agree with PyTorch's to 1e-10 of
//! the tensor's largest value. Dropout, which cannot be compared draw for draw, is the identity
//! in inference and drops values with its probability in training.

use typenet::nalgebra::{Const, Dyn};
use typenet::prelude::*;
use typenet::pytorch::{load_safetensors, safetensors::SafeTensors};
use typenet::{TrainContext, Values};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch/");

/// How close to PyTorch: the largest difference, relative to the tensor's largest value.
const TOLERANCE: f64 = 1e-10;

fn read(file: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The values of float64 tensor `name` of the safetensors file `bytes`, row-major, and its
/// shape.
fn tensor(bytes: &[u8], name: &str) -> (Vec<usize>, Vec<f64>) {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let view = file.tensor(name).unwrap();
    assert_eq!(
        view.dtype(),
        typenet::pytorch::safetensors::Dtype::F64,
        "{name}"
    );
    let values = view
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (view.shape().to_vec(), values)
}

/// Asserts `actual` is `expected` within [`TOLERANCE`] of `expected`'s largest magnitude, and
/// returns that relative difference.
fn assert_close(what: &str, actual: &[f64], expected: &[f64]) -> f64 {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "{what}: an all-zero fixture tests nothing");
    let worst = actual
        .iter()
        .zip(expected)
        .fold(0.0f64, |m, (a, e)| m.max((a - e).abs()))
        / scale;
    eprintln!("{what}: {worst:e}");
    assert!(
        worst <= TOLERANCE,
        "{what}: differs from PyTorch by {worst:e} of its largest value\n typenet {actual:?}\n PyTorch {expected:?}"
    );
    worst
}

/// The network of fixture `case` with PyTorch's weights (and buffers).
fn imported<N: Params<f64>>(case: &str) -> N {
    let mut net = N::default();
    load_safetensors(&mut net, &read(&format!("{case}.safetensors")), "")
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    net
}

/// The input of fixture `case`, built by `make` from its NCHW values and batch size.
fn input<X>(case: &str, make: impl FnOnce(usize, &[f64]) -> X) -> X {
    let (shape, values) = tensor(&read(&format!("{case}.io.safetensors")), "input");
    make(shape[0], &values)
}

/// Runs `net` in training mode on the fixture's input, backward from the loss
/// `sum(output · probe)` (so dL/d output is the probe), and compares the output, the input's
/// gradient and the gradient of every parameter (and the buffers `backward` leaves in the
/// gradient: batch norm's running statistics after the step) with PyTorch's. Returns the
/// largest relative difference.
fn check_training<N, X>(case: &str, net: &N, x: X) -> f64
where
    N: Layer<X> + Params<f64>,
    X: Values<Scalar = f64>,
    N::Out: Values<Scalar = f64>,
{
    let io = read(&format!("{case}.io.safetensors"));
    let (out, cache) = net.forward_train_in(x, &mut TrainContext::seeded(0));
    let mut worst = assert_close(
        &format!("{case} output"),
        out.values(),
        &tensor(&io, "output").1,
    );
    let mut d_out = out;
    d_out.values_mut().copy_from_slice(&tensor(&io, "probe").1);
    let mut grad = N::default();
    let d_in = net.backward(cache, d_out, &mut grad);
    worst = worst.max(assert_close(
        &format!("{case} grad_input"),
        d_in.values(),
        &tensor(&io, "grad_input").1,
    ));
    worst.max(compare_gradients(case, &grad))
}

/// Compares every tensor and buffer of `grad` with the fixture's gradient file, which has the
/// network's own names; returns the largest relative difference.
fn compare_gradients<N: Params<f64>>(case: &str, grad: &N) -> f64 {
    let mut expected = N::default();
    load_safetensors(
        &mut expected,
        &read(&format!("{case}.grad.safetensors")),
        "",
    )
    .unwrap_or_else(|e| panic!("{case}.grad: {e}"));
    let mut worst = 0.0f64;
    let mut count = 0;
    for (a, e) in grad
        .tensors()
        .chain(grad.buffers())
        .zip(expected.tensors().chain(expected.buffers()))
    {
        worst = worst.max(assert_close(&format!("{case} {}", a.info), a.data, e.data));
        count += 1;
    }
    assert!(count > 0, "{case}: no gradient compared");
    worst
}

/// Runs `net` in inference mode on the fixture's input and compares the output.
fn check_inference<N, X>(case: &str, net: &N, x: &X) -> f64
where
    N: Layer<X>,
    N::Out: Values<Scalar = f64>,
{
    let io = read(&format!("{case}.io.safetensors"));
    assert_close(
        &format!("{case} inference output"),
        net.forward(x).values(),
        &tensor(&io, "output").1,
    )
}

#[test]
fn conv2d_one_to_four_channels_matches_pytorch() {
    // nn.Conv2d(1, 4, 3) on 2 images of 1 x 6 x 6
    let net: Conv2d<1, 4, 3, 1, 0, f64> = imported("conv_1to4");
    let x = input("conv_1to4", |n, v| {
        assert_eq!(n, 2);
        Image::<f64, 1, 6, 6, Const<2>>::from_slice_batch(Const, v)
    });
    check_inference("conv_1to4", &net, &x);
    check_training("conv_1to4", &net, x);
}

#[test]
fn conv2d_with_stride_2_and_padding_1_matches_pytorch() {
    // nn.Conv2d(2, 3, 3, stride=2, padding=1) on 3 images of 2 x 7 x 7, a Dyn batch
    let net: Conv2d<2, 3, 3, 2, 1, f64> = imported("conv_2to3_s2_p1");
    let x = input("conv_2to3_s2_p1", |n, v| {
        Image::<f64, 2, 7, 7, Dyn>::from_slice_batch(Dyn(n), v)
    });
    check_inference("conv_2to3_s2_p1", &net, &x);
    check_training("conv_2to3_s2_p1", &net, x);
}

#[test]
fn conv2d_on_a_non_square_image_matches_pytorch() {
    // nn.Conv2d(3, 5, 3, stride=2, padding=2) on one image of 3 x 5 x 8: out 5 x 4 x 5
    let net: Conv2d<3, 5, 3, 2, 2, f64> = imported("conv_nonsquare");
    let x = input("conv_nonsquare", |n, v| {
        assert_eq!(n, 1);
        Image::<f64, 3, 5, 8>::from_slice(v)
    });
    let y: Image<f64, 5, 4, 5> = net.forward(&x);
    assert_eq!(y.as_slice().len(), 100);
    check_inference("conv_nonsquare", &net, &x);
    check_training("conv_nonsquare", &net, x);
}

#[test]
fn max_pool_2_matches_pytorch() {
    // 2 x 5 x 6 → 2 x 2 x 3: the last row is a partial window, dropped as PyTorch does
    let x = input("maxpool_2", |_, v| {
        Image::<f64, 2, 5, 6, Const<2>>::from_slice_batch(Const, v)
    });
    check_inference("maxpool_2", &MaxPool2d::<2>, &x);
    check_pool_training("maxpool_2", &MaxPool2d::<2>, x);
}

#[test]
fn max_pool_3_stride_2_matches_pytorch() {
    // overlapping windows: a value in two windows gets the gradient of both
    let x = input("maxpool_3_s2", |n, v| {
        Image::<f64, 2, 7, 8, Dyn>::from_slice_batch(Dyn(n), v)
    });
    check_inference("maxpool_3_s2", &MaxPool2d::<3, 2>, &x);
    check_pool_training("maxpool_3_s2", &MaxPool2d::<3, 2>, x);
}

#[test]
fn avg_pool_2_matches_pytorch() {
    let x = input("avgpool_2", |_, v| {
        Image::<f64, 2, 5, 7, Const<2>>::from_slice_batch(Const, v)
    });
    check_inference("avgpool_2", &AvgPool2d::<2>, &x);
    check_pool_training("avgpool_2", &AvgPool2d::<2>, x);
}

/// [`check_training`] for a layer without parameters: the output and the input's gradient.
fn check_pool_training<N, X>(case: &str, pool: &N, x: X)
where
    N: Layer<X> + Default,
    X: Values<Scalar = f64>,
    N::Out: Values<Scalar = f64>,
{
    let io = read(&format!("{case}.io.safetensors"));
    let (out, cache) = pool.forward_train(x);
    assert_close(
        &format!("{case} output"),
        out.values(),
        &tensor(&io, "output").1,
    );
    let mut d_out = out;
    d_out.values_mut().copy_from_slice(&tensor(&io, "probe").1);
    let d_in = pool.backward(cache, d_out, &mut N::default());
    assert_close(
        &format!("{case} grad_input"),
        d_in.values(),
        &tensor(&io, "grad_input").1,
    );
}

#[test]
fn batch_norm_in_training_mode_matches_pytorch_with_its_running_statistics() {
    // nn.BatchNorm2d(3) in train(): batch statistics of 4 images of 3 x 3 x 4; γ, β and the
    // running statistics random; the file's num_batches_tracked is ignored
    let net: BatchNorm2d<3, f64> = imported("bn_train");
    let state = read("bn_train.safetensors");
    assert_eq!(net.running_var.to_vec(), tensor(&state, "0.running_var").1);
    let x = input("bn_train", |n, v| {
        Image::<f64, 3, 3, 4, Dyn>::from_slice_batch(Dyn(n), v)
    });
    // the gradient's buffers are the running statistics after the step (compared in
    // check_training); a training step copies them into the network
    check_training("bn_train", &net, x.clone());
    let io = read("bn_train.io.safetensors");
    let mut stepped = net;
    let probe = SumWithProbe(tensor(&io, "probe").1);
    stepped.train_step(&mut Sgd::new(0.1), &probe, &x, &());
    let after = read("bn_train.grad.safetensors");
    assert_close(
        "running_mean after train_step",
        &stepped.running_mean,
        &tensor(&after, "0.running_mean").1,
    );
    assert_close(
        "running_var after train_step",
        &stepped.running_var,
        &tensor(&after, "0.running_var").1,
    );
    // and γ took PyTorch's gradient step: γ − 0.1 dL/dγ
    let d_gamma = tensor(&after, "0.weight").1;
    let expected: Vec<f64> = (0..3).map(|c| net.gamma[c] - 0.1 * d_gamma[c]).collect();
    assert_close("γ after train_step", &stepped.gamma, &expected);
}

#[test]
fn batch_norm_in_inference_mode_matches_pytorch() {
    // nn.BatchNorm2d(3) in eval(): the running statistics, imported from the state_dict
    let net: BatchNorm2d<3, f64> = imported("bn_eval");
    let x = input("bn_eval", |_, v| {
        Image::<f64, 3, 3, 4, Const<4>>::from_slice_batch(Const, v)
    });
    check_inference("bn_eval", &net, &x);
}

#[test]
fn flatten_then_linear_matches_pytorch() {
    // nn.Sequential(nn.Flatten(), nn.Linear(18, 4)): the Linear is layer 1
    let net: net![Flatten, Dense<18, 4, f64>] = imported("flatten_linear");
    let x = input("flatten_linear", |n, v| {
        Image::<f64, 2, 3, 3, Dyn>::from_slice_batch(Dyn(n), v)
    });
    check_inference("flatten_linear", &net, &x);
    check_training("flatten_linear", &net, x);
}

type LeNetLike = net![
    Conv2d<1, 4, 3, 1, 0, f64>, Relu, MaxPool2d<2>,
    Conv2d<4, 8, 3, 1, 0, f64>, Relu, MaxPool2d<2>,
    Flatten, Dense<32, 16, f64>, Relu, Dense<16, 10, f64>,
];

#[test]
fn a_lenet_like_network_matches_pytorch_with_cross_entropy() {
    // 5 images of 1 x 14 x 16: 12 x 14, 6 x 7, 4 x 5, 2 x 2 (a partial column dropped): 8·2·2
    let net: LeNetLike = imported("lenet");
    let io = read("lenet.io.safetensors");
    let x = input("lenet", |n, v| {
        Image::<f64, 1, 14, 16, Dyn>::from_slice_batch(Dyn(n), v)
    });
    check_inference("lenet", &net, &x);
    // one-hot targets, one row per image in PyTorch: one column per image here
    let target = OMatrix::<f64, Const<10>, Dyn>::from_column_slice(&tensor(&io, "target").1);
    let (out, cache) = net.forward_train(x);
    let (loss, d_out) = SoftmaxCrossEntropy.loss_and_gradient(out, &target);
    // typenet's SoftmaxCrossEntropy averages over the batch, as CrossEntropyLoss() does
    assert_close("lenet loss", &[loss], &tensor(&io, "loss").1);
    let mut grad = LeNetLike::default();
    let d_in = net.backward(cache, d_out, &mut grad);
    assert_close(
        "lenet grad_input",
        d_in.values(),
        &tensor(&io, "grad_input").1,
    );
    compare_gradients("lenet", &grad);
    // and the training step's gradient is the same
    let mut accumulated = LeNetLike::default();
    let x = input("lenet", |n, v| {
        Image::<f64, 1, 14, 16, Dyn>::from_slice_batch(Dyn(n), v)
    });
    let same = net.accumulate_gradient(&SoftmaxCrossEntropy, &x, &target, &mut accumulated);
    assert_eq!(same, loss);
    compare_gradients("lenet", &accumulated);
}

#[test]
fn dropout_is_the_identity_in_inference() {
    let x = input("lenet", |n, v| {
        Image::<f64, 1, 14, 16, Dyn>::from_slice_batch(Dyn(n), v)
    });
    assert_eq!(Dropout::<50>.forward(&x), x);
    // nn.Sequential(..., nn.Dropout(0.3), ...) in eval() is the network without it
    let net: LeNetLike = imported("lenet");
    type WithDropout = net![
        Conv2d<1, 4, 3, 1, 0, f64>, Relu, MaxPool2d<2>,
        Conv2d<4, 8, 3, 1, 0, f64>, Relu, MaxPool2d<2>,
        Flatten, Dense<32, 16, f64>, Relu, Dropout<30>, Dense<16, 10, f64>,
    ];
    let mut dropped = WithDropout::default();
    // PyTorch numbers the Dropout too: the last Linear is layer 10 there
    let mut renamed = Vec::new();
    for name in [
        "0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias",
    ] {
        renamed.push((name.to_string(), name.to_string()));
    }
    renamed.push(("9.weight".into(), "10.weight".into()));
    renamed.push(("9.bias".into(), "10.bias".into()));
    let state = read("lenet.safetensors");
    let file = SafeTensors::deserialize(&state).unwrap();
    let views: Vec<_> = renamed
        .iter()
        .map(|(from, to)| (to.clone(), file.tensor(from).unwrap()))
        .collect();
    let bytes = typenet::pytorch::safetensors::serialize(views, None).unwrap();
    load_safetensors(&mut dropped, &bytes, "").unwrap();
    let io = read("lenet.io.safetensors");
    assert_close(
        "lenet with dropout, eval",
        dropped.forward(&x).values(),
        &tensor(&io, "output").1,
    );
    check_inference("lenet", &net, &x);
}

/// Dropout<P> in training on 40,960 ones: the share dropped is P / 100 within four standard
/// deviations, every kept value is 1 / (1 − p), the mean stays 1 (inverted dropout), and the
/// gradient goes through the kept places only, scaled alike.
fn dropout_statistics<const P: u8>(seed: u64) {
    let p = f64::from(P) / 100.0;
    let x = Image::<f64, 4, 32, 32, Dyn>::filled_batch(Dyn(10), 1.0);
    let n = x.as_slice().len() as f64;
    let (y, mask) = Dropout::<P>.forward_train_in(x, &mut TrainContext::seeded(seed));
    let dropped = y.as_slice().iter().filter(|&&v| v == 0.0).count() as f64;
    let sd = (p * (1.0 - p) / n).sqrt();
    assert!(
        (dropped / n - p).abs() < 4.0 * sd,
        "Dropout<{P}> dropped {} of the values",
        dropped / n
    );
    let keep = 1.0 / (1.0 - p);
    assert!(y.as_slice().iter().all(|&v| v == 0.0 || v == keep));
    let mean = y.as_slice().iter().sum::<f64>() / n;
    assert!((mean - 1.0).abs() < 4.0 * sd * keep, "mean {mean}");
    let d = Dropout::<P>.backward(mask, y.clone(), &mut Dropout);
    for (&d, &y) in d.as_slice().iter().zip(y.as_slice()) {
        assert_eq!(d, y * y, "dL/dx = dL/dy · mask");
    }
}

#[test]
fn dropout_in_training_drops_with_its_probability() {
    dropout_statistics::<20>(1);
    dropout_statistics::<50>(2);
    dropout_statistics::<70>(3);
}

/// `Σ output · probe`, as a typenet loss (of no target): its gradient is the probe.
struct SumWithProbe(Vec<f64>);

impl<X: Values<Scalar = f64>> Loss<X, ()> for SumWithProbe {
    type Scalar = f64;
    fn loss(&self, pred: &X, _: &()) -> f64 {
        pred.values().iter().zip(&self.0).map(|(a, b)| a * b).sum()
    }
    fn loss_and_gradient(&self, mut pred: X, target: &()) -> (f64, X) {
        let loss = self.loss(&pred, target);
        pred.values_mut().copy_from_slice(&self.0);
        (loss, pred)
    }
}
