// A target of the wrong width for the network's output, in a training step.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    let mut net = <net![Dense<3, 4>, Relu, Dense<4, 2>]>::random(&mut StdRng::seed_from_u64(0));
    let x = SVector::<f32, 3>::zeros();
    let y = SVector::<f32, 3>::zeros();
    net.train_step(&mut Sgd::new(0.1), &Mse, &x, &y);
}
