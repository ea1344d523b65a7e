// Streaming a GRU of one input with a step of two values.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

type Amp = net![Gru<1, 8>, Dense<8, 1>];

fn main() {
    let net = Amp::random(&mut StdRng::seed_from_u64(0));
    let mut state = net.initial_state();
    let _y = net.step(&mut state, &SVector::<f32, 2>::new(0.5, 0.5));
}
