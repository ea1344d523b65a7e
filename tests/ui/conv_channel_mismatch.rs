// A convolution of 3 input channels fed a 1-channel image.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    let net = <net![Conv2d<3, 8, 3>, Relu]>::random(&mut StdRng::seed_from_u64(0));
    let _y = net.forward(&Image::<f32, 1, 28, 28>::zeros());
}
