// A causal convolution of 8 channels after one that gives 4.
use typenet::prelude::*;

type Net = net![Conv1d<1, 4, 3>, Tanh, Conv1d<8, 8, 3, 2>, Dense<8, 1>];

fn main() {
    let _net = Net::zeros();
}
