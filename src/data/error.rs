//! What can be wrong with a data file or a data set.

use std::fmt;

/// A data file that cannot be read, or a data set that cannot be used as asked. It names the
/// file (or `<reader>` for data that came from a reader without a name) and what is wrong.
///
/// ```
/// use typenet::data::{read_labels, DataProblem};
/// let err = read_labels(&[0u8, 0, 8, 3][..], "labels.idx").unwrap_err();
/// assert_eq!(err.file, "labels.idx");
/// assert!(matches!(err.problem, DataProblem::WrongRank { expected: 1, found: 3 }));
/// assert_eq!(err.to_string(), "labels.idx: an IDX file of rank 1 was expected, this one has rank 3");
/// ```
#[derive(Debug)]
pub struct DataError {
    /// The file (or data set) concerned.
    pub file: String,
    /// What is wrong with it.
    pub problem: DataProblem,
}

/// What is wrong, in a [`DataError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum DataProblem {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The first two bytes of an IDX file must be zero and the third `0x08` (unsigned bytes).
    BadMagic {
        /// The first four bytes found.
        found: [u8; 4],
    },
    /// The IDX file has the wrong number of dimensions.
    WrongRank {
        /// 3 for images, 1 for labels.
        expected: u8,
        /// What the header says.
        found: u8,
    },
    /// The header's dimensions multiply to more than can be addressed.
    TooLarge {
        /// The dimensions in the header.
        dims: Vec<u32>,
    },
    /// The header declares more data than the reader's limit allows
    /// ([`IdxReader::limit`](super::IdxReader::limit)).
    OverLimit {
        /// Bytes of data the header declares.
        declared: u64,
        /// The limit.
        limit: u64,
    },
    /// The file ends inside its header.
    TruncatedHeader,
    /// The data ends before the header's dimensions say it should.
    Truncated {
        /// Bytes the header promises after itself.
        expected: u64,
        /// Bytes actually there.
        found: u64,
    },
    /// There are bytes after the data the header describes.
    TrailingBytes {
        /// Bytes the header promises after itself.
        expected: u64,
    },
    /// An image file and a label file that should describe the same samples do not.
    CountMismatch {
        /// Number of images.
        images: usize,
        /// Number of labels.
        labels: usize,
    },
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// Index of the sample.
        index: usize,
        /// Its label.
        label: u8,
        /// The number of classes.
        classes: usize,
    },
    /// Samples of one width were asked for, the data set has another.
    WrongWidth {
        /// The width asked for (a network's input width).
        expected: usize,
        /// The data set's width.
        found: usize,
    },
    /// Images of one shape were asked for ([`Dataset::images`](super::Dataset::images)), and
    /// the data set's samples do not have it: another number of values, or, for a data set
    /// read from an image file, other rows and columns.
    WrongImageShape {
        /// The channels, rows and columns asked for.
        expected: [usize; 3],
        /// Values per sample in the data set.
        width: usize,
        /// Rows and columns of the data set's images, where its file said
        /// ([`Dataset::image_sides`](super::Dataset::image_sides)).
        sides: Option<(usize, usize)>,
    },
    /// A ratio, size or count argument is out of range.
    InvalidArgument(&'static str),
}

impl DataError {
    pub(crate) fn new(file: impl Into<String>, problem: DataProblem) -> Self {
        DataError {
            file: file.into(),
            problem,
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        match &self.problem {
            DataProblem::Io(e) => write!(f, "{e}"),
            DataProblem::BadMagic { found } => write!(
                f,
                "not an IDX file of unsigned bytes: it starts with {found:02x?}, \
                 expected [00, 00, 08, rank]"
            ),
            DataProblem::WrongRank { expected, found } => write!(
                f,
                "an IDX file of rank {expected} was expected, this one has rank {found}"
            ),
            DataProblem::TooLarge { dims } => write!(
                f,
                "the dimensions {dims:?} in the header describe more data than can be addressed"
            ),
            DataProblem::OverLimit { declared, limit } => write!(
                f,
                "the header declares {declared} bytes of data, more than the limit of {limit} \
                 bytes (the default covers every data set of the MNIST family); to read it, \
                 raise the limit with `IdxReader::new().limit(bytes)`"
            ),
            DataProblem::TruncatedHeader => write!(f, "truncated: the file ends inside its header"),
            DataProblem::Truncated { expected, found } => write!(
                f,
                "truncated: the header promises {expected} bytes of data, the file has {found}"
            ),
            DataProblem::TrailingBytes { expected } => write!(
                f,
                "unexpected bytes after the {expected} bytes of data the header promises"
            ),
            DataProblem::CountMismatch { images, labels } => write!(
                f,
                "{images} images but {labels} labels: the files do not describe the same samples"
            ),
            DataProblem::LabelOutOfRange {
                index,
                label,
                classes,
            } => write!(
                f,
                "sample {index} has label {label}, outside the {classes} classes 0..{classes}"
            ),
            DataProblem::WrongWidth { expected, found } => write!(
                f,
                "samples of width {expected} were asked for, the data has width {found}"
            ),
            DataProblem::WrongImageShape {
                expected: [c, h, w],
                width,
                sides,
            } => {
                let volume = c * h * w;
                write!(
                    f,
                    "images of {c} x {h} x {w} ({volume} values) were asked for, the samples "
                )?;
                match sides {
                    Some((rows, cols)) => {
                        write!(f, "are images of {rows} x {cols} ({width} values)")
                    }
                    None => write!(f, "have {width} values"),
                }
            }
            DataProblem::InvalidArgument(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            DataProblem::Io(e) => Some(e),
            _ => None,
        }
    }
}
