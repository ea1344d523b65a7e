//! The checker can fail. Each layer here makes one of the gradient slips the seed tutorials
//! make (or could): the checker must reject it and point at it, while the correct layer it
//! imitates passes in the same network.

use nalgebra::{DefaultAllocator, Dim, allocator::Allocator};
use rand::{SeedableRng, rngs::StdRng};
use typenet::prelude::*;
use typenet::{Comparison, FirstLayer, Location, Role, Tensor, TensorMut};

/// A dense layer whose parameter gradient is written by `$body` (with `w`, `x`, `d` = dL/dY
/// and `g` = the gradient's `Dense`); its input gradient is the correct `Wᵀ d`.
macro_rules! dense_with_gradient {
    ($(#[$doc:meta])* $name:ident, |$w:ident, $x:ident, $d:ident, $g:ident| $body:block) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        struct $name<const I: usize, const O: usize>(Dense<I, O, f64>);

        impl<const I: usize, const O: usize, B: Dim> Layer<OMatrix<f64, Const<I>, B>> for $name<I, O>
        where
            DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B> + Allocator<B, Const<I>>,
        {
            type Out = OMatrix<f64, Const<O>, B>;
            type Cache = OMatrix<f64, Const<I>, B>;
            fn forward(&self, x: &Self::Cache) -> Self::Out {
                Layer::forward(&self.0, x)
            }
            fn forward_train(&self, x: Self::Cache) -> (Self::Out, Self::Cache) {
                (Layer::forward(&self.0, &x), x)
            }
            fn backward(&self, x: Self::Cache, d: Self::Out, grad: &mut Self) -> Self::Cache {
                #[allow(unused_variables)]
                let ($w, $x, $d, $g) = (&self.0.w, &x, &d, &mut grad.0);
                $body
                self.0.w.tr_mul(&d)
            }
        }

        impl<const I: usize, const O: usize> Params<f64> for $name<I, O> {
            const LAYERS: usize = 1;
            fn tensors(&self) -> impl Iterator<Item = Tensor<'_, f64>> {
                self.0.tensors()
            }
            fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, f64>> {
                self.0.tensors_mut()
            }
        }

        impl<const I: usize, const O: usize, Rest> FirstLayer<Rest> for $name<I, O> {
            type Scalar = f64;
            type InputDim = Const<I>;
            type Input = SVector<f64, I>;
        }
    };
}

dense_with_gradient!(
    /// Correct: `dW += d xᵀ`, `db += Σ_batch d`. The control for the slips below.
    RightDense, |w, x, d, g| {
        g.w += d * x.transpose();
        g.b += d.column_sum();
    }
);
dense_with_gradient!(
    /// The bias gradient averaged over the batch instead of summed (the loss already
    /// divided by the batch size).
    BiasAveraged, |w, x, d, g| {
        g.w += d * x.transpose();
        g.b += d.column_mean();
    }
);
dense_with_gradient!(
    /// The weight gradient with its sign flipped.
    FlippedSign, |w, x, d, g| {
        g.w -= d * x.transpose();
        g.b += d.column_sum();
    }
);
dense_with_gradient!(
    /// The weight gradient transposed (`x dᵀ` where `d xᵀ` belongs; square, so it type-checks).
    Transposed, |w, x, d, g| {
        let t = d * x.transpose();
        for r in 0..t.nrows() {
            for c in 0..t.ncols() {
                g.w[(r, c)] += t[(c, r)]; // only square layers get here without a panic
            }
        }
        g.b += d.column_sum();
    }
);

/// A parameter-free element-wise layer with its own derivative.
macro_rules! activation_with_derivative {
    ($(#[$doc:meta])* $name:ident, value = $value:expr, derivative = |$x:pat_param, $y:pat_param| $deriv:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        struct $name;

        impl<R: Dim, B: Dim> Layer<OMatrix<f64, R, B>> for $name
        where
            DefaultAllocator: Allocator<R, B>,
        {
            type Out = OMatrix<f64, R, B>;
            type Cache = (OMatrix<f64, R, B>, OMatrix<f64, R, B>);
            fn forward(&self, x: &Self::Out) -> Self::Out {
                x.map($value)
            }
            fn forward_train(&self, x: Self::Out) -> (Self::Out, Self::Cache) {
                let y = x.map($value);
                (y.clone(), (x, y))
            }
            fn backward(&self, (x, y): Self::Cache, mut d: Self::Out, _: &mut Self) -> Self::Out {
                for ((d, &$x), &$y) in d.iter_mut().zip(x.iter()).zip(y.iter()) {
                    *d *= $deriv;
                }
                d
            }
        }

        impl Params<f64> for $name {
            const LAYERS: usize = 1;
            fn tensors(&self) -> impl Iterator<Item = Tensor<'_, f64>> {
                core::iter::empty()
            }
            fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, f64>> {
                core::iter::empty()
            }
        }
    };
}

activation_with_derivative!(
    /// A sigmoid whose backward pass forgets the derivative: it passes dL/dY straight through.
    SigmoidWithoutDerivative, value = Sigmoid::value, derivative = |_, _| 1.0
);
activation_with_derivative!(
    /// A ReLU that lets the gradient through where the input was negative.
    ReluLeakingGradient, value = Relu::value, derivative = |_, _| 1.0
);
activation_with_derivative!(
    /// A sigmoid with the derivative written as `σ(x)` instead of `σ(x)(1 - σ(x))`.
    SigmoidWrongDerivative, value = Sigmoid::value, derivative = |_, y| y
);

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A batch of 3 inputs of width 4 (mixed signs, so ReLUs are both on and off) and one-hot
/// targets of width 2.
fn batch() -> (SMatrix<f64, 4, 3>, SMatrix<f64, 2, 3>) {
    let x = SMatrix::<f64, 4, 3>::new(
        0.9, -0.4, 0.3, //
        -0.7, 0.8, -0.2, //
        0.5, 0.1, -0.9, //
        -0.3, -0.6, 0.7,
    );
    let y = SMatrix::<f64, 2, 3>::new(1.0, 0.0, 1.0, 0.0, 1.0, 0.0);
    (x, y)
}

/// The worst comparison of a report that must reject, with its relative error checked.
#[track_caller]
fn rejected(report: typenet::GradReport) -> Comparison {
    assert!(
        report.max_rel_error() > 1e-2,
        "the checker accepted a wrong gradient: {report}"
    );
    report.worst().expect("something was checked")
}

#[track_caller]
fn location_of(c: Comparison) -> (usize, Role) {
    match c.location {
        Location::Param { tensor, .. } => (tensor.layer, tensor.role),
        _ => panic!("expected a parameter, got {}", c.location),
    }
}

#[test]
fn the_correct_dense_passes_so_each_rejection_below_means_something() {
    type Net = net![Dense<4, 4, f64>, Tanh, RightDense<4, 2>];
    let (x, y) = batch();
    let mut net = Net::random(&mut rng(1));
    net.tail.tail.0 = Dense::random(&mut rng(2));
    assert!(gradcheck(&net, &SoftmaxCrossEntropy, &x, &y).max_rel_error() < 1e-6);
    type Square = net![Dense<4, 4, f64>, Tanh, RightDense<4, 4>];
    let mut net = Square::random(&mut rng(3));
    net.tail.tail.0 = Dense::random(&mut rng(4));
    let y4 = SMatrix::<f64, 4, 3>::from_fn(|r, c| (r == c) as u8 as f64);
    assert!(gradcheck(&net, &SoftmaxCrossEntropy, &x, &y4).max_rel_error() < 1e-6);
}

#[test]
fn a_bias_gradient_averaged_over_the_batch_is_rejected_at_that_bias() {
    type Net = net![Dense<4, 4, f64>, Tanh, BiasAveraged<4, 2>];
    let (x, y) = batch();
    let mut net = Net::random(&mut rng(1));
    net.tail.tail.0 = Dense::random(&mut rng(2));
    let report = gradcheck(&net, &SoftmaxCrossEntropy, &x, &y);
    let worst = rejected(report);
    assert_eq!(location_of(worst), (2, Role::Bias));
    // and the message a user reads names it
    assert!(
        report.to_string().contains("layer 2 (Dense) bias"),
        "{report}"
    );
    // with one sample the mean is the sum: the slip hides, which is why batches are checked
    let x1 = x.column(0).into_owned();
    let y1 = y.column(0).into_owned();
    assert!(gradcheck(&net, &SoftmaxCrossEntropy, &x1, &y1).max_rel_error() < 1e-6);
}

#[test]
fn a_weight_gradient_with_a_flipped_sign_is_rejected_at_those_weights() {
    type Net = net![Dense<4, 4, f64>, Sigmoid, FlippedSign<4, 2>];
    let (x, y) = batch();
    let mut net = Net::random(&mut rng(5));
    net.tail.tail.0 = Dense::random(&mut rng(6));
    let worst = rejected(gradcheck(&net, &Mse, &x, &y));
    assert_eq!(location_of(worst), (2, Role::Weight));
    assert!(
        worst.analytic * worst.numeric < 0.0,
        "opposite signs: {worst:?}"
    );
}

#[test]
fn a_transposed_weight_gradient_is_rejected_at_those_weights() {
    type Net = net![Dense<4, 4, f64>, Tanh, Transposed<4, 4>];
    let (x, _) = batch();
    let y = SMatrix::<f64, 4, 3>::from_fn(|r, c| (r == c) as u8 as f64);
    let mut net = Net::random(&mut rng(7));
    net.tail.tail.0 = Dense::random(&mut rng(8));
    let worst = rejected(gradcheck(&net, &SoftmaxCrossEntropy, &x, &y));
    assert_eq!(location_of(worst), (2, Role::Weight));
}

#[test]
fn a_missing_activation_derivative_is_rejected_before_it() {
    type Net = net![Dense<4, 3, f64>, SigmoidWithoutDerivative, Dense<3, 2, f64>];
    let (x, y) = batch();
    let worst = rejected(gradcheck(
        &Net::random(&mut rng(9)),
        &SoftmaxCrossEntropy,
        &x,
        &y,
    ));
    // the layers after it are right; the error shows in layer 0 or in the input
    if let Location::Param { tensor, .. } = worst.location {
        assert_eq!(tensor.layer, 0, "{}", worst.location);
    }
    let wrong = rejected(gradcheck(
        &<net![Dense<4, 3, f64>, SigmoidWrongDerivative, Dense<3, 2, f64>]>::random(&mut rng(9)),
        &SoftmaxCrossEntropy,
        &x,
        &y,
    ));
    assert!(!matches!(wrong.location, Location::Param { tensor, .. } if tensor.layer == 2));
    // and the real Sigmoid in the same place passes
    let right = <net![Dense<4, 3, f64>, Sigmoid, Dense<3, 2, f64>]>::random(&mut rng(9));
    assert!(gradcheck(&right, &SoftmaxCrossEntropy, &x, &y).max_rel_error() < 1e-6);
}

#[test]
fn a_relu_leaking_gradient_below_zero_is_rejected() {
    type Net = net![Dense<4, 6, f64>, ReluLeakingGradient, Dense<6, 2, f64>];
    let (x, y) = batch();
    let worst = rejected(gradcheck(&Net::random(&mut rng(10)), &Mse, &x, &y));
    // the layer after it is right; the error shows before it (layer 0's parameters, the input)
    assert!(
        !matches!(worst.location, Location::Param { tensor, .. } if tensor.layer == 2),
        "{}",
        worst.location
    );
    let right = <net![Dense<4, 6, f64>, Relu, Dense<6, 2, f64>]>::random(&mut rng(10));
    assert!(gradcheck(&right, &Mse, &x, &y).max_rel_error() < 1e-6);
}

/// Cross-entropy whose gradient uses the one-hot target as a list of class indices (the seed
/// tutorial's slip): `grad[t[j]] = -1 / (p[t[j]] + δ)` for each entry `t[j]` of the target.
#[derive(Clone, Copy, Debug)]
struct CrossEntropyIndexSlip;

/// Mean squared error whose gradient forgets to divide by the batch size.
#[derive(Clone, Copy, Debug)]
struct MseWithoutBatchMean;

impl<B: Dim> Loss<OMatrix<f64, Const<3>, B>> for CrossEntropyIndexSlip
where
    DefaultAllocator: Allocator<Const<3>, B>,
{
    type Scalar = f64;
    fn loss(&self, p: &OMatrix<f64, Const<3>, B>, y: &OMatrix<f64, Const<3>, B>) -> f64 {
        CrossEntropy.loss(p, y)
    }
    fn loss_and_gradient(
        &self,
        p: OMatrix<f64, Const<3>, B>,
        y: &OMatrix<f64, Const<3>, B>,
    ) -> (f64, OMatrix<f64, Const<3>, B>) {
        let loss = CrossEntropy.loss(&p, y);
        let mut g = p.map(|_| 0.0);
        let inv_b = 1.0 / p.ncols() as f64;
        for c in 0..p.ncols() {
            for j in 0..3 {
                let t = y[(j, c)] as usize; // a one-hot vector used as indices
                g[(t, c)] = -inv_b / (p[(t, c)] + CrossEntropy::DELTA);
            }
        }
        (loss, g)
    }
}

impl<B: Dim> Loss<OMatrix<f64, Const<3>, B>> for MseWithoutBatchMean
where
    DefaultAllocator: Allocator<Const<3>, B>,
{
    type Scalar = f64;
    fn loss(&self, p: &OMatrix<f64, Const<3>, B>, y: &OMatrix<f64, Const<3>, B>) -> f64 {
        Mse.loss(p, y)
    }
    fn loss_and_gradient(
        &self,
        p: OMatrix<f64, Const<3>, B>,
        y: &OMatrix<f64, Const<3>, B>,
    ) -> (f64, OMatrix<f64, Const<3>, B>) {
        let batch = p.ncols() as f64;
        let (loss, g) = Mse.loss_and_gradient(p, y);
        (loss, g * batch)
    }
}

#[test]
fn a_cross_entropy_gradient_with_one_hot_as_indices_is_rejected() {
    type Net = net![Dense<4, 3, f64>, Softmax];
    let (x, _) = batch();
    let y = SMatrix::<f64, 3, 3>::new(0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0);
    let net = Net::random(&mut rng(11));
    rejected(gradcheck(&net, &CrossEntropyIndexSlip, &x, &y));
    assert!(gradcheck(&net, &CrossEntropy, &x, &y).max_rel_error() < 1e-6);
}

#[test]
fn a_loss_gradient_missing_the_batch_mean_is_rejected_on_a_batch() {
    type Net = net![Dense<4, 3, f64>, Tanh];
    let (x, _) = batch();
    let y = SMatrix::<f64, 3, 3>::from_fn(|r, c| (r as f64 - c as f64) / 4.0);
    let net = Net::random(&mut rng(12));
    rejected(gradcheck(&net, &MseWithoutBatchMean, &x, &y));
    assert!(gradcheck(&net, &Mse, &x, &y).max_rel_error() < 1e-6);
}

#[test]
fn a_nan_gradient_is_rejected_as_an_infinite_error() {
    activation_with_derivative!(
        NanDerivative,
        value = Tanh::value,
        derivative = |_, _| f64::NAN
    );
    type Net = net![Dense<4, 3, f64>, NanDerivative, Dense<3, 2, f64>];
    let (x, y) = batch();
    let report = gradcheck(&Net::random(&mut rng(13)), &Mse, &x, &y);
    assert_eq!(report.max_rel_error(), f64::INFINITY);
    assert!(!report.passes(1e-6));
}

// Image layers: a wrong convolution and a wrong max pool, each a wrapper of the right layer with
// one slip in its backward pass.

type Image6 = typenet::ImageN<f64, Const<2>, Const<6>, Const<6>, Const<2>>;
type Image3 = typenet::ImageN<f64, Const<3>, Const<3>, Const<3>, Const<2>>;

/// A stride-2, padded convolution whose input gradient forgets the stride: it spreads each
/// output's gradient as if the windows were one apart.
#[derive(Clone, Debug, Default, PartialEq)]
struct ConvForgetsStride(Conv2d<2, 3, 3, 2, 1, f64>);

impl Layer<Image6> for ConvForgetsStride {
    type Out = Image3;
    type Cache = Image6;
    fn forward(&self, x: &Image6) -> Image3 {
        self.0.forward(x)
    }
    fn forward_train(&self, x: Image6) -> (Image3, Image6) {
        (self.0.forward(&x), x)
    }
    fn backward(&self, x: Image6, d: Image3, grad: &mut Self) -> Image6 {
        let right = self.0.backward(x, d.clone(), &mut grad.0);
        // the slip: the gradient of input (y, x) taken from output (y, x) as if stride were 1
        Image6::from_fn_batch(Const, |n, c, y, x| {
            if y < 3 && x < 3 {
                right.at(n, c, 2 * y, 2 * x)
            } else {
                right.at(n, c, y, x)
            }
        })
    }
}

/// A max pool that sends each window's gradient to every place of the window, not to its
/// maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct PoolToEveryPlace;

type Pooled = typenet::ImageN<f64, Const<3>, Const<1>, Const<1>, Const<2>>;

impl Layer<Image3> for PoolToEveryPlace {
    type Out = Pooled;
    type Cache = Image3;
    fn forward(&self, x: &Image3) -> Pooled {
        MaxPool2d::<2>.forward(x)
    }
    fn forward_train(&self, x: Image3) -> (Pooled, Image3) {
        (MaxPool2d::<2>.forward(&x), x)
    }
    fn backward(&self, _: Image3, d: Pooled, _: &mut Self) -> Image3 {
        Image3::from_fn_batch(Const, |n, c, y, x| {
            if y < 2 && x < 2 {
                d.at(n, c, 0, 0)
            } else {
                0.0
            }
        })
    }
}

macro_rules! image_layer_params {
    ($name:ty, $($inner:tt)*) => {
        impl Params<f64> for $name {
            const LAYERS: usize = 1;
            fn tensors(&self) -> impl Iterator<Item = Tensor<'_, f64>> {
                self.$($inner)*.tensors()
            }
            fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, f64>> {
                self.$($inner)*.tensors_mut()
            }
        }
    };
}
image_layer_params!(ConvForgetsStride, 0);

impl Params<f64> for PoolToEveryPlace {
    const LAYERS: usize = 1;
    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, f64>> {
        std::iter::empty()
    }
    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, f64>> {
        std::iter::empty()
    }
}

fn images() -> (Image6, SMatrix<f64, 3, 2>) {
    let x = Image6::from_fn_batch(Const, |n, c, y, x| {
        ((n * 29 + c * 13 + y * 7 + x * 3) % 17) as f64 / 8.0 - 1.0
    });
    (x, SMatrix::<f64, 3, 2>::new(1.0, 0.0, 0.0, 1.0, 0.0, 0.0))
}

#[test]
fn a_convolution_whose_input_gradient_forgets_the_stride_is_rejected_at_the_input() {
    let (x, y) = images();
    let mut rng = StdRng::seed_from_u64(21);
    let wrong: Chain<ConvForgetsStride, Chain<Tanh, Chain<MaxPool2d<2>, Flatten>>> = Chain::new(
        ConvForgetsStride(Conv2d::random(&mut rng)),
        Chain::default(),
    );
    let report = gradcheck(&wrong, &Mse, &x, &y);
    assert!(!report.passes(1e-4), "{report}");
    assert!(
        matches!(report.worst().unwrap().location, Location::Input { .. }),
        "{report}"
    );
    let right: Chain<Conv2d<2, 3, 3, 2, 1, f64>, Chain<Tanh, Chain<MaxPool2d<2>, Flatten>>> =
        Chain::new(wrong.head.0, Chain::default());
    assert!(gradcheck(&right, &Mse, &x, &y).passes(1e-6));
}

#[test]
fn a_max_pool_that_feeds_every_place_of_its_window_is_rejected() {
    let (x, y) = images();
    let conv = Conv2d::<2, 3, 3, 2, 1, f64>::random(&mut StdRng::seed_from_u64(22));
    let wrong = Chain::new(
        conv,
        Chain::new(Tanh, Chain::new(PoolToEveryPlace, Flatten)),
    );
    let report = gradcheck(&wrong, &Mse, &x, &y);
    assert!(!report.passes(1e-4), "{report}");
    let right = Chain::new(conv, Chain::new(Tanh, Chain::new(MaxPool2d::<2>, Flatten)));
    assert!(gradcheck(&right, &Mse, &x, &y).passes(1e-6));
}
