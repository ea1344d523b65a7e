// After two convolutions and pools, a 4x4 image meets a third 2x2 pool and a 3x3 kernel: the
// pool leaves 2x2, smaller than the kernel.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    type Net = net![
        Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
        Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
        MaxPool2d<2>, Conv2d<16, 4, 3>,
    ];
    let net = Net::random(&mut StdRng::seed_from_u64(0));
    let _y = net.forward(&Image::<f32, 1, 28, 28>::zeros());
}
