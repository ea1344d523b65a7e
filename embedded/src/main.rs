//! typenet with no `std` and no allocator: trained networks baked into the program run (an XOR
//! classifier, and a LeNet trained on the shipped digits that reads held-out digits), and a
//! fresh network takes training steps, on the stack alone.
//!
//! Nothing here may pull in `std` (two `panic_handler`s would clash) or an allocator (there is
//! no `#[global_allocator]`, so any heap use fails to link). It is built for the host, where
//! the C runtime calls `main`; for a microcontroller see `docs/embedded.md`.
//!
//! Exit status: 0 when the baked network classifies XOR, the baked LeNet gives each held-out
//! digit its label with the very logits it gave on the desktop, the blob decodes to the same
//! network, training lowers the loss, and the finite-difference checker agrees with backprop.

#![no_std]
#![no_main]
#![cfg_attr(
    any(feature = "inference-only", feature = "lenet-only"),
    allow(dead_code, unused_imports)
)]

use rand::{SeedableRng, rngs::StdRng};
use typenet::optim::Adam;
use typenet::prelude::*;

include!("baked.rs");
// LeNet trained briefly on the shipped digits, baked: `pub mod lenet { pub type Net; pub static
// NET: Net }`, 44,426 parameters (tests/spec/baked.rs writes it, with TYPENET_BLESS=1).
include!("lenet.rs");

/// Held-out digits, their labels, and the logits the trained LeNet gives them on the desktop
/// (written with `lenet.rs`).
mod digits {
    include!("digits.rs");
}

// On the host, the C library supplies `memcpy`/`memset` and the start-up code that calls
// `main`; it allocates nothing unless asked. On a microcontroller, `compiler_builtins` supplies
// the memory functions and the board's runtime crate the entry point (docs/embedded.md).
#[cfg(target_os = "linux")]
#[link(name = "c")]
unsafe extern "C" {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Runs the baked XOR classifier; true if it gets all four cases right.
fn baked_classifies_xor() -> bool {
    let cases = [
        ([0.0f32, 0.0], false),
        ([0.0, 1.0], true),
        ([1.0, 0.0], true),
        ([1.0, 1.0], false),
    ];
    cases.iter().all(|&(x, expected)| {
        let y = xor::NET.forward(&SVector::<f32, 2>::from(x));
        (y[0] > 0.5) == expected
    })
}

/// A digit's grey levels as an image in [0, 1], as the desktop converted them.
fn image_of(pixels: &[u8; 784]) -> Image<f32, 1, 28, 28> {
    Image::from_fn(|_, y, x| f32::from(pixels[28 * y + x]) / 255.0)
}

/// The class of the largest logit.
fn class_of(logits: &SVector<f32, 10>) -> usize {
    logits.argmax().0
}

/// Runs the baked LeNet on the held-out digits; true if it gives each its label, with logits
/// equal to the desktop's to the bit.
fn baked_lenet_reads_digits() -> bool {
    (0..digits::COUNT).all(|i| {
        let logits = lenet::NET.forward(&image_of(&digits::DIGITS[i]));
        let same_bits = logits
            .iter()
            .zip(&digits::LOGITS[i])
            .all(|(v, &bits)| v.to_bits() == bits);
        same_bits && class_of(&logits) == digits::LABELS[i]
    })
}

/// One forward pass of the baked LeNet on one digit (for measuring its stack).
fn one_lenet_forward() -> bool {
    class_of(&lenet::NET.forward(&image_of(&digits::DIGITS[0]))) == digits::LABELS[0]
}

/// The same network as a model-file blob compiled in: decoded onto the stack, checked against
/// its type's signature, it must compute what the baked static computes, bit for bit.
fn blob_equals_baked() -> bool {
    static BLOB: &[u8] = include_bytes!("xor.typenet");
    let mut net = xor::Net::zeros();
    if typenet::model_file::decode_into(&mut net, BLOB).is_err() {
        return false;
    }
    let x = SMatrix::<f32, 2, 4>::new(0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0);
    let (a, b) = (net.forward(&x), xor::NET.forward(&x));
    a.iter()
        .zip(b.iter())
        .all(|(a, b)| a.to_bits() == b.to_bits())
}

/// Trains a fresh network on a fixed batch for a few steps (SGD, then Adam with its state
/// inside the optimizer); true if the loss went down.
fn training_lowers_the_loss() -> bool {
    type Net = net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid];
    let mut net = Net::random(&mut StdRng::seed_from_u64(7));
    let x = SMatrix::<f32, 2, 4>::new(0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0);
    let y = SMatrix::<f32, 1, 4>::new(0.0, 1.0, 1.0, 0.0);
    let mut sgd = Sgd::new(0.5);
    let first = net.train_step(&mut sgd, &Mse, &x, &y);
    for _ in 0..200 {
        net.train_step(&mut sgd, &Mse, &x, &y);
    }
    let mut adam = Adam::<Net, Net>::new_inline(0.01);
    let mut last = first;
    for _ in 0..50 {
        last = net.train_step(&mut adam, &Mse, &x, &y);
    }
    last < first
}

/// The finite-difference checker, in f64 with libm's maths, agrees with backprop.
fn checker_agrees() -> bool {
    type Net = net![Dense<3, 4, f64>, Tanh, Dense<4, 2, f64>];
    let net = Net::random(&mut StdRng::seed_from_u64(3));
    let x = SMatrix::<f64, 3, 2>::new(0.1, -0.5, 0.3, 0.9, -0.2, 0.4);
    let y = SMatrix::<f64, 2, 2>::new(1.0, 0.0, 0.0, 1.0);
    gradcheck(&net, &SoftmaxCrossEntropy, &x, &y).max_rel_error() < 1e-6
}

/// One forward pass of the baked network (for measuring its stack).
fn one_forward() -> bool {
    xor::NET.forward(&SVector::<f32, 2>::new(1.0, 0.0))[0] > 0.5
}

/// One training step of a fresh network on one sample (for measuring its stack).
fn one_training_step() -> bool {
    type Net = net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid];
    let mut net = Net::random(&mut StdRng::seed_from_u64(7));
    let loss = net.train_step(
        &mut Sgd::new(0.5),
        &Mse,
        &SVector::<f32, 2>::new(1.0, 0.0),
        &SVector::<f32, 1>::new(1.0),
    );
    loss.is_finite()
}

/// The entry point the C runtime calls. With no arguments it runs every check; with
/// arguments it runs one operation, chosen by their count (`forward`, `train`, `nothing`,
/// `lenet`: one to four arguments, only the count is read), so that
/// `valgrind --tool=massif --stacks=yes` can measure each one's stack (docs/embedded.md).
#[cfg(not(any(feature = "inference-only", feature = "lenet-only")))]
#[unsafe(no_mangle)]
pub extern "C" fn main(argc: i32, _argv: *const *const u8) -> i32 {
    let ok = match argc {
        2 => one_forward(),
        3 => one_training_step(),
        4 => true,
        5 => one_lenet_forward(),
        _ => {
            baked_classifies_xor()
                && baked_lenet_reads_digits()
                && blob_equals_baked()
                && training_lowers_the_loss()
                && checker_agrees()
        }
    };
    if ok { 0 } else { 1 }
}

/// Inference alone (`--features inference-only`): the baked network classifies XOR.
#[cfg(feature = "inference-only")]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    if baked_classifies_xor() { 0 } else { 1 }
}

/// LeNet's inference alone (`--features lenet-only`): the baked LeNet reads the held-out
/// digits.
#[cfg(all(feature = "lenet-only", not(feature = "inference-only")))]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    if baked_lenet_reads_digits() { 0 } else { 1 }
}
