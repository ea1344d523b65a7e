// A GRU of 16 hidden units into `Dense<8, 1>`: 16 values offered, 8 wanted (issue 14's example).
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

type Amp = net![Gru<1, 16>, Dense<8, 1>];

fn main() {
    let _net = Amp::random(&mut StdRng::seed_from_u64(0));
}
