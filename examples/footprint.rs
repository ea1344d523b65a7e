//! Measures what typenet networks cost in memory: the size of each network type, and the
//! peak stack one forward pass and one training step use, by painting a thread's stack.
//!
//! ```sh
//! cargo run --release --example footprint
//! ```
//!
//! Stack painting: fill a region of the stack below the current frame with a known byte, run
//! the operation (whose frames land in that region), then find the deepest byte that changed.
//! The result includes the frames of the measuring code itself (shown by the `nothing` row),
//! and is rounded to 16 bytes.

use std::hint::black_box;

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

/// How deep below the measuring frame the stack is painted.
const PAINT: usize = 2 * 1024 * 1024;
const PATTERN: u8 = 0xA5;

/// Reads one byte at `ptr` with a machine load the compiler does not model.
///
/// # Safety
///
/// `ptr` must be a readable address. `deepest_write` only passes addresses inside this
/// thread's own stack, between the measuring frame and `PAINT` bytes below it, a region that
/// `paint` has just written and that lies within the thread's stack (the thread is created
/// with `PAINT` plus 1 MiB). The load creates no Rust reference and asserts nothing about what
/// the bytes mean, so no Rust object's validity or aliasing rules are involved: the memory
/// belongs to no live Rust object (it lies below every live frame).
#[inline(always)]
unsafe fn load_byte(ptr: *const u8) -> u8 {
    let value: u8;
    #[cfg(target_arch = "x86_64")]
    unsafe {
        core::arch::asm!("mov {v}, byte ptr [{p}]", p = in(reg) ptr, v = out(reg_byte) value,
            options(nostack, readonly, preserves_flags));
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        core::arch::asm!("ldrb {v:w}, [{p}]", p = in(reg) ptr, v = out(reg) value,
            options(nostack, readonly, preserves_flags));
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = ptr;
        value = PATTERN;
    }
    value
}

/// Writes the pattern into `PAINT` bytes of stack below the caller's frame.
#[inline(never)]
fn paint() {
    let mut region = [PATTERN; PAINT];
    black_box(&mut region);
}

/// How many bytes below `top` the deepest changed byte of the painted region lies.
#[inline(never)]
fn deepest_write(top: usize) -> usize {
    let bottom = top - PAINT;
    (bottom..top)
        .step_by(16)
        // SAFETY: `bottom..top` is the region `paint` wrote, inside this thread's stack; see
        // `load_byte`.
        .find(|&a| (0..16).any(|i| unsafe { load_byte((a + i) as *const u8) } != PATTERN))
        .map_or(0, |a| top - a)
}

/// The peak stack `op` uses, in bytes (frames of the measurement included, see `nothing`).
pub fn peak_stack<R>(op: impl FnOnce() -> R + Send) -> usize {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(PAINT + 1024 * 1024)
            .spawn_scoped(s, || measure(op))
            .expect("a thread")
            .join()
            .expect("the measured operation panicked")
    })
}

#[inline(never)]
fn measure<R>(op: impl FnOnce() -> R) -> usize {
    let marker = 0u8;
    let top = black_box(&marker) as *const u8 as usize;
    paint();
    run_below(op);
    deepest_write(top)
}

/// Runs `op` in a frame of its own, below `measure`'s, so that everything it puts on the stack
/// lands in the painted region.
#[inline(never)]
fn run_below<R>(op: impl FnOnce() -> R) {
    black_box(op());
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: &'static str,
    pub params: usize,
    pub type_bytes: usize,
    pub forward_stack: usize,
    pub train_stack: usize,
    /// The step as `train_step` took it before its gradient was built in place: a gradient
    /// made by `N::default()` (its parts built and moved into it) and passed to
    /// `train_step_with`.
    pub train_default_stack: usize,
    /// The same step with the gradient kept outside (`train_step_with`), as firmware would.
    pub train_with_stack: usize,
}

fn row<N, const I: usize, const O: usize>(name: &'static str) -> Row
where
    N: Network + Params<f32> + Default + Clone + Send + Sync,
    N: Layer<SVector<f32, I>, Out = SVector<f32, O>> + Layer<<N as Network>::Input>,
{
    let mut net: N = typenet::build::random_with(&mut StdRng::seed_from_u64(1), Init::Xavier);
    let x = SVector::<f32, I>::repeat(0.5);
    let mut y = SVector::<f32, O>::zeros();
    y[0] = 1.0;
    let forward_stack = peak_stack(|| Layer::forward(&net, &x));
    let params = net.param_count();
    let train_stack = peak_stack(|| net.train_step(&mut Sgd::new(0.1), &Mse, &x, &y));
    let train_default_stack = peak_stack(|| {
        let mut grad = N::default();
        net.train_step_with(&mut grad, &mut Sgd::new(0.1), &Mse, &x, &y)
    });
    let mut grad = Box::new(N::default());
    let train_with_stack =
        peak_stack(|| net.train_step_with(&mut grad, &mut Sgd::new(0.1), &Mse, &x, &y));
    Row {
        name,
        params,
        type_bytes: core::mem::size_of::<N>(),
        forward_stack,
        train_stack,
        train_default_stack,
        train_with_stack,
    }
}

pub fn run(_quick: bool) -> (usize, usize, Vec<Row>) {
    let nothing = peak_stack(|| ());
    let known = peak_stack(|| {
        let mut a = [1u8; 8192];
        black_box(&mut a);
    });
    let rows = vec![
        row::<net![Dense<2, 8>, Tanh, Dense<8, 1>, Sigmoid], 2, 1>("xor 2-8-1"),
        row::<net![Dense<2, 2>, Sigmoid, Dense<2, 2>, Sigmoid], 2, 2>("tiny 2-2-2"),
        row::<
            net![
                Dense<10, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid,
                Dense<32, 32>, Sigmoid, Dense<32, 32>, Sigmoid, Dense<32, 2>, Sigmoid
            ],
            10,
            2,
        >("deep sigmoid 10-5x32-2"),
        row::<net![Dense<16, 64>, Relu, Dense<64, 64>, Relu, Dense<64, 8>], 16, 8>("16-64-64-8"),
        row::<net![Dense<784, 50>, Relu, Dense<50, 10>], 784, 10>("mnist 784-50-10"),
    ];
    println!("stack measured by painting; `nothing` is the measurement's own frames: {nothing} B");
    println!("check: an 8192-byte local array measures {known} B");
    println!(
        "{:<24} {:>7} {:>10} {:>9} {:>11} {:>17} {:>16}",
        "network (f32)",
        "params",
        "type size",
        "forward",
        "train_step",
        "default gradient",
        "train_step_with"
    );
    for r in &rows {
        println!(
            "{:<24} {:>7} {:>8} B {:>7} B {:>9} B {:>15} B {:>14} B",
            r.name,
            r.params,
            r.type_bytes,
            r.forward_stack,
            r.train_stack,
            r.train_default_stack,
            r.train_with_stack
        );
    }
    println!("(stack columns: peak stack of one call, single sample, SGD, Mse;");
    println!(" `default gradient`: the step with its gradient made by `N::default()`, as");
    println!(" train_step made it before it built the gradient in place)");
    (nothing, known, rows)
}

#[allow(dead_code)]
fn main() {
    run(false);
}
