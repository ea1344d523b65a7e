//! The two-dimensional convolution.

use core::fmt;

use nalgebra::{Const, DimName};

use crate::core::{
    AnyImage, Descent, FirstLayer, Float, ImageBatch, ImageN, Layer, Network, Params, Role, Slide,
    Tensor, TensorInfo, TensorMut,
};
use crate::kernels::conv::{self, Window};

/// A two-dimensional convolution: `CIN` channels in, `COUT` out, a square `K x K` kernel,
/// stride `S` (default 1) and `P` zeros of padding on every side (default 0), scalar `T`
/// (default `f32`). It is PyTorch's `nn.Conv2d(CIN, COUT, K, stride=S, padding=P)`: a
/// cross-correlation (the kernel is not flipped) plus a bias per output channel.
///
/// An image of `H x W` comes out `(H + 2P − K) / S + 1` by `(W + 2P − K) / S + 1`, and those
/// sizes are computed in the types: nobody writes them ([`Slide`]). A channel count that does
/// not match, or a kernel larger than the padded image, is a compile error.
///
/// Weights are `w[c][ky][kx][o]`: for each input channel and kernel place, the `COUT` output
/// channels' weights, which is a `COUT x (CIN·K·K)` matrix stored column by column, the layout
/// of [`TensorInfo`]. PyTorch's `weight` is `[COUT, CIN, K, K]`; the PyTorch import and export
/// convert. Images up to 127 a side and channels up to 127 (nalgebra's typenum bridge).
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Net = net![Conv2d<1, 4, 3>, Relu, MaxPool2d<2>, Flatten, Dense<144, 2>];
/// let net = Net::random(&mut StdRng::seed_from_u64(0));
/// let x: Image<f32, 1, 14, 14> = Image::from_fn(|_, y, x| (y * x) as f32 / 196.0);
/// let y = net.forward(&x); // 14 → 12 → 6 a side; 4 · 6 · 6 = 144
/// assert_eq!(y.len(), 2);
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Conv2d<
    const CIN: usize,
    const COUT: usize,
    const K: usize,
    const S: usize = 1,
    const P: usize = 0,
    T = f32,
> {
    /// The kernel: `w[c][ky][kx][o]` multiplies input channel `c` at kernel row `ky`, column
    /// `kx`, into output channel `o`.
    pub w: [[[[T; COUT]; K]; K]; CIN],
    /// One bias per output channel.
    pub b: [T; COUT],
}

impl<const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float>
    Conv2d<CIN, COUT, K, S, P, T>
{
    /// A convolution with kernel `w` (`w[c][ky][kx][o]`) and biases `b`.
    pub const fn new(w: [[[[T; COUT]; K]; K]; CIN], b: [T; COUT]) -> Self {
        Conv2d { w, b }
    }

    /// The weight from input channel `c` at kernel place `(ky, kx)` into output channel `o`:
    /// PyTorch's `weight[o, c, ky, kx]`.
    pub fn weight(&self, o: usize, c: usize, ky: usize, kx: usize) -> T {
        self.w[c][ky][kx][o]
    }

    /// The kernel as one slice, `COUT x (CIN·K·K)` column by column.
    pub fn w_slice(&self) -> &[T] {
        self.w.as_flattened().as_flattened().as_flattened()
    }

    /// The kernel as one slice, writable.
    pub fn w_slice_mut(&mut self) -> &mut [T] {
        self.w
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
    }

    /// The window of this layer over an image of `rows x cols`.
    fn window<H: DimName, W: DimName, Ho: DimName, Wo: DimName>() -> Window {
        Window {
            rows: H::DIM,
            cols: W::DIM,
            out_rows: Ho::DIM,
            out_cols: Wo::DIM,
            k: K,
            s: S,
            p: P,
        }
    }

    const fn infos() -> [TensorInfo; 2] {
        let weight = TensorInfo {
            layer: 0,
            layer_kind: "Conv2d",
            role: Role::Kernel2d(K),
            rows: COUT,
            cols: CIN * K * K,
        };
        let bias = TensorInfo {
            role: Role::Bias,
            cols: 1,
            ..weight
        };
        [weight, bias]
    }
}

crate::core::network::network_inherent_methods!(
    [const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float]
    Conv2d<CIN, COUT, K, S, P, T>
);

impl<const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float>
    Default for Conv2d<CIN, COUT, K, S, P, T>
{
    /// All zeros, as a gradient accumulator starts.
    fn default() -> Self {
        Conv2d {
            w: [[[[T::zero(); COUT]; K]; K]; CIN],
            b: [T::zero(); COUT],
        }
    }
}

impl<const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float>
    fmt::Debug for Conv2d<CIN, COUT, K, S, P, T>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conv2d<{CIN}, {COUT}, {K}, {S}, {P}, {}> ", T::NAME)?;
        f.debug_struct("")
            .field("w", &self.w_slice())
            .field("b", &self.b)
            .finish()
    }
}

impl<
    const CIN: usize,
    const COUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    T,
    H,
    W,
    B,
> Layer<ImageN<T, Const<CIN>, H, W, B>> for Conv2d<CIN, COUT, K, S, P, T>
where
    T: Float,
    H: Slide<K, S, P>,
    W: Slide<K, S, P>,
    B: ImageBatch<T, Const<CIN>, H, W> + ImageBatch<T, Const<COUT>, H::Out, W::Out>,
{
    type Out = ImageN<T, Const<COUT>, H::Out, W::Out, B>;
    type Cache = ImageN<T, Const<CIN>, H, W, B>;

    fn forward(&self, x: &ImageN<T, Const<CIN>, H, W, B>) -> Self::Out {
        let g = Self::window::<H, W, H::Out, W::Out>();
        let mut y = Self::Out::zeros_batch(x.batch());
        let dynamic = B::try_to_usize().is_none();
        conv::forward(
            &g,
            COUT,
            self.w_slice(),
            &self.b,
            x.as_slice(),
            y.as_mut_slice(),
            dynamic,
        );
        y
    }

    fn forward_train(&self, x: ImageN<T, Const<CIN>, H, W, B>) -> (Self::Out, Self::Cache) {
        (self.forward(&x), x)
    }

    fn backward(&self, x: Self::Cache, d_out: Self::Out, grad: &mut Self) -> Self::Cache {
        let mut d_in = Self::Cache::zeros_batch(x.batch());
        self.backward_into(&x, &d_out, grad, Some(&mut d_in));
        d_in
    }

    fn backward_params(&self, x: Self::Cache, d_out: Self::Out, grad: &mut Self) {
        self.backward_into(&x, &d_out, grad, None);
    }

    // The step: backward into a gradient of the layer's own (small) size, then the update,
    // which is `backward` into a zero gradient and `Descent::apply`, to the bit.
    const DESCENDS: bool = true;

    fn backward_descend<Sc: Float>(
        &mut self,
        x: Self::Cache,
        d_out: Self::Out,
        step: Descent<Sc>,
    ) -> Self::Cache {
        let mut grad = Self::default();
        let d_in = self.backward(x, d_out, &mut grad);
        self.descend(&grad, step.cast());
        d_in
    }

    fn backward_descend_params<Sc: Float>(
        &mut self,
        x: Self::Cache,
        d_out: Self::Out,
        step: Descent<Sc>,
    ) {
        let mut grad = Self::default();
        self.backward_params(x, d_out, &mut grad);
        self.descend(&grad, step.cast());
    }
}

impl<const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float>
    Conv2d<CIN, COUT, K, S, P, T>
{
    /// Takes the step `step` with gradient `grad`.
    fn descend(&mut self, grad: &Self, step: Descent<T>) {
        step.apply(self.w_slice_mut(), grad.w_slice());
        step.apply(&mut self.b, &grad.b);
    }

    /// Adds dL/dw and dL/db into `grad` and, if asked, dL/dx into `d_in` (which starts at
    /// zero).
    fn backward_into<H, W, B>(
        &self,
        x: &ImageN<T, Const<CIN>, H, W, B>,
        d_out: &ImageN<T, Const<COUT>, H::Out, W::Out, B>,
        grad: &mut Self,
        d_in: Option<&mut ImageN<T, Const<CIN>, H, W, B>>,
    ) where
        H: Slide<K, S, P>,
        W: Slide<K, S, P>,
        B: ImageBatch<T, Const<CIN>, H, W> + ImageBatch<T, Const<COUT>, H::Out, W::Out>,
    {
        let g = Self::window::<H, W, H::Out, W::Out>();
        let Conv2d { w: gw, b: gb } = grad;
        conv::backward(
            &g,
            COUT,
            self.w_slice(),
            x.as_slice(),
            d_out.as_slice(),
            gw.as_flattened_mut().as_flattened_mut().as_flattened_mut(),
            gb,
            d_in.map(|d| d.as_mut_slice()),
            B::try_to_usize().is_none(),
        );
    }
}

impl<const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float>
    Params<T> for Conv2d<CIN, COUT, K, S, P, T>
{
    const LAYERS: usize = 1;

    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "Conv2d<{CIN}, {COUT}, {K}, {S}, {P}, {}>", T::NAME)
    }

    fn zip_params_mut<const N: usize, F>(&mut self, grad: &Self, state: [&mut Self; N], f: &mut F)
    where
        F: FnMut(&mut [T], &[T], [&mut [T]; N]),
    {
        let mut state = state;
        f(
            self.w_slice_mut(),
            grad.w_slice(),
            state.each_mut().map(|s| s.w_slice_mut()),
        );
        f(&mut self.b, &grad.b, state.map(|s| &mut s.b[..]));
    }

    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        let [w, b] = Self::infos();
        [
            Tensor {
                info: w,
                data: self.w_slice(),
            },
            Tensor {
                info: b,
                data: &self.b[..],
            },
        ]
        .into_iter()
    }

    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        let [w, b] = Self::infos();
        let Conv2d { w: kernel, b: bias } = self;
        [
            TensorMut {
                info: w,
                data: kernel
                    .as_flattened_mut()
                    .as_flattened_mut()
                    .as_flattened_mut(),
            },
            TensorMut {
                info: b,
                data: &mut bias[..],
            },
        ]
        .into_iter()
    }
}

impl<const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float>
    Network for Conv2d<CIN, COUT, K, S, P, T>
{
    type Scalar = T;
    type InputDim = Const<CIN>;
    type Input = AnyImage<T, Const<CIN>>;
}

impl<
    const CIN: usize,
    const COUT: usize,
    const K: usize,
    const S: usize,
    const P: usize,
    T: Float,
    Rest,
> FirstLayer<Rest> for Conv2d<CIN, COUT, K, S, P, T>
{
    type Scalar = T;
    type InputDim = Const<CIN>;
    type Input = AnyImage<T, Const<CIN>>;
}

crate::core::params::approx_via_params!(
    [const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float]
    Conv2d<CIN, COUT, K, S, P, T>, T
);

// no state from one time step to the next: a sequence network runs it on every step
impl<const CIN: usize, const COUT: usize, const K: usize, const S: usize, const P: usize, T: Float>
    crate::core::Stateless for Conv2d<CIN, COUT, K, S, P, T>
{
}
