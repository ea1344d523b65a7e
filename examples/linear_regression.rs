//! Linear regression as a one-layer network: recover `w` and `b = 3` of `y = x·w + 3` from 100
//! samples of 10 features, with full-batch gradient descent on the mean squared error.
//!
//! ```sh
//! cargo run --release --example linear_regression
//! ```

use rand::{RngExt, SeedableRng, rngs::StdRng};
use typenet::prelude::*;

/// The true and the learned parameters.
#[derive(Clone, Debug)]
pub struct Summary {
    pub true_w: [f32; 10],
    pub learned_w: [f32; 10],
    pub learned_b: f32,
    pub final_loss: f32,
}

pub fn run(quick: bool) -> Summary {
    let steps = if quick { 300 } else { 1000 };
    let mut rng = StdRng::seed_from_u64(3);
    let true_w: [f32; 10] = core::array::from_fn(|i| i as f32 - 4.5);
    // 100 samples, one column each, features uniform in [-1, 1)
    let x = OMatrix::<f32, Const<10>, Dyn>::from_fn(100, |_, _| rng.random_range(-1.0..1.0));
    let w = SMatrix::<f32, 1, 10>::from_row_slice(&true_w);
    let y = (w * &x).add_scalar(3.0);

    let mut net = Dense::<10, 1>::zeros();
    let mut opt = Sgd::new(0.5);
    let mut loss = f32::NAN;
    for step in 0..steps {
        loss = net.train_step(&mut opt, &Mse, &x, &y);
        if step % (steps / 5) == 0 {
            println!("step {step:>5}: MSE {loss:.3e}");
        }
    }
    println!("{:>8} {:>9} {:>9}", "", "true", "learned");
    for (i, t) in true_w.iter().enumerate() {
        println!("{:>8} {t:>9.4} {:>9.4}", format!("w[{i}]"), net.w[i]);
    }
    println!("{:>8} {:>9.4} {:>9.4}", "b", 3.0, net.b[0]);
    Summary {
        true_w,
        learned_w: core::array::from_fn(|i| net.w[i]),
        learned_b: net.b[0],
        final_loss: loss,
    }
}

#[allow(dead_code)]
fn main() {
    run(false);
}
