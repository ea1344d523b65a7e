//! A deep sigmoid network trained two ways from the same start: by backpropagation and by
//! forward-difference numerical gradients (as the seed tutorial does). Same loss curve, very
//! different cost.
//!
//! Input 10, five hidden sigmoid layers of 32, 2 sigmoid outputs; half-MSE; one sample;
//! 100 steps of gradient descent at lr 0.01. In `f64`, like the seed (NumPy's default), so that
//! the two curves can be compared to many digits.
//!
//! ```sh
//! cargo run --release --example deep_sigmoid
//! ```

use std::cell::Cell;
use std::time::Instant;

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

pub type DeepSigmoid = net![
    Dense<10, 32, f64>, Sigmoid,
    Dense<32, 32, f64>, Sigmoid,
    Dense<32, 32, f64>, Sigmoid,
    Dense<32, 32, f64>, Sigmoid,
    Dense<32, 32, f64>, Sigmoid,
    Dense<32, 2, f64>, Sigmoid
];

/// The two loss curves and what each step cost in forward passes (the times are printed).
#[derive(Clone, Debug)]
pub struct Summary {
    pub backprop: Vec<f64>,
    pub numerical: Vec<f64>,
    /// How many times each way ran the network forward to a loss, per step.
    pub backprop_forward_passes: usize,
    pub numerical_forward_passes: usize,
    pub params: usize,
}

/// A loss that counts how often it is computed: once per forward pass of the network.
struct Counted<L> {
    loss: L,
    count: Cell<usize>,
}

impl<L: Loss<P>, P> Loss<P> for Counted<L> {
    type Scalar = L::Scalar;
    fn loss(&self, pred: &P, target: &P) -> L::Scalar {
        self.count.set(self.count.get() + 1);
        self.loss.loss(pred, target)
    }
    fn loss_and_gradient(&self, pred: P, target: &P) -> (L::Scalar, P) {
        self.count.set(self.count.get() + 1);
        self.loss.loss_and_gradient(pred, target)
    }
}

pub fn run(quick: bool) -> Summary {
    let steps = if quick { 10 } else { 100 };
    let mut rng = StdRng::seed_from_u64(0);
    let start = DeepSigmoid::random_with(&mut rng, Init::Normal { std: 1.0 });
    let x = SVector::<f64, 10>::from_fn(|i, _| (i as f64 + 1.0) / 10.0);
    let y = SVector::<f64, 2>::new(0.2, 0.8);
    let lr = 0.01;

    let mut net = start.clone();
    let mut opt = Sgd::new(lr);
    let mut backprop = Vec::with_capacity(steps);
    let counted = Counted {
        loss: HalfSse,
        count: Cell::new(0),
    };
    let clock = Instant::now();
    for _ in 0..steps {
        backprop.push(net.train_step(&mut opt, &counted, &x, &y));
    }
    let backprop_seconds_per_step = clock.elapsed().as_secs_f64() / steps as f64;
    let backprop_forward_passes = counted.count.replace(0) / steps;

    let mut net = start;
    let mut numerical = Vec::with_capacity(steps);
    let clock = Instant::now();
    for _ in 0..steps {
        numerical.push(HalfSse.loss(&net.forward(&x), &y));
        let grad = numerical_param_gradient(&net, &counted, &x, &y, Difference::Forward(1e-4));
        opt.update(&mut net, &grad);
    }
    let numerical_seconds_per_step = clock.elapsed().as_secs_f64() / steps as f64;
    let numerical_forward_passes = counted.count.get() / steps;

    let params = net.param_count();
    println!(
        "deep sigmoid network: 10 -> 5 x 32 -> 2, {params} parameters, half-MSE, lr {lr}, f64"
    );
    println!(
        "{:>5} {:>22} {:>22} {:>10}",
        "step", "loss (backprop)", "loss (numerical)", "rel. diff"
    );
    for i in (0..steps).step_by((steps / 10).max(1)).chain([steps - 1]) {
        let diff = (backprop[i] - numerical[i]).abs() / backprop[i].abs();
        println!(
            "{i:>5} {:>22.15} {:>22.15} {diff:>10.1e}",
            backprop[i], numerical[i]
        );
    }
    println!(
        "time per step: backprop {:.1} µs, numerical (forward differences, h = 1e-4) {:.2} ms: {:.0}x",
        backprop_seconds_per_step * 1e6,
        numerical_seconds_per_step * 1e3,
        numerical_seconds_per_step / backprop_seconds_per_step
    );
    Summary {
        backprop,
        numerical,
        backprop_forward_passes,
        numerical_forward_passes,
        params,
    }
}

#[allow(dead_code)]
fn main() {
    run(false);
}
