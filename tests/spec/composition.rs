//! Networks that must compile (their counterparts that must not are in `tests/ui/`): one network
//! takes a single sample, a fixed batch and a batch of any size; chains of chains; a network
//! that starts with an activation. (They run here rather than as `trybuild` pass cases, so that
//! the compile-fail cases only need `cargo check`.)

use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;

#[test]
fn one_network_takes_a_sample_a_fixed_batch_and_a_batch_of_any_size() {
    type Net = net![Dense<4, 5>, Tanh, Dense<5, 2>, Softmax];
    let mut net = Net::random(&mut StdRng::seed_from_u64(0));
    let one: SVector<f32, 2> = net.forward(&SVector::<f32, 4>::zeros());
    let three: SMatrix<f32, 2, 3> = net.forward(&SMatrix::<f32, 4, 3>::zeros());
    let seven: OMatrix<f32, Const<2>, Dyn> = net.forward(&OMatrix::<f32, Const<4>, Dyn>::zeros(7));
    assert_eq!((one.ncols(), three.ncols(), seven.ncols()), (1, 3, 7));
    let y = OMatrix::<f32, Const<2>, Dyn>::from_element(7, 0.5);
    let x = OMatrix::<f32, Const<4>, Dyn>::zeros(7);
    assert!(
        net.train_step(&mut Sgd::new(0.1), &CrossEntropy, &x, &y)
            .is_finite()
    );
}

#[test]
fn chains_of_chains_and_a_network_that_starts_with_an_activation() {
    type Encoder = net![Dense<8, 4>, Tanh];
    type Decoder = net![Dense<4, 8>, Sigmoid];
    type AutoEncoder = net![Encoder, Decoder];
    type Leading = net![Relu, Dense<3, 2>];
    let mut rng = StdRng::seed_from_u64(0);
    let y: SVector<f32, 8> = AutoEncoder::random(&mut rng).forward(&SVector::<f32, 8>::zeros());
    assert!(y.iter().all(|&v| v == 0.5), "sigmoid of a zero bias: {y:?}");
    let leading = Leading::random(&mut rng);
    let y: SVector<f32, 2> = leading.forward(&SVector::<f32, 3>::new(-1.0, 2.0, -3.0));
    let expected = leading.tail.forward(&SVector::<f32, 3>::new(0.0, 2.0, 0.0));
    assert_eq!(y, expected, "the leading ReLU zeroes the negative inputs");
}
