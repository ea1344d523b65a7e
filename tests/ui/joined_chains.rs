// Two chains that each work, joined where they do not fit: `A` gives 8 values, `B` wants 6.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

type A = net![Dense<4, 8>, Relu];
type B = net![Dense<6, 2>, Sigmoid];
type AB = net![A, B];

fn main() {
    let _net = AB::random(&mut StdRng::seed_from_u64(0));
}
