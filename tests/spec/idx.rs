//! Reading IDX files: the real shipped digits, and every kind of damaged copy, which must be
//! a clear error naming the file and the problem — never a panic.

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use typenet::data::{DataProblem, Dataset, load_images, load_labels, read_images, read_labels};

const IMAGES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k/images-idx3-ubyte.gz"
);
const LABELS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/mnist-10k/labels-idx1-ubyte.gz"
);

/// An IDX file of unsigned bytes with the given dimensions and data.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn the_shipped_digits_read_with_the_documented_shape_and_class_counts() {
    let images = load_images(IMAGES).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (10_000, 28, 28));
    assert_eq!(images.pixels.len(), 10_000 * 784);
    let labels = load_labels(LABELS).unwrap();
    let mut counts = [0usize; 10];
    for &l in &labels {
        counts[usize::from(l)] += 1;
    }
    // data/README.md
    assert_eq!(
        counts,
        [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    );
    let data = Dataset::load(IMAGES, LABELS).unwrap();
    data.check_labels(10).unwrap();
    assert!(data.check_labels(9).is_err());
}

#[test]
fn raw_and_gzip_compressed_files_read_the_same() {
    let file = idx(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    let raw = read_images(&file[..], "raw").unwrap();
    let gz = read_images(&gzip(&file)[..], "gz").unwrap();
    assert_eq!(raw, gz);
    assert_eq!((raw.count, raw.rows, raw.cols), (2, 2, 3));
}

/// Reads `bytes` as an image file, expecting an error; returns the problem and checks that
/// the message names the file.
fn image_problem(bytes: &[u8]) -> DataProblem {
    let err = read_images(bytes, "damaged.idx").unwrap_err();
    assert_eq!(err.file, "damaged.idx");
    assert!(err.to_string().starts_with("damaged.idx: "), "{err}");
    err.problem
}

#[test]
fn a_wrong_magic_number_is_refused() {
    let mut file = idx(&[1, 1, 1], &[0]);
    file[2] = 0x0d; // IDX of f32, not of bytes
    assert!(matches!(
        image_problem(&file),
        DataProblem::BadMagic {
            found: [0, 0, 0x0d, 3]
        }
    ));
    assert!(matches!(
        image_problem(b"GIF89a......"),
        DataProblem::BadMagic { .. }
    ));
}

#[test]
fn a_label_file_is_not_an_image_file_and_back() {
    let labels = idx(&[3], &[1, 2, 3]);
    assert!(matches!(
        image_problem(&labels),
        DataProblem::WrongRank {
            expected: 3,
            found: 1
        }
    ));
    let images = idx(&[1, 1, 1], &[0]);
    let err = read_labels(&images[..], "images-as-labels").unwrap_err();
    assert!(matches!(
        err.problem,
        DataProblem::WrongRank {
            expected: 1,
            found: 3
        }
    ));
}

#[test]
fn truncated_files_are_refused_in_the_header_and_in_the_data() {
    let file = idx(&[2, 2, 2], &[7; 8]);
    assert!(matches!(
        image_problem(&file[..6]),
        DataProblem::TruncatedHeader
    ));
    assert!(matches!(image_problem(&[]), DataProblem::TruncatedHeader));
    assert!(matches!(
        image_problem(&file[..file.len() - 3]),
        DataProblem::Truncated {
            expected: 8,
            found: 5
        }
    ));
    // and when compressed
    let gz = gzip(&file[..file.len() - 1]);
    assert!(matches!(
        image_problem(&gz),
        DataProblem::Truncated {
            expected: 8,
            found: 7
        }
    ));
    // a gzip stream cut short is an I/O error, still named
    let gz = gzip(&file);
    assert!(matches!(
        image_problem(&gz[..gz.len() / 2]),
        DataProblem::Io(_) | DataProblem::Truncated { .. } | DataProblem::TruncatedHeader
    ));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut file = idx(&[1, 2, 2], &[1, 2, 3, 4]);
    file.push(0);
    assert!(matches!(
        image_problem(&file),
        DataProblem::TrailingBytes { expected: 4 }
    ));
}

#[test]
fn huge_dimensions_are_refused_before_anything_is_allocated() {
    // 2^32-1 cubed overflows u64
    let file = idx(&[u32::MAX, u32::MAX, u32::MAX], &[]);
    assert!(matches!(image_problem(&file), DataProblem::TooLarge { .. }));
    // (2^32 - 1) x 2^16 x 2^16 bytes fits a u64 but no address space
    let file = idx(&[u32::MAX, 65_536, 65_536], &[]);
    assert!(matches!(image_problem(&file), DataProblem::TooLarge { .. }));
    // a plausible claim of 60,000 images with 10 bytes of data: truncated, and the reader
    // allocated only for the 10 bytes (see tests/idx_allocation.rs)
    let file = idx(&[60_000, 28, 28], &[0; 10]);
    assert!(matches!(
        image_problem(&file),
        DataProblem::Truncated {
            expected: 47_040_000,
            found: 10
        }
    ));
}

#[test]
fn images_and_labels_that_disagree_in_count_are_refused() {
    let images = read_images(&idx(&[3, 1, 2], &[0; 6])[..], "i").unwrap();
    let err = Dataset::from_idx("pair", images, vec![0, 1]).unwrap_err();
    assert!(matches!(
        err.problem,
        DataProblem::CountMismatch {
            images: 3,
            labels: 2
        }
    ));
    assert_eq!(
        err.to_string(),
        "pair: 3 images but 2 labels: the files do not describe the same samples"
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = load_images("/no/such/dir/train-images-idx3-ubyte").unwrap_err();
    assert_eq!(err.file, "/no/such/dir/train-images-idx3-ubyte");
    assert!(matches!(err.problem, DataProblem::Io(_)));
}

#[test]
fn a_gzip_file_that_declares_more_than_the_limit_is_refused_before_its_data_is_read() {
    use typenet::data::IdxReader;
    // 13 bytes of header that declare 3 GB of images, and a little compressed data: a
    // decompression bomb needs only to hold what it declares; the limit stops it at the header
    let bomb = gzip(&idx(&[3_000_000, 1000, 1], &[0; 4096]));
    let err = read_images(&bomb[..], "bomb.gz").unwrap_err();
    assert!(
        matches!(
            err.problem,
            DataProblem::OverLimit {
                declared: 3_000_000_000,
                limit: IdxReader::DEFAULT_LIMIT
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("IdxReader::new().limit("), "{err}");
    // the limit is the caller's: a small one refuses the shipped digits' 7.8 MB...
    let small = IdxReader::new().limit(1_000_000);
    let err = small.load_images(IMAGES).unwrap_err();
    assert!(matches!(
        err.problem,
        DataProblem::OverLimit {
            declared: 7_840_000,
            ..
        }
    ));
    // ...and a data set that really is larger than the default reads with a larger one
    let file = idx(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);
    let exact = IdxReader::new()
        .limit(8)
        .read_images(&file[..], "eight")
        .unwrap();
    assert_eq!(exact.pixels, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(
        IdxReader::new()
            .limit(7)
            .read_images(&file[..], "eight")
            .is_err()
    );
}

#[test]
fn a_gzip_file_of_several_members_reads_in_full() {
    // `cat header.gz data.gz`: two members, one stream
    let file = idx(&[3, 2, 2], &(0..12).collect::<Vec<u8>>());
    let mut two = gzip(&file[..10]);
    two.extend(gzip(&file[10..]));
    let images = read_images(&two[..], "two-members.gz").unwrap();
    assert_eq!(images.pixels, (0..12).collect::<Vec<u8>>());
    let mut three = gzip(&file[..4]);
    three.extend(gzip(&file[4..20]));
    three.extend(gzip(&file[20..]));
    assert_eq!(read_images(&three[..], "three.gz").unwrap(), images);
}

#[test]
fn garbage_after_the_gzip_data_is_an_error() {
    let file = idx(&[2], &[3, 4]);
    let mut bytes = gzip(&file);
    bytes.extend_from_slice(b"trailing garbage");
    let err = read_labels(&bytes[..], "garbage.gz").unwrap_err();
    assert!(matches!(err.problem, DataProblem::Io(_)), "{err}");
    assert!(err.to_string().starts_with("garbage.gz: "), "{err}");
}
