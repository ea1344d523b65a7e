//! Backprop agrees with finite differences: for every layer and every loss, for chains of
//! depth 1 to 8, chains of chains, a chain starting with an activation, and batches of 1, 3,
//! `Dyn` and 100 samples. Also each loss's own gradient against `numerical_gradient`.

use nalgebra::{DefaultAllocator, Dim, allocator::Allocator};
use proptest::prelude::*;
use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};
use typenet::prelude::*;

use crate::support::assert_all_close;

/// The tolerance every check must meet (f64, central differences, default checker settings).
const TOL: f64 = 1e-6;

/// What kind of target a loss wants.
#[derive(Clone, Copy)]
enum Target {
    /// Any real numbers (squared errors).
    Real,
    /// One-hot columns (cross-entropies).
    OneHot,
    /// Arbitrary probability distributions (cross-entropies with soft targets).
    Soft,
}

fn matrix<const R: usize, B: Dim, G: Rng>(b: B, rng: &mut G) -> OMatrix<f64, Const<R>, B>
where
    DefaultAllocator: Allocator<Const<R>, B>,
{
    OMatrix::from_fn_generic(Const::<R>, b, |_, _| rng.random_range(-1.0..1.0))
}

fn target<const R: usize, B: Dim, G: Rng>(
    b: B,
    kind: Target,
    rng: &mut G,
) -> OMatrix<f64, Const<R>, B>
where
    DefaultAllocator: Allocator<Const<R>, B>,
{
    let mut y = matrix::<R, B, G>(b, rng);
    match kind {
        Target::Real => {}
        Target::OneHot => {
            for mut col in y.column_iter_mut() {
                let hot = rng.random_range(0..R);
                col.iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = (i == hot) as u8 as f64);
            }
        }
        Target::Soft => {
            for mut col in y.column_iter_mut() {
                col.apply(|v| *v = v.abs() + 0.05);
                let s = col.sum();
                col /= s;
            }
        }
    }
    y
}

/// Checks `net` with `loss` on a random batch of `b` samples.
fn check_batch<N, L, B, const I: usize, const O: usize>(
    net: &N,
    loss: &L,
    b: B,
    kind: Target,
    seed: u64,
) where
    B: Dim,
    DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B>,
    OMatrix<f64, Const<I>, B>: InputOf<N>,
    OMatrix<f64, Const<O>, B>:
        TargetOf<L, <OMatrix<f64, Const<I>, B> as InputOf<N>>::Out, Scalar = f64>,
    N: Params<f64> + Clone + Default,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let x = matrix::<I, B, _>(b, &mut rng);
    let y = target::<O, B, _>(b, kind, &mut rng);
    let report = gradcheck(net, loss, &x, &y);
    assert!(
        report.max_rel_error() < TOL,
        "batch of {}: {report}",
        x.ncols()
    );
    let params = net.param_count();
    assert_eq!(
        report.checked(),
        params + I * x.ncols(),
        "every parameter and input element"
    );
}

/// Checks `net` with `loss` at batch sizes 1, 3, `Dyn` (5) and 100.
fn check_all_batches<N, L, const I: usize, const O: usize>(net: &N, loss: &L, kind: Target)
where
    N: Params<f64> + Clone + Default,
    SVector<f64, I>: InputOf<N, Out = SVector<f64, O>>,
    SMatrix<f64, I, 3>: InputOf<N, Out = SMatrix<f64, O, 3>>,
    OMatrix<f64, Const<I>, Dyn>: InputOf<N, Out = OMatrix<f64, Const<O>, Dyn>>,
    L: Loss<SVector<f64, O>, Scalar = f64>
        + Loss<SMatrix<f64, O, 3>, Scalar = f64>
        + Loss<OMatrix<f64, Const<O>, Dyn>, Scalar = f64>,
{
    check_batch::<N, L, U1, I, O>(net, loss, U1, kind, 1);
    check_batch::<N, L, Const<3>, I, O>(net, loss, Const::<3>, kind, 2);
    check_batch::<N, L, Dyn, I, O>(net, loss, Dyn(5), kind, 3);
    check_batch::<N, L, Dyn, I, O>(net, loss, Dyn(100), kind, 4);
}

fn seeded<N>(build: impl FnOnce(&mut StdRng) -> N, seed: u64) -> N {
    build(&mut StdRng::seed_from_u64(seed))
}

#[test]
fn dense_alone_with_every_loss() {
    type Net = Dense<4, 3, f64>;
    let net = seeded(Net::random, 10);
    check_all_batches::<_, _, 4, 3>(&net, &Mse, Target::Real);
    check_all_batches::<_, _, 4, 3>(&net, &Sse, Target::Real);
    check_all_batches::<_, _, 4, 3>(&net, &HalfSse, Target::Real);
    check_all_batches::<_, _, 4, 3>(&net, &SoftmaxCrossEntropy, Target::OneHot);
    check_all_batches::<_, _, 4, 3>(&net, &SoftmaxCrossEntropy, Target::Soft);
}

#[test]
fn each_activation_alone_passes_its_input_gradient() {
    check_all_batches::<_, _, 4, 4>(&Sigmoid, &Mse, Target::Real);
    check_all_batches::<_, _, 4, 4>(&Tanh, &Sse, Target::Real);
    check_all_batches::<_, _, 4, 4>(&Relu, &HalfSse, Target::Real);
    check_all_batches::<_, _, 4, 4>(&Softmax, &Mse, Target::Real);
    check_all_batches::<_, _, 4, 4>(&Softmax, &CrossEntropy, Target::OneHot);
    check_all_batches::<_, _, 4, 4>(&Sigmoid, &CrossEntropy, Target::Soft);
}

#[test]
fn every_activation_after_a_dense_layer() {
    check_all_batches::<_, _, 3, 4>(
        &seeded(<net![Dense<3, 4, f64>, Sigmoid]>::random, 11),
        &Mse,
        Target::Real,
    );
    check_all_batches::<_, _, 3, 4>(
        &seeded(<net![Dense<3, 4, f64>, Tanh]>::random, 12),
        &Mse,
        Target::Real,
    );
    check_all_batches::<_, _, 3, 4>(
        &seeded(<net![Dense<3, 4, f64>, Relu]>::random, 13),
        &Mse,
        Target::Real,
    );
    check_all_batches::<_, _, 3, 4>(
        &seeded(<net![Dense<3, 4, f64>, Softmax]>::random, 14),
        &CrossEntropy,
        Target::Soft,
    );
}

#[test]
fn cross_entropy_after_a_softmax_or_a_sigmoid_output_layer() {
    check_all_batches::<_, _, 3, 4>(
        &seeded(<net![Dense<3, 4, f64>, Softmax]>::random, 15),
        &CrossEntropy,
        Target::OneHot,
    );
    // independent per-output probabilities (multi-label), one-hot or soft targets
    check_all_batches::<_, _, 3, 4>(
        &seeded(<net![Dense<3, 4, f64>, Sigmoid]>::random, 16),
        &CrossEntropy,
        Target::OneHot,
    );
    check_all_batches::<_, _, 3, 4>(
        &seeded(
            <net![Dense<3, 5, f64>, Tanh, Dense<5, 4, f64>, Sigmoid]>::random,
            17,
        ),
        &CrossEntropy,
        Target::Soft,
    );
}

#[test]
fn chains_of_depth_one_to_eight() {
    type D1 = net![Dense<3, 2, f64>];
    type D2 = net![Dense<3, 5, f64>, Tanh, Dense<5, 2, f64>];
    type D3 = net![Dense<3, 5, f64>, Sigmoid, Dense<5, 4, f64>, Relu, Dense<4, 2, f64>];
    type D4 = net![Dense<3, 4, f64>, Tanh, Dense<4, 4, f64>, Tanh, Dense<4, 4, f64>, Sigmoid, Dense<4, 2, f64>, Softmax];
    type D5 = net![
        Dense<3, 6, f64>, Relu, Dense<6, 5, f64>, Tanh, Dense<5, 5, f64>, Sigmoid,
        Dense<5, 4, f64>, Tanh, Dense<4, 2, f64>
    ];
    type D6 = net![
        Dense<3, 4, f64>, Tanh, Dense<4, 4, f64>, Sigmoid, Dense<4, 4, f64>, Tanh,
        Dense<4, 4, f64>, Relu, Dense<4, 4, f64>, Tanh, Dense<4, 2, f64>
    ];
    type D7 = net![
        Dense<3, 4, f64>, Sigmoid, Dense<4, 4, f64>, Sigmoid, Dense<4, 4, f64>, Tanh,
        Dense<4, 4, f64>, Tanh, Dense<4, 4, f64>, Sigmoid, Dense<4, 4, f64>, Tanh,
        Dense<4, 2, f64>, Sigmoid
    ];
    type D8 = net![
        Dense<3, 5, f64>, Tanh, Dense<5, 5, f64>, Tanh, Dense<5, 5, f64>, Sigmoid,
        Dense<5, 5, f64>, Tanh, Dense<5, 5, f64>, Relu, Dense<5, 5, f64>, Tanh,
        Dense<5, 5, f64>, Sigmoid, Dense<5, 2, f64>
    ];
    check_all_batches::<_, _, 3, 2>(&seeded(D1::random, 21), &Mse, Target::Real);
    check_all_batches::<_, _, 3, 2>(
        &seeded(D2::random, 22),
        &SoftmaxCrossEntropy,
        Target::OneHot,
    );
    check_all_batches::<_, _, 3, 2>(&seeded(D3::random, 23), &HalfSse, Target::Real);
    check_all_batches::<_, _, 3, 2>(&seeded(D4::random, 24), &CrossEntropy, Target::OneHot);
    check_all_batches::<_, _, 3, 2>(&seeded(D5::random, 25), &Sse, Target::Real);
    check_all_batches::<_, _, 3, 2>(&seeded(D6::random, 26), &SoftmaxCrossEntropy, Target::Soft);
    check_all_batches::<_, _, 3, 2>(&seeded(D7::random, 27), &Mse, Target::Real);
    check_all_batches::<_, _, 3, 2>(
        &seeded(D8::random, 28),
        &SoftmaxCrossEntropy,
        Target::OneHot,
    );
}

#[test]
fn a_chain_of_chains_and_a_chain_starting_with_an_activation() {
    type Encoder = net![Dense<4, 3, f64>, Tanh];
    type Decoder = net![Dense<3, 4, f64>, Sigmoid];
    type AutoEncoder = net![Encoder, Decoder];
    check_all_batches::<_, _, 4, 4>(&seeded(AutoEncoder::random, 31), &Mse, Target::Real);
    type Leading = net![Tanh, Dense<4, 3, f64>, Relu, Dense<3, 2, f64>];
    check_all_batches::<_, _, 4, 2>(
        &seeded(Leading::random, 32),
        &SoftmaxCrossEntropy,
        Target::OneHot,
    );
}

/// Each loss's gradient with respect to the prediction, against central differences.
fn check_loss<L, B: Dim>(loss: &L, b: B, pred_kind: Target, kind: Target)
where
    L: Loss<OMatrix<f64, Const<4>, B>, Scalar = f64>,
    DefaultAllocator: Allocator<Const<4>, B>,
{
    let mut rng = StdRng::seed_from_u64(41);
    let p = target::<4, B, _>(b, pred_kind, &mut rng);
    let y = target::<4, B, _>(b, kind, &mut rng);
    let (_, analytic) = loss.loss_and_gradient(p.clone(), &y);
    let numeric = numerical_gradient_with(|p| loss.loss(p, &y), &p, Difference::Central(1e-6));
    assert_all_close(analytic.as_slice(), numeric.as_slice(), 1e-6);
    assert_eq!(loss.loss_and_gradient(p.clone(), &y).0, loss.loss(&p, &y));
}

#[test]
fn every_loss_gradient_matches_finite_differences_including_the_batch_mean() {
    for b in [1, 3, 7] {
        check_loss(&Mse, Dyn(b), Target::Real, Target::Real);
        check_loss(&Sse, Dyn(b), Target::Real, Target::Real);
        check_loss(&HalfSse, Dyn(b), Target::Real, Target::Real);
        check_loss(&CrossEntropy, Dyn(b), Target::Soft, Target::OneHot);
        check_loss(&CrossEntropy, Dyn(b), Target::Soft, Target::Soft);
        check_loss(&SoftmaxCrossEntropy, Dyn(b), Target::Real, Target::OneHot);
        check_loss(&SoftmaxCrossEntropy, Dyn(b), Target::Real, Target::Soft);
        check_loss(&SoftmaxCrossEntropy, Dyn(b), Target::Real, Target::Real); // unnormalised
    }
    check_loss(&Mse, U1, Target::Real, Target::Real);
    check_loss(&CrossEntropy, Const::<3>, Target::Soft, Target::OneHot);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn backprop_agrees_for_any_seed_input_and_class(
        seed in any::<u64>(),
        x in proptest::collection::vec(-3.0f64..3.0, 6),
        classes in proptest::collection::vec(0usize..3, 2),
    ) {
        type Net = net![Dense<3, 6, f64>, Tanh, Dense<6, 4, f64>, Sigmoid, Dense<4, 3, f64>];
        let net = Net::random(&mut StdRng::seed_from_u64(seed));
        let x = SMatrix::<f64, 3, 2>::from_column_slice(&x);
        let y = SMatrix::<f64, 3, 2>::from_fn(|r, c| (r == classes[c]) as u8 as f64);
        let report = gradcheck(&net, &SoftmaxCrossEntropy, &x, &y);
        prop_assert!(report.max_rel_error() < TOL, "{}", report);
    }

    #[test]
    fn backprop_agrees_for_any_dynamic_batch_and_soft_target(
        seed in any::<u64>(),
        columns in 1usize..6,
        data_seed in any::<u64>(),
    ) {
        type Net = net![Dense<4, 5, f64>, Tanh, Dense<5, 3, f64>, Softmax];
        let net = Net::random_with(&mut StdRng::seed_from_u64(seed), Init::He);
        let mut rng = StdRng::seed_from_u64(data_seed);
        let x = matrix::<4, Dyn, _>(Dyn(columns), &mut rng);
        let y = target::<3, Dyn, _>(Dyn(columns), Target::Soft, &mut rng);
        let report = gradcheck(&net, &CrossEntropy, &x, &y);
        prop_assert!(report.max_rel_error() < TOL, "{}", report);
    }

    #[test]
    fn backprop_agrees_for_any_input_with_smooth_activations_and_mse(
        seed in any::<u64>(),
        x in proptest::collection::vec(-2.0f64..2.0, 4),
        y in proptest::collection::vec(-1.0f64..1.0, 2),
    ) {
        type Net = net![Dense<4, 5, f64>, Sigmoid, Dense<5, 2, f64>, Tanh];
        let net = Net::random_with(&mut StdRng::seed_from_u64(seed), Init::He);
        let report = gradcheck(&net, &Mse, &SVector::<f64, 4>::from_column_slice(&x), &SVector::<f64, 2>::from_column_slice(&y));
        prop_assert!(report.max_rel_error() < TOL, "{}", report);
    }
}
