//! Gradient descent on `f(x) = x0² + x1²` from `(-3, 4)`, with the gradient taken numerically
//! (central differences, h = 1e-4), at three learning rates: 0.1 converges to the minimum at
//! 0, 10 diverges, 1e-10 barely moves. The seed tutorial's lesson on the learning rate.
//!
//! At lr 10 each step multiplies `x` by -19. Once `x` is so large that `x ± h` rounds back to
//! `x` (past about 1e12), no finite difference can be taken and the numerical gradient is NaN,
//! which typenet reports rather than hides (the seed's NumPy version divides 0 by `2h` and
//! silently stops moving).
//!
//! ```sh
//! cargo run --release --example minimize
//! ```

use typenet::prelude::*;

/// Where each run went: `|x|` after each step.
#[derive(Clone, Debug)]
pub struct Summary {
    pub converged: Vec<f64>,
    pub diverged: Vec<f64>,
    pub stuck: Vec<f64>,
}

fn f(x: &SVector<f64, 2>) -> f64 {
    x[0] * x[0] + x[1] * x[1]
}

/// `steps` steps of `x ← x - lr ∇f(x)` from (-3, 4); the norm of `x` after each.
fn descend(lr: f64, steps: usize) -> Vec<f64> {
    let mut x = SVector::<f64, 2>::new(-3.0, 4.0);
    (0..steps)
        .map(|_| {
            x -= lr * numerical_gradient(f, &x);
            x.norm()
        })
        .collect()
}

pub fn run(_quick: bool) -> Summary {
    let steps = 100;
    let summary = Summary {
        converged: descend(0.1, steps),
        diverged: descend(10.0, steps),
        stuck: descend(1e-10, steps),
    };
    println!("f(x) = x0² + x1², start (-3, 4), |x| = 5, {steps} steps with a numerical gradient");
    println!(
        "{:>8} {:>12} {:>12} {:>12} {:>12}",
        "lr", "|x| step 1", "step 5", "step 10", "step 100"
    );
    for (lr, norms, what) in [
        (0.1, &summary.converged, "converges to the minimum"),
        (
            10.0,
            &summary.diverged,
            "diverges (NaN: the gradient can no longer be estimated)",
        ),
        (1e-10, &summary.stuck, "barely moves"),
    ] {
        println!(
            "{lr:>8.0e} {:>12.4e} {:>12.4e} {:>12.4e} {:>12.4e}  {what}",
            norms[0],
            norms[4],
            norms[9],
            norms[steps - 1]
        );
    }
    summary
}

#[allow(dead_code)]
fn main() {
    run(false);
}
