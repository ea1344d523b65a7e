//! Batch normalisation of images, channel by channel.

use core::fmt;

use nalgebra::{Const, DimName};

use crate::core::{
    AnyImage, Descent, FirstLayer, Float, ImageBatch, ImageN, Layer, Network, Params, Role, Tensor,
    TensorInfo, TensorMut,
};

/// Batch normalisation over each of `C` channels, PyTorch's `nn.BatchNorm2d(C)` with its
/// defaults: `y = γ (x − μ) / √(σ² + ε) + β` with `ε = 1e-5`.
///
/// - **Training** (the training steps, [`Layer::forward_train`]): `μ` and `σ²` are the mean
///   and the (biased) variance of the channel over the batch's images and places, and the
///   gradient flows through them. The running statistics move towards the batch's with
///   momentum 0.1: `running ← 0.9 running + 0.1 batch`, the variance unbiased
///   (`n / (n − 1)` of the biased one; with a single value per channel, the biased one, 0).
/// - **Inference** ([`Layer::forward`]): `μ` and `σ²` are the running statistics.
///
/// `gamma` (γ, starting at one) and `beta` (β, at zero) are parameters, trained; the running
/// mean and variance (starting at zero and one) are buffers ([`Params::buffers`]): saved in
/// model files, imported from PyTorch, left alone by the optimizers. A training step's
/// `backward` writes the new running statistics into its gradient value, and the step copies
/// them into the network ([`Params::take_buffers`]).
///
/// ```
/// use typenet::prelude::*;
/// let bn = BatchNorm2d::<1, f64>::new();
/// let x: Image<f64, 1, 1, 4, typenet::nalgebra::Const<1>> = Image::from_slice_batch(typenet::nalgebra::Const, &[1.0, 2.0, 3.0, 4.0]);
/// let (y, _) = bn.forward_train(x);
/// let sum: f64 = y.as_slice().iter().sum();
/// assert!(sum.abs() < 1e-12); // mean 0 over the batch
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct BatchNorm2d<const C: usize, T = f32> {
    /// γ, the scale of each channel.
    pub gamma: [T; C],
    /// β, the shift of each channel.
    pub beta: [T; C],
    /// The running mean of each channel (a buffer).
    pub running_mean: [T; C],
    /// The running variance of each channel (a buffer).
    pub running_var: [T; C],
}

impl<const C: usize, T: Float> BatchNorm2d<C, T> {
    /// ε, added to the variance.
    pub const EPS: f64 = 1e-5;
    /// How far the running statistics move towards a batch's each training step.
    pub const MOMENTUM: f64 = 0.1;

    /// The layer as PyTorch starts it: γ = 1, β = 0, running mean 0, running variance 1.
    pub fn new() -> Self {
        BatchNorm2d {
            gamma: [T::one(); C],
            beta: [T::zero(); C],
            running_mean: [T::zero(); C],
            running_var: [T::one(); C],
        }
    }

    const fn infos() -> [TensorInfo; 4] {
        let gamma = TensorInfo {
            layer: 0,
            layer_kind: "BatchNorm2d",
            role: Role::Scale,
            rows: C,
            cols: 1,
        };
        [
            gamma,
            TensorInfo {
                role: Role::Bias,
                ..gamma
            },
            TensorInfo {
                role: Role::RunningMean,
                ..gamma
            },
            TensorInfo {
                role: Role::RunningVar,
                ..gamma
            },
        ]
    }
}

crate::core::network::network_inherent_methods!([const C: usize, T: Float] BatchNorm2d<C, T>);

impl<const C: usize, T: Float> Default for BatchNorm2d<C, T> {
    /// All zeros, as a gradient accumulator starts ([`new`](BatchNorm2d::new) is the layer
    /// as PyTorch starts it; `random` sets γ to one and the running variance to one).
    fn default() -> Self {
        BatchNorm2d {
            gamma: [T::zero(); C],
            beta: [T::zero(); C],
            running_mean: [T::zero(); C],
            running_var: [T::zero(); C],
        }
    }
}

impl<const C: usize, T: Float> fmt::Debug for BatchNorm2d<C, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchNorm2d<{C}, {}> ", T::NAME)?;
        f.debug_struct("")
            .field("gamma", &self.gamma)
            .field("beta", &self.beta)
            .field("running_mean", &self.running_mean)
            .field("running_var", &self.running_var)
            .finish()
    }
}

/// What the training forward pass keeps: the normalised values, each channel's `1 / √(σ² + ε)`,
/// and the batch's statistics for the running ones.
#[derive(Clone, Debug)]
pub struct BatchNormCache<X, T, const C: usize> {
    x_hat: X,
    inv_std: [T; C],
    mean: [T; C],
    var_unbiased: [T; C],
}

/// Calls `f(channel, values)` for each channel's plane of each image of `values` (`C` planes of
/// `plane` values an image).
#[inline(always)]
fn planes<T>(values: &[T], channels: usize, plane: usize, mut f: impl FnMut(usize, &[T])) {
    for (i, p) in values.chunks_exact(plane).enumerate() {
        f(i % channels, p);
    }
}

impl<const C: usize, T, H, W, B> Layer<ImageN<T, Const<C>, H, W, B>> for BatchNorm2d<C, T>
where
    T: Float,
    H: DimName,
    W: DimName,
    B: ImageBatch<T, Const<C>, H, W>,
{
    type Out = ImageN<T, Const<C>, H, W, B>;
    type Cache = BatchNormCache<ImageN<T, Const<C>, H, W, B>, T, C>;

    fn forward(&self, x: &Self::Out) -> Self::Out {
        let eps = T::of_f64(Self::EPS);
        let mut y = x.clone();
        let (scale, shift): ([T; C], [T; C]) = (
            core::array::from_fn(|c| self.gamma[c] / (self.running_var[c] + eps).sqrt()),
            core::array::from_fn(|c| {
                self.beta[c]
                    - self.gamma[c] * self.running_mean[c] / (self.running_var[c] + eps).sqrt()
            }),
        );
        for (i, p) in y
            .as_mut_slice()
            .chunks_exact_mut(H::DIM * W::DIM)
            .enumerate()
        {
            let c = i % C;
            p.iter_mut()
                .for_each(|v| *v = v.mul_add(scale[c], shift[c]));
        }
        y
    }

    fn forward_train(&self, x: Self::Out) -> (Self::Out, Self::Cache) {
        let plane = H::DIM * W::DIM;
        let n = x.batch_size() * plane;
        let count = T::of_f64(n as f64);
        let mut mean = [T::zero(); C];
        planes(x.as_slice(), C, plane, |c, p| {
            mean[c] += p.iter().fold(T::zero(), |a, &v| a + v);
        });
        mean.iter_mut().for_each(|m| *m /= count);
        let mut var = [T::zero(); C];
        planes(x.as_slice(), C, plane, |c, p| {
            var[c] += p
                .iter()
                .fold(T::zero(), |a, &v| a + (v - mean[c]) * (v - mean[c]));
        });
        var.iter_mut().for_each(|v| *v /= count);
        let eps = T::of_f64(Self::EPS);
        let inv_std: [T; C] = core::array::from_fn(|c| T::one() / (var[c] + eps).sqrt());
        let mut x_hat = x;
        for (i, p) in x_hat.as_mut_slice().chunks_exact_mut(plane).enumerate() {
            let c = i % C;
            p.iter_mut().for_each(|v| *v = (*v - mean[c]) * inv_std[c]);
        }
        let mut y = x_hat.clone();
        for (i, p) in y.as_mut_slice().chunks_exact_mut(plane).enumerate() {
            let c = i % C;
            p.iter_mut()
                .for_each(|v| *v = v.mul_add(self.gamma[c], self.beta[c]));
        }
        let unbias = if n > 1 {
            T::of_f64(n as f64 / (n - 1) as f64)
        } else {
            T::one()
        };
        let cache = BatchNormCache {
            x_hat,
            inv_std,
            mean,
            var_unbiased: var.map(|v| v * unbias),
        };
        (y, cache)
    }

    fn backward(&self, cache: Self::Cache, d_out: Self::Out, grad: &mut Self) -> Self::Out {
        let (d_gamma, d_beta, d_in) = self.gradients(&cache, d_out);
        for c in 0..C {
            grad.gamma[c] += d_gamma[c];
            grad.beta[c] += d_beta[c];
        }
        self.running_into(&cache, grad);
        d_in
    }

    const DESCENDS: bool = true;

    fn backward_descend<Sc: Float>(
        &mut self,
        cache: Self::Cache,
        d_out: Self::Out,
        step: Descent<Sc>,
    ) -> Self::Out {
        let (d_gamma, d_beta, d_in) = self.gradients(&cache, d_out);
        let step = step.cast::<T>();
        step.apply(&mut self.gamma, &d_gamma);
        step.apply(&mut self.beta, &d_beta);
        let mut new = *self;
        self.running_into(&cache, &mut new);
        self.running_mean = new.running_mean;
        self.running_var = new.running_var;
        d_in
    }
}

impl<const C: usize, T: Float> BatchNorm2d<C, T> {
    /// dL/dγ, dL/dβ and dL/dx from the cache and dL/dy.
    fn gradients<X: crate::core::Values<Scalar = T>>(
        &self,
        cache: &BatchNormCache<X, T, C>,
        d_out: X,
    ) -> ([T; C], [T; C], X) {
        let plane = cache.x_hat.sample_len() / C;
        let (mut d_gamma, mut d_beta) = ([T::zero(); C], [T::zero(); C]);
        let (d, x_hat) = (d_out.values(), cache.x_hat.values());
        for (i, (dp, xp)) in d
            .chunks_exact(plane)
            .zip(x_hat.chunks_exact(plane))
            .enumerate()
        {
            let c = i % C;
            for (&d, &x) in dp.iter().zip(xp) {
                d_beta[c] += d;
                d_gamma[c] = d.mul_add(x, d_gamma[c]);
            }
        }
        let count = T::of_f64((d.len() / C) as f64);
        // dx = γ / σ · (dy − mean(dy) − x̂ · mean(dy · x̂))
        let mut d_in = d_out;
        for (i, (dp, xp)) in d_in
            .values_mut()
            .chunks_exact_mut(plane)
            .zip(x_hat.chunks_exact(plane))
            .enumerate()
        {
            let c = i % C;
            let k = self.gamma[c] * cache.inv_std[c];
            let (mean_d, mean_dx) = (d_beta[c] / count, d_gamma[c] / count);
            for (d, &x) in dp.iter_mut().zip(xp) {
                *d = k * (*d - mean_d - x * mean_dx);
            }
        }
        (d_gamma, d_beta, d_in)
    }

    /// Writes the running statistics after this step's batch into `out`.
    fn running_into<X>(&self, cache: &BatchNormCache<X, T, C>, out: &mut Self) {
        let m = T::of_f64(Self::MOMENTUM);
        for c in 0..C {
            out.running_mean[c] = (T::one() - m) * self.running_mean[c] + m * cache.mean[c];
            out.running_var[c] = (T::one() - m) * self.running_var[c] + m * cache.var_unbiased[c];
        }
    }
}

impl<const C: usize, T: Float> Params<T> for BatchNorm2d<C, T> {
    const LAYERS: usize = 1;

    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "BatchNorm2d<{C}, {}>", T::NAME)
    }

    fn zip_params_mut<const N: usize, F>(&mut self, grad: &Self, state: [&mut Self; N], f: &mut F)
    where
        F: FnMut(&mut [T], &[T], [&mut [T]; N]),
    {
        let mut state = state;
        f(
            &mut self.gamma,
            &grad.gamma,
            state.each_mut().map(|s| &mut s.gamma[..]),
        );
        f(&mut self.beta, &grad.beta, state.map(|s| &mut s.beta[..]));
    }

    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        let [g, b, ..] = Self::infos();
        [
            Tensor {
                info: g,
                data: &self.gamma[..],
            },
            Tensor {
                info: b,
                data: &self.beta[..],
            },
        ]
        .into_iter()
    }

    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        let [g, b, ..] = Self::infos();
        [
            TensorMut {
                info: g,
                data: &mut self.gamma[..],
            },
            TensorMut {
                info: b,
                data: &mut self.beta[..],
            },
        ]
        .into_iter()
    }

    fn buffers(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        let [.., m, v] = Self::infos();
        [
            Tensor {
                info: m,
                data: &self.running_mean[..],
            },
            Tensor {
                info: v,
                data: &self.running_var[..],
            },
        ]
        .into_iter()
    }

    fn buffers_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        let [.., m, v] = Self::infos();
        [
            TensorMut {
                info: m,
                data: &mut self.running_mean[..],
            },
            TensorMut {
                info: v,
                data: &mut self.running_var[..],
            },
        ]
        .into_iter()
    }
}

impl<const C: usize, T: Float> Network for BatchNorm2d<C, T> {
    type Scalar = T;
    type InputDim = Const<C>;
    type Input = AnyImage<T, Const<C>>;
}

impl<const C: usize, T: Float, Rest> FirstLayer<Rest> for BatchNorm2d<C, T> {
    type Scalar = T;
    type InputDim = Const<C>;
    type Input = AnyImage<T, Const<C>>;
}

crate::core::params::approx_via_params!([const C: usize, T: Float] BatchNorm2d<C, T>, T);
