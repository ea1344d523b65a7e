// `Dense<3, 4>` then `Dense<5, 2>`: 4 values offered, 5 wanted. Built with `random`.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

type Net = net![Dense<3, 4>, Sigmoid, Dense<5, 2>];

fn main() {
    let _net = Net::random(&mut StdRng::seed_from_u64(0));
}
