// A target of the wrong width, in the gradient checker.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    let net = <net![Dense<3, 4, f64>, Tanh, Dense<4, 2, f64>]>::random(&mut StdRng::seed_from_u64(0));
    let x = SVector::<f64, 3>::zeros();
    let y = SVector::<f64, 10>::zeros();
    let _ = gradcheck(&net, &SoftmaxCrossEntropy, &x, &y);
}
