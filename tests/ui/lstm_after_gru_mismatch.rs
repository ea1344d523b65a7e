// Recurrent layers chained: `Gru<1, 8>` gives 8 values, `Lstm<4, 4>` wants 4.
use typenet::prelude::*;

type Net = net![Gru<1, 8>, Lstm<4, 4>, Dense<4, 1>];

fn main() {
    let _net = Net::zeros();
}
