// A mismatch in the middle of a long chain: `Dense<9, 4>` gives 4 values, `Dense<5, 1>` wants 5.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    let _net = <net![Dense<6, 9>, Relu, Dense<9, 4>, Tanh, Dense<5, 1>]>::random(&mut rng);
}
