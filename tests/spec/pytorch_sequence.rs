//! typenet's sequence layers against PyTorch's `nn.GRU`, `nn.LSTM` and (causal) `nn.Conv1d`:
//! for each fixture written by `tests/fixtures/pytorch/make_sequence_fixtures.py` (float32
//! weights as PyTorch trains them, seeded, a state_dict renamed to typenet's layer numbering),
//! the weights are imported with `load_safetensors` and the network is run over the
//! fixture's 1,000 steps, whole (`forward_sequence`) and one step at a time (`step`, the same
//! bits). The `f32` network is within 1e-5 of PyTorch's float32 outputs and of its float64
//! reference (computed from the same weights); the `f64` network is within 1e-13 of that
//! reference. A file of the wrong layer, size or depth is refused and names the tensor; an
//! export imports back to the bit.

use typenet::nalgebra::{Const, Dyn, OMatrix};
use typenet::prelude::*;
use typenet::pytorch::safetensors::{Dtype, SafeTensors, serialize, tensor::TensorView};
use typenet::pytorch::{ImportError, load_safetensors, save_safetensors};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch/");

/// The length of every fixture's sequence.
const STEPS: usize = 1000;

/// How close an `f32` network comes to PyTorch (float32 and float64 outputs): the largest
/// absolute difference over every step and output (the outputs are of order 0.2 to 2).
const F32_TOLERANCE: f64 = 1e-5;

/// How close an `f64` network comes to PyTorch's float64 outputs.
const F64_TOLERANCE: f64 = 1e-13;

fn read(file: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The values of tensor `name` of the safetensors file `bytes` (F32 or F64), row-major, as
/// f64, and its shape.
fn tensor(bytes: &[u8], name: &str) -> (Vec<usize>, Vec<f64>) {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let view = file.tensor(name).unwrap();
    let values = match view.dtype() {
        Dtype::F32 => view
            .data()
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        Dtype::F64 => view
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        other => panic!("{name}: {other:?}"),
    };
    (view.shape().to_vec(), values)
}

/// The largest absolute difference between `actual` and `expected`, both non-empty and of
/// equal length; NaN counts as infinitely far.
fn max_abs_error(actual: impl IntoIterator<Item = f64>, expected: &[f64]) -> f64 {
    let mut n = 0;
    let worst = actual
        .into_iter()
        .zip(expected)
        .inspect(|_| n += 1)
        .fold(0.0f64, |m, (a, e)| {
            let d = (a - e).abs();
            if d.is_nan() { f64::INFINITY } else { m.max(d) }
        });
    assert_eq!(n, expected.len(), "lengths");
    worst
}

/// What one fixture measured: the largest absolute differences of the `f32` network from
/// PyTorch's float32 and float64 outputs, and of the `f64` network from the float64 ones.
struct Errors {
    f32_vs_torch32: f64,
    f32_vs_torch64: f64,
    f64_vs_torch64: f64,
}

impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "f32 - PyTorch float32 {:.2e}, f32 - PyTorch float64 {:.2e}, f64 - PyTorch float64 {:.2e}",
            self.f32_vs_torch32, self.f32_vs_torch64, self.f64_vs_torch64
        )
    }
}

/// Imports fixture `$case` into `$net32` (`f32`) and `$net64` (`f64`), networks from `$i`
/// inputs to `$o` outputs a step, runs each over the fixture's input whole and step by step
/// (which must agree to the bit), compares with PyTorch's outputs and returns the [`Errors`].
macro_rules! against_pytorch {
    ($case:expr, $net32:ty, $net64:ty, $i:literal, $o:literal) => {{
        let case: &str = $case;
        let io = read(&format!("{case}.io.safetensors"));
        let weights = read(&format!("{case}.safetensors"));
        let (shape, input) = tensor(&io, "input");
        assert_eq!(shape, [STEPS, $i], "{case}: input");
        let (shape, torch32) = tensor(&io, "output");
        assert_eq!(shape, [STEPS, $o], "{case}: output");
        let (_, torch64) = tensor(&io, "output_f64");

        let mut net32 = <$net32>::zeros();
        load_safetensors(&mut net32, &weights, "").unwrap_or_else(|e| panic!("{case}: {e}"));
        // row t of PyTorch's [T, I] is column t here: the same values in the same order
        let xs =
            OMatrix::<f32, Const<$i>, Dyn>::from_iterator(STEPS, input.iter().map(|&v| v as f32));
        let ys = net32.forward_sequence(&xs);
        let mut state = net32.initial_state();
        for t in 0..STEPS {
            let y = net32.step(&mut state, &xs.column(t).into_owned());
            assert_eq!(
                y,
                ys.column(t),
                "{case}: step {t} differs from forward_sequence"
            );
        }
        let f32_vs_torch32 = max_abs_error(ys.iter().map(|&v| f64::from(v)), &torch32);
        let f32_vs_torch64 = max_abs_error(ys.iter().map(|&v| f64::from(v)), &torch64);

        let mut net64 = <$net64>::zeros();
        load_safetensors(&mut net64, &weights, "").unwrap_or_else(|e| panic!("{case}: {e}"));
        let xs = OMatrix::<f64, Const<$i>, Dyn>::from_column_slice(&input);
        let ys = net64.forward_sequence(&xs);
        let mut state = net64.initial_state();
        for t in 0..STEPS {
            let y = net64.step(&mut state, &xs.column(t).into_owned());
            assert_eq!(
                y,
                ys.column(t),
                "{case}: f64 step {t} differs from forward_sequence"
            );
        }
        let f64_vs_torch64 = max_abs_error(ys.iter().copied(), &torch64);

        let errors = Errors {
            f32_vs_torch32,
            f32_vs_torch64,
            f64_vs_torch64,
        };
        eprintln!("{case}: {errors}");
        assert!(
            errors.f32_vs_torch32 <= F32_TOLERANCE && errors.f32_vs_torch64 <= F32_TOLERANCE,
            "{case}: the f32 network is {errors} from PyTorch"
        );
        assert!(
            errors.f64_vs_torch64 <= F64_TOLERANCE,
            "{case}: the f64 network is {errors} from PyTorch"
        );
        errors
    }};
}

#[test]
fn a_gru_with_a_linear_head_matches_pytorch_over_1000_steps() {
    // GRU(1, 16) -> Linear(16, 1) on random normal input
    against_pytorch!(
        "gru_1_16",
        net![Gru<1, 16>, Dense<16, 1>],
        net![Gru<1, 16, f64>, Dense<16, 1, f64>],
        1,
        1
    );
}

#[test]
fn a_two_layer_gru_is_two_typenet_layers() {
    // GRU(3, 8, num_layers=2) -> Linear(8, 1): weight_ih_l1 imported as 1.weight_ih_l0
    against_pytorch!(
        "gru2_3_8",
        net![Gru<3, 8>, Gru<8, 8>, Dense<8, 1>],
        net![Gru<3, 8, f64>, Gru<8, 8, f64>, Dense<8, 1, f64>],
        3,
        1
    );
}

#[test]
fn an_lstm_matches_pytorch_on_a_sine_sweep() {
    // LSTM(1, 16) -> Linear(16, 1) on a sweep from 0.002 to 0.2 cycles a step
    against_pytorch!(
        "lstm_1_16",
        net![Lstm<1, 16>, Dense<16, 1>],
        net![Lstm<1, 16, f64>, Dense<16, 1, f64>],
        1,
        1
    );
}

#[test]
fn an_lstm_with_several_inputs_and_outputs_matches_pytorch() {
    // LSTM(2, 8) -> Linear(8, 3)
    against_pytorch!(
        "lstm_2_8_3",
        net![Lstm<2, 8>, Dense<8, 3>],
        net![Lstm<2, 8, f64>, Dense<8, 3, f64>],
        2,
        3
    );
}

#[test]
fn a_causal_conv1d_matches_pytorchs_left_padded_conv1d() {
    // nn.Conv1d(8, 8, 3) on the input padded with 2 zeros on the left
    against_pytorch!("conv1d_8_8_3", Conv1d<8, 8, 3>, Conv1d<8, 8, 3, 1, f64>, 8, 8);
}

#[test]
fn a_dilated_conv1d_matches_pytorch() {
    // nn.Conv1d(8, 8, 3, dilation=4) on the input padded with 8 zeros on the left
    against_pytorch!("conv1d_8_8_3_d4", Conv1d<8, 8, 3, 4>, Conv1d<8, 8, 3, 4, f64>, 8, 8);
}

#[test]
fn a_chain_of_dilated_convolutions_matches_pytorch() {
    // Conv1d(1, 4, 5, dilation=2) -> Tanh -> Conv1d(4, 4, 3, dilation=8) -> Tanh ->
    // Linear(4, 1) on a sine sweep: a receptive field of 1 + 4·2 + 2·8 = 25 steps
    against_pytorch!(
        "conv1d_chain",
        net![Conv1d<1, 4, 5, 2>, Tanh, Conv1d<4, 4, 3, 8>, Tanh, Dense<4, 1>],
        net![
            Conv1d<1, 4, 5, 2, f64>,
            Tanh,
            Conv1d<4, 4, 3, 8, f64>,
            Tanh,
            Dense<4, 1, f64>
        ],
        1,
        1
    );
}

#[test]
fn a_convolution_feeding_a_gru_matches_pytorch() {
    // Conv1d(2, 4, 3, dilation=2) -> Tanh -> GRU(4, 8) -> Linear(8, 1) on a sweep and noise
    against_pytorch!(
        "conv_gru",
        net![Conv1d<2, 4, 3, 2>, Tanh, Gru<4, 8>, Dense<8, 1>],
        net![Conv1d<2, 4, 3, 2, f64>, Tanh, Gru<4, 8, f64>, Dense<8, 1, f64>],
        2,
        1
    );
}

/// A seeded generator, for networks whose every parameter is set (so that a partial import
/// would show).
fn rng() -> rand::rngs::StdRng {
    <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1)
}

/// Imports `file` into `net`, which must refuse it and come out unchanged; returns the error.
fn refused<N: Params<f32> + Clone + PartialEq>(mut net: N, file: &[u8]) -> ImportError {
    let before = net.clone();
    let err = load_safetensors(&mut net, file, "").unwrap_err();
    assert!(net == before, "a refused import changed the network: {err}");
    err
}

#[test]
fn a_gru_of_another_size_is_refused_naming_the_tensor() {
    // GRU(1, 16)'s weight_ih_l0 is [48, 1]; Gru<1, 8> needs [24, 1]
    let err = refused(
        <net![Gru<1, 8>, Dense<8, 1>]>::random(&mut rng()),
        &read("gru_1_16.safetensors"),
    );
    assert_eq!(
        err,
        ImportError::WrongShape {
            name: "0.weight_ih_l0".into(),
            expected: vec![24, 1],
            found: vec![48, 1]
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `0.weight_ih_l0` has shape [48, 1], the network needs [24, 1]"
    );
    // the same hidden size, another input size: the recurrent weight fits, the input's not
    let err = refused(
        <net![Gru<2, 16>, Dense<16, 1>]>::random(&mut rng()),
        &read("gru_1_16.safetensors"),
    );
    assert_eq!(
        err.to_string(),
        "tensor `0.weight_ih_l0` has shape [48, 1], the network needs [48, 2]"
    );
    // a convolution's kernel of another size
    let err = refused(
        <Conv1d<8, 8, 5>>::random(&mut rng()),
        &read("conv1d_8_8_3.safetensors"),
    );
    assert_eq!(
        err,
        ImportError::WrongShape {
            name: "0.weight".into(),
            expected: vec![8, 8, 5],
            found: vec![8, 8, 3]
        }
    );
}

#[test]
fn an_lstm_file_is_refused_by_a_gru_network() {
    // PyTorch names an LSTM's tensors as a GRU's; the stacked gates tell them apart: 4H rows
    // (i, f, g, o) where a GRU has 3H (r, z, n)
    let err = refused(
        <net![Gru<1, 16>, Dense<16, 1>]>::random(&mut rng()),
        &read("lstm_1_16.safetensors"),
    );
    assert_eq!(
        err,
        ImportError::WrongShape {
            name: "0.weight_ih_l0".into(),
            expected: vec![48, 1],
            found: vec![64, 1]
        }
    );
    let err = refused(
        <net![Lstm<3, 8>, Lstm<8, 8>, Dense<8, 1>]>::random(&mut rng()),
        &read("gru2_3_8.safetensors"),
    );
    assert_eq!(
        err.to_string(),
        "tensor `0.weight_ih_l0` has shape [24, 3], the network needs [32, 3]"
    );
    // a recurrent file into a network with a linear layer in its place: the names differ
    let err = refused(
        <net![Dense<1, 16>, Dense<16, 1>]>::random(&mut rng()),
        &read("lstm_1_16.safetensors"),
    );
    assert_eq!(
        err,
        ImportError::Missing {
            name: "0.weight".into()
        }
    );
    let err = refused(
        <net![Conv1d<1, 64, 1>, Dense<64, 1>]>::random(&mut rng()),
        &read("lstm_1_16.safetensors"),
    );
    assert_eq!(
        err.to_string(),
        "tensor `0.weight` is missing from the file"
    );
}

/// `bytes`, a safetensors file, with each tensor renamed by `rename`.
fn renamed(bytes: &[u8], rename: impl Fn(&str) -> String) -> Vec<u8> {
    let file = SafeTensors::deserialize(bytes).unwrap();
    let views: Vec<(String, TensorView<'_>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (rename(&name), view))
        .collect();
    serialize(views, None).unwrap()
}

#[test]
fn a_two_layer_state_dict_must_be_renamed_layer_by_layer() {
    // PyTorch's own names for GRU(3, 8, num_layers=2) -> Linear: layer 1's tensors under
    // 0.*_l1, the Linear at 1
    let raw = renamed(&read("gru2_3_8.safetensors"), |name| {
        match name.split_once('.').unwrap() {
            ("0", role) => format!("0.{role}"),
            ("1", role) => format!("0.{}_l1", role.strip_suffix("_l0").unwrap()),
            ("2", role) => format!("1.{role}"),
            _ => unreachable!("{name}"),
        }
    });
    // two typenet layers look for the second at index 1
    let err = refused(
        <net![Gru<3, 8>, Gru<8, 8>, Dense<8, 1>]>::random(&mut rng()),
        &raw,
    );
    assert_eq!(
        err,
        ImportError::Missing {
            name: "1.weight_ih_l0".into()
        }
    );
    // one typenet layer has no place for the second
    let err = refused(<net![Gru<3, 8>, Dense<8, 1>]>::random(&mut rng()), &raw);
    assert_eq!(
        err,
        ImportError::Unexpected {
            name: "0.bias_hh_l1".into()
        }
    );
    // and the renamed file into a one-layer network: index 1 is a Dense there
    let err = refused(
        <net![Gru<3, 8>, Dense<8, 1>]>::random(&mut rng()),
        &read("gru2_3_8.safetensors"),
    );
    assert_eq!(
        err,
        ImportError::Missing {
            name: "1.weight".into()
        }
    );
}

#[test]
fn the_dilation_is_in_the_type_not_the_file() {
    // a state_dict has no dilation: the dilated kernel loads into an undilated Conv1d, and
    // computes something else
    let mut wrong = Conv1d::<8, 8, 3>::zeros();
    load_safetensors(&mut wrong, &read("conv1d_8_8_3_d4.safetensors"), "").unwrap();
    let mut right = Conv1d::<8, 8, 3, 4>::zeros();
    load_safetensors(&mut right, &read("conv1d_8_8_3_d4.safetensors"), "").unwrap();
    assert_eq!(wrong.w, right.w);
    let io = read("conv1d_8_8_3_d4.io.safetensors");
    let input: Vec<f32> = tensor(&io, "input").1.iter().map(|&v| v as f32).collect();
    let xs = OMatrix::<f32, Const<8>, Dyn>::from_column_slice(&input);
    let expected = tensor(&io, "output").1;
    let right_error = max_abs_error(
        right.forward_sequence(&xs).iter().map(|&v| v.into()),
        &expected,
    );
    let wrong_error = max_abs_error(
        wrong.forward_sequence(&xs).iter().map(|&v| v.into()),
        &expected,
    );
    assert!(right_error <= F32_TOLERANCE, "{right_error:e}");
    assert!(wrong_error > 0.5, "{wrong_error:e}");
    // the first two steps see only the newest sample and zeros either way
    assert_eq!(
        wrong.forward_sequence(&xs.columns(0, 1).into_owned()),
        right.forward_sequence(&xs.columns(0, 1).into_owned())
    );
}

#[test]
fn a_recurrent_network_exports_to_pytorchs_file_and_back_to_the_bit() {
    type Net = net![Gru<3, 8>, Gru<8, 8>, Dense<8, 1>];
    let fixture = read("gru2_3_8.safetensors");
    let mut net = Net::zeros();
    load_safetensors(&mut net, &fixture, "").unwrap();
    // the export is the fixture again: the same names, shapes, dtype (F32) and values
    let exported = save_safetensors(&net, "").unwrap();
    let (a, b) = (
        SafeTensors::deserialize(&exported).unwrap(),
        SafeTensors::deserialize(&fixture).unwrap(),
    );
    let mut names = a.names();
    names.sort();
    let mut fixture_names = b.names();
    fixture_names.sort();
    assert_eq!(names, fixture_names);
    for name in names {
        let (x, y) = (a.tensor(name).unwrap(), b.tensor(name).unwrap());
        assert_eq!(
            (x.dtype(), x.shape(), x.data()),
            (y.dtype(), y.shape(), y.data()),
            "{name}"
        );
    }
    let mut copy = Net::zeros();
    load_safetensors(&mut copy, &exported, "").unwrap();
    assert!(copy == net);

    // an f64 LSTM and convolution, random, under a prefix
    type Mixed = net![Conv1d<2, 4, 3, 2, f64>, Tanh, Lstm<4, 8, f64>, Dense<8, 2, f64>];
    let net = Mixed::random(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(9));
    let bytes = save_safetensors(&net, "model.").unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut shapes: Vec<(String, Dtype, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec()))
        .collect();
    shapes.sort();
    let expected: Vec<(String, Dtype, Vec<usize>)> = [
        ("model.0.bias", vec![4]),
        ("model.0.weight", vec![4, 2, 3]),
        ("model.2.bias_hh_l0", vec![32]),
        ("model.2.bias_ih_l0", vec![32]),
        ("model.2.weight_hh_l0", vec![32, 8]),
        ("model.2.weight_ih_l0", vec![32, 4]),
        ("model.3.bias", vec![2]),
        ("model.3.weight", vec![2, 8]),
    ]
    .into_iter()
    .map(|(n, s)| (n.to_string(), Dtype::F64, s))
    .collect();
    assert_eq!(shapes, expected);
    let mut copy = Mixed::zeros();
    load_safetensors(&mut copy, &bytes, "model.").unwrap();
    assert!(copy == net);
    let xs = OMatrix::<f64, Const<2>, Dyn>::from_fn(50, |r, t| ((t * 3 + r) as f64 * 0.1).sin());
    assert_eq!(copy.forward_sequence(&xs), net.forward_sequence(&xs));
}
