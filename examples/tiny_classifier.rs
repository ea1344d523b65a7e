//! The seed tutorials' smallest classifier: nine points with two features, two classes, a
//! 2-2-2 sigmoid network.
//!
//! The points are split 20% test with a seeded shuffle, targets are one-hot with the seeds'
//! 0.01/0.99 smoothing, inputs are divided by 20 (the largest coordinate is 18) so the sigmoids
//! do not start saturated, and the network is trained sample by sample with half-MSE.
//!
//! ```sh
//! cargo run --release --example tiny_classifier
//! ```

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use typenet::data::OneHot;
use typenet::prelude::*;

pub type Tiny = net![Dense<2, 2>, Sigmoid, Dense<2, 2>, Sigmoid];

pub const POINTS: [[f32; 2]; 9] = [
    [2.0, 4.0],
    [4.0, 11.0],
    [6.0, 6.0],
    [8.0, 5.0],
    [10.0, 7.0],
    [12.0, 16.0],
    [14.0, 8.0],
    [16.0, 3.0],
    [18.0, 7.0],
];
pub const LABELS: [u8; 9] = [0, 0, 0, 0, 1, 1, 1, 1, 1];

/// What the run achieved.
#[derive(Clone, Debug)]
pub struct Summary {
    pub test_points: Vec<[f32; 2]>,
    pub first_loss: f32,
    pub last_loss: f32,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
}

fn predict(net: &Tiny, p: [f32; 2]) -> (u8, SVector<f32, 2>) {
    let out = net.forward(&(SVector::<f32, 2>::from(p) / 20.0));
    ((out[1] > out[0]) as u8, out)
}

pub fn run(quick: bool) -> Summary {
    let epochs = if quick { 2000 } else { 5000 };
    let mut rng = StdRng::seed_from_u64(2);
    let mut order: Vec<usize> = (0..POINTS.len()).collect();
    order.shuffle(&mut rng);
    let test_len = (POINTS.len() as f64 * 0.2).round() as usize;
    let (test, train) = order.split_at(test_len);

    let smoothing = OneHot::smoothed(0.01, 0.99);
    let sample = |i: usize| {
        let x = SVector::<f32, 2>::from(POINTS[i]) / 20.0;
        let y = smoothing
            .encode::<f32, 2>(LABELS[i])
            .expect("labels are 0 or 1");
        (x, y)
    };
    let train_set: Vec<_> = train.iter().map(|&i| sample(i)).collect();

    let mut net = Tiny::random(&mut rng);
    let mut opt = Sgd::new(2.0);
    let mut first_loss = 0.0;
    let mut last_loss = 0.0;
    println!(
        "9 points, 2 classes; test points: {:?}",
        test.iter().map(|&i| POINTS[i]).collect::<Vec<_>>()
    );
    for epoch in 0..epochs {
        let mut total = 0.0;
        for (x, y) in &train_set {
            total += net.train_step(&mut opt, &HalfSse, x, y);
        }
        let mean = total / train_set.len() as f32;
        if epoch == 0 {
            first_loss = mean;
        }
        last_loss = mean;
        if epoch % (epochs / 10) == 0 || epoch == epochs - 1 {
            println!("epoch {epoch:>5}: mean half-MSE {mean:.6}");
        }
    }
    let accuracy = |set: &[usize]| {
        set.iter()
            .filter(|&&i| predict(&net, POINTS[i]).0 == LABELS[i])
            .count() as f64
            / set.len() as f64
    };
    for (i, p) in POINTS.iter().enumerate() {
        let (class, out) = predict(&net, *p);
        let role = if test.contains(&i) { "test " } else { "train" };
        println!(
            "{role} {p:?} label {} predicted {class} (outputs {:.3}, {:.3})",
            LABELS[i], out[0], out[1]
        );
    }
    let summary = Summary {
        test_points: test.iter().map(|&i| POINTS[i]).collect(),
        first_loss,
        last_loss,
        train_accuracy: accuracy(train),
        test_accuracy: accuracy(test),
    };
    println!("train accuracy: {:.2}", summary.train_accuracy);
    println!("test accuracy: {:.2}", summary.test_accuracy);
    summary
}

#[allow(dead_code)]
fn main() {
    run(false);
}
