//! Convolutional networks: images, `Conv2d`, pools, `Flatten`, batch norm and dropout: sizes
//! computed in the types, known numbers, gradients checked in f64 for every layer (stride,
//! padding, training mode, fixed masks), training.

use rand::{SeedableRng, rngs::StdRng};
use typenet::nalgebra::{Const, Dyn};
use typenet::prelude::*;

type LeNet = net![
    Conv2d<1, 6, 5>, Relu, MaxPool2d<2>,
    Conv2d<6, 16, 5>, Relu, MaxPool2d<2>,
    Flatten, Dense<256, 120>, Relu, Dense<120, 84>, Relu, Dense<84, 10>,
];

#[test]
fn lenet_computes_its_sizes_and_gives_ten_logits() {
    let net = LeNet::random(&mut StdRng::seed_from_u64(1));
    let x: Image<f32, 1, 28, 28> = Image::from_fn(|_, y, x| ((y * 28 + x) % 7) as f32 / 7.0);
    let logits: SVector<f32, 10> = net.forward(&x);
    assert!(logits.iter().all(|v| v.is_finite()));
    // a batch of the same image gives the same logits in every column
    let batch =
        Image::<f32, 1, 28, 28, Dyn>::from_samples(3, |_, v| v.copy_from_slice(x.as_slice()));
    let many = net.forward(&batch);
    for c in 0..3 {
        for r in 0..10 {
            assert!((many[(r, c)] - logits[r]).abs() <= 1e-5 * logits[r].abs().max(1.0));
        }
    }
}

#[test]
fn simple_conv_net_flattens_to_4320() {
    type SimpleConvNet =
        net![Conv2d<1, 30, 5>, Relu, MaxPool2d<2>, Flatten, Dense<4320, 100>, Relu, Dense<100, 10>];
    let net = SimpleConvNet::random_boxed(&mut StdRng::seed_from_u64(2));
    let y = net.forward(&Image::<f32, 1, 28, 28>::zeros());
    assert_eq!(y.len(), 10);
}

#[test]
fn a_convolution_is_pytorchs_cross_correlation() {
    // one 3x3 input channel, a 2x2 kernel [[1, 2], [3, 4]] and bias 10:
    // out[0][0] = 1·0 + 2·1 + 3·3 + 4·4 + 10 = 37
    let mut conv = Conv2d::<1, 1, 2, 1, 0, f64>::zeros();
    conv.w = [[[[1.0], [2.0]], [[3.0], [4.0]]]];
    conv.b = [10.0];
    let x: Image<f64, 1, 3, 3> = Image::from_fn(|_, y, x| (3 * y + x) as f64);
    let y = conv.forward(&x);
    assert_eq!(y.as_slice(), [37.0, 47.0, 67.0, 77.0]);
    assert_eq!(conv.weight(0, 0, 1, 0), 3.0);
    // padding 1, stride 2: 3 + 2 − 2 = 3, / 2 + 1 = 2 a side; the corner sees only x[0][0]·4
    let mut padded = Conv2d::<1, 1, 2, 2, 1, f64>::zeros();
    padded.w = conv.w;
    let y = padded.forward(&x);
    assert_eq!(
        y.as_slice(),
        [
            0.0 * 4.0,
            1.0 * 3.0 + 2.0 * 4.0 - 8.0 + 8.0,
            3.0 * 2.0 + 6.0 * 4.0,
            4.0 + 2.0 * 5.0 + 3.0 * 7.0 + 4.0 * 8.0
        ]
    );
}

#[test]
fn pools_drop_a_partial_window_and_max_ties_go_to_the_first() {
    let x: Image<f64, 1, 5, 5> = Image::from_fn(|_, y, x| (5 * y + x) as f64);
    let y = MaxPool2d::<2>.forward(&x);
    assert_eq!(y.as_slice(), [6.0, 8.0, 16.0, 18.0]);
    let y = AvgPool2d::<3, 2>.forward(&x);
    assert_eq!(y.as_slice(), [6.0, 8.0, 16.0, 18.0]);
    // ties: a window of equal values sends its gradient to the top-left place
    let flat: Image<f64, 1, 2, 2> = Image::from_slice(&[1.0, 1.0, 1.0, 1.0]);
    let (_, cache) = MaxPool2d::<2>.forward_train(flat);
    let d = MaxPool2d::<2>.backward(cache, Image::from_slice(&[1.0]), &mut MaxPool2d);
    assert_eq!(d.as_slice(), [1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn every_image_layer_passes_the_gradient_check() {
    let mut rng = StdRng::seed_from_u64(3);
    let x = Image::<f64, 2, 7, 6, Const<2>>::from_fn_batch(Const, |n, c, y, x| {
        ((n * 31 + c * 17 + y * 5 + x * 3) % 11) as f64 / 5.0 - 1.0
    });
    // stride 2 and padding 1; tanh keeps max-pool windows free of ties
    type Strided =
        net![Conv2d<2, 3, 3, 2, 1, f64>, Tanh, MaxPool2d<2, 1>, Flatten, Dense<18, 2, f64>];
    let net = Strided::random(&mut rng);
    let y = SMatrix::<f64, 2, 2>::new(1.0, 0.0, 0.0, 1.0);
    let report = gradcheck(&net, &SoftmaxCrossEntropy, &x, &y);
    assert!(report.passes(1e-6), "{report}");

    type Pooled =
        net![Conv2d<2, 4, 2, 1, 0, f64>, Sigmoid, AvgPool2d<2>, Flatten, Dense<24, 2, f64>];
    let report = gradcheck(&Pooled::random(&mut rng), &Mse, &x, &y);
    assert!(report.passes(1e-6), "{report}");
}

#[test]
fn batch_norm_in_training_mode_passes_the_gradient_check() {
    let mut rng = StdRng::seed_from_u64(4);
    type Normed =
        net![Conv2d<2, 3, 3, 1, 1, f64>, BatchNorm2d<3, f64>, Tanh, Flatten, Dense<36, 2, f64>];
    let mut net = Normed::random(&mut rng);
    net.tail.head.gamma = [0.5, 1.5, -1.0];
    net.tail.head.beta = [0.1, -0.2, 0.3];
    let x = Image::<f64, 2, 3, 4, Dyn>::from_fn_batch(Dyn(3), |n, c, y, x| {
        ((n * 13 + c * 7 + y * 3 + x) % 9) as f64 / 4.0 - 1.0
    });
    let y = OMatrix::<f64, Const<2>, Dyn>::from_fn(3, |r, c| ((r + c) % 2) as f64);
    let report = gradcheck(&net, &Mse, &x, &y);
    assert!(report.passes(1e-6), "{report}");
}

#[test]
fn batch_norm_keeps_running_statistics_through_training_steps() {
    let mut net = <net![BatchNorm2d<1, f64>, Flatten, Dense<4, 1, f64>]>::random(
        &mut StdRng::seed_from_u64(5),
    );
    assert_eq!((net.head.gamma, net.head.running_var), ([1.0], [1.0]));
    let x = Image::<f64, 1, 2, 2, Const<1>>::from_slice_batch(Const, &[1.0, 2.0, 3.0, 4.0]);
    let y = SVector::<f64, 1>::new(0.5);
    net.train_step(&mut Sgd::new(0.1), &Mse, &x, &y);
    // mean 2.5, unbiased variance 5/3: 0.9 · 0 + 0.1 · 2.5, 0.9 · 1 + 0.1 · 5/3
    assert!((net.head.running_mean[0] - 0.25).abs() < 1e-12);
    assert!((net.head.running_var[0] - (0.9 + 0.5 / 3.0)).abs() < 1e-12);
    // the fused step keeps them the same way
    let mut fused = <net![BatchNorm2d<1, f64>, Flatten, Dense<4, 1, f64>]>::random(
        &mut StdRng::seed_from_u64(5),
    );
    fused.sgd_step(&Sgd::new(0.1), &Mse, &x, &y);
    assert_eq!(fused.head.running_mean, net.head.running_mean);
    assert_eq!(fused.head.running_var, net.head.running_var);
    // inference uses them: (x − 0.25) / √(var + ε) γ + β
    let out = net
        .head
        .forward(&Image::<f64, 1, 2, 2>::from_slice(&[0.25; 4]));
    assert!(
        out.as_slice()
            .iter()
            .all(|&v| (v - net.head.beta[0]).abs() < 1e-12)
    );
}

#[test]
fn dropout_with_its_mask_fixed_passes_the_gradient_check() {
    type Dropped = net![Dense<6, 8, f64>, Tanh, Dropout<30>, Dense<8, 2, f64>];
    let net = Dropped::random(&mut StdRng::seed_from_u64(6));
    let x = SMatrix::<f64, 6, 3>::from_fn(|r, c| (r as f64 - c as f64) / 4.0);
    let y = SMatrix::<f64, 2, 3>::from_fn(|r, c| ((r + c) % 2) as f64);
    let report = gradcheck(&net, &Mse, &x, &y);
    assert!(report.passes(1e-6), "{report}");
    // inference is the identity; training drops some values
    let image = Image::<f64, 2, 3, 3>::from_fn(|c, y, x| (c + y + x) as f64 + 1.0);
    assert_eq!(Dropout::<50>.forward(&image), image);
    let (dropped, _) = Dropout::<50>.forward_train_in(image.clone(), &mut TrainContext::seeded(9));
    assert!(
        dropped
            .as_slice()
            .iter()
            .zip(image.as_slice())
            .all(|(&d, &v)| d == 0.0 || d == 2.0 * v)
    );
    assert!(dropped.as_slice().contains(&0.0));
}

#[test]
fn a_small_cnn_learns_to_tell_stripes_apart() {
    type Net = net![Conv2d<1, 4, 3, 1, 1>, Relu, MaxPool2d<2>, Flatten, Dense<64, 2>];
    let mut net = Net::random(&mut StdRng::seed_from_u64(7));
    let images = Image::<f32, 1, 8, 8, Dyn>::from_fn_batch(Dyn(8), |n, _, y, x| {
        let phase = (n / 2) % 2;
        if n % 2 == 0 {
            ((x + phase) % 2) as f32
        } else {
            ((y + phase) % 2) as f32
        }
    });
    let targets = OMatrix::<f32, Const<2>, Dyn>::from_fn(8, |r, c| (r == c % 2) as u8 as f32);
    let mut opt = Adam::new(0.02);
    let first = net.train_step(&mut opt, &SoftmaxCrossEntropy, &images, &targets);
    let mut last = first;
    for _ in 0..100 {
        last = net.train_step(&mut opt, &SoftmaxCrossEntropy, &images, &targets);
    }
    assert!(last < 0.05 * first, "loss {first} → {last}");
}

#[test]
fn a_data_parallel_step_on_images_is_the_whole_batch_step() {
    use typenet::parallel::DataParallel;
    type Net = net![Conv2d<1, 3, 3, 1, 0, f64>, BatchNorm2d<3, f64>, Relu, MaxPool2d<2>, Flatten, Dense<27, 4, f64>];
    let mut rng = StdRng::seed_from_u64(8);
    let mut one = Net::random(&mut rng);
    let mut two = one.clone();
    let x = Image::<f64, 1, 8, 8, Dyn>::from_fn_batch(Dyn(9), |n, _, y, x| {
        ((n * 7 + y * 3 + x) % 5) as f64 / 2.0
    });
    let y = OMatrix::<f64, Const<4>, Dyn>::from_fn(9, |r, c| (r == c % 4) as u8 as f64);
    // batch norm's batch statistics are the slice's, so compare a network without it too
    type Plain = net![Conv2d<1, 3, 3, 1, 0, f64>, Relu, MaxPool2d<2>, Flatten, Dense<27, 4, f64>];
    let mut plain_one = Plain::random(&mut rng);
    let mut plain_two = plain_one.clone();
    let mut parallel = DataParallel::<Plain>::new_unclamped(2).unwrap();
    let a = parallel.train_step(
        &mut plain_two,
        &mut Sgd::new(0.1),
        &SoftmaxCrossEntropy,
        &x,
        &y,
    );
    let b = plain_one.train_step(&mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
    assert!((a - b).abs() < 1e-12, "{a} {b}");
    assert!(approx::relative_eq!(plain_one, plain_two, epsilon = 1e-12));
    // with batch norm: a step is taken and the running statistics move, from the first slice
    let mut parallel = DataParallel::<Net>::new_unclamped(2).unwrap();
    let loss = parallel.train_step(&mut two, &mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
    assert!(loss.is_finite());
    assert_ne!(two.tail.head.running_mean, [0.0; 3]);
    one.train_step(&mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
    assert_ne!(one.tail.head.running_mean, two.tail.head.running_mean);
}
