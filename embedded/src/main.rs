//! typenet with no `std` and no allocator: trained networks baked into the program run (an XOR
//! classifier, a LeNet trained on the shipped digits that reads held-out digits, and a GRU
//! trained to play an audio effect that streams a signal one sample at a time), and a fresh
//! network takes training steps, on the stack alone.
//!
//! Nothing here may pull in `std` (two `panic_handler`s would clash) or an allocator (there is
//! no `#[global_allocator]`, so any heap use fails to link). It is built for the host, where
//! the C runtime calls `main`; for a microcontroller see `docs/embedded.md`.
//!
//! Exit status: 0 when the baked network classifies XOR, the baked LeNet gives each held-out
//! digit its label with the very logits it gave on the desktop, the baked GRU streams the very
//! outputs it gave on the desktop, the blob decodes to the same network, training lowers the loss, and the finite-difference checker agrees with backprop.

#![no_std]
#![no_main]
#![cfg_attr(
    any(
        feature = "inference-only",
        feature = "lenet-only",
        feature = "gru-only",
        feature = "gru-timing"
    ),
    allow(dead_code, unused_imports)
)]

use rand::{SeedableRng, rngs::StdRng};
use typenet::optim::Adam;
use typenet::prelude::*;

include!("baked.rs");
// LeNet trained briefly on the shipped digits, baked: `pub mod lenet { pub type Net; pub static
// NET: Net }`, 44,426 parameters (tests/spec/baked.rs writes it, with TYPENET_BLESS=1).
include!("lenet.rs");

// A GRU trained on the desktop to play an effect (drive into a low-pass), baked: `pub mod gru
// { pub type Net = net![Gru<1, 8>, Dense<8, 1>]; pub static NET: Net }` (tests/spec/baked.rs
// trains it and writes it, with TYPENET_BLESS=1).
include!("gru.rs");

/// The signal the GRU streams: a sine, then a plucked string, in plain `f32` arithmetic.
mod signal {
    include!("signal.rs");
}

/// The checksum and checkpoints of the outputs the trained GRU gives that signal on the
/// desktop (written with `gru.rs`).
mod gru_expected {
    include!("gru_expected.rs");
}

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

/// Streams the device's signal ([`signal::SAMPLES`] samples) through the baked GRU, one
/// sample at a time from the zero state, its state on the stack; true if the outputs are the
/// desktop's to the bit: the checksum of all of them, and each checkpoint.
fn baked_gru_streams_as_on_the_desktop() -> bool {
    let mut source = signal::Source::device();
    let mut state = gru::NET.initial_state();
    let mut checksum = signal::FNV_OFFSET;
    let mut checkpoints = true;
    let every = signal::SAMPLES / gru_expected::CHECKPOINTS.len();
    for t in 0..signal::SAMPLES {
        let x = SVector::<f32, 1>::new(source.next_sample());
        let y = gru::NET.step(&mut state, &x)[0].to_bits();
        checksum = signal::fnv1a(checksum, y);
        if (t + 1) % every == 0 {
            checkpoints &= y == gru_expected::CHECKPOINTS[t / every];
        }
    }
    checkpoints && checksum == gru_expected::CHECKSUM
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
/// `lenet`, `gru`: one to five arguments, only the count is read), so that
/// `valgrind --tool=massif --stacks=yes` can measure each one's stack (docs/embedded.md).
#[cfg(not(any(
    feature = "inference-only",
    feature = "lenet-only",
    feature = "gru-only",
    feature = "gru-timing"
)))]
#[unsafe(no_mangle)]
pub extern "C" fn main(argc: i32, _argv: *const *const u8) -> i32 {
    let ok = match argc {
        2 => one_forward(),
        3 => one_training_step(),
        4 => true,
        5 => one_lenet_forward(),
        6 => baked_gru_streams_as_on_the_desktop(),
        _ => {
            baked_classifies_xor()
                && baked_lenet_reads_digits()
                && baked_gru_streams_as_on_the_desktop()
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

/// The GRU's streaming alone (`--features gru-only`): the baked GRU streams the device's
/// signal and must give the desktop's outputs to the bit.
#[cfg(all(
    feature = "gru-only",
    not(any(feature = "inference-only", feature = "lenet-only"))
))]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    if baked_gru_streams_as_on_the_desktop() {
        0
    } else {
        1
    }
}

/// The time of a streamed sample (`--features gru-timing`, x86-64 only): prints the
/// time-stamp counter's ticks a sample for the baked `Gru<1, 8>` + `Dense<8, 1>` and for a
/// `Gru<1, 16>` + `Dense<16, 1>` from a seed (docs/embedded.md).
#[cfg(all(
    feature = "gru-timing",
    not(any(
        feature = "inference-only",
        feature = "lenet-only",
        feature = "gru-only"
    ))
))]
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    type Gru16 = net![Gru<1, 16>, Dense<16, 1>];
    let wide = Gru16::random(&mut StdRng::seed_from_u64(16));
    let narrow = timing::ticks_a_sample(
        |state, x| gru::NET.step(state, x)[0],
        gru::NET.initial_state(),
    );
    let wide = timing::ticks_a_sample(|state, x| wide.step(state, x)[0], wide.initial_state());
    timing::print(b"Gru<1, 8> + Dense<8, 1>, TSC ticks a sample: ", narrow);
    timing::print(b"Gru<1, 16> + Dense<16, 1>, TSC ticks a sample: ", wide);
    0
}

#[cfg(all(feature = "gru-timing", not(target_arch = "x86_64")))]
compile_error!("`gru-timing` reads the x86-64 time-stamp counter: build it for an x86-64 host");

/// Timing a streamed sample with the time-stamp counter, and printing through the C library.
#[cfg(feature = "gru-timing")]
mod timing {
    use super::{SVector, signal};

    /// Samples a round: one pass over the ring of inputs, short enough (tens of microseconds)
    /// that some rounds run without being interrupted on a loaded machine.
    const ROUND: usize = 1024;
    /// Rounds; the fastest is kept.
    const ROUNDS: usize = 2000;

    /// Ticks of the time-stamp counter a sample, in hundredths: the fastest of [`ROUNDS`]
    /// rounds of [`ROUND`] steps of one stream (its state carried from round to round), over
    /// a ring of inputs computed beforehand from the device's signal, every output summed (so
    /// none is optimised away).
    pub fn ticks_a_sample<S>(
        mut step: impl FnMut(&mut S, &SVector<f32, 1>) -> f32,
        mut state: S,
    ) -> u64 {
        let mut source = signal::Source::device();
        let ring: [SVector<f32, 1>; ROUND] =
            core::array::from_fn(|_| SVector::<f32, 1>::new(source.next_sample()));
        let mut best = u64::MAX;
        let mut sum = 0.0f32;
        for _ in 0..ROUNDS {
            let begin = rdtsc();
            for x in &ring {
                sum += step(&mut state, core::hint::black_box(x));
            }
            best = best.min(rdtsc() - begin);
        }
        core::hint::black_box(sum);
        best * 100 / ROUND as u64
    }

    /// The time-stamp counter.
    fn rdtsc() -> u64 {
        // SAFETY: RDTSC reads a counter; every x86-64 processor has it, and it touches no memory.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    unsafe extern "C" {
        /// The C library's `write(2)`.
        fn write(fd: i32, buf: *const u8, count: usize) -> isize;
    }

    /// Prints `label`, then `hundredths` as a decimal with two places, and a new line.
    pub fn print(label: &[u8], hundredths: u64) {
        let mut line = [0u8; 128];
        let mut n = label.len().min(100);
        line[..n].copy_from_slice(&label[..n]);
        let mut digits = [0u8; 20];
        let (mut v, mut len) = (hundredths, 0);
        while v > 0 || len < 3 {
            digits[len] = b'0' + (v % 10) as u8;
            v /= 10;
            len += 1;
        }
        for i in (0..len).rev() {
            line[n] = digits[i];
            n += 1;
            if i == 2 {
                line[n] = b'.';
                n += 1;
            }
        }
        line[n] = b'\n';
        n += 1;
        // SAFETY: `line[..n]` is initialised memory of this frame, alive through the call.
        unsafe { write(1, line.as_ptr(), n) };
    }
}
