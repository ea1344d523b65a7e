// A 5x5 kernel over a 3x3 image.
use typenet::prelude::*;

fn main() {
    let conv = Conv2d::<1, 2, 5>::zeros();
    let _y = conv.forward(&Image::<f32, 1, 3, 3>::zeros());
}
