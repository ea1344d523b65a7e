// A second convolution expecting 8 channels after one that gives 6.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    type Net = net![Conv2d<1, 6, 5>, Relu, MaxPool2d<2>, Conv2d<8, 16, 5>, Relu];
    let net = Net::random(&mut StdRng::seed_from_u64(0));
    let _y = net.forward(&Image::<f32, 1, 28, 28>::zeros());
}
