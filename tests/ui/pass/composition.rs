// Chains of chains, and a network that starts with an activation.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

type Encoder = net![Dense<8, 4>, Tanh];
type Decoder = net![Dense<4, 8>, Sigmoid];
type AutoEncoder = net![Encoder, Decoder];
type Leading = net![Relu, Dense<3, 2>];

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    let _: SVector<f32, 8> = AutoEncoder::random(&mut rng).forward(&SVector::<f32, 8>::zeros());
    let _: SVector<f32, 2> = Leading::random(&mut rng).forward(&SVector::<f32, 3>::zeros());
}
