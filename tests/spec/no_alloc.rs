//! A single sample, or a fixed `Const<K>` batch, goes forward, backward and through a training
//! step without touching the heap; so does a single image through LeNet, forward and in a
//! training step (`train_step` with `Sgd`, and the fused `sgd_step`), and through batch norm
//! and dropout. Proven with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rand::{SeedableRng, rngs::StdRng};
use typenet::optim::{Adam, Momentum};
use typenet::prelude::*;

/// Counts allocations made by the current thread, and forwards everything to the system
/// allocator.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`; the counter is a const-initialised
// thread-local `Cell` (touching it never allocates), reached through `try_with`, so an
// allocation during thread teardown is still served.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many allocations this thread makes while running `f`.
fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = std::hint::black_box(f());
    (r, ALLOCATIONS.with(Cell::get) - before)
}

type Net = net![Dense<10, 32>, Sigmoid, Dense<32, 16>, Relu, Dense<16, 4>, Softmax];

#[test]
fn the_counter_sees_an_allocation() {
    let (_, n) = allocations(|| vec![1u8; 16]);
    assert_eq!(n, 1);
    let x = OMatrix::<f32, Const<4>, Dyn>::zeros(3);
    let (_, n) = allocations(|| x.clone());
    assert_eq!(
        n, 1,
        "a Dyn batch does allocate, so the zeros below mean something"
    );
}

#[test]
fn a_single_sample_forward_allocates_nothing() {
    let net = Net::random(&mut StdRng::seed_from_u64(0));
    let x = SVector::<f32, 10>::repeat(0.3);
    let (y, n) = allocations(|| net.forward(&x));
    assert_eq!(n, 0);
    assert!((y.sum() - 1.0).abs() < 1e-5);
}

#[test]
fn a_single_sample_forward_and_backward_allocate_nothing() {
    let net = Net::random(&mut StdRng::seed_from_u64(1));
    let mut grad = Net::zeros();
    let x = SVector::<f32, 10>::repeat(0.3);
    let (dx, n) = allocations(|| {
        let (out, cache) = net.forward_train(x);
        net.backward(cache, out.map(|v| v - 0.25), &mut grad)
    });
    assert_eq!(n, 0);
    assert!(dx.iter().all(|v| v.is_finite()));
    assert!(grad.tensors().any(|t| t.data.iter().any(|&g| g != 0.0)));
}

#[test]
fn a_single_sample_training_step_allocates_nothing() {
    let mut net = Net::random(&mut StdRng::seed_from_u64(2));
    let mut opt = Sgd::new(0.1);
    let x = SVector::<f32, 10>::repeat(0.3);
    let mut y = SVector::<f32, 4>::zeros();
    y[1] = 1.0;
    let (losses, n) = allocations(|| {
        let first = net.train_step(&mut opt, &CrossEntropy, &x, &y);
        for _ in 0..20 {
            net.train_step(&mut opt, &CrossEntropy, &x, &y);
        }
        (first, net.train_step(&mut opt, &CrossEntropy, &x, &y))
    });
    assert_eq!(n, 0);
    assert!(losses.1 < losses.0, "it trains: {losses:?}");
}

/// A fixed batch of 8 samples, on the stack, and one-hot targets.
fn fixed_batch() -> (SMatrix<f32, 10, 8>, SMatrix<f32, 4, 8>) {
    let x = SMatrix::<f32, 10, 8>::from_fn(|r, c| ((r + 3 * c) % 5) as f32 / 5.0);
    let y = SMatrix::<f32, 4, 8>::from_fn(|r, c| (r == c % 4) as u8 as f32);
    (x, y)
}

#[test]
fn a_fixed_batch_forward_allocates_nothing() {
    let net = Net::random(&mut StdRng::seed_from_u64(5));
    let (x, _) = fixed_batch();
    let (y, n) = allocations(|| net.forward(&x));
    assert_eq!(n, 0);
    assert!(y.column_iter().all(|c| (c.sum() - 1.0).abs() < 1e-5));
}

#[test]
fn a_fixed_batch_forward_and_backward_allocate_nothing() {
    let net = Net::random(&mut StdRng::seed_from_u64(6));
    let mut grad = Net::zeros();
    let (x, y) = fixed_batch();
    let (dx, n) = allocations(|| {
        let (out, cache) = net.forward_train(x);
        net.backward(cache, out - y, &mut grad)
    });
    assert_eq!(n, 0);
    assert!(dx.iter().all(|v| v.is_finite()));
    assert!(grad.tensors().any(|t| t.data.iter().any(|&g| g != 0.0)));
}

#[test]
fn a_fixed_batch_training_step_allocates_nothing() {
    let mut net = Net::random(&mut StdRng::seed_from_u64(3));
    let mut opt = Sgd::new(0.1);
    let (x, y) = fixed_batch();
    let (loss, n) = allocations(|| net.train_step(&mut opt, &SoftmaxCrossEntropy, &x, &y));
    assert_eq!(n, 0);
    assert!(loss.is_finite());
}

#[test]
fn stateful_optimizers_with_inline_state_step_without_the_heap() {
    type Small = net![Dense<4, 6>, Tanh, Dense<6, 2>];
    let x = SMatrix::<f32, 4, 3>::from_fn(|r, c| (r as f32 - c as f32) / 4.0);
    let y = SMatrix::<f32, 2, 3>::from_fn(|r, c| ((r + c) % 2) as f32);
    let mut net = Small::random(&mut StdRng::seed_from_u64(4));
    let mut momentum = Momentum::<Small, Small>::new_inline(0.1, 0.9);
    let mut adam = Adam::<Small, Small>::new_inline(0.01);
    let (_, n) = allocations(|| {
        net.train_step(&mut momentum, &Mse, &x, &y);
        net.train_step(&mut adam, &Mse, &x, &y)
    });
    assert_eq!(n, 0);
}

#[test]
fn fused_sgd_steps_allocate_nothing_for_a_sample_or_a_fixed_batch() {
    let mut net = Net::random(&mut StdRng::seed_from_u64(6));
    let sgd = Sgd::new(0.1).with_weight_decay(1e-3);
    let x = SVector::<f32, 10>::from_fn(|i, _| i as f32 / 10.0);
    let y = SVector::<f32, 4>::new(0.0, 1.0, 0.0, 0.0);
    let (loss, n) = allocations(|| net.sgd_step(&sgd, &CrossEntropy, &x, &y));
    assert!(loss.is_finite());
    assert_eq!(n, 0);
    let (xb, yb) = fixed_batch();
    let (loss, n) = allocations(|| net.sgd_step(&sgd, &SoftmaxCrossEntropy, &xb, &yb));
    assert!(loss.is_finite());
    assert_eq!(n, 0);
}

/// LeNet, as the convolution issue declares it.
type LeNet = net![
    Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
    Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
    Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu, Dense<84, 10>,
];

/// A 28 x 28 image of a stroke, and the one-hot target of class 3.
fn stroke() -> (Image<f32, 1, 28, 28>, SVector<f32, 10>) {
    let x = Image::from_fn(|_, y, x| f32::from(u8::from(x.abs_diff(y) < 3 && y > 4 && y < 24)));
    let mut target = SVector::zeros();
    target[3] = 1.0;
    (x, target)
}

#[test]
fn a_single_image_lenet_forward_allocates_nothing() {
    let net = LeNet::random(&mut StdRng::seed_from_u64(10));
    let (x, _) = stroke();
    let (logits, n) = allocations(|| net.forward(&x));
    assert_eq!(n, 0);
    assert!(logits.iter().all(|v| v.is_finite()) && logits.amax() > 0.0);
}

#[test]
fn a_single_image_lenet_training_step_allocates_nothing_with_sgd_or_fused() {
    let mut net = LeNet::random(&mut StdRng::seed_from_u64(11));
    let (x, y) = stroke();
    let mut opt = Sgd::new(0.01);
    let (losses, n) = allocations(|| {
        let first = net.train_step(&mut opt, &SoftmaxCrossEntropy, &x, &y);
        for _ in 0..5 {
            net.train_step(&mut opt, &SoftmaxCrossEntropy, &x, &y);
        }
        (
            first,
            net.train_step(&mut opt, &SoftmaxCrossEntropy, &x, &y),
        )
    });
    assert_eq!(n, 0, "train_step");
    assert!(losses.1 < losses.0, "it trains: {losses:?}");

    let sgd = Sgd::new(0.01);
    let (losses, n) = allocations(|| {
        let first = net.sgd_step(&sgd, &SoftmaxCrossEntropy, &x, &y);
        for _ in 0..5 {
            net.sgd_step(&sgd, &SoftmaxCrossEntropy, &x, &y);
        }
        (first, net.sgd_step(&sgd, &SoftmaxCrossEntropy, &x, &y))
    });
    assert_eq!(n, 0, "sgd_step");
    assert!(losses.1 < losses.0, "it trains: {losses:?}");
}

#[test]
fn a_single_image_step_through_batch_norm_and_dropout_allocates_nothing() {
    type Cnn = net![
        Conv2d<1, 4, 3, 1, 1>, BatchNorm2d<4>, Relu, AvgPool2d<2>, Dropout<20>,
        Flatten, Dense<64, 2>,
    ];
    let mut net = Cnn::random(&mut StdRng::seed_from_u64(12));
    let x: Image<f32, 1, 8, 8> = Image::from_fn(|_, y, x| (y as f32 - x as f32) / 8.0);
    let y = SVector::<f32, 2>::new(1.0, 0.0);
    let mut opt = Sgd::new(0.05);
    let (loss, n) = allocations(|| {
        let mut ctx = TrainContext::seeded(4);
        net.train_step_in(&mut ctx, &mut opt, &SoftmaxCrossEntropy, &x, &y);
        net.train_step(&mut opt, &SoftmaxCrossEntropy, &x, &y);
        net.sgd_step(&Sgd::new(0.05), &SoftmaxCrossEntropy, &x, &y)
    });
    assert_eq!(n, 0);
    assert!(loss.is_finite());
    let running_mean = net.tail.head.running_mean;
    assert!(
        running_mean.iter().any(|&m| m != 0.0),
        "the steps moved the running statistics"
    );
}
