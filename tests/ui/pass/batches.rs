// One network takes a single sample, a fixed batch and a batch of any size.
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

fn main() {
    type Net = net![Dense<4, 5>, Tanh, Dense<5, 2>, Softmax];
    let mut net = Net::random(&mut StdRng::seed_from_u64(0));
    let _: SVector<f32, 2> = net.forward(&SVector::<f32, 4>::zeros());
    let _: SMatrix<f32, 2, 3> = net.forward(&SMatrix::<f32, 4, 3>::zeros());
    let _: OMatrix<f32, Const<2>, Dyn> = net.forward(&OMatrix::<f32, Const<4>, Dyn>::zeros(7));
    let y = OMatrix::<f32, Const<2>, Dyn>::zeros(7);
    net.train_step(&mut Sgd::new(0.1), &CrossEntropy, &OMatrix::<f32, Const<4>, Dyn>::zeros(7), &y);
}
