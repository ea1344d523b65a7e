//! What a training step costs by backpropagation and by numerical gradients as the network
//! deepens: numerical differentiation runs one forward pass per parameter, each costing in
//! proportion to the parameter count, so its step grows with the *square* of the parameter
//! count; backprop's step grows *linearly*.
//!
//! Sigmoid networks 10 -> d x 16 -> 2 for d = 1 to 8, half-MSE, one sample, f64.
//!
//! ```sh
//! cargo run --release --example backprop_vs_numerical
//! ```

use std::cell::Cell;
use std::time::Instant;

use nalgebra::{DefaultAllocator, Dim, allocator::Allocator};
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

/// Half-MSE that counts how often it is evaluated (one evaluation = one forward pass).
#[derive(Default)]
pub struct Counted {
    pub evaluations: Cell<usize>,
}

impl<B: Dim> Loss<OMatrix<f64, Const<2>, B>> for Counted
where
    DefaultAllocator: Allocator<Const<2>, B>,
{
    type Scalar = f64;
    fn loss(&self, p: &OMatrix<f64, Const<2>, B>, y: &OMatrix<f64, Const<2>, B>) -> f64 {
        self.evaluations.set(self.evaluations.get() + 1);
        HalfSse.loss(p, y)
    }
    fn loss_and_gradient(
        &self,
        p: OMatrix<f64, Const<2>, B>,
        y: &OMatrix<f64, Const<2>, B>,
    ) -> (f64, OMatrix<f64, Const<2>, B>) {
        self.evaluations.set(self.evaluations.get() + 1);
        HalfSse.loss_and_gradient(p, y)
    }
}

/// One depth's measurements.
#[derive(Clone, Debug)]
pub struct Row {
    pub hidden_layers: usize,
    pub params: usize,
    pub backprop_seconds: f64,
    pub numerical_seconds: f64,
    /// Forward passes (loss evaluations) per step.
    pub backprop_passes: usize,
    pub numerical_passes: usize,
}

fn measure<N>(hidden_layers: usize, reps: usize) -> Row
where
    N: Network + Params<f64> + Clone + Default + Layer<SVector<f64, 10>, Out = SVector<f64, 2>>,
{
    let mut net =
        typenet::build::random_with::<N, f64, _>(&mut StdRng::seed_from_u64(1), Init::Xavier);
    let x = SVector::<f64, 10>::from_fn(|i, _| i as f64 / 10.0);
    let y = SVector::<f64, 2>::new(0.2, 0.8);
    let mut opt = Sgd::new(0.01);
    let loss = Counted::default();

    let clock = Instant::now();
    for _ in 0..reps * 50 {
        net.train_step(&mut opt, &loss, &x, &y);
    }
    let backprop_seconds = clock.elapsed().as_secs_f64() / (reps * 50) as f64;
    let backprop_passes = loss.evaluations.replace(0) / (reps * 50);

    let clock = Instant::now();
    for _ in 0..reps {
        let grad = numerical_param_gradient(&net, &loss, &x, &y, Difference::Forward(1e-4));
        opt.update(&mut net, &grad);
    }
    let numerical_seconds = clock.elapsed().as_secs_f64() / reps as f64;
    let numerical_passes = loss.evaluations.get() / reps;
    Row {
        hidden_layers,
        params: net.param_count(),
        backprop_seconds,
        numerical_seconds,
        backprop_passes,
        numerical_passes,
    }
}

pub fn run(quick: bool) -> Vec<Row> {
    let reps = if quick { 1 } else { 20 };
    type S = Sigmoid;
    type H = Dense<16, 16, f64>;
    let rows = vec![
        measure::<net![Dense<10, 16, f64>, S, Dense<16, 2, f64>, S]>(1, reps),
        measure::<net![Dense<10, 16, f64>, S, H, S, Dense<16, 2, f64>, S]>(2, reps),
        measure::<net![Dense<10, 16, f64>, S, H, S, H, S, Dense<16, 2, f64>, S]>(3, reps),
        measure::<net![Dense<10, 16, f64>, S, H, S, H, S, H, S, Dense<16, 2, f64>, S]>(4, reps),
        measure::<net![Dense<10, 16, f64>, S, H, S, H, S, H, S, H, S, Dense<16, 2, f64>, S]>(
            5, reps,
        ),
        measure::<net![Dense<10, 16, f64>, S, H, S, H, S, H, S, H, S, H, S, Dense<16, 2, f64>, S]>(
            6, reps,
        ),
        measure::<
            net![Dense<10, 16, f64>, S, H, S, H, S, H, S, H, S, H, S, H, S, Dense<16, 2, f64>, S],
        >(7, reps),
        measure::<
            net![Dense<10, 16, f64>, S, H, S, H, S, H, S, H, S, H, S, H, S, H, S, Dense<16, 2, f64>, S],
        >(8, reps),
    ];
    println!("time per training step, sigmoid networks 10 -> d x 16 -> 2, one sample, f64");
    println!(
        "{:>2} {:>7} {:>13} {:>14} {:>8} {:>16} {:>18}",
        "d", "params", "backprop", "numerical", "ratio", "backprop/param", "numerical/param²"
    );
    for r in &rows {
        println!(
            "{:>2} {:>7} {:>10.2} µs {:>11.3} ms {:>7.0}x {:>13.2} ns {:>15.3} ns",
            r.hidden_layers,
            r.params,
            r.backprop_seconds * 1e6,
            r.numerical_seconds * 1e3,
            r.numerical_seconds / r.backprop_seconds,
            r.backprop_seconds / r.params as f64 * 1e9,
            r.numerical_seconds / (r.params as f64).powi(2) * 1e9,
        );
    }
    let (a, b) = (&rows[0], &rows[rows.len() - 1]);
    let growth = |ta: f64, tb: f64| (tb / ta).ln() / (b.params as f64 / a.params as f64).ln();
    println!(
        "fitted growth from d = 1 to d = 8: backprop ∝ params^{:.2}, numerical ∝ params^{:.2}",
        growth(a.backprop_seconds, b.backprop_seconds),
        growth(a.numerical_seconds, b.numerical_seconds)
    );
    println!(
        "forward passes per step: backprop 1, numerical params + 1 ({} at d = 8)",
        b.numerical_passes
    );
    rows
}

#[allow(dead_code)]
fn main() {
    run(false);
}
