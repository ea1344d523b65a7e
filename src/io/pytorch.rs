//! Networks trained in PyTorch, run here (with the `std` feature): parameters imported from a
//! `safetensors` file, every tensor matched by name and checked against the network's type.
//!
//! ## How PyTorch's names and layouts map onto typenet
//!
//! A typenet network numbers its layers from 0 in order, activations included, exactly as
//! `torch.nn.Sequential` does; so the network
//! `net![Dense<4, 8>, Relu, Dense<8, 3>]` corresponds to
//! `nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))`, whose `state_dict()` holds
//! `0.weight`, `0.bias`, `2.weight`, `2.bias`.
//!
//! `nn.Linear(I, O).weight` has shape `[O, I]` (one row per output) and computes
//! `y = x Wᵀ + b` for a row of inputs `x`; `Dense<I, O>::w` is the same `O x I` matrix and
//! computes `y = W x + b` for a column. The values are the same; only the storage differs
//! (PyTorch's rows are contiguous, nalgebra's columns), and the import converts it.
//! `nn.Linear(I, O).bias` (shape `[O]`) is `Dense::b`.
//!
//! Tensors may be `F32` or `F64`; they are converted to the network's scalar. A missing
//! tensor, a tensor the network has no place for, a wrong shape or an unsupported dtype is an
//! error that names the tensor, and nothing is written into the network unless every check
//! passes.

use std::fmt;

use safetensors::{Dtype, SafeTensors};

/// The `safetensors` crate this module reads with, for programs (and tests) that write the
/// files themselves.
pub use safetensors;

use crate::core::{Float, Params, Role, TensorInfo};

/// Why a safetensors file could not be imported. The network is unchanged.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ImportError {
    /// The file is not valid safetensors (or could not be read).
    Invalid(String),
    /// The network needs a tensor the file does not have.
    Missing {
        /// Its name (`"2.weight"`).
        name: String,
    },
    /// The file has a tensor the network has no place for.
    Unexpected {
        /// Its name.
        name: String,
    },
    /// A tensor's shape is not the one the network's type demands.
    WrongShape {
        /// Its name.
        name: String,
        /// The shape the network needs (`[O, I]` for a weight, `[O]` for a bias).
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor's element type is neither `F32` nor `F64`.
    UnsupportedDtype {
        /// Its name.
        name: String,
        /// Its element type.
        dtype: String,
    },
    /// A value of a tensor is NaN or infinite (in the file, or once converted to the network's
    /// scalar: an `f64` beyond `f32`'s range).
    NonFinite {
        /// The tensor's name.
        name: String,
        /// The value's index in the file's (row-major) order.
        index: usize,
    },
    /// The file's header names a tensor twice (a JSON object with a repeated key, which
    /// readers would resolve differently).
    DuplicateName {
        /// The name.
        name: String,
    },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Invalid(why) => write!(f, "not a valid safetensors file: {why}"),
            ImportError::Missing { name } => write!(f, "tensor `{name}` is missing from the file"),
            ImportError::Unexpected { name } => {
                write!(f, "tensor `{name}` in the file has no place in the network")
            }
            ImportError::WrongShape {
                name,
                expected,
                found,
            } => write!(
                f,
                "tensor `{name}` has shape {found:?}, the network needs {expected:?}"
            ),
            ImportError::UnsupportedDtype { name, dtype } => write!(
                f,
                "tensor `{name}` has element type {dtype}; only F32 and F64 are supported"
            ),
            ImportError::NonFinite { name, index } => write!(
                f,
                "tensor `{name}` holds a value that is not finite (NaN or infinite, or beyond \
                 the network's scalar) at index {index}"
            ),
            ImportError::DuplicateName { name } => {
                write!(f, "the file's header names tensor `{name}` twice")
            }
        }
    }
}

impl std::error::Error for ImportError {}

/// The name and PyTorch shape a parameter tensor has in a `state_dict` with `prefix`.
fn torch_name(prefix: &str, info: &TensorInfo) -> (String, Vec<usize>) {
    match info.role {
        Role::Weight => (
            format!("{prefix}{}.weight", info.layer),
            vec![info.rows, info.cols],
        ),
        Role::Kernel2d(k) => (
            format!("{prefix}{}.weight", info.layer),
            vec![info.rows, info.cols / (k * k), k, k],
        ),
        Role::Scale => (format!("{prefix}{}.weight", info.layer), vec![info.rows]),
        Role::Bias | Role::RunningMean | Role::RunningVar => (
            format!("{prefix}{}.{}", info.layer, info.role.name()),
            vec![info.rows],
        ),
    }
}

/// Imports the parameters of `net` from the bytes of a safetensors file written from a
/// PyTorch `state_dict` (names `"0.weight"`, `"0.bias"`, …, each preceded by `prefix`, e.g.
/// `"model."`, or `""`). Every tensor of the network must be in the file with its exact
/// shape, and every tensor of the file must have a place in the network. Every value must be
/// finite in the network's scalar, and the header must name each tensor once. Nothing is
/// written into `net` unless every check passes.
///
/// ```no_run
/// use typenet::prelude::*;
/// type Net = net![Dense<4, 8, f64>, Relu, Dense<8, 3, f64>];
/// let bytes = std::fs::read("model.safetensors")?;
/// let mut net = Net::zeros();
/// typenet::pytorch::load_safetensors(&mut net, &bytes, "")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load_safetensors<N, T>(net: &mut N, bytes: &[u8], prefix: &str) -> Result<(), ImportError>
where
    N: Params<T>,
    T: Float,
{
    let file = SafeTensors::deserialize(bytes).map_err(|e| ImportError::Invalid(e.to_string()))?;
    if let Some(name) = repeated_name(bytes)? {
        return Err(ImportError::DuplicateName { name });
    }
    // Check everything first, and convert: PyTorch's [O, I] row-major into nalgebra's O x I
    // column-major, in the network's scalar.
    let mut wanted = Vec::new();
    let mut converted: Vec<Vec<T>> = Vec::new();
    for t in net.tensors() {
        let (name, shape) = torch_name(prefix, &t.info);
        let view = file
            .tensor(&name)
            .map_err(|_| ImportError::Missing { name: name.clone() })?;
        if view.shape() != shape.as_slice() {
            return Err(ImportError::WrongShape {
                name,
                expected: shape,
                found: view.shape().to_vec(),
            });
        }
        let values: Vec<f64> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect(),
            Dtype::F64 => view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
            other => {
                return Err(ImportError::UnsupportedDtype {
                    name,
                    dtype: format!("{other:?}"),
                });
            }
        };
        if let Some(index) = values.iter().position(|&v| !T::of_f64(v).is_finite()) {
            return Err(ImportError::NonFinite { name, index });
        }
        let (rows, cols) = (t.info.rows, t.info.cols);
        let mut column_major = vec![T::zero(); rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                column_major[c * rows + r] = T::of_f64(values[r * cols + c]);
            }
        }
        converted.push(column_major);
        wanted.push(name);
    }
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    if let Some(extra) = names.into_iter().find(|n| !wanted.contains(n)) {
        return Err(ImportError::Unexpected { name: extra });
    }
    // Then copy.
    for (t, values) in net.tensors_mut().zip(converted) {
        t.data.copy_from_slice(&values);
    }
    Ok(())
}

/// The first tensor name the header of the safetensors file `bytes` gives twice, if any. (The
/// `safetensors` crate reads the header into a map, where a repeated key silently replaces the
/// first.) Call it on bytes that `SafeTensors::deserialize` accepted.
fn repeated_name(bytes: &[u8]) -> Result<Option<String>, ImportError> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct FirstRepeated;
    impl<'de> Visitor<'de> for FirstRepeated {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a safetensors header: a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(key.clone()) {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        }
    }

    let invalid = |why: String| ImportError::Invalid(why);
    let len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid("no header length".into()))?;
    let header = bytes
        .get(8..)
        .and_then(|rest| rest.get(..len))
        .ok_or_else(|| invalid("the header is cut short".into()))?;
    serde_json::Deserializer::from_slice(header)
        .deserialize_map(FirstRepeated)
        .map_err(|e| invalid(e.to_string()))
}
