//! Importing a network trained in PyTorch: the fixture written by
//! `tests/fixtures/pytorch/make_fixture.py` is reproduced within 1e-6, and every kind of
//! mismatch between file and network type is an error that names the tensor and leaves the
//! network untouched.

use typenet::prelude::*;
use typenet::pytorch::safetensors::{self, Dtype, serialize, tensor::TensorView};
use typenet::pytorch::{ImportError, load_safetensors};

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
