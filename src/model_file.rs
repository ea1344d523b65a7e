//! Model files (with the `std` feature): a network's parameters in a small, documented binary
//! format that records what network they belong to.
//!
//! The format (all integers little-endian):
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `TYPENET\0` |
//! | 4 | format version, `u32` = 1 |
//! | 4 | bytes per scalar, `u32`: 4 (`f32`) or 8 (`f64`) |
//! | 4 | length `L` of the signature, `u32` |
//! | `L` | the network's type signature, UTF-8 (`Dense<784, 100, f32>, Relu, …`) |
//! | 8 | number of parameters `P`, `u64` |
//! | `P` × 4 or 8 | the parameters, in [`Params`] order (each tensor column-major) |
//! | 8 | FNV-1a 64 checksum of every byte before it |

use std::fmt;
use std::io::Write;
use std::path::Path;

use crate::{Float, Params};

const MAGIC: &[u8; 8] = b"TYPENET\0";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Why a model file could not be read or written. Loading never changes the network unless
/// it succeeds.
#[derive(Debug)]
#[non_exhaustive]
pub enum ModelError {
    /// The file could not be read or written.
    Io(std::io::Error),
    /// The data does not start with `TYPENET\0`: not a typenet model file.
    BadMagic,
    /// A format version this crate does not know.
    UnsupportedVersion(u32),
    /// The data ends before the header or the parameters it announces.
    Truncated,
    /// The data goes on after the checksum.
    TrailingBytes,
    /// The checksum does not match: the file was damaged.
    Corrupt,
    /// The file holds parameters of another network type, or another scalar.
    SignatureMismatch {
        /// The signature recorded in the file.
        file: String,
        /// The signature of the network it was loaded into.
        expected: String,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Io(e) => write!(f, "{e}"),
            ModelError::BadMagic => write!(f, "not a typenet model file (bad magic number)"),
            ModelError::UnsupportedVersion(v) => write!(
                f,
                "model file format version {v} is not supported (this typenet reads version {FORMAT_VERSION})"
            ),
            ModelError::Truncated => write!(f, "model file is truncated"),
            ModelError::TrailingBytes => write!(f, "model file has unexpected bytes at its end"),
            ModelError::Corrupt => write!(f, "model file is corrupt (checksum mismatch)"),
            ModelError::SignatureMismatch { file, expected } => write!(
                f,
                "model file holds a network of type [{file}], not [{expected}]"
            ),
        }
    }
}

impl std::error::Error for ModelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ModelError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The type signature of network `N` with scalar `T`: its layers, widths and scalars, as
/// model files record it.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::model_file::signature;
/// type Net = net![Dense<784, 100>, Relu, Dense<100, 10>];
/// assert_eq!(signature::<Net, f32>(), "Dense<784, 100, f32>, Relu, Dense<100, 10, f32>");
/// ```
pub fn signature<N: Params<T> + ?Sized, T: Float>() -> String {
    let mut s = String::new();
    N::write_signature(&mut s).expect("writing to a String cannot fail");
    s
}

/// The model file of `net`, as bytes.
pub fn to_bytes<N: Params<T> + ?Sized, T: Float>(net: &N) -> Vec<u8> {
    let sig = signature::<N, T>();
    let count = net.param_count();
    let size = core::mem::size_of::<T>();
    let mut out = Vec::with_capacity(36 + sig.len() + count * size);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out.extend_from_slice(&(sig.len() as u32).to_le_bytes());
    out.extend_from_slice(sig.as_bytes());
    out.extend_from_slice(&(count as u64).to_le_bytes());
    for t in net.tensors() {
        for &v in t.data {
            if size == 4 {
                out.extend_from_slice(&(v.as_f64() as f32).to_le_bytes());
            } else {
                out.extend_from_slice(&v.as_f64().to_le_bytes());
            }
        }
    }
    let checksum = fnv1a(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// Reads the parameters of `net` from a model file's bytes. Everything is checked — magic,
/// version, signature (layers, widths and scalar), length and checksum — before the first
/// parameter is written, so on error `net` is unchanged.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// use typenet::model_file::{from_bytes, to_bytes, ModelError};
/// type Net = net![Dense<3, 4>, Tanh, Dense<4, 2>];
/// let net = Net::random(&mut StdRng::seed_from_u64(1));
/// let bytes = to_bytes(&net);
/// let mut copy = Net::zeros();
/// from_bytes(&mut copy, &bytes).unwrap();
/// assert_eq!(copy, net);
///
/// let mut other = <net![Dense<3, 5>, Tanh, Dense<5, 2>]>::zeros();
/// let err = from_bytes(&mut other, &bytes).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "model file holds a network of type [Dense<3, 4, f32>, Tanh, Dense<4, 2, f32>], \
///      not [Dense<3, 5, f32>, Tanh, Dense<5, 2, f32>]"
/// );
/// ```
pub fn from_bytes<N: Params<T> + ?Sized, T: Float>(
    net: &mut N,
    bytes: &[u8],
) -> Result<(), ModelError> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(8)? != MAGIC {
        return Err(ModelError::BadMagic);
    }
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(ModelError::UnsupportedVersion(version));
    }
    let size = r.u32()? as usize;
    let sig_len = r.u32()? as usize;
    let sig = r.take(sig_len)?;
    let count = r.u64()?;
    let body_len = usize::try_from(count)
        .ok()
        .and_then(|c| c.checked_mul(size))
        .ok_or(ModelError::Truncated)?;
    let body = r.take(body_len)?;
    let stored = r.u64()?;
    if r.at != bytes.len() {
        return Err(ModelError::TrailingBytes);
    }
    if fnv1a(&bytes[..bytes.len() - 8]) != stored {
        return Err(ModelError::Corrupt);
    }
    let expected = signature::<N, T>();
    let file_sig = String::from_utf8_lossy(sig);
    if file_sig != expected
        || size != core::mem::size_of::<T>()
        || count != net.param_count() as u64
    {
        let file = if size == core::mem::size_of::<T>() {
            file_sig.into_owned()
        } else {
            format!("{file_sig} ({size}-byte scalars)")
        };
        return Err(ModelError::SignatureMismatch { file, expected });
    }
    // Everything checked: copy.
    let mut values = body.chunks_exact(size).map(|b| {
        if size == 4 {
            T::of_f64(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64)
        } else {
            T::of_f64(f64::from_le_bytes(b.try_into().expect("8 bytes")))
        }
    });
    for t in net.tensors_mut() {
        for (p, v) in t.data.iter_mut().zip(values.by_ref()) {
            *p = v;
        }
    }
    Ok(())
}

/// Saves `net` to `path` atomically: the file is written under a temporary name in the same
/// directory and renamed over `path` only when complete, so a crash never leaves a partial
/// model file behind.
pub fn save<N: Params<T> + ?Sized, T: Float>(
    net: &N,
    path: impl AsRef<Path>,
) -> Result<(), ModelError> {
    let path = path.as_ref();
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&to_bytes(net))?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        ModelError::Io(e)
    })
}

/// Loads the parameters of `net` from the model file at `path`; on error `net` is unchanged.
pub fn load<N: Params<T> + ?Sized, T: Float>(
    net: &mut N,
    path: impl AsRef<Path>,
) -> Result<(), ModelError> {
    let bytes = std::fs::read(path).map_err(ModelError::Io)?;
    from_bytes(net, &bytes)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(ModelError::Truncated)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// The 64-bit FNV-1a hash.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
