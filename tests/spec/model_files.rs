//! Model files: round trips in f32 and f64, refusal of another network type or scalar, and of
//! damaged files — and a refused load never touches the network.

use rand::{SeedableRng, rngs::StdRng};
use typenet::model_file::{self, BlobError, ModelError, from_bytes, signature, to_bytes};
use typenet::prelude::*;

use crate::support::TempDir;

type Net32 = net![Dense<5, 7>, Tanh, Dense<7, 3>, Softmax];
type Net64 = net![Dense<5, 7, f64>, Tanh, Dense<7, 3, f64>, Softmax];

#[test]
fn a_network_round_trips_through_a_file_in_f32_and_f64() {
    let mut rng = StdRng::seed_from_u64(11);
    let net = Net32::random(&mut rng);
    let dir = TempDir::new("round-trip");
    let path = dir.join("net32.typenet");
    model_file::save(&net, &path).unwrap();
    let mut loaded = Net32::zeros();
    model_file::load(&mut loaded, &path).unwrap();
    assert_eq!(loaded, net);

    let net = Net64::random(&mut rng);
    let path = dir.join("net64.typenet");
    model_file::save(&net, &path).unwrap();
    let mut loaded = Net64::zeros();
    model_file::load(&mut loaded, &path).unwrap();
    assert_eq!(loaded, net);
}

#[test]
fn saving_leaves_no_temporary_file_behind_and_replaces_an_old_file_whole() {
    let dir = TempDir::new("replace");
    let path = dir.join("replace.typenet");
    let mut rng = StdRng::seed_from_u64(1);
    model_file::save(&Net32::random(&mut rng), &path).unwrap();
    let second = Net32::random(&mut rng);
    model_file::save(&second, &path).unwrap();
    let mut loaded = Net32::zeros();
    model_file::load(&mut loaded, &path).unwrap();
    assert_eq!(loaded, second);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_header_records_version_scalar_and_signature() {
    let net = Net64::zeros();
    let bytes = to_bytes(&net).unwrap();
    assert_eq!(&bytes[..8], b"TYPENET\0");
    assert_eq!(
        u32::from_le_bytes(bytes[8..12].try_into().unwrap()),
        model_file::FORMAT_VERSION
    );
    assert_eq!(u32::from_le_bytes(bytes[12..16].try_into().unwrap()), 8);
    let sig = signature::<Net64, f64>();
    assert_eq!(sig, "Dense<5, 7, f64>, Tanh, Dense<7, 3, f64>, Softmax");
    let len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    assert_eq!(&bytes[20..20 + len], sig.as_bytes());
    let params = 5 * 7 + 7 + 7 * 3 + 3;
    assert_eq!(bytes.len(), 20 + len + 8 + params * 8 + 8);
}

#[test]
fn loading_into_another_network_type_names_both_signatures_and_changes_nothing() {
    let bytes = to_bytes(&Net32::random(&mut StdRng::seed_from_u64(2))).unwrap();
    let mut other =
        <net![Dense<5, 7>, Relu, Dense<7, 3>, Softmax]>::random(&mut StdRng::seed_from_u64(3));
    let before = other.clone();
    let err = from_bytes(&mut other, &bytes).unwrap_err();
    match &err {
        ModelError::SignatureMismatch { file, expected } => {
            assert_eq!(file, "Dense<5, 7, f32>, Tanh, Dense<7, 3, f32>, Softmax");
            assert_eq!(
                expected,
                "Dense<5, 7, f32>, Relu, Dense<7, 3, f32>, Softmax"
            );
        }
        e => panic!("wrong error {e}"),
    }
    assert!(err.to_string().contains("Tanh") && err.to_string().contains("Relu"));
    assert_eq!(other, before);
}

#[test]
fn an_f32_file_does_not_load_into_an_f64_network() {
    let bytes = to_bytes(&Net32::random(&mut StdRng::seed_from_u64(4))).unwrap();
    let mut net = Net64::zeros();
    assert!(matches!(
        from_bytes(&mut net, &bytes),
        Err(ModelError::SignatureMismatch { .. })
    ));
    assert_eq!(net, Net64::zeros());
}

#[test]
fn truncated_corrupt_and_foreign_files_are_errors_and_change_nothing() {
    let original = Net32::random(&mut StdRng::seed_from_u64(5));
    let bytes = to_bytes(&original).unwrap();
    let mut net = Net32::random(&mut StdRng::seed_from_u64(6));
    let before = net.clone();

    // every possible truncation
    for len in 0..bytes.len() {
        let err = from_bytes(&mut net, &bytes[..len]).unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::Format(BlobError::Truncated | BlobError::BadMagic | BlobError::Corrupt)
            ),
            "cut at {len}: {err}"
        );
    }
    // a flipped bit anywhere
    for i in (0..bytes.len()).step_by(7) {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x10;
        assert!(
            from_bytes(&mut net, &damaged).is_err(),
            "bit flip at {i} accepted"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        from_bytes(&mut net, &longer),
        Err(ModelError::Format(BlobError::TrailingBytes))
    ));
    assert!(matches!(
        from_bytes(&mut net, b"PK\x03\x04 not a model"),
        Err(ModelError::Format(BlobError::BadMagic))
    ));
    let mut future = bytes.clone();
    future[8] = 2;
    assert!(matches!(
        from_bytes(&mut net, &future),
        Err(ModelError::Format(BlobError::UnsupportedVersion(2)))
    ));
    assert_eq!(net, before, "a refused load changed the network");

    // and the intact file still loads
    from_bytes(&mut net, &bytes).unwrap();
    assert_eq!(net, original);
}

#[test]
fn a_missing_file_is_an_io_error() {
    let mut net = Net32::zeros();
    assert!(matches!(
        model_file::load(&mut net, "/no/such/file.typenet"),
        Err(ModelError::Io(_))
    ));
}
