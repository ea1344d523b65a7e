// An `f64` input to an `f32` network.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    let net = <net![Dense<3, 4>, Relu, Dense<4, 2>]>::random(&mut StdRng::seed_from_u64(0));
    let _y = net.forward(&SVector::<f64, 3>::zeros());
}
