// An input vector of the wrong width for the first layer.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    let net = <net![Dense<3, 4>, Relu, Dense<4, 2>]>::random(&mut StdRng::seed_from_u64(0));
    let _y = net.forward(&SVector::<f32, 5>::zeros());
}
