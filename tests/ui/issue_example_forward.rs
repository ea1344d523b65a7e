// The same mismatch, in a network built without the checking constructors and then run.
use typenet::prelude::*;

type Net = net![Dense<3, 4>, Sigmoid, Dense<5, 2>];

fn main() {
    let net: Net = Default::default();
    let _y = net.forward(&SVector::<f32, 3>::zeros());
}
