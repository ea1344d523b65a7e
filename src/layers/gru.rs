//! The gated recurrent unit, PyTorch's `nn.GRU` (one layer).

use core::fmt;

use nalgebra::{Const, DefaultAllocator, Dim, OMatrix, SVector, allocator::Allocator};

use crate::core::{
    FirstLayer, Float, Network, Params, Role, SequenceLayer, Tensor, TensorInfo, TensorMut,
    TrainContext,
};
use crate::kernels::{self, recurrent};

/// A gated recurrent unit from `I` inputs to `H` hidden units, with PyTorch's equations
/// (`torch.nn.GRU`, gates in the order r, z, n):
///
/// ```text
/// r  = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z  = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
/// h' = (1 - z) ⊙ n + z ⊙ h
/// ```
///
/// Its output at each step is `h'`, and its state is `h` (zero at the start of a sequence).
/// Run it step by step ([`step`](crate::Chain::step)), over whole sequences
/// ([`forward_sequence`](crate::Chain::forward_sequence)) and train it through time
/// ([`TrainSequence`](crate::TrainSequence)); as a layer of independent samples
/// ([`Layer`](crate::Layer)) it is one step from the zero state.
///
/// The weights are stacked as PyTorch's `weight_ih_l0` (`3H x I`: `[W_ir; W_iz; W_in]`) and
/// `weight_hh_l0` (`3H x H`), and stored column by column: `w_ih[c][g][k]` is row `g·H + k`,
/// column `c`. The parameters live inline: `Gru<1, 16>` is 3.5 KB of `f32`.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Amp = net![Gru<1, 16>, Dense<16, 1>];
/// let net = Amp::random(&mut StdRng::seed_from_u64(1));
/// let mut state = net.initial_state();
/// let mut last = 0.0;
/// for t in 0..48 {
///     let x = SVector::<f32, 1>::new((t as f32 * 0.3).sin());
///     last = net.step(&mut state, &x)[0];
/// }
/// assert!(last.is_finite());
/// ```
#[derive(Clone, PartialEq)]
pub struct Gru<const I: usize, const H: usize, T: Float = f32> {
    /// Input weights `[W_ir; W_iz; W_in]` (`3H x I`), column by column.
    pub w_ih: [[[T; H]; 3]; I],
    /// Recurrent weights `[W_hr; W_hz; W_hn]` (`3H x H`), column by column.
    pub w_hh: [[[T; H]; 3]; H],
    /// Input biases `[b_ir; b_iz; b_in]`.
    pub b_ih: [[T; H]; 3],
    /// Recurrent biases `[b_hr; b_hz; b_hn]`.
    pub b_hh: [[T; H]; 3],
}

/// What a [`Gru`] keeps of one time step of `B` sequences for the backward pass: the input,
/// the state before the step, and the gates.
#[derive(Clone, Debug)]
pub struct GruCache<T: Float, const I: usize, const H: usize, B: Dim>
where
    DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<H>, B>,
{
    x: OMatrix<T, Const<I>, B>,
    h: OMatrix<T, Const<H>, B>,
    /// `r`, `z`, `n` and `W_hn h + b_hn`, one matrix each.
    gates: [OMatrix<T, Const<H>, B>; 4],
}

impl<const I: usize, const H: usize, T: Float> Gru<I, H, T> {
    /// The gates of one step, `[r, z, n, W_hn h + b_hn]`, for input `x` (`I` values) and state
    /// `h` (`H` values).
    #[inline(always)]
    fn gates(&self, x: &[T], h: &[T]) -> [[T; H]; 4] {
        let mut gi = self.b_ih;
        recurrent::add_gate_product(&mut gi, &self.w_ih, x);
        let mut gh = self.b_hh;
        recurrent::add_gate_product(&mut gh, &self.w_hh, h);
        let mut out = [[T::zero(); H]; 4];
        for k in 0..H {
            let r = recurrent::sigmoid(gi[0][k] + gh[0][k]);
            out[0][k] = r;
            out[1][k] = recurrent::sigmoid(gi[1][k] + gh[1][k]);
            out[2][k] = recurrent::tanh(gi[2][k] + r * gh[2][k]);
            out[3][k] = gh[2][k];
        }
        out
    }

    /// One step of one sequence: `h ← h'`; returns the gates.
    #[inline(always)]
    fn advance(&self, x: &[T], h: &mut [T]) -> [[T; H]; 4] {
        let g = self.gates(x, h);
        for k in 0..H {
            // PyTorch's form of (1 - z) n + z h
            h[k] = g[2][k] + g[1][k] * (h[k] - g[2][k]);
        }
        g
    }

    /// The backward pass of one step of one sequence: `dh` is dL/dh' on entry and dL/dh on
    /// exit, `dx` receives dL/dx.
    #[inline(always)]
    fn retreat(&self, x: &[T], h: &[T], g: [&[T]; 4], dh: &mut [T], dx: &mut [T], grad: &mut Self) {
        let [r, z, n, hn] = g;
        let mut d_ih = [[T::zero(); H]; 3];
        let mut d_hh = [[T::zero(); H]; 3];
        for k in 0..H {
            let d = dh[k];
            let dn = d * (T::one() - z[k]);
            let dz = d * (h[k] - n[k]);
            let da_n = dn * (T::one() - n[k] * n[k]);
            let dr = da_n * hn[k];
            d_ih[0][k] = dr * r[k] * (T::one() - r[k]);
            d_ih[1][k] = dz * z[k] * (T::one() - z[k]);
            d_ih[2][k] = da_n;
            d_hh[0][k] = d_ih[0][k];
            d_hh[1][k] = d_ih[1][k];
            d_hh[2][k] = da_n * r[k];
            dh[k] = d * z[k];
        }
        for g in 0..3 {
            for k in 0..H {
                grad.b_ih[g][k] += d_ih[g][k];
                grad.b_hh[g][k] += d_hh[g][k];
            }
        }
        recurrent::add_gate_outer(&mut grad.w_ih, &d_ih, x);
        recurrent::add_gate_outer(&mut grad.w_hh, &d_hh, h);
        dx.fill(T::zero());
        recurrent::add_gate_transposed(dx, &self.w_ih, &d_ih);
        recurrent::add_gate_transposed(dh, &self.w_hh, &d_hh);
    }

    /// The parameters' shapes, PyTorch's names.
    const fn infos() -> [TensorInfo; 4] {
        let w_ih = TensorInfo {
            layer: 0,
            layer_kind: "Gru",
            role: Role::InputWeight(3),
            rows: 3 * H,
            cols: I,
        };
        [
            w_ih,
            TensorInfo {
                role: Role::RecurrentWeight(3),
                cols: H,
                ..w_ih
            },
            TensorInfo {
                role: Role::InputBias,
                cols: 1,
                ..w_ih
            },
            TensorInfo {
                role: Role::RecurrentBias,
                cols: 1,
                ..w_ih
            },
        ]
    }
}

/// Work (values touched) of one step, for the dispatch threshold.
const fn step_work(i: usize, h: usize) -> usize {
    3 * h * (i + h)
}

impl<const I: usize, const H: usize, T: Float, B: Dim> SequenceLayer<OMatrix<T, Const<I>, B>>
    for Gru<I, H, T>
where
    DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<H>, B>,
{
    type Out = OMatrix<T, Const<H>, B>;
    type State = OMatrix<T, Const<H>, B>;
    type StepCache = GruCache<T, I, H, B>;

    fn zero_state(batch: usize) -> Self::State {
        OMatrix::zeros_generic(Const::<H>, B::from_usize(batch))
    }

    #[inline]
    fn step(&self, state: &mut Self::State, x: &OMatrix<T, Const<I>, B>) -> Self::Out {
        for (x, h) in x
            .as_slice()
            .chunks_exact(I)
            .zip(state.as_mut_slice().chunks_exact_mut(H))
        {
            kernels::dispatch!(step_work(I, H), {
                self.advance(x, h);
            });
        }
        state.clone()
    }

    fn step_train(
        &self,
        state: &mut Self::State,
        x: OMatrix<T, Const<I>, B>,
        _: &mut TrainContext,
    ) -> (Self::Out, Self::StepCache) {
        let h = state.clone();
        let columns = x.shape_generic().1;
        let mut gates: [OMatrix<T, Const<H>, B>; 4] =
            core::array::from_fn(|_| OMatrix::zeros_generic(Const::<H>, columns));
        for (b, (x, h)) in x
            .as_slice()
            .chunks_exact(I)
            .zip(state.as_mut_slice().chunks_exact_mut(H))
            .enumerate()
        {
            let g = kernels::dispatch!(step_work(I, H), self.advance(x, h));
            for (m, g) in gates.iter_mut().zip(g) {
                m.as_mut_slice()[b * H..][..H].copy_from_slice(&g);
            }
        }
        (state.clone(), GruCache { x, h, gates })
    }

    fn step_backward(
        &self,
        cache: Self::StepCache,
        d_out: Self::Out,
        d_state: &mut Self::State,
        grad: &mut Self,
    ) -> OMatrix<T, Const<I>, B> {
        let GruCache { mut x, h, gates } = cache;
        *d_state += d_out;
        let dh = d_state.as_mut_slice();
        let xs = x.as_mut_slice();
        for b in 0..h.ncols() {
            let g = [0, 1, 2, 3].map(|i| &gates[i].as_slice()[b * H..][..H]);
            let hb = &h.as_slice()[b * H..][..H];
            let mut dx = [T::zero(); I];
            let xb = &mut xs[b * I..][..I];
            kernels::dispatch!(2 * step_work(I, H), {
                self.retreat(xb, hb, g, &mut dh[b * H..][..H], &mut dx, grad)
            });
            // dL/dx over the input's storage, no longer needed
            xb.copy_from_slice(&dx);
        }
        x
    }
}

crate::core::layer_as_one_step!([const I: usize, const H: usize, T: Float] Gru<I, H, T>, out = Const<H>);

crate::core::network::network_inherent_methods!([const I: usize, const H: usize, T: Float] Gru<I, H, T>);

impl<const I: usize, const H: usize, T: Float> Default for Gru<I, H, T> {
    /// All zeros, as a gradient accumulator starts.
    fn default() -> Self {
        Gru {
            w_ih: [[[T::zero(); H]; 3]; I],
            w_hh: [[[T::zero(); H]; 3]; H],
            b_ih: [[T::zero(); H]; 3],
            b_hh: [[T::zero(); H]; 3],
        }
    }
}

impl<const I: usize, const H: usize, T: Float> fmt::Debug for Gru<I, H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gru<{I}, {H}, {}> ", T::NAME)?;
        f.debug_struct("")
            .field("w_ih", &self.w_ih.as_flattened().as_flattened())
            .field("w_hh", &self.w_hh.as_flattened().as_flattened())
            .field("b_ih", &self.b_ih.as_flattened())
            .field("b_hh", &self.b_hh.as_flattened())
            .finish()
    }
}

// SAFETY: `Gru` is four nested arrays of `f32` or `f64`, for which the all-zero bit pattern is
// the value 0.0, with no padding between them.
unsafe impl<const I: usize, const H: usize, T: Float + bytemuck::Zeroable> bytemuck::Zeroable
    for Gru<I, H, T>
{
}

impl<const I: usize, const H: usize, T: Float> Params<T> for Gru<I, H, T> {
    const LAYERS: usize = 1;

    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "Gru<{I}, {H}, {}>", T::NAME)
    }

    fn zip_params_mut<const K: usize, F>(&mut self, grad: &Self, state: [&mut Self; K], f: &mut F)
    where
        F: FnMut(&mut [T], &[T], [&mut [T]; K]),
    {
        let mut state = state;
        f(
            self.w_ih.as_flattened_mut().as_flattened_mut(),
            grad.w_ih.as_flattened().as_flattened(),
            state
                .each_mut()
                .map(|s| s.w_ih.as_flattened_mut().as_flattened_mut()),
        );
        f(
            self.w_hh.as_flattened_mut().as_flattened_mut(),
            grad.w_hh.as_flattened().as_flattened(),
            state
                .each_mut()
                .map(|s| s.w_hh.as_flattened_mut().as_flattened_mut()),
        );
        f(
            self.b_ih.as_flattened_mut(),
            grad.b_ih.as_flattened(),
            state.each_mut().map(|s| s.b_ih.as_flattened_mut()),
        );
        f(
            self.b_hh.as_flattened_mut(),
            grad.b_hh.as_flattened(),
            state.map(|s| s.b_hh.as_flattened_mut()),
        );
    }

    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        let [w_ih, w_hh, b_ih, b_hh] = Self::infos();
        [
            (w_ih, self.w_ih.as_flattened().as_flattened()),
            (w_hh, self.w_hh.as_flattened().as_flattened()),
            (b_ih, self.b_ih.as_flattened()),
            (b_hh, self.b_hh.as_flattened()),
        ]
        .into_iter()
        .map(|(info, data)| Tensor { info, data })
    }

    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        let [i_w_ih, i_w_hh, i_b_ih, i_b_hh] = Self::infos();
        let Gru {
            w_ih,
            w_hh,
            b_ih,
            b_hh,
        } = self;
        [
            (i_w_ih, w_ih.as_flattened_mut().as_flattened_mut()),
            (i_w_hh, w_hh.as_flattened_mut().as_flattened_mut()),
            (i_b_ih, b_ih.as_flattened_mut()),
            (i_b_hh, b_hh.as_flattened_mut()),
        ]
        .into_iter()
        .map(|(info, data)| TensorMut { info, data })
    }
}

impl<const I: usize, const H: usize, T: Float> Network for Gru<I, H, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}

impl<const I: usize, const H: usize, T: Float, Rest> FirstLayer<Rest> for Gru<I, H, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}

crate::core::params::approx_via_params!([const I: usize, const H: usize, T: Float] Gru<I, H, T>, T);
