// LeNet flattens 16 x 4 x 4 = 256 values into a Dense that takes 250.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    type LeNet = net![
        Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
        Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
        Flatten, Dense<250, 120>, Relu, Dense<120, 10>,
    ];
    let net = LeNet::random(&mut StdRng::seed_from_u64(0));
    let _logits = net.forward(&Image::<f32, 1, 28, 28>::zeros());
}
