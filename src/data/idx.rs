//! Reading the IDX files of the MNIST family, raw or gzip-compressed.
//!
//! An IDX file is a header — two zero bytes, a type byte (`0x08`: unsigned bytes), the rank,
//! then one big-endian `u32` per dimension — followed by the data, row-major, nothing after.
//! Images have rank 3 (count × rows × columns; magic `0x00000803`), labels rank 1 (count;
//! magic `0x00000801`).
//!
//! Every check is made before the data is trusted: the magic and rank, dimensions whose
//! product overflows or exceeds a limit ([`IdxReader::limit`], 1 GiB by default), data that
//! ends early and bytes left over. Nothing is allocated for what the header *claims*, only for
//! what the input actually holds, so a corrupt header cannot make the reader ask for
//! gigabytes; and a small gzip file that really holds gigabytes (a decompression bomb) is
//! refused by the limit before its data is read.
//!
//! A gzip file may hold several members (what `cat a.gz b.gz` makes): all are read, as one
//! stream. Bytes after the last member that are not another member are an error.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::{DataError, DataProblem};

/// A reader of IDX files with a limit on the data a header may declare: what the free
/// functions ([`read_images`], [`load_images`], …) and [`Dataset::load`](super::Dataset::load)
/// use with the default limit.
///
/// ```
/// use typenet::data::{DataProblem, IdxReader};
/// // a header that declares 60,000 images of 28 x 28: 47 MB, within the default limit
/// let header = [0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28];
/// let err = IdxReader::new().limit(1 << 20).read_images(&header[..], "big").unwrap_err();
/// assert!(matches!(err.problem, DataProblem::OverLimit { declared: 47_040_000, .. }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdxReader {
    limit: u64,
}

impl IdxReader {
    /// The default limit on the bytes of data a header may declare: 1 GiB. The largest data
    /// set of the MNIST family, EMNIST ByClass, holds 697,932 training images of 784 bytes
    /// (547 MB).
    pub const DEFAULT_LIMIT: u64 = 1 << 30;

    /// A reader with the default limit.
    pub fn new() -> Self {
        IdxReader {
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// The same reader with another limit on the bytes of data a header may declare: a file
    /// that declares more is refused with [`DataProblem::OverLimit`] before its data is read.
    pub fn limit(self, bytes: u64) -> Self {
        IdxReader { limit: bytes }
    }

    /// Reads an IDX image file (rank 3) from `reader`, raw or gzip-compressed (detected by its
    /// first bytes). `name` is used in error messages.
    pub fn read_images<R: Read>(&self, reader: R, name: &str) -> Result<Images, DataError> {
        let (dims, pixels) = read_idx(reader, name, 3, self.limit)?;
        Ok(Images {
            count: dims[0] as usize,
            rows: dims[1] as usize,
            cols: dims[2] as usize,
            pixels,
        })
    }

    /// Reads an IDX label file (rank 1) from `reader`, raw or gzip-compressed.
    pub fn read_labels<R: Read>(&self, reader: R, name: &str) -> Result<Vec<u8>, DataError> {
        read_idx(reader, name, 1, self.limit).map(|(_, labels)| labels)
    }

    /// Reads an IDX image file from `path`, raw or gzip-compressed.
    pub fn load_images(&self, path: impl AsRef<Path>) -> Result<Images, DataError> {
        let path = path.as_ref();
        self.read_images(open(path)?, &path.display().to_string())
    }

    /// Reads an IDX label file from `path`, raw or gzip-compressed.
    pub fn load_labels(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
        let path = path.as_ref();
        self.read_labels(open(path)?, &path.display().to_string())
    }
}

impl Default for IdxReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Images read from an IDX file: `count` images of `rows × cols` grey levels (0–255), stored
/// one after another, each row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Rows of each image.
    pub rows: usize,
    /// Columns of each image.
    pub cols: usize,
    /// `count × rows × cols` bytes.
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels per image (`rows × cols`).
    pub fn width(&self) -> usize {
        self.rows * self.cols
    }
}

/// Reads an IDX image file (rank 3) from `reader`, raw or gzip-compressed (detected by its
/// first bytes), with the default limit ([`IdxReader`]). `name` is used in error messages.
///
/// ```
/// use typenet::data::read_images;
/// let mut file = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
/// file.extend([10, 20, 30, 40]);
/// let images = read_images(&file[..], "tiny").unwrap();
/// assert_eq!((images.count, images.rows, images.cols), (2, 1, 2));
/// assert_eq!(images.pixels, [10, 20, 30, 40]);
/// ```
pub fn read_images<R: Read>(reader: R, name: &str) -> Result<Images, DataError> {
    IdxReader::new().read_images(reader, name)
}

/// Reads an IDX label file (rank 1) from `reader`, raw or gzip-compressed, with the default
/// limit. `name` is used in error messages.
pub fn read_labels<R: Read>(reader: R, name: &str) -> Result<Vec<u8>, DataError> {
    IdxReader::new().read_labels(reader, name)
}

/// Reads an IDX image file from `path`, raw or gzip-compressed, with the default limit.
pub fn load_images(path: impl AsRef<Path>) -> Result<Images, DataError> {
    IdxReader::new().load_images(path)
}

/// Reads an IDX label file from `path`, raw or gzip-compressed, with the default limit.
pub fn load_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    IdxReader::new().load_labels(path)
}

fn open(path: &Path) -> Result<File, DataError> {
    File::open(path).map_err(|e| DataError::new(path.display().to_string(), DataProblem::Io(e)))
}

/// Reads a whole IDX file of unsigned bytes with the given rank, declaring at most `limit` bytes
/// of data: its dimensions and its data.
fn read_idx<R: Read>(
    reader: R,
    name: &str,
    rank: u8,
    limit: u64,
) -> Result<(Vec<u32>, Vec<u8>), DataError> {
    let err = |problem| DataError::new(name, problem);
    let io = |e| err(DataProblem::Io(e));
    let mut reader = BufReader::new(reader);
    let gzip = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read + '_> = if gzip {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };

    let mut magic = [0u8; 4];
    read_header(&mut reader, &mut magic, name)?;
    if magic[..3] != [0, 0, 8] {
        return Err(err(DataProblem::BadMagic { found: magic }));
    }
    if magic[3] != rank {
        return Err(err(DataProblem::WrongRank {
            expected: rank,
            found: magic[3],
        }));
    }
    let mut dims = Vec::with_capacity(rank as usize);
    for _ in 0..rank {
        let mut d = [0u8; 4];
        read_header(&mut reader, &mut d, name)?;
        dims.push(u32::from_be_bytes(d));
    }
    let expected = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)))
        .filter(|&n| usize::try_from(n).is_ok_and(|n| n <= isize::MAX as usize))
        .ok_or_else(|| err(DataProblem::TooLarge { dims: dims.clone() }))?;
    if expected > limit {
        return Err(err(DataProblem::OverLimit {
            declared: expected,
            limit,
        }));
    }

    // Read at most one byte more than promised: enough to see trailing data, and never more
    // memory than the input actually holds.
    let mut data = Vec::new();
    reader
        .by_ref()
        .take(expected + 1)
        .read_to_end(&mut data)
        .map_err(io)?;
    let found = data.len() as u64;
    if found < expected {
        return Err(err(DataProblem::Truncated { expected, found }));
    }
    if found > expected {
        return Err(err(DataProblem::TrailingBytes { expected }));
    }
    Ok((dims, data))
}

/// Fills `buf` from the header, calling a short read a truncated header.
fn read_header(reader: &mut impl Read, buf: &mut [u8], name: &str) -> Result<(), DataError> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            DataError::new(name, DataProblem::TruncatedHeader)
        } else {
            DataError::new(name, DataProblem::Io(e))
        }
    })
}
