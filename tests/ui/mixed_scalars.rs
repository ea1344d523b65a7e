// An `f32` layer feeding an `f64` layer: widths agree, scalars do not.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    let _net = <net![Dense<2, 3>, Tanh, Dense<3, 1, f64>]>::random(&mut StdRng::seed_from_u64(0));
}
