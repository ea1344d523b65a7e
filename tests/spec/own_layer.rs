//! A layer written outside typenet, in one place, implementing only the layer contract
//! (`Layer`) and `Params`: everything else works for it through the parameter visitor, with no
//! hook of its own. Training steps with every optimizer, the fused SGD step (which falls back to
//! a gradient buffer for it), the checker, model files, the PyTorch import and `approx`
//! comparisons.

use approx::assert_relative_eq;
use nalgebra::{Const, DefaultAllocator, Dim, allocator::Allocator};
use rand::{SeedableRng, rngs::StdRng};
use typenet::optim::{Adam, Momentum};
use typenet::prelude::*;
use typenet::{Role, Tensor, TensorInfo, TensorMut};

/// `y_i = s_i x_i`: one learned factor per feature. The whole layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Scale<const N: usize, T: Float = f32> {
    pub s: SVector<T, N>,
}

impl<const N: usize, T: Float> Default for Scale<N, T> {
    fn default() -> Self {
        Scale {
            s: SVector::zeros(),
        }
    }
}

impl<const N: usize, T: Float, B: Dim> Layer<OMatrix<T, Const<N>, B>> for Scale<N, T>
where
    DefaultAllocator: Allocator<Const<N>, B>,
{
    type Out = OMatrix<T, Const<N>, B>;
    type Cache = OMatrix<T, Const<N>, B>;

    fn forward(&self, x: &Self::Out) -> Self::Out {
        let mut y = x.clone();
        for mut col in y.column_iter_mut() {
            col.component_mul_assign(&self.s);
        }
        y
    }

    fn forward_train(&self, x: Self::Out) -> (Self::Out, Self::Cache) {
        (self.forward(&x), x)
    }

    fn backward(&self, x: Self::Cache, mut d: Self::Out, grad: &mut Self) -> Self::Out {
        // dL/ds = Σ over the batch of d ⊙ x (a sum: the loss already divided by the batch)
        for (d, x) in d.column_iter().zip(x.column_iter()) {
            for i in 0..N {
                grad.s[i] += d[i] * x[i];
            }
        }
        for mut col in d.column_iter_mut() {
            col.component_mul_assign(&self.s);
        }
        d
    }
}

impl<const N: usize, T: Float> Params<T> for Scale<N, T> {
    const LAYERS: usize = 1;
    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        core::iter::once(Tensor {
            info: Self::INFO,
            data: self.s.as_slice(),
        })
    }
    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        core::iter::once(TensorMut {
            info: Self::INFO,
            data: self.s.as_mut_slice(),
        })
    }
}

impl<const N: usize, T: Float> Scale<N, T> {
    const INFO: TensorInfo = TensorInfo {
        layer: 0,
        layer_kind: "Scale",
        role: Role::Weight,
        rows: N,
        cols: 1,
    };
}

type Net = net![Dense<3, 4, f64>, Scale<4, f64>, Tanh, Dense<4, 2, f64>];

fn fresh(seed: u64) -> Net {
    let mut net = Net::random(&mut StdRng::seed_from_u64(seed));
    net.tail.head.s = SVector::<f64, 4>::new(1.0, -0.5, 2.0, 0.75);
    net
}

fn sample() -> (SMatrix<f64, 3, 2>, SMatrix<f64, 2, 2>) {
    let x = SMatrix::<f64, 3, 2>::new(0.5, -1.0, 0.2, 0.3, -0.8, 0.9);
    let y = SMatrix::<f64, 2, 2>::new(1.0, 0.0, 0.0, 1.0);
    (x, y)
}

#[test]
fn the_checker_agrees_with_its_backward_pass() {
    let (x, y) = sample();
    let report = gradcheck(&fresh(1), &SoftmaxCrossEntropy, &x, &y);
    assert!(report.max_rel_error() < 1e-6, "{report}");
    assert_eq!(report.checked(), 3 * 4 + 4 + 4 + 4 * 2 + 2 + 3 * 2);
}

#[test]
fn every_optimizer_trains_it() {
    let (x, y) = sample();
    let start = fresh(2);
    let first = SoftmaxCrossEntropy.loss(&start.forward(&x), &y);
    let mut sgd = start.clone();
    let mut momentum = start.clone();
    let mut adam = start.clone();
    let (mut m, mut a) = (Momentum::new(0.05, 0.9), Adam::new(0.02));
    for _ in 0..100 {
        sgd.train_step(&mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
        momentum.train_step(&mut m, &SoftmaxCrossEntropy, &x, &y);
        adam.train_step(&mut a, &SoftmaxCrossEntropy, &x, &y);
    }
    for net in [&sgd, &momentum, &adam] {
        assert!(SoftmaxCrossEntropy.loss(&net.forward(&x), &y) < first / 2.0);
        assert!(net.tail.head.s != start.tail.head.s, "its parameters moved");
    }
}

#[test]
fn the_sgd_step_takes_the_plain_step_through_a_gradient_for_it() {
    const { assert!(<Dense<3, 4, f64> as Layer<SMatrix<f64, 3, 2>>>::DESCENDS) };
    const { assert!(!<Net as Layer<SMatrix<f64, 3, 2>>>::DESCENDS) };
    let (x, y) = sample();
    let (mut fused, mut plain) = (fresh(3), fresh(3));
    let sgd = Sgd::new(0.2).with_weight_decay(0.01);
    for _ in 0..10 {
        let a = fused.sgd_step(&sgd, &SoftmaxCrossEntropy, &x, &y);
        let b = plain.train_step(&mut sgd.clone(), &SoftmaxCrossEntropy, &x, &y);
        assert_eq!(a.to_bits(), b.to_bits());
    }
    assert!(fused == plain);
}

#[test]
fn model_files_save_and_load_it_under_a_signature_of_its_name_and_shape() {
    let net = fresh(4);
    assert_eq!(
        typenet::model_file::signature::<Net, f64>(),
        "Dense<3, 4, f64>, Scale<4x1, f64>, Tanh, Dense<4, 2, f64>"
    );
    let bytes = typenet::model_file::to_bytes(&net).unwrap();
    let mut copy = Net::zeros();
    typenet::model_file::from_bytes(&mut copy, &bytes).unwrap();
    assert!(copy == net);
    // a network whose own layer has another shape is refused
    let mut other = <net![Dense<3, 4, f64>, Scale<4, f64>, Tanh, Dense<4, 3, f64>]>::zeros();
    assert!(typenet::model_file::from_bytes(&mut other, &bytes).is_err());
}

/// A parameter-free layer of one's own: the identity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Identity;

impl<M: Clone> Layer<M> for Identity {
    type Out = M;
    type Cache = ();
    fn forward(&self, x: &M) -> M {
        x.clone()
    }
    fn forward_train(&self, x: M) -> (M, ()) {
        (x, ())
    }
    fn backward(&self, _: (), d_out: M, _: &mut Self) -> M {
        d_out
    }
}

impl<T: Float> Params<T> for Identity {
    const LAYERS: usize = 1;
    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        core::iter::empty()
    }
    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        core::iter::empty()
    }
}

#[test]
fn a_parameter_free_layer_of_ones_own_has_a_stable_placeholder_signature() {
    type WithIdentity = net![Dense<2, 3>, Identity, Dense<3, 1>];
    assert_eq!(
        typenet::model_file::signature::<WithIdentity, f32>(),
        "Dense<2, 3, f32>, ?, Dense<3, 1, f32>"
    );
}

#[test]
fn approx_compares_networks_that_hold_it() {
    let net = fresh(5);
    let mut nudged = net.clone();
    nudged.tail.head.s[2] *= 1.0 + 1e-9;
    assert_relative_eq!(net, nudged, max_relative = 1e-8);
    approx::assert_abs_diff_eq!(net, nudged, epsilon = 1e-8);
    approx::assert_ulps_ne!(net, nudged, max_ulps = 4);
    nudged.tail.head.s[2] += 1e-3;
    approx::assert_relative_ne!(net, nudged, max_relative = 1e-8);
}

#[cfg(feature = "pytorch")]
#[test]
fn the_pytorch_import_fills_it_by_name() {
    use std::collections::HashMap;
    use typenet::pytorch::safetensors::{Dtype, serialize, tensor::TensorView};
    let net = fresh(6);
    // a state_dict as PyTorch names it: `<layer>.weight`, `<layer>.bias`, row-major
    let row_major = |t: &Tensor<'_, f64>| -> Vec<u8> {
        let (rows, cols) = (t.info.rows, t.info.cols);
        (0..rows)
            .flat_map(|r| (0..cols).map(move |c| (r, c)))
            .flat_map(|(r, c)| t.data[c * rows + r].to_le_bytes())
            .collect()
    };
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = net
        .tensors()
        .map(|t| {
            let role = t.info.role.name();
            let shape = match t.info.role {
                Role::Bias => vec![t.info.rows],
                Role::Weight => vec![t.info.rows, t.info.cols],
                other => unreachable!("this network has no {other:?} tensor"),
            };
            (format!("{}.{role}", t.info.layer), shape, row_major(&t))
        })
        .collect();
    let views: HashMap<String, TensorView<'_>> = tensors
        .iter()
        .map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F64, shape.clone(), data).unwrap();
            (name.clone(), view)
        })
        .collect();
    let bytes = serialize(views, None).unwrap();
    let mut loaded = Net::zeros();
    typenet::pytorch::load_safetensors(&mut loaded, &bytes, "").unwrap();
    assert!(loaded == net);
}
