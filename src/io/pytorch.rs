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
        Role::Bias => (format!("{prefix}{}.bias", info.layer), vec![info.rows]),
    }
}

/// Imports the parameters of `net` from the bytes of a safetensors file written from a
/// PyTorch `state_dict` (names `"0.weight"`, `"0.bias"`, …, each preceded by `prefix`, e.g.
/// `"model."`, or `""`). Every tensor of the network must be in the file with its exact
/// shape, and every tensor of the file must have a place in the network.
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
    // Check everything first.
    let mut wanted = Vec::new();
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
        if !matches!(view.dtype(), Dtype::F32 | Dtype::F64) {
            return Err(ImportError::UnsupportedDtype {
                name,
                dtype: format!("{:?}", view.dtype()),
            });
        }
        wanted.push(name);
    }
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    if let Some(extra) = names.into_iter().find(|n| !wanted.contains(n)) {
        return Err(ImportError::Unexpected { name: extra });
    }
    // Then copy: PyTorch's [O, I] row-major into nalgebra's O x I column-major.
    for (t, name) in net.tensors_mut().zip(&wanted) {
        let view = file.tensor(name).expect("checked above");
        let values: Vec<f64> = match view.dtype() {
            Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                .collect(),
            _ => view
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
        };
        let (rows, cols) = (t.info.rows, t.info.cols);
        for r in 0..rows {
            for c in 0..cols {
                t.data[c * rows + r] = T::of_f64(values[r * cols + c]);
            }
        }
    }
    Ok(())
}
