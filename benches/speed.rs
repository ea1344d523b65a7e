//! `cargo bench`: the seed tutorials' speed workloads (issue 5) under criterion.
//!
//! The same workloads as `examples/bench.rs`, from the same definitions (`workloads.rs`), with
//! criterion's statistics: W1 (one SGD step), W2 (a whole 1000-epoch run), W3 (one batch of 100
//! of each MNIST network; the example times whole epochs), W4 (one sample forward) and the
//! 512³ product that measures the machine's GEMM speed. `docs/performance.md` has the figures
//! and the cross-framework comparison.

mod workloads;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use workloads::{Gemm, Mlp50, Mlp100, W1, W2, W3, W3_BATCH, w4, w4_input, w4_networks};

fn w1(c: &mut Criterion) {
    let mut w1 = W1::new();
    c.bench_function("W1 deep-sigmoid SGD step", |b| {
        b.iter(|| black_box(w1.step()))
    });
}

fn w2(c: &mut Criterion) {
    let w2 = W2::new();
    c.bench_function("W2 tiny 1000 epochs", |b| b.iter(|| black_box(w2.run())));
}

fn w3(c: &mut Criterion) {
    let data = workloads::training_set(None).expect("the shipped digits");
    let batches: Vec<Vec<usize>> = (0..64)
        .map(|k| {
            (0..W3_BATCH)
                .map(|i| (k * 997 + i * 61) % data.len())
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("W3 one batch of 100");
    group.throughput(Throughput::Elements(W3_BATCH as u64));
    let mut net100 = W3::<Mlp100>::new(&data, 1);
    let mut k = 0;
    group.bench_function("784-100-10", |b| {
        b.iter(|| {
            k = (k + 1) % batches.len();
            black_box(net100.step(&batches[k]))
        })
    });
    let mut net50 = W3::<Mlp50>::new(&data, 1);
    group.bench_function("784-50-10", |b| {
        b.iter(|| {
            k = (k + 1) % batches.len();
            black_box(net50.step(&batches[k]))
        })
    });
    group.finish();
}

fn w4_and_gemm(c: &mut Criterion) {
    let (deep, mlp) = w4_networks();
    let x10 = w4_input::<10>();
    let x784 = w4_input::<784>();
    c.bench_function("W4 deep-sigmoid forward", |b| {
        b.iter(|| black_box(w4(&deep, &x10)))
    });
    c.bench_function("W4 784-100-10 forward", |b| {
        b.iter(|| black_box(w4(&*mlp, &x784)))
    });
    let mut gemm = Gemm::new();
    let mut group = c.benchmark_group("GEMM");
    group.throughput(Throughput::Elements(Gemm::flops() as u64));
    group.bench_function("512^3 f32 (elements = flops)", |b| b.iter(|| gemm.run()));
    group.finish();
}

criterion_group!(benches, w1, w2, w3, w4_and_gemm);
criterion_main!(benches);
