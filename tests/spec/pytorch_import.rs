//! Importing a network trained in PyTorch and exporting one trained here: the fixture written
//! by `tests/fixtures/pytorch/make_fixture.py` is reproduced within 1e-6; a convolution's
//! kernel and a batch norm's buffers are read from PyTorch's names and layouts; every kind of
//! mismatch between file and network type is an error that names the tensor and leaves the
//! network untouched; an export has PyTorch's names, shapes and dtypes and imports back to the
//! bit. (The layers' numbers against PyTorch's: `pytorch_cnn`.)

use typenet::prelude::*;
use typenet::pytorch::safetensors::{self, Dtype, serialize, tensor::TensorView};
use typenet::pytorch::{
    ExportError, ImportError, load_safetensors, save_safetensors, save_safetensors_file,
};
use typenet::{Role, Tensor, TensorInfo, TensorMut};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pytorch/");

type Torch = net![Dense<3, 5>, Tanh, Dense<5, 2>];

/// The f32 values of a tensor of a safetensors file.
fn floats(file: &safetensors::SafeTensors<'_>, name: &str) -> Vec<f32> {
    let view = file.tensor(name).unwrap();
    assert_eq!(view.dtype(), Dtype::F32);
    view.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn a_pytorch_two_layer_network_is_reproduced_within_1e_6() {
    let weights = std::fs::read(format!("{FIXTURE}two_layer.safetensors")).unwrap();
    let io = std::fs::read(format!("{FIXTURE}two_layer_io.safetensors")).unwrap();
    let mut net = Torch::zeros();
    load_safetensors(&mut net, &weights, "").unwrap();
    let io = safetensors::SafeTensors::deserialize(&io).unwrap();
    let (inputs, outputs) = (floats(&io, "inputs"), floats(&io, "outputs"));
    assert_eq!((inputs.len(), outputs.len()), (6 * 3, 6 * 2));
    for (x, expected) in inputs.chunks(3).zip(outputs.chunks(2)) {
        let y = net.forward(&SVector::<f32, 3>::from_column_slice(x));
        for (a, e) in y.iter().zip(expected) {
            assert!(
                (a - e).abs() <= 1e-6,
                "input {x:?}: typenet {y:?}, PyTorch {expected:?}"
            );
        }
    }
    // and in f64, converting on import
    let mut net64 = <net![Dense<3, 5, f64>, Tanh, Dense<5, 2, f64>]>::zeros();
    load_safetensors(&mut net64, &weights, "").unwrap();
    assert_eq!(net64.head.w.map(|v| v as f32), net.head.w);
}

#[test]
fn pytorch_weight_rows_become_dense_rows() {
    // Linear(2, 3).weight = [[1, 2], [3, 4], [5, 6]]: output i is row i
    let w: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let b: Vec<u8> = [0.5f32, 0.0, -0.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bytes = file(&[
        ("0.weight", Dtype::F32, vec![3, 2], &w),
        ("0.bias", Dtype::F32, vec![3], &b),
    ]);
    let mut layer = Dense::<2, 3>::zeros();
    load_safetensors(&mut layer, &bytes, "").unwrap();
    assert_eq!(
        layer.w,
        SMatrix::<f32, 3, 2>::new(1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    );
    assert_eq!(
        layer.forward(&SVector::<f32, 2>::new(1.0, 1.0)),
        SVector::<f32, 3>::new(3.5, 7.0, 10.5)
    );
}

/// A safetensors file of the given tensors.
fn file(tensors: &[(&str, Dtype, Vec<usize>, &[u8])]) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (
                name.to_string(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    serialize(views, None).unwrap()
}

/// The tensors of `Torch` filled with small numbers, as (name, shape, f32 bytes).
fn torch_tensors() -> Vec<(&'static str, Vec<usize>, Vec<u8>)> {
    let bytes = |n: usize| {
        (0..n)
            .flat_map(|i| (i as f32 / 10.0).to_le_bytes())
            .collect::<Vec<u8>>()
    };
    vec![
        ("0.weight", vec![5, 3], bytes(15)),
        ("0.bias", vec![5], bytes(5)),
        ("2.weight", vec![2, 5], bytes(10)),
        ("2.bias", vec![2], bytes(2)),
    ]
}

/// Imports a file built from `torch_tensors` after `edit`, into a network that must come out
/// unchanged; returns the error.
fn import_error(
    prefix: &str,
    edit: impl FnOnce(&mut Vec<(&'static str, Vec<usize>, Vec<u8>)>),
) -> ImportError {
    let mut tensors = torch_tensors();
    edit(&mut tensors);
    let list: Vec<_> = tensors
        .iter()
        .map(|(n, s, d)| (*n, Dtype::F32, s.clone(), d.as_slice()))
        .collect();
    let bytes = file(&list);
    let mut net = Torch::random(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1));
    let before = net.clone();
    let err = load_safetensors(&mut net, &bytes, prefix).unwrap_err();
    assert_eq!(net, before, "a refused import changed the network");
    err
}

#[test]
fn a_missing_tensor_is_named() {
    let err = import_error("", |t| t.retain(|(n, _, _)| *n != "2.bias"));
    assert_eq!(
        err,
        ImportError::Missing {
            name: "2.bias".into()
        }
    );
    assert_eq!(err.to_string(), "tensor `2.bias` is missing from the file");
}

#[test]
fn an_extra_tensor_is_named() {
    let err = import_error("", |t| t.push(("4.weight", vec![1, 1], vec![0; 4])));
    assert_eq!(
        err,
        ImportError::Unexpected {
            name: "4.weight".into()
        }
    );
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    // a transposed weight: [3, 5] where nn.Linear(3, 5) has [5, 3]
    let err = import_error("", |t| t[0].1 = vec![3, 5]);
    assert_eq!(
        err,
        ImportError::WrongShape {
            name: "0.weight".into(),
            expected: vec![5, 3],
            found: vec![3, 5]
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `0.weight` has shape [3, 5], the network needs [5, 3]"
    );
}

#[test]
fn a_prefix_selects_the_names() {
    let mut tensors = torch_tensors();
    let named: Vec<String> = tensors
        .iter()
        .map(|(n, _, _)| format!("model.{n}"))
        .collect();
    let list: Vec<_> = tensors
        .iter_mut()
        .zip(&named)
        .map(|((_, s, d), n)| (n.as_str(), Dtype::F32, s.clone(), d.as_slice()))
        .collect();
    let bytes = file(&list);
    let mut net = Torch::zeros();
    load_safetensors(&mut net, &bytes, "model.").unwrap();
    assert_eq!(net.tail.tail.b[1], 0.1);
    assert!(matches!(
        load_safetensors(&mut net, &bytes, ""),
        Err(ImportError::Missing { .. })
    ));
}

#[test]
fn unsupported_dtypes_and_garbage_are_errors() {
    let half = file(&[
        ("0.weight", Dtype::F16, vec![3, 2], &[0u8; 12]),
        ("0.bias", Dtype::F32, vec![3], &[0u8; 12]),
    ]);
    let mut layer = Dense::<2, 3>::zeros();
    assert!(matches!(
        load_safetensors(&mut layer, &half, ""),
        Err(ImportError::UnsupportedDtype { .. })
    ));
    assert!(matches!(
        load_safetensors(&mut layer, b"not safetensors at all", ""),
        Err(ImportError::Invalid(_))
    ));
}

#[test]
fn non_finite_values_are_refused_and_change_nothing() {
    let good = torch_tensors();
    for (bad, what) in [(f32::NAN, "NaN"), (f32::INFINITY, "infinity")] {
        let mut tensors = good.clone();
        tensors[2].2[4 * 7..4 * 8].copy_from_slice(&bad.to_le_bytes()); // 2.weight, index 7
        let entries: Vec<_> = tensors
            .iter()
            .map(|(n, s, d)| (*n, Dtype::F32, s.clone(), &d[..]))
            .collect();
        let mut net = Torch::zeros();
        let err = load_safetensors(&mut net, &file(&entries), "").unwrap_err();
        assert_eq!(
            err,
            ImportError::NonFinite {
                name: "2.weight".into(),
                index: 7
            },
            "{what}"
        );
        assert!(net == Torch::zeros(), "{what}: nothing written");
    }
    // finite in the file, not in the network's scalar: an f64 beyond f32's range
    let mut tensors = good.clone();
    let big: Vec<u8> = (0..2).flat_map(|_| 1e39f64.to_le_bytes()).collect();
    tensors[3] = ("2.bias", vec![2], big);
    let entries: Vec<_> = tensors
        .iter()
        .map(|(n, s, d)| {
            let dtype = if *n == "2.bias" {
                Dtype::F64
            } else {
                Dtype::F32
            };
            (*n, dtype, s.clone(), &d[..])
        })
        .collect();
    let mut net = Torch::zeros();
    let err = load_safetensors(&mut net, &file(&entries), "").unwrap_err();
    assert!(matches!(err, ImportError::NonFinite { ref name, index: 0 } if name == "2.bias"));
    let mut net64 = <net![Dense<3, 5, f64>, Tanh, Dense<5, 2, f64>]>::zeros();
    load_safetensors(&mut net64, &file(&entries), "").unwrap();
    assert_eq!(net64.tail.tail.b[0], 1e39, "an f64 network takes it");
}

#[test]
fn a_header_that_names_a_tensor_twice_is_refused() {
    // the same entry twice: the safetensors crate's map keeps one and accepts the file
    let data: Vec<u8> = (0..2).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let entry = r#"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;
    let header = format!(r#"{{"2.bias":{entry},"2.bias":{entry}}}"#);
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(&data);
    assert!(safetensors::SafeTensors::deserialize(&bytes).is_ok());
    let mut layer = Dense::<5, 2>::zeros();
    let err = load_safetensors(&mut layer, &bytes, "").unwrap_err();
    assert_eq!(
        err,
        ImportError::DuplicateName {
            name: "2.bias".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "the file's header names tensor `2.bias` twice"
    );
}

/// Little-endian bytes of f64 values.
fn f64_bytes(values: impl IntoIterator<Item = f64>) -> Vec<u8> {
    values.into_iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn a_conv_kernel_is_read_from_pytorchs_cout_cin_k_k_layout() {
    // nn.Conv2d(2, 3, 2).weight[o, c, ky, kx] = 1000 o + 100 c + 10 ky + kx, row-major
    let mut kernel = Vec::new();
    for o in 0..3 {
        for c in 0..2 {
            for ky in 0..2 {
                for kx in 0..2 {
                    kernel.push(f64::from(1000 * o + 100 * c + 10 * ky + kx));
                }
            }
        }
    }
    let (w, b) = (
        f64_bytes(kernel.iter().copied()),
        f64_bytes([0.5, -0.5, 2.0]),
    );
    let bytes = file(&[
        ("0.weight", Dtype::F64, vec![3, 2, 2, 2], &w),
        ("0.bias", Dtype::F64, vec![3], &b),
    ]);
    let mut conv = Conv2d::<2, 3, 2, 1, 0, f64>::zeros();
    load_safetensors(&mut conv, &bytes, "").unwrap();
    for o in 0..3 {
        for c in 0..2 {
            for (ky, kx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let expected = (1000 * o + 100 * c + 10 * ky + kx) as f64;
                assert_eq!(conv.weight(o, c, ky, kx), expected);
                assert_eq!(conv.w[c][ky][kx][o], expected);
            }
        }
    }
    assert_eq!(conv.b, [0.5, -0.5, 2.0]);
    // the flattened [COUT, CIN·K·K] (a reshaped view in PyTorch) is not the shape
    let flat = file(&[
        ("0.weight", Dtype::F64, vec![3, 8], &w),
        ("0.bias", Dtype::F64, vec![3], &b),
    ]);
    let before = conv;
    let err = load_safetensors(&mut conv, &flat, "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `0.weight` has shape [3, 8], the network needs [3, 2, 2, 2]"
    );
    assert_eq!(conv, before);
    // and the export writes PyTorch's layout back
    let exported = save_safetensors(&conv, "").unwrap();
    let read = safetensors::SafeTensors::deserialize(&exported).unwrap();
    let view = read.tensor("0.weight").unwrap();
    assert_eq!(
        (view.dtype(), view.shape()),
        (Dtype::F64, &[3, 2, 2, 2][..])
    );
    assert_eq!(view.data(), &w[..]);
}

type Normed =
    net![Conv2d<1, 2, 3, 1, 1, f64>, BatchNorm2d<2, f64>, Relu, Flatten, Dense<8, 2, f64>];

/// The tensors of `Normed`'s state_dict (as PyTorch writes it, num_batches_tracked included),
/// small distinct numbers, f64.
fn normed_tensors() -> Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)> {
    let ramp = |n: usize, from: f64| f64_bytes((0..n).map(|i| from + i as f64 / 8.0));
    vec![
        ("0.weight", Dtype::F64, vec![2, 1, 3, 3], ramp(18, -1.0)),
        ("0.bias", Dtype::F64, vec![2], ramp(2, 0.25)),
        ("1.weight", Dtype::F64, vec![2], ramp(2, 1.5)),
        ("1.bias", Dtype::F64, vec![2], ramp(2, -0.5)),
        ("1.running_mean", Dtype::F64, vec![2], ramp(2, 0.125)),
        ("1.running_var", Dtype::F64, vec![2], ramp(2, 2.0)),
        (
            "1.num_batches_tracked",
            Dtype::I64,
            vec![],
            7i64.to_le_bytes().to_vec(),
        ),
        ("4.weight", Dtype::F64, vec![2, 8], ramp(16, 0.0)),
        ("4.bias", Dtype::F64, vec![2], ramp(2, 3.0)),
    ]
}

fn normed_file(tensors: &[(&'static str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let list: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, *d, s.clone(), b.as_slice()))
        .collect();
    file(&list)
}

#[test]
fn batch_norm_parameters_and_running_statistics_are_imported() {
    let mut net = Normed::zeros();
    load_safetensors(&mut net, &normed_file(&normed_tensors()), "").unwrap();
    let bn = &net.tail.head;
    assert_eq!(bn.gamma, [1.5, 1.625]);
    assert_eq!(bn.beta, [-0.5, -0.375]);
    assert_eq!(bn.running_mean, [0.125, 0.25]);
    assert_eq!(bn.running_var, [2.0, 2.125]);
    // num_batches_tracked (7 here) has no place in typenet and is ignored; without it too
    let mut without = normed_tensors();
    without.retain(|t| t.0 != "1.num_batches_tracked");
    let mut again = Normed::zeros();
    load_safetensors(&mut again, &normed_file(&without), "").unwrap();
    assert_eq!(again, net);
}

#[test]
fn a_missing_or_misplaced_buffer_is_named_and_changes_nothing() {
    let import = |edit: &dyn Fn(&mut Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)>)| {
        let mut tensors = normed_tensors();
        edit(&mut tensors);
        let mut net =
            Normed::random(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(2));
        let before = net.clone();
        let err = load_safetensors(&mut net, &normed_file(&tensors), "").unwrap_err();
        assert_eq!(net, before, "a refused import changed the network: {err}");
        err
    };
    // every parameter is fine, the last buffer is missing: nothing is written
    let err = import(&|t| t.retain(|t| t.0 != "1.running_var"));
    assert_eq!(
        err.to_string(),
        "tensor `1.running_var` is missing from the file"
    );
    let err = import(&|t| t[5].2 = vec![1, 2]);
    assert_eq!(
        err,
        ImportError::WrongShape {
            name: "1.running_var".into(),
            expected: vec![2],
            found: vec![1, 2]
        }
    );
    let err = import(&|t| t[5].3[8..16].copy_from_slice(&f64::NAN.to_le_bytes()));
    assert_eq!(
        err,
        ImportError::NonFinite {
            name: "1.running_var".into(),
            index: 1
        }
    );
    // a step counter where there is no batch norm has no place
    let err = import(&|t| t.push(("4.num_batches_tracked", Dtype::I64, vec![], vec![0; 8])));
    assert_eq!(
        err,
        ImportError::Unexpected {
            name: "4.num_batches_tracked".into()
        }
    );
}

#[test]
fn an_export_has_pytorchs_names_shapes_and_dtype() {
    let net = Normed::random(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3));
    let bytes = save_safetensors(&net, "model.").unwrap();
    let read = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut found: Vec<(String, Dtype, Vec<usize>)> = read
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec()))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<(String, Dtype, Vec<usize>)> = [
        ("model.0.bias", Dtype::F64, vec![2]),
        ("model.0.weight", Dtype::F64, vec![2, 1, 3, 3]),
        ("model.1.bias", Dtype::F64, vec![2]),
        ("model.1.num_batches_tracked", Dtype::I64, vec![]),
        ("model.1.running_mean", Dtype::F64, vec![2]),
        ("model.1.running_var", Dtype::F64, vec![2]),
        ("model.1.weight", Dtype::F64, vec![2]),
        ("model.4.bias", Dtype::F64, vec![2]),
        ("model.4.weight", Dtype::F64, vec![2, 8]),
    ]
    .into_iter()
    .map(|(n, d, s)| (n.to_string(), d, s))
    .collect();
    assert_eq!(found, expected);
    let counter = read.tensor("model.1.num_batches_tracked").unwrap();
    assert_eq!(counter.data(), &0i64.to_le_bytes()[..]);
    // a Linear's weight row by row: row o is output o
    let w = read.tensor("model.4.weight").unwrap();
    let row_major: Vec<f64> = w
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let dense = &net.tail.tail.tail.tail.w;
    assert_eq!(row_major[1], dense[(0, 1)]);
    assert_eq!(row_major[8], dense[(1, 0)]);
    // an f32 network exports F32
    let small = Torch::random(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(4));
    let bytes = save_safetensors(&small, "").unwrap();
    let read = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(read.tensor("2.weight").unwrap().dtype(), Dtype::F32);
    assert_eq!(read.tensor("2.weight").unwrap().shape(), [2, 5]);
}

#[test]
fn export_then_import_gives_the_same_network_to_the_bit() {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
    let mut net = Normed::random(&mut rng);
    net.tail.head.running_mean = [0.1, -1.0 / 3.0];
    net.tail.head.running_var = [std::f64::consts::PI, 1e-300];
    for prefix in ["", "model.", "backbone.features."] {
        let mut copy = Normed::zeros();
        load_safetensors(&mut copy, &save_safetensors(&net, prefix).unwrap(), prefix).unwrap();
        assert_eq!(copy, net, "prefix {prefix:?}");
    }
    type LeNet = net![
        Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
        Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
        Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu, Dense<84, 10>,
    ];
    let lenet = LeNet::random_boxed(&mut rng);
    let mut copy = LeNet::zeros_boxed();
    load_safetensors(&mut *copy, &save_safetensors(&*lenet, "").unwrap(), "").unwrap();
    assert!(*copy == *lenet);
    let x: Image<f32, 1, 28, 28> = Image::from_fn(|_, y, x| ((y * 28 + x) % 13) as f32 / 13.0);
    assert_eq!(copy.forward(&x), lenet.forward(&x));
}

#[test]
fn a_non_finite_value_is_not_exported() {
    let mut layer = Dense::<2, 3, f64>::zeros();
    layer.w[(2, 1)] = f64::NAN;
    let err = save_safetensors(&layer, "").unwrap_err();
    assert!(matches!(err, ExportError::NonFinite { ref name, index: 5 } if name == "0.weight"));
    assert_eq!(
        err.to_string(),
        "tensor `0.weight` holds a value that is not finite (NaN or infinite) at index 5; \
         nothing was exported"
    );
    let mut bn = BatchNorm2d::<2, f32>::new();
    bn.running_var[1] = f32::INFINITY;
    assert!(matches!(
        save_safetensors(&bn, "").unwrap_err(),
        ExportError::NonFinite { ref name, index: 1 } if name == "0.running_var"
    ));
}

/// A layer of one's own whose two tensors are both biases: PyTorch's names cannot tell them
/// apart.
#[derive(Default)]
struct TwoBiases {
    a: [f64; 1],
    b: [f64; 1],
}

impl Params<f64> for TwoBiases {
    const LAYERS: usize = 1;
    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, f64>> {
        [&self.a, &self.b].into_iter().map(|data| Tensor {
            info: TWO_BIASES,
            data,
        })
    }
    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, f64>> {
        [&mut self.a, &mut self.b]
            .into_iter()
            .map(|data| TensorMut {
                info: TWO_BIASES,
                data,
            })
    }
}

const TWO_BIASES: TensorInfo = TensorInfo {
    layer: 0,
    layer_kind: "TwoBiases",
    role: Role::Bias,
    rows: 1,
    cols: 1,
};

#[test]
fn two_tensors_of_one_name_are_not_exported() {
    let err = save_safetensors(&TwoBiases::default(), "").unwrap_err();
    assert!(matches!(err, ExportError::DuplicateName { ref name } if name == "0.bias"));
    assert_eq!(
        err.to_string(),
        "two tensors of the network would both be named `0.bias`"
    );
}

#[test]
fn the_file_variant_writes_whole_files_and_reports_io_errors() {
    let dir = std::env::temp_dir().join(format!("typenet-pytorch-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let net = Torch::random(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(6));
    save_safetensors_file(&net, "", &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes, save_safetensors(&net, "").unwrap());
    let mut copy = Torch::zeros();
    load_safetensors(&mut copy, &bytes, "").unwrap();
    assert_eq!(copy, net);
    // over an old file: replaced whole, and nothing else left in the directory
    let other = Torch::random(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7));
    save_safetensors_file(&other, "", &path).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        save_safetensors(&other, "").unwrap()
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // a directory that does not exist: an I/O error, and no file
    let missing = dir.join("no/such/dir/model.safetensors");
    let err = save_safetensors_file(&net, "", &missing).unwrap_err();
    assert!(matches!(err, ExportError::Io(_)), "{err}");
    assert!(!missing.exists());
    // a network that cannot be exported leaves the old file as it was
    let mut bad = net.clone();
    bad.head.b[0] = f32::NAN;
    assert!(matches!(
        save_safetensors_file(&bad, "", &path),
        Err(ExportError::NonFinite { .. })
    ));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        save_safetensors(&other, "").unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
