//! A network baked into Rust source is the trained network, bit for bit: the file the `no_std`
//! program includes is exactly what baking the trained network writes today, and its outputs
//! equal the trained network's to the last bit.

#[path = "../../examples/bake.rs"]
mod example;

include!("../../embedded/src/baked.rs");

use rand::{RngExt, SeedableRng, rngs::StdRng};
use typenet::prelude::*;

#[test]
fn the_committed_baked_file_is_what_baking_the_trained_network_writes() {
    let (_, source) = example::train();
    let committed = std::fs::read_to_string(example::BAKED).unwrap();
    assert!(
        committed == source,
        "embedded/src/baked.rs is stale: run `cargo run --release --example bake`"
    );
}

#[test]
fn the_committed_blob_is_the_trained_network_in_the_model_file_format() {
    let (trained, _) = example::train();
    let committed = std::fs::read(example::BLOB).unwrap();
    assert!(
        committed == typenet::model_file::to_bytes(&trained).unwrap(),
        "embedded/src/xor.typenet is stale"
    );
    let mut net = xor::Net::zeros();
    typenet::model_file::decode_into(&mut net, &committed).unwrap();
    assert!(net == trained);
}

#[test]
fn the_baked_network_equals_the_trained_one_bit_for_bit() {
    let (trained, _) = example::train();
    assert!(xor::NET == trained, "parameters differ");
    let (xs, _) = example::xor_data();
    let mut rng = StdRng::seed_from_u64(99);
    let more = (0..200)
        .map(|_| SVector::<f32, 2>::new(rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0)));
    for x in xs.into_iter().chain(more) {
        let (a, b) = (xor::NET.forward(&x)[0], trained.forward(&x)[0]);
        assert_eq!(a.to_bits(), b.to_bits(), "at {x:?}");
    }
    let batch = OMatrix::<f32, Const<2>, Dyn>::from_fn(64, |r, c| (r as f32 - c as f32) / 16.0);
    let (a, b) = (xor::NET.forward(&batch), trained.forward(&batch));
    assert!(
        a.iter()
            .zip(b.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

#[test]
fn every_float_is_baked_exactly_including_signed_zero_and_nan() {
    let mut layer = Dense::<2, 2, f64>::zeros();
    layer.w[0] = -0.0;
    layer.w[1] = f64::MIN_POSITIVE / 3.0; // subnormal
    layer.w[2] = f64::from_bits(0x7ff8_0000_dead_beef); // a NaN with a payload
    layer.b[1] = f64::MAX;
    let source = typenet::bake::to_rust_module(&layer, "m");
    assert!(source.contains("f64::from_bits(0x8000000000000000)"));
    assert!(source.contains("f64::from_bits(0x7ff80000deadbeef)"));
    assert!(source.contains(&format!("f64::from_bits({:#018x})", f64::MAX.to_bits())));
}

/// A network whose layers are themselves chains, in the head and in the tail:
/// `Chain<Chain<Dense, Tanh>, Chain<Chain<Dense, Relu>, Chain<Dense, Sigmoid>>>`.
type Nested = net![net![Dense<4, 3>, Tanh], net![Dense<3, 3>, Relu], Dense<3, 4>, Sigmoid];

/// The committed bake of [`Nested`]: compiled here, so source that does not compile (a
/// flattened type for a nested value) fails this test crate's build.
const NESTED_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/baked_nested.rs"
);
include!("../fixtures/baked_nested.rs");

#[test]
fn a_chain_of_chains_bakes_into_source_that_compiles_to_the_same_network() {
    let net = Nested::random(&mut StdRng::seed_from_u64(5));
    let source = typenet::bake::to_rust_module(&net, "nested");
    if std::env::var_os("TYPENET_BLESS").is_some() {
        std::fs::write(NESTED_FILE, &source).unwrap();
    }
    let committed = std::fs::read_to_string(NESTED_FILE).unwrap();
    assert!(
        committed == source,
        "tests/fixtures/baked_nested.rs is stale: rerun this test with TYPENET_BLESS=1"
    );
    assert!(source.contains(
        "pub type Net = ::typenet::net![::typenet::net![Dense<4, 3, f32>, Tanh], \
         ::typenet::net![Dense<3, 3, f32>, Relu], Dense<3, 4, f32>, Sigmoid];"
    ));
    let baked: &Nested = &nested::NET; // the baked type is the network's type
    assert!(*baked == net);
    let x = SVector::<f32, 4>::new(0.5, -1.0, 2.0, 0.25);
    assert_eq!(baked.forward(&x), net.forward(&x));
}
