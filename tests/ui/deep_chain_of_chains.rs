// A mismatch deep inside a chain of chains: the decoder's last block wants 7, gets 6.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

type Block<const I: usize, const O: usize> = net![Dense<I, O>, Relu];
type Encoder = net![Block<16, 8>, Block<8, 4>];
type Decoder = net![Block<4, 6>, Block<7, 16>];
type AutoEncoder = net![Encoder, Decoder, Sigmoid];

fn main() {
    let _net = AutoEncoder::random(&mut StdRng::seed_from_u64(0));
}
