//! Networks trained in PyTorch, run here, and networks trained here, run in PyTorch (with the
//! `pytorch` feature): parameters and buffers imported from a `safetensors` file written from
//! a `state_dict` ([`load_safetensors`]), every tensor matched by name and checked against the
//! network's type, and exported to one that `load_state_dict(strict=True)` accepts
//! ([`save_safetensors`], [`save_safetensors_file`]). `docs/pytorch.md` walks through both
//! directions.
//!
//! ## How PyTorch's names and layouts map onto typenet
//!
//! A typenet network numbers its layers from 0 in order, activations, pools and `Flatten`
//! included, exactly as `torch.nn.Sequential` does; so the network
//! `net![Dense<4, 8>, Relu, Dense<8, 3>]` corresponds to
//! `nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))`, whose `state_dict()` holds
//! `0.weight`, `0.bias`, `2.weight`, `2.bias`.
//!
//! | typenet | PyTorch | tensor | shape |
//! | --- | --- | --- | --- |
//! | `Dense<I, O>` `w`, `b` | `nn.Linear(I, O)` | `weight`, `bias` | `[O, I]`, `[O]` |
//! | `Conv2d<CIN, COUT, K, S, P>` `w`, `b` | `nn.Conv2d(CIN, COUT, K, stride=S, padding=P)` | `weight`, `bias` | `[COUT, CIN, K, K]`, `[COUT]` |
//! | `BatchNorm2d<C>` `gamma`, `beta` | `nn.BatchNorm2d(C)` | `weight`, `bias` | `[C]`, `[C]` |
//! | `BatchNorm2d<C>` `running_mean`, `running_var` (buffers) | the same | `running_mean`, `running_var` | `[C]`, `[C]` |
//! | — | the same | `num_batches_tracked` | `[]`, int64 |
//! | `Gru<I, H>` `w_ih`, `w_hh`, `b_ih`, `b_hh` | `nn.GRU(I, H)` (one layer) | `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0` | `[3H, I]`, `[3H, H]`, `[3H]`, `[3H]` |
//! | `Lstm<I, H>` `w_ih`, `w_hh`, `b_ih`, `b_hh` | `nn.LSTM(I, H)` (one layer) | the same names | `[4H, I]`, `[4H, H]`, `[4H]`, `[4H]` |
//! | `Conv1d<CIN, COUT, K, D>` `w`, `b` | `nn.Conv1d(CIN, COUT, K, dilation=D)`, causal | `weight`, `bias` | `[COUT, CIN, K]`, `[COUT]` |
//!
//! A recurrent layer's gates are stacked as PyTorch stacks them (GRU r, z, n; LSTM i, f, g,
//! o), and a PyTorch module of several layers (`num_layers = 2`) is several typenet layers: its
//! `weight_ih_l1` is the next layer's `weight_ih_l0` (rename it, `docs/pytorch.md`).
//!
//! `nn.Linear(I, O).weight` has shape `[O, I]` (one row per output) and computes
//! `y = x Wᵀ + b` for a row of inputs `x`; `Dense<I, O>::w` is the same `O x I` matrix and
//! computes `y = W x + b` for a column. The values are the same; only the storage differs
//! (PyTorch's rows are contiguous, nalgebra's columns), and import and export convert it.
//! `nn.Conv2d`'s `weight[o, c, ky, kx]` is [`Conv2d::weight`](crate::Conv2d::weight)`(o, c,
//! ky, kx)`: its `[COUT, CIN·K·K]` flattening, row-major in PyTorch, column-major in typenet.
//!
//! On import, tensors may be `F32` or `F64`; they are converted to the network's scalar. A
//! missing tensor, a tensor the network has no place for, a wrong shape or an unsupported
//! dtype is an error that names the tensor, and nothing is written into the network unless
//! every check passes. A batch norm's `num_batches_tracked` is accepted and ignored (typenet's
//! running statistics move with momentum 0.1 and do not count batches). On export, every
//! tensor is written in the network's scalar (`F32` or `F64`), and each batch norm's
//! `num_batches_tracked` as an int64 scalar 0.

use std::fmt;

use safetensors::tensor::TensorView;
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
        Role::Kernel1d(k) => (
            format!("{prefix}{}.weight", info.layer),
            vec![info.rows, info.cols / k, k],
        ),
        Role::InputWeight(_) | Role::RecurrentWeight(_) => (
            format!("{prefix}{}.{}", info.layer, info.role.name()),
            vec![info.rows, info.cols],
        ),
        Role::Scale => (format!("{prefix}{}.weight", info.layer), vec![info.rows]),
        Role::Bias
        | Role::InputBias
        | Role::RecurrentBias
        | Role::RunningMean
        | Role::RunningVar => (
            format!("{prefix}{}.{}", info.layer, info.role.name()),
            vec![info.rows],
        ),
    }
}

/// The name of the step counter PyTorch keeps beside a batch norm's running statistics (in the
/// layer of `buffer`, a running mean), which typenet does not keep.
fn batches_tracked_name(prefix: &str, buffer: &TensorInfo) -> Option<String> {
    (buffer.role == Role::RunningMean)
        .then(|| format!("{prefix}{}.num_batches_tracked", buffer.layer))
}

/// Imports the parameters and buffers of `net` from the bytes of a safetensors file written
/// from a PyTorch `state_dict` (names `"0.weight"`, `"0.bias"`, `"1.running_mean"`, …, each
/// preceded by `prefix`, e.g. `"model."`, or `""`). Every tensor of the network (parameters,
/// and buffers: a batch norm's running mean and variance) must be in the file with its exact
/// PyTorch shape, and every tensor of the file must have a place in the network, except a
/// batch norm's `num_batches_tracked`, which is ignored. Every value must be finite in the
/// network's scalar, and the header must name each tensor once. Nothing is written into `net`
/// unless every check passes.
///
/// The names, shapes and layouts are in the [module's documentation](self).
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
    // Check everything first, and convert: PyTorch's row-major [rows, cols] (a weight's
    // [O, I], a kernel's [COUT, CIN, K, K] as [COUT, CIN·K·K]) into column-major, in the
    // network's scalar; the parameters, then the buffers.
    let mut wanted = Vec::new();
    let mut converted: Vec<Vec<T>> = Vec::new();
    for info in net.tensors().chain(net.buffers()).map(|t| t.info) {
        let (name, shape) = torch_name(prefix, &info);
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
        let (rows, cols) = (info.rows, info.cols);
        let mut column_major = vec![T::zero(); rows * cols];
        for r in 0..rows {
            for c in 0..cols {
                column_major[c * rows + r] = T::of_f64(values[r * cols + c]);
            }
        }
        converted.push(column_major);
        wanted.push(name);
        if let Some(counter) = batches_tracked_name(prefix, &info) {
            wanted.push(counter);
        }
    }
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    if let Some(extra) = names.into_iter().find(|n| !wanted.contains(n)) {
        return Err(ImportError::Unexpected { name: extra });
    }
    // Then copy.
    let mut converted = converted.into_iter();
    for (t, values) in net.tensors_mut().zip(&mut converted) {
        t.data.copy_from_slice(&values);
    }
    for (t, values) in net.buffers_mut().zip(converted) {
        t.data.copy_from_slice(&values);
    }
    Ok(())
}

/// Why a network could not be exported to safetensors. Nothing was written.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportError {
    /// A value of a tensor is NaN or infinite: PyTorch would load it, and compute NaNs.
    NonFinite {
        /// The tensor's name (`"0.weight"`).
        name: String,
        /// The value's index in the file's (row-major) order.
        index: usize,
    },
    /// Two tensors of the network would have the same name (a layer of your own with two
    /// tensors of one [`Role`]).
    DuplicateName {
        /// The name.
        name: String,
    },
    /// The safetensors crate refused the tensors (it should not: report it).
    Serialize(String),
    /// The file could not be written ([`save_safetensors_file`]); the old file, if any, is
    /// as it was.
    Io(std::io::Error),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::NonFinite { name, index } => write!(
                f,
                "tensor `{name}` holds a value that is not finite (NaN or infinite) at index \
                 {index}; nothing was exported"
            ),
            ExportError::DuplicateName { name } => {
                write!(f, "two tensors of the network would both be named `{name}`")
            }
            ExportError::Serialize(why) => write!(f, "could not write safetensors: {why}"),
            ExportError::Io(e) => write!(f, "could not write the safetensors file: {e}"),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The bytes of a safetensors file holding every parameter and buffer of `net` under the names
/// and shapes of the equivalent `nn.Sequential`'s `state_dict` (each name preceded by
/// `prefix`, e.g. `"model."`, or `""`), row-major, in the network's scalar (`F32` for `f32`,
/// `F64` for `f64`), with each batch norm's `num_batches_tracked` as an int64 scalar 0: what
/// `model.load_state_dict(safetensors.torch.load_file(path), strict=True)` accepts, and what
/// [`load_safetensors`] reads back to the bit.
///
/// A NaN or infinite value is an error naming its tensor, as two tensors of one name are
/// (possible only with a layer of your own).
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// use typenet::pytorch::{load_safetensors, save_safetensors, safetensors::SafeTensors};
/// type Net = net![Conv2d<1, 4, 3>, BatchNorm2d<4>, Relu, Flatten, Dense<16, 2>];
/// let net = Net::random(&mut StdRng::seed_from_u64(0));
/// let bytes = save_safetensors(&net, "")?;
/// let file = SafeTensors::deserialize(&bytes)?;
/// let mut names = file.names();
/// names.sort();
/// assert_eq!(
///     names,
///     [
///         "0.bias", "0.weight", "1.bias", "1.num_batches_tracked", "1.running_mean",
///         "1.running_var", "1.weight", "4.bias", "4.weight",
///     ]
/// );
/// assert_eq!(file.tensor("0.weight")?.shape(), [4, 1, 3, 3]);
/// assert_eq!(file.tensor("4.weight")?.shape(), [2, 16]);
/// let mut copy = Net::zeros();
/// load_safetensors(&mut copy, &bytes, "")?;
/// assert_eq!(copy, net);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn save_safetensors<N, T>(net: &N, prefix: &str) -> Result<Vec<u8>, ExportError>
where
    N: Params<T>,
    T: Float,
{
    let (dtype, width) = if T::NAME == "f32" {
        (Dtype::F32, 4)
    } else {
        (Dtype::F64, 8)
    };
    let mut entries: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for t in net.tensors().chain(net.buffers()) {
        let (name, shape) = torch_name(prefix, &t.info);
        let (rows, cols) = (t.info.rows, t.info.cols);
        let mut data = Vec::with_capacity(rows * cols * width);
        for r in 0..rows {
            for c in 0..cols {
                let v = t.data[c * rows + r];
                if !v.is_finite() {
                    let index = r * cols + c;
                    return Err(ExportError::NonFinite { name, index });
                }
                if width == 4 {
                    data.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
                } else {
                    data.extend_from_slice(&v.as_f64().to_le_bytes());
                }
            }
        }
        if let Some(counter) = batches_tracked_name(prefix, &t.info) {
            entries.push((counter, Dtype::I64, Vec::new(), 0i64.to_le_bytes().to_vec()));
        }
        entries.push((name, dtype, shape, data));
    }
    let mut names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(ExportError::DuplicateName {
            name: pair[0].to_string(),
        });
    }
    let views = entries
        .iter()
        .map(|(name, dtype, shape, data)| {
            TensorView::new(*dtype, shape.clone(), data)
                .map(|view| (name.as_str(), view))
                .map_err(|e| ExportError::Serialize(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| ExportError::Serialize(e.to_string()))
}

/// Writes [`save_safetensors`]'s bytes to `path`, atomically: a reader of `path` finds the old
/// file or the new one, whole, as [`model_file::save`](crate::model_file::save) writes (a new
/// uniquely named file in the same directory, synced, renamed over `path`). On any error the
/// old file is as it was.
///
/// ```no_run
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Net = net![Dense<4, 8>, Relu, Dense<8, 3>];
/// let net = Net::random(&mut StdRng::seed_from_u64(0));
/// typenet::pytorch::save_safetensors_file(&net, "", "model.safetensors")?;
/// // in Python: model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
/// # Ok::<(), typenet::pytorch::ExportError>(())
/// ```
pub fn save_safetensors_file<N, T>(
    net: &N,
    prefix: &str,
    path: impl AsRef<std::path::Path>,
) -> Result<(), ExportError>
where
    N: Params<T>,
    T: Float,
{
    let bytes = save_safetensors(net, prefix)?;
    super::atomic_file::write_atomically(path.as_ref(), |file| {
        std::io::Write::write_all(file, &bytes)
    })
    .map_err(ExportError::Io)
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
