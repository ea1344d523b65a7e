//! Model files: round trips in f32 and f64, convolutional networks with batch norm's running
//! statistics (the buffers, format version 2), files of the first format version, refusal of
//! another network type or scalar, and of damaged files — and a refused load never touches the
//! network.

use rand::{SeedableRng, rngs::StdRng};
use typenet::model_file::{self, BlobError, ModelError, from_bytes, signature, to_bytes};
use typenet::prelude::*;
use typenet::{Role, TensorInfo};

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
    // a network without buffers: version 1, as before buffers were saved
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 1);
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
    for version in [0, 3, 0x0100] {
        let mut future = bytes.clone();
        future[8..12].copy_from_slice(&u32::to_le_bytes(version));
        assert!(matches!(
            from_bytes(&mut net, &future),
            Err(ModelError::Format(BlobError::UnsupportedVersion(v))) if v == version
        ));
    }
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

/// A small convolutional network with batch norm (two of them, so that the buffers of more than
/// one layer are in order).
type Cnn = net![
    Conv2d<1, 6, 5>, BatchNorm2d<6>, Relu, MaxPool2d<2>,
    Conv2d<6, 4, 3, 1, 1>, BatchNorm2d<4>, Relu, Dropout<10>,
    Flatten, Dense<64, 3>,
];

/// [`Cnn`] from `seed`, trained for a few steps on a fixed batch so that its running statistics
/// are its own (neither the starting 0 and 1 nor equal across channels).
fn trained_cnn(seed: u64) -> Cnn {
    let mut net = Cnn::random(&mut StdRng::seed_from_u64(seed));
    let x = Image::<f32, 1, 12, 12, Const<3>>::from_fn_batch(Const, |i, _, y, x| {
        ((x * 3 + y * 5 + i * 7 + seed as usize) % 13) as f32 / 6.0 - 1.0
    });
    let y = SMatrix::<f32, 3, 3>::identity();
    let mut ctx = TrainContext::seeded(seed);
    for _ in 0..4 {
        net.train_step_in(&mut ctx, &mut Sgd::new(0.05), &SoftmaxCrossEntropy, &x, &y);
    }
    net
}

const CNN_SIGNATURE: &str = "Conv2d<1, 6, 5, 1, 0, f32>, BatchNorm2d<6, f32>, Relu, \
     MaxPool2d<2, 2>, Conv2d<6, 4, 3, 1, 1, f32>, BatchNorm2d<4, f32>, Relu, Dropout<10>, \
     Flatten, Dense<64, 3, f32>";

/// The running statistics of both batch norms of `net`, in order.
fn running_statistics(net: &Cnn) -> Vec<f32> {
    net.buffers().flat_map(|t| t.data.to_vec()).collect()
}

#[test]
fn a_cnn_with_batch_norm_round_trips_with_its_running_statistics() {
    let net = trained_cnn(1);
    let stats = running_statistics(&net);
    assert_eq!(stats.len(), 2 * (6 + 4));
    assert!(stats[..6].iter().all(|&m| m != 0.0), "{stats:?}");
    assert!(stats[6..12].iter().all(|&v| v != 1.0), "{stats:?}");
    assert_eq!(signature::<Cnn, f32>(), CNN_SIGNATURE);

    let dir = TempDir::new("cnn");
    let path = dir.join("cnn.typenet");
    model_file::save(&net, &path).unwrap();
    let mut loaded = Cnn::random(&mut StdRng::seed_from_u64(2));
    model_file::load(&mut loaded, &path).unwrap();
    assert!(loaded == net, "parameters and running statistics");
    assert_eq!(running_statistics(&loaded), stats);
    // and it computes the same: inference uses the running statistics
    let x: Image<f32, 1, 12, 12> = Image::from_fn(|_, y, x| (x * y) as f32 / 121.0);
    assert_eq!(loaded.forward(&x), net.forward(&x));
}

#[test]
fn the_buffers_follow_the_parameters_in_format_version_2() {
    let net = trained_cnn(3);
    let bytes = to_bytes(&net).unwrap();
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 2);
    assert_eq!(model_file::FORMAT_VERSION, 2);
    let len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    assert_eq!(&bytes[20..20 + len], CNN_SIGNATURE.as_bytes());
    let params = Params::<f32>::param_count(&net);
    assert_eq!(
        params,
        (25 * 6 + 6) + 2 * 6 + (54 * 4 + 4) + 2 * 4 + (64 * 3 + 3)
    );
    let at = 20 + len;
    assert_eq!(
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()),
        params as u64
    );
    let buffers = at + 8 + 4 * params;
    assert_eq!(
        u64::from_le_bytes(bytes[buffers..buffers + 8].try_into().unwrap()),
        20
    );
    let stored: Vec<f32> = bytes[buffers + 8..bytes.len() - 8]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(stored, running_statistics(&net));
    assert_eq!(bytes.len(), model_file::encoded_len(&net));
}

/// The first format version, written here by hand from its description: header, parameters,
/// checksum, and no buffers.
fn version_1_file<N: Params<f32>>(net: &N) -> Vec<u8> {
    let mut bytes = b"TYPENET\0".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&4u32.to_le_bytes());
    let sig = signature::<N, f32>();
    bytes.extend_from_slice(&(sig.len() as u32).to_le_bytes());
    bytes.extend_from_slice(sig.as_bytes());
    bytes.extend_from_slice(&(net.param_count() as u64).to_le_bytes());
    for t in net.tensors() {
        t.data
            .iter()
            .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    }
    with_checksum(bytes)
}

/// `bytes` followed by their FNV-1a 64 checksum.
fn with_checksum(mut bytes: Vec<u8>) -> Vec<u8> {
    let checksum = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

#[test]
fn files_of_the_first_version_still_load_and_networks_without_buffers_are_still_written_so() {
    // the XOR blob of the no_std program was committed before buffers were saved
    type Xor = net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid];
    let old = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/embedded/src/xor.typenet"
    ));
    let old = old.unwrap();
    assert_eq!(u32::from_le_bytes(old[8..12].try_into().unwrap()), 1);
    let mut xor = Xor::zeros();
    from_bytes(&mut xor, &old).unwrap();
    assert!(xor.forward(&SVector::<f32, 2>::new(1.0, 0.0))[0] > 0.9);
    assert_eq!(to_bytes(&xor).unwrap(), old, "written again byte for byte");

    // a convolutional network without batch norm has no buffers either
    type Plain = net![Conv2d<1, 2, 3>, Relu, AvgPool2d<2>, Flatten, Dense<8, 2>];
    let net = Plain::random(&mut StdRng::seed_from_u64(4));
    let v1 = version_1_file(&net);
    assert_eq!(to_bytes(&net).unwrap(), v1);
    let mut loaded = Plain::zeros();
    from_bytes(&mut loaded, &v1).unwrap();
    assert!(loaded == net);
}

#[test]
fn a_first_version_file_of_a_network_with_batch_norm_is_refused_not_guessed() {
    // written before buffers were saved: the parameters without the running statistics
    let v1 = version_1_file(&trained_cnn(5));
    let mut net = trained_cnn(6);
    let before = net.clone();
    let err = from_bytes(&mut net, &v1).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::Format(BlobError::BufferMismatch {
                found: 0,
                expected: 20
            })
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "model file holds no buffers, and the network has 20 buffer values (batch norm's \
         running statistics): the file was written before typenet saved them (format version \
         1); save the trained network again"
    );
    assert!(net == before);
}

#[test]
fn damaged_and_forged_files_of_a_cnn_are_errors_and_change_nothing() {
    let original = trained_cnn(7);
    let bytes = to_bytes(&original).unwrap();
    let mut net = trained_cnn(8);
    let before = net.clone();
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
    for i in (0..bytes.len()).step_by(3) {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0x04;
        assert!(from_bytes(&mut net, &damaged).is_err(), "bit flip at {i}");
    }
    let buffers = bytes.len() - 8 - 4 * 20 - 8;
    // a forged buffer count, checksum and all: fewer values, or more than the file holds
    for (count, expected) in [
        (
            19u64,
            Some(BlobError::BufferMismatch {
                found: 19,
                expected: 20,
            }),
        ),
        (u64::MAX, None),
    ] {
        let mut forged = bytes[..bytes.len() - 8].to_vec();
        forged[buffers..buffers + 8].copy_from_slice(&count.to_le_bytes());
        if count == 19 {
            forged.truncate(forged.len() - 4);
        }
        let err = from_bytes(&mut net, &with_checksum(forged)).unwrap_err();
        match expected {
            Some(e) => assert!(matches!(err, ModelError::Format(ref f) if *f == e), "{err}"),
            None => assert!(
                matches!(err, ModelError::Format(BlobError::Truncated)),
                "{err}"
            ),
        }
    }
    // a NaN running variance, checksum and all
    let mut forged = bytes[..bytes.len() - 8].to_vec();
    let var = buffers + 8 + 4 * 6 + 4 * 2; // the third running variance of the first batch norm
    forged[var..var + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let err = from_bytes(&mut net, &with_checksum(forged)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter [2, 0] of layer 1 (BatchNorm2d) running_var [6x1] is not finite (NaN or \
         infinite): model files hold finite parameters only"
    );
    assert!(net == before, "a refused load changed the network");
    from_bytes(&mut net, &bytes).unwrap();
    assert!(net == original);
}

#[test]
fn a_network_with_a_non_finite_running_statistic_is_not_saved() {
    let mut net = trained_cnn(9);
    net.tail.tail.tail.tail.tail.head.running_mean[3] = f32::INFINITY;
    let err = to_bytes(&net).unwrap_err();
    assert_eq!(
        err,
        BlobError::NonFinite {
            tensor: TensorInfo {
                layer: 5,
                layer_kind: "BatchNorm2d",
                role: Role::RunningMean,
                rows: 4,
                cols: 1,
            },
            index: 3,
        }
    );
}
