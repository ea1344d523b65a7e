//! Model files: a network's parameters in a small, documented binary format that records what
//! network they belong to. The same bytes serve as a file (`save`, `load`, with `std`) and as a
//! blob compiled into a program without a heap (`include_bytes!` + [`decode_into`]).
//!
//! The format (all integers little-endian):
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `TYPENET\0` |
//! | 4 | format version, `u32`: 1 or 2 |
//! | 4 | bytes per scalar, `u32`: 4 (`f32`) or 8 (`f64`) |
//! | 4 | length `L` of the signature, `u32` |
//! | `L` | the network's type signature, UTF-8 (`Dense<784, 100, f32>, Relu, …`) |
//! | 8 | number of parameters `P`, `u64` |
//! | `P` × 4 or 8 | the parameters, in [`Params::tensors`] order (each tensor column-major) |
//! | 8 | version 2 only: number of buffer values `B`, `u64` |
//! | `B` × 4 or 8 | version 2 only: the buffers (batch norm's running mean and variance), in [`Params::buffers`] order |
//! | 8 | FNV-1a 64 checksum of every byte before it |
//!
//! Version 2 is version 1 with the buffers added after the parameters. A network without
//! buffers (no batch norm) is written as version 1, byte for byte what typenet wrote before
//! buffers were saved, so its files read in every typenet; a network with buffers is written
//! as version 2. Both versions are read. A version-1 file has no buffers: it loads into a
//! network without them, and into a network with them it is an error
//! ([`BlobError::BufferMismatch`]) rather than a network with running statistics made up.
//!
//! Without `std` or `alloc`: [`encoded_len`] and [`encode_into`] write the format into a byte
//! slice, and [`decode_into`] checks a byte slice (magic, version, scalar, signature, length,
//! checksum) before it writes a single parameter.
//!
//! ```
//! use typenet::prelude::*;
//! use typenet::model_file::{decode_into, encode_into, encoded_len, BlobError};
//! type Net = net![Dense<2, 3>, Tanh, Dense<3, 1>];
//! let mut net = Net::zeros();
//! net.head.b[1] = 0.5;
//! let mut buf = [0u8; 256];
//! let n = encode_into(&net, &mut buf).unwrap();
//! assert_eq!(n, encoded_len(&net));
//! // in firmware: static BLOB: &[u8] = include_bytes!("net.typenet");
//! let mut loaded = Net::zeros();
//! decode_into(&mut loaded, &buf[..n]).unwrap();
//! assert_eq!(loaded, net);
//! let mut other = <net![Dense<2, 4>, Tanh, Dense<4, 1>]>::zeros();
//! assert_eq!(decode_into(&mut other, &buf[..n]), Err(BlobError::SignatureMismatch));
//! ```

use core::fmt;

use crate::core::{Float, Params, TensorInfo};

const MAGIC: &[u8; 8] = b"TYPENET\0";
/// The newest format version, which this crate writes for a network with buffers (a network
/// without them is written as version 1, which it is); it reads every version from 1 to this.
pub const FORMAT_VERSION: u32 = 2;
/// The format version of a file without buffers.
const VERSION_WITHOUT_BUFFERS: u32 = 1;

/// Why bytes could not be decoded into a network (or a network encoded into a buffer). Needs
/// neither `std` nor a heap; decoding never changes the network unless it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// The data does not start with `TYPENET\0`.
    BadMagic,
    /// A format version this crate does not know.
    UnsupportedVersion(u32),
    /// The data ends before the header or the parameters it announces.
    Truncated,
    /// The data goes on after the checksum.
    TrailingBytes,
    /// The checksum does not match: the data was damaged.
    Corrupt,
    /// The data holds parameters of another network type or scalar.
    SignatureMismatch,
    /// The data holds another number of buffer values (running statistics) than the network
    /// of its signature has: a file of format version 1, written before buffers were saved,
    /// for a network with batch norm (`found` is 0), or a file made by hand.
    BufferMismatch {
        /// The buffer values in the data.
        found: u64,
        /// The buffer values of the network.
        expected: u64,
    },
    /// The buffer given to [`encode_into`] is too small.
    BufferTooSmall {
        /// The bytes needed ([`encoded_len`]).
        needed: usize,
    },
    /// A parameter is NaN or infinite: a network holding one is not saved, and a file holding
    /// one is not loaded.
    NonFinite {
        /// The tensor it is in.
        tensor: TensorInfo,
        /// Its index in the tensor (column-major).
        index: usize,
    },
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlobError::BadMagic => write!(f, "not a typenet model file (bad magic number)"),
            BlobError::UnsupportedVersion(v) => write!(
                f,
                "model file format version {v} is not supported (this typenet reads versions \
                 {VERSION_WITHOUT_BUFFERS} to {FORMAT_VERSION})"
            ),
            BlobError::Truncated => write!(f, "model file is truncated"),
            BlobError::TrailingBytes => write!(f, "model file has unexpected bytes at its end"),
            BlobError::Corrupt => write!(f, "model file is corrupt (checksum mismatch)"),
            BlobError::SignatureMismatch => {
                write!(f, "model file holds a network of another type or scalar")
            }
            BlobError::BufferMismatch { found: 0, expected } => write!(
                f,
                "model file holds no buffers, and the network has {expected} buffer values \
                 (batch norm's running statistics): the file was written before typenet saved \
                 them (format version 1); save the trained network again"
            ),
            BlobError::BufferMismatch { found, expected } => write!(
                f,
                "model file holds {found} buffer values, and the network has {expected}"
            ),
            BlobError::BufferTooSmall { needed } => {
                write!(
                    f,
                    "the buffer is too small for the model file ({needed} bytes needed)"
                )
            }
            BlobError::NonFinite { tensor, index } => {
                let (row, col) = tensor.position(*index);
                write!(
                    f,
                    "parameter [{row}, {col}] of {tensor} is not finite (NaN or infinite): \
                     model files hold finite parameters only"
                )
            }
        }
    }
}

impl core::error::Error for BlobError {}

/// The length of the signature of `N`, in bytes.
fn signature_len<N: Params<T>, T: Float>() -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = N::write_signature(&mut c);
    c.0
}

/// The number of buffer values of `net`.
fn buffer_count<N: Params<T>, T: Float>(net: &N) -> usize {
    net.buffers().map(|t| t.data.len()).sum()
}

/// The number of bytes [`encode_into`] writes for `net`.
pub fn encoded_len<N: Params<T>, T: Float>(net: &N) -> usize {
    let size = core::mem::size_of::<T>();
    let buffers = match buffer_count(net) {
        0 => 0,
        b => 8 + b * size,
    };
    36 + signature_len::<N, T>() + net.param_count() * size + buffers
}

/// The first parameter or buffer value of `net` that is not finite, if any.
fn first_non_finite<N: Params<T>, T: Float>(net: &N) -> Option<BlobError> {
    net.tensors().chain(net.buffers()).find_map(|t| {
        let index = t.data.iter().position(|v| !v.is_finite())?;
        Some(BlobError::NonFinite {
            tensor: t.info,
            index,
        })
    })
}

/// Writes `net` in the model file format into the start of `buf` (version 1 for a network
/// without buffers, 2 for one with them); returns the number of bytes written,
/// [`BlobError::BufferTooSmall`], or [`BlobError::NonFinite`] for a network with a NaN or
/// infinite parameter or buffer value (nothing is written then).
pub fn encode_into<N: Params<T>, T: Float>(net: &N, buf: &mut [u8]) -> Result<usize, BlobError> {
    if let Some(e) = first_non_finite(net) {
        return Err(e);
    }
    let needed = encoded_len(net);
    if buf.len() < needed {
        return Err(BlobError::BufferTooSmall { needed });
    }
    struct Cursor<'a> {
        buf: &'a mut [u8],
        at: usize,
    }
    impl Cursor<'_> {
        fn put(&mut self, bytes: &[u8]) {
            self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
            self.at += bytes.len();
        }
    }
    impl fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.put(s.as_bytes());
            Ok(())
        }
    }
    let size = core::mem::size_of::<T>();
    let buffers = buffer_count(net);
    let version = match buffers {
        0 => VERSION_WITHOUT_BUFFERS,
        _ => FORMAT_VERSION,
    };
    let mut c = Cursor { buf, at: 0 };
    c.put(MAGIC);
    c.put(&version.to_le_bytes());
    c.put(&(size as u32).to_le_bytes());
    c.put(&(signature_len::<N, T>() as u32).to_le_bytes());
    N::write_signature(&mut c).map_err(|_| BlobError::BufferTooSmall { needed })?;
    c.put(&(net.param_count() as u64).to_le_bytes());
    let put_values = |c: &mut Cursor<'_>, t: crate::core::Tensor<'_, T>| {
        for &v in t.data {
            // the exact bits, NaN payloads included, little-endian, `size` bytes
            c.put(&v.to_raw_bits().to_le_bytes()[..size]);
        }
    };
    net.tensors().for_each(|t| put_values(&mut c, t));
    if buffers > 0 {
        c.put(&(buffers as u64).to_le_bytes());
        net.buffers().for_each(|t| put_values(&mut c, t));
    }
    let checksum = fnv1a(&c.buf[..c.at]);
    c.put(&checksum.to_le_bytes());
    Ok(c.at)
}

/// The parts of well-formed model-file bytes (magic, version, length and checksum checked).
struct Parsed<'a> {
    scalar_size: usize,
    signature: &'a [u8],
    count: u64,
    body: &'a [u8],
    /// The number of buffer values: 0 in a version-1 file.
    buffer_count: u64,
    buffers: &'a [u8],
}

/// The header of model-file bytes (magic, version, scalar size, signature, parameter count),
/// and a reader at the parameters.
fn parse_header(bytes: &[u8]) -> Result<(Parsed<'_>, Reader<'_>), BlobError> {
    let mut r = Reader {
        bytes,
        at: 0,
        buffers: false,
    };
    if r.take(8)? != MAGIC {
        return Err(BlobError::BadMagic);
    }
    let version = r.u32()?;
    if !(VERSION_WITHOUT_BUFFERS..=FORMAT_VERSION).contains(&version) {
        return Err(BlobError::UnsupportedVersion(version));
    }
    let scalar_size = r.u32()? as usize;
    let sig_len = r.u32()? as usize;
    let signature = r.take(sig_len)?;
    let count = r.u64()?;
    let header = Parsed {
        scalar_size,
        signature,
        count,
        body: &[],
        buffer_count: 0,
        buffers: &[],
    };
    Ok((header, r.with_buffers(version > VERSION_WITHOUT_BUFFERS)))
}

/// Whether a file with this header holds parameters for a network of type `N`.
fn header_fits<N: Params<T>, T: Float>(header: &Parsed<'_>, net: &N) -> bool {
    header.scalar_size == core::mem::size_of::<T>()
        && signature_is::<N, T>(header.signature)
        && header.count == net.param_count() as u64
}

fn parse(bytes: &[u8]) -> Result<Parsed<'_>, BlobError> {
    let (
        Parsed {
            scalar_size,
            signature,
            count,
            ..
        },
        mut r,
    ) = parse_header(bytes)?;
    let body = r.values(count, scalar_size)?;
    let (buffer_count, buffers) = if r.buffers {
        let n = r.u64()?;
        (n, r.values(n, scalar_size)?)
    } else {
        (0, &[][..])
    };
    let stored = r.u64()?;
    if r.at != bytes.len() {
        return Err(BlobError::TrailingBytes);
    }
    if fnv1a(&bytes[..bytes.len() - 8]) != stored {
        return Err(BlobError::Corrupt);
    }
    Ok(Parsed {
        scalar_size,
        signature,
        count,
        body,
        buffer_count,
        buffers,
    })
}

/// Whether `N`'s signature is exactly `bytes`, compared as it is written: no allocation.
fn signature_is<N: Params<T>, T: Float>(bytes: &[u8]) -> bool {
    struct Compare<'a> {
        rest: &'a [u8],
        same: bool,
    }
    impl fmt::Write for Compare<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            match self.rest.strip_prefix(s.as_bytes()) {
                Some(rest) => self.rest = rest,
                None => self.same = false,
            }
            Ok(())
        }
    }
    let mut c = Compare {
        rest: bytes,
        same: true,
    };
    N::write_signature(&mut c).is_ok() && c.same && c.rest.is_empty()
}

/// The values stored in `bytes`, `size_of::<T>()` little-endian bytes each.
fn values<T: Float>(bytes: &[u8]) -> impl Iterator<Item = T> + '_ {
    let size = core::mem::size_of::<T>();
    bytes.chunks_exact(size).map(move |b| {
        let mut a = [0u8; 8];
        a[..size].copy_from_slice(b);
        T::from_raw_bits(u64::from_le_bytes(a))
    })
}

/// Reads the parameters and buffers of `net` from model-file bytes (a file read into memory,
/// or a blob from `include_bytes!`). Everything is checked — magic, version, scalar,
/// signature, length, checksum, the number of buffer values, and that every value is finite —
/// before the first value is written, so on error `net` is unchanged. Needs neither `std` nor
/// a heap.
pub fn decode_into<N: Params<T>, T: Float>(net: &mut N, bytes: &[u8]) -> Result<(), BlobError> {
    let parsed = parse(bytes)?;
    if !header_fits(&parsed, net) {
        return Err(BlobError::SignatureMismatch);
    }
    let expected = buffer_count(net) as u64;
    if parsed.buffer_count != expected {
        return Err(BlobError::BufferMismatch {
            found: parsed.buffer_count,
            expected,
        });
    }
    // the parameters, then the buffers: the order of the file
    let stored = || values::<T>(parsed.body).chain(values::<T>(parsed.buffers));
    let mut all = stored();
    for t in net.tensors().chain(net.buffers()) {
        if let Some(index) = all.by_ref().take(t.data.len()).position(|v| !v.is_finite()) {
            return Err(BlobError::NonFinite {
                tensor: t.info,
                index,
            });
        }
    }
    let mut all = stored();
    for t in net.tensors_mut() {
        for (p, v) in t.data.iter_mut().zip(all.by_ref()) {
            *p = v;
        }
    }
    for t in net.buffers_mut() {
        for (p, v) in t.data.iter_mut().zip(all.by_ref()) {
            *p = v;
        }
    }
    Ok(())
}

/// Why a model file could not be read or written. Loading never changes the network unless
/// it succeeds.
#[cfg(feature = "std")]
#[derive(Debug)]
#[non_exhaustive]
pub enum ModelError {
    /// The file could not be read or written.
    Io(std::io::Error),
    /// The bytes are not a well-formed model file (bad magic, unknown version, truncated,
    /// trailing bytes, checksum mismatch).
    Format(BlobError),
    /// The file holds parameters of another network type, or another scalar.
    SignatureMismatch {
        /// The signature recorded in the file.
        file: String,
        /// The signature of the network it was loaded into.
        expected: String,
    },
    /// The file is longer than a model file of the network it is loaded into (whose length
    /// its type fixes): only that much, and one byte more, was read.
    TooLarge {
        /// The length of a model file of the network.
        expected: usize,
    },
}

#[cfg(feature = "std")]
impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Io(e) => write!(f, "{e}"),
            ModelError::Format(e) => write!(f, "{e}"),
            ModelError::SignatureMismatch { file, expected } => write!(
                f,
                "model file holds a network of type [{file}], not [{expected}]"
            ),
            ModelError::TooLarge { expected } => write!(
                f,
                "the file is longer than a model file of this network ({expected} bytes): \
                 not a model file of it"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ModelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ModelError::Io(e) => Some(e),
            ModelError::Format(e) => Some(e),
            ModelError::SignatureMismatch { .. } | ModelError::TooLarge { .. } => None,
        }
    }
}

#[cfg(feature = "std")]
impl ModelError {
    /// The error of decoding `bytes` into a network of type `N`, with both signatures spelt
    /// out when they differ.
    fn of<N: Params<T>, T: Float>(e: BlobError, bytes: &[u8]) -> Self {
        match e {
            BlobError::SignatureMismatch => {
                let (parsed, _) =
                    parse_header(bytes).expect("a signature mismatch is found after parsing");
                let mut file = String::from_utf8_lossy(parsed.signature).into_owned();
                if parsed.scalar_size != core::mem::size_of::<T>() {
                    file = format!("{file} ({}-byte scalars)", parsed.scalar_size);
                }
                ModelError::SignatureMismatch {
                    file,
                    expected: signature::<N, T>(),
                }
            }
            e => ModelError::Format(e),
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
#[cfg(feature = "alloc")]
pub fn signature<N: Params<T>, T: Float>() -> alloc::string::String {
    let mut s = alloc::string::String::new();
    N::write_signature(&mut s).expect("writing to a String cannot fail");
    s
}

/// The model file of `net`, as bytes, or [`BlobError::NonFinite`] if a parameter is NaN or
/// infinite.
#[cfg(feature = "alloc")]
pub fn to_bytes<N: Params<T>, T: Float>(net: &N) -> Result<alloc::vec::Vec<u8>, BlobError> {
    let mut out = alloc::vec![0u8; encoded_len(net)];
    let n = encode_into(net, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Reads the parameters of `net` from a model file's bytes, as [`decode_into`] does, with an
/// error that names both signatures when they differ. On error `net` is unchanged.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// use typenet::model_file::{from_bytes, to_bytes};
/// type Net = net![Dense<3, 4>, Tanh, Dense<4, 2>];
/// let net = Net::random(&mut StdRng::seed_from_u64(1));
/// let bytes = to_bytes(&net)?;
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
/// # Ok::<(), typenet::model_file::BlobError>(())
/// ```
#[cfg(feature = "std")]
pub fn from_bytes<N: Params<T>, T: Float>(net: &mut N, bytes: &[u8]) -> Result<(), ModelError> {
    decode_into(net, bytes).map_err(|e| ModelError::of::<N, T>(e, bytes))
}

/// Saves `net` to `path` atomically, so that whatever happens a reader finds the old model or
/// the new one, whole:
///
/// - the bytes go to a new file in the same directory, under a name no other save uses (this
///   process's id and a counter), created exclusively: a file or link already at that name is
///   never opened, let alone followed;
/// - the file is synced, renamed over `path`, and the directory synced;
/// - on any error the temporary file is removed and the old model is as it was.
///
/// Saving over a symbolic link replaces the link itself with the model file (its target is
/// left alone); saving over a read-only file replaces it (whether a file may be replaced is
/// the directory's to say, as for any atomic write). A network with a NaN or infinite
/// parameter is not saved: [`ModelError::Format`] with [`BlobError::NonFinite`] names it.
#[cfg(feature = "std")]
pub fn save<N: Params<T>, T: Float>(
    net: &N,
    path: impl AsRef<std::path::Path>,
) -> Result<(), ModelError> {
    let bytes = to_bytes(net).map_err(ModelError::Format)?;
    super::atomic_file::write_atomically(path.as_ref(), |file| {
        std::io::Write::write_all(file, &bytes)
    })
    .map_err(ModelError::Io)
}

/// Whether [`save`] could write a model at `path`: its directory exists and takes a new file
/// (one is made and removed at once). A training program calls it before it trains, so as
/// not to learn after hours that its model has nowhere to go.
///
/// ```
/// let dir = std::env::temp_dir();
/// assert!(typenet::model_file::check_save_path(dir.join("model.typenet")).is_ok());
/// assert!(typenet::model_file::check_save_path("/no/such/directory/model.typenet").is_err());
/// ```
#[cfg(feature = "std")]
pub fn check_save_path(path: impl AsRef<std::path::Path>) -> Result<(), ModelError> {
    super::atomic_file::check_writable(path.as_ref()).map_err(ModelError::Io)
}

/// Loads the parameters of `net` from the model file at `path`; on error `net` is unchanged.
///
/// The length of a model file is fixed by the network's type ([`encoded_len`]): at most that
/// and one more byte is read, and what is not a regular file (a device such as `/dev/zero`, a
/// named pipe, a directory) is refused before it is opened, so loading never waits or fills
/// memory on what is not a model file.
#[cfg(feature = "std")]
pub fn load<N: Params<T>, T: Float>(
    net: &mut N,
    path: impl AsRef<std::path::Path>,
) -> Result<(), ModelError> {
    let expected = encoded_len(net);
    let bytes =
        super::atomic_file::read_bounded(path.as_ref(), expected as u64).map_err(ModelError::Io)?;
    if bytes.len() > expected {
        // a model of another network is the likelier reason, and the clearer one to give
        if let Ok((header, _)) = parse_header(&bytes)
            && !header_fits(&header, net)
        {
            return Err(ModelError::of::<N, T>(BlobError::SignatureMismatch, &bytes));
        }
        return Err(ModelError::TooLarge { expected });
    }
    from_bytes(net, &bytes)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// Whether the file has the buffer section (format version 2).
    buffers: bool,
}

impl<'a> Reader<'a> {
    fn with_buffers(self, buffers: bool) -> Self {
        Reader { buffers, ..self }
    }

    /// The bytes of `count` values of `size` bytes.
    fn values(&mut self, count: u64, size: usize) -> Result<&'a [u8], BlobError> {
        let len = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(size))
            .ok_or(BlobError::Truncated)?;
        self.take(len)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BlobError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(BlobError::Truncated)?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, BlobError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, BlobError> {
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
