//! Trains a small classifier on the desktop and bakes it into Rust source for the `no_std`
//! program in `embedded/`, which `include!`s it; also writes it as a model-file blob, which the
//! same program reads with `include_bytes!`.
//!
//! The classifier is XOR: `net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid]`, trained with SGD
//! from a fixed seed, so the baked file is the same on every run.
//!
//! ```sh
//! cargo run --release --example bake   # rewrites embedded/src/baked.rs and xor.typenet
//! ```

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

pub type Xor = net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid];

/// Where the baked network goes, as Rust source.
pub const BAKED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/embedded/src/baked.rs");
/// Where it goes as a model-file blob, for `include_bytes!`.
pub const BLOB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/embedded/src/xor.typenet");

/// The four XOR inputs and their targets.
pub fn xor_data() -> ([SVector<f32, 2>; 4], [SVector<f32, 1>; 4]) {
    let xs = [[0.0f32, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]].map(SVector::<f32, 2>::from);
    let ys = [0.0f32, 1.0, 1.0, 0.0].map(SVector::<f32, 1>::new);
    (xs, ys)
}

/// The trained network and its baked source.
pub fn train() -> (Xor, String) {
    let (xs, ys) = xor_data();
    let mut net = Xor::random(&mut StdRng::seed_from_u64(0));
    let mut opt = Sgd::new(0.5);
    for _ in 0..2000 {
        for (x, y) in xs.iter().zip(&ys) {
            net.train_step(&mut opt, &Mse, x, y);
        }
    }
    let source = typenet::bake::to_rust_module(&net, "xor");
    (net, source)
}

#[allow(dead_code)]
fn main() {
    let (net, source) = train();
    let (xs, _) = xor_data();
    for x in &xs {
        println!("{:?} -> {:.4}", x.as_slice(), net.forward(x)[0]);
    }
    std::fs::write(BAKED, &source).expect("embedded/src/baked.rs is writable");
    let blob = typenet::model_file::to_bytes(&net).expect("trained parameters are finite");
    std::fs::write(BLOB, blob).expect("embedded/src/ is writable");
    println!(
        "baked {} parameters into {BAKED} ({} bytes of source)",
        net.param_count(),
        source.len()
    );
}
