//! The long short-term memory, PyTorch's `nn.LSTM` (one layer).

use core::fmt;

use nalgebra::{Const, DefaultAllocator, Dim, OMatrix, SVector, allocator::Allocator};

use crate::core::{
    FirstLayer, Float, Network, Params, Role, SequenceLayer, Tensor, TensorInfo, TensorMut,
    TrainContext,
};
use crate::kernels::{self, recurrent};

/// A long short-term memory from `I` inputs to `H` hidden units, with PyTorch's equations
/// (`torch.nn.LSTM`, gates in the order i, f, g, o):
///
/// ```text
/// i  = σ(W_ii x + b_ii + W_hi h + b_hi)
/// f  = σ(W_if x + b_if + W_hf h + b_hf)
/// g  = tanh(W_ig x + b_ig + W_hg h + b_hg)
/// o  = σ(W_io x + b_io + W_ho h + b_ho)
/// c' = f ⊙ c + i ⊙ g
/// h' = o ⊙ tanh(c')
/// ```
///
/// Its output at each step is `h'`, and its state is the pair `(h, c)` (both zero at the start
/// of a sequence). Run it step by step ([`step`](crate::Chain::step)), over whole sequences
/// ([`forward_sequence`](crate::Chain::forward_sequence)) and train it through time (its
/// [`SequenceLayer::step_backward`] carries `(dL/dh, dL/dc)` backwards); as a layer of
/// independent samples ([`Layer`](crate::Layer)) it is one step from the zero state.
///
/// The weights are stacked as PyTorch's `weight_ih_l0` (`4H x I`: `[W_ii; W_if; W_ig; W_io]`)
/// and `weight_hh_l0` (`4H x H`), and stored column by column: `w_ih[c][g][k]` is row
/// `g·H + k`, column `c`. The parameters live inline: `Lstm<1, 16>` is 4.75 KB of `f32`.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// type Amp = net![Lstm<1, 16>, Dense<16, 1>];
/// let net = Amp::random(&mut StdRng::seed_from_u64(1));
/// let mut state = net.initial_state(); // ((h, c), ()): the LSTM's pair, the Dense's nothing
/// let mut last = 0.0;
/// for t in 0..48 {
///     let x = SVector::<f32, 1>::new((t as f32 * 0.3).sin());
///     last = net.step(&mut state, &x)[0];
/// }
/// assert!(last.is_finite());
/// assert!(state.0.1.iter().any(|&c| c != 0.0)); // the cell state has moved
/// ```
#[derive(Clone, PartialEq)]
pub struct Lstm<const I: usize, const H: usize, T: Float = f32> {
    /// Input weights `[W_ii; W_if; W_ig; W_io]` (`4H x I`), column by column.
    pub w_ih: [[[T; H]; 4]; I],
    /// Recurrent weights `[W_hi; W_hf; W_hg; W_ho]` (`4H x H`), column by column.
    pub w_hh: [[[T; H]; 4]; H],
    /// Input biases `[b_ii; b_if; b_ig; b_io]`.
    pub b_ih: [[T; H]; 4],
    /// Recurrent biases `[b_hi; b_hf; b_hg; b_ho]`.
    pub b_hh: [[T; H]; 4],
}

/// What an [`Lstm`] keeps of one time step of `B` sequences for the backward pass: the input,
/// the state `(h, c)` before the step, and the gates.
#[derive(Clone, Debug)]
pub struct LstmCache<T: Float, const I: usize, const H: usize, B: Dim>
where
    DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<H>, B>,
{
    x: OMatrix<T, Const<I>, B>,
    h: OMatrix<T, Const<H>, B>,
    c: OMatrix<T, Const<H>, B>,
    /// `i`, `f`, `g`, `o` and `tanh(c')`, one matrix each.
    gates: [OMatrix<T, Const<H>, B>; 5],
}

impl<const I: usize, const H: usize, T: Float> Lstm<I, H, T> {
    /// One step of one sequence, for input `x`: `h ← h'`, `c ← c'`; returns the gates
    /// `[i, f, g, o, tanh(c')]`. Arrays, not slices: the loop over the units has no bounds to
    /// check, and vectorises.
    #[inline(always)]
    fn advance(&self, x: &[T; I], h: &mut [T; H], c: &mut [T; H]) -> [[T; H]; 5] {
        let mut gi = self.b_ih;
        recurrent::add_gate_product(&mut gi, &self.w_ih, x);
        let mut gh = self.b_hh;
        recurrent::add_gate_product(&mut gh, &self.w_hh, h);
        // one simple loop a nonlinearity: each vectorises on its own, where one loop of five
        // exponentials stays scalar (the same arithmetic either way)
        let mut out = [[T::zero(); H]; 5];
        for g in 0..4 {
            for k in 0..H {
                out[g][k] = gi[g][k] + gh[g][k];
            }
        }
        for g in [0, 1, 3] {
            for a in &mut out[g] {
                *a = recurrent::sigmoid(*a);
            }
        }
        for a in &mut out[2] {
            *a = recurrent::tanh(*a);
        }
        for k in 0..H {
            c[k] = out[1][k] * c[k] + out[0][k] * out[2][k];
        }
        for k in 0..H {
            out[4][k] = recurrent::tanh(c[k]);
        }
        for k in 0..H {
            h[k] = out[3][k] * out[4][k];
        }
        out
    }

    /// The backward pass of one step of one sequence: `dh`, `dc` are dL/dh', dL/dc' on entry
    /// and dL/dh, dL/dc on exit, `dx` receives dL/dx.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn retreat(
        &self,
        x: &[T; I],
        h: &[T; H],
        c: &[T; H],
        g: [&[T; H]; 5],
        dh: &mut [T; H],
        dc: &mut [T; H],
        dx: &mut [T; I],
        grad: &mut Self,
    ) {
        let [i, f, gg, o, tc] = g;
        // dL/d(pre-activation) of each gate: the same for both weights and both biases
        let mut d = [[T::zero(); H]; 4];
        for k in 0..H {
            let dct = dc[k] + dh[k] * o[k] * (T::one() - tc[k] * tc[k]);
            let d_o = dh[k] * tc[k];
            d[0][k] = dct * gg[k] * i[k] * (T::one() - i[k]);
            d[1][k] = dct * c[k] * f[k] * (T::one() - f[k]);
            d[2][k] = dct * i[k] * (T::one() - gg[k] * gg[k]);
            d[3][k] = d_o * o[k] * (T::one() - o[k]);
            dc[k] = dct * f[k];
        }
        let biases = grad.b_ih.as_flattened_mut().iter_mut();
        for ((b_ih, b_hh), &d) in biases
            .zip(grad.b_hh.as_flattened_mut())
            .zip(d.as_flattened())
        {
            *b_ih += d;
            *b_hh += d;
        }
        recurrent::add_gate_outer(&mut grad.w_ih, &d, x);
        recurrent::add_gate_outer(&mut grad.w_hh, &d, h);
        dx.fill(T::zero());
        recurrent::add_gate_transposed(dx, &self.w_ih, &d);
        dh.fill(T::zero());
        recurrent::add_gate_transposed(dh, &self.w_hh, &d);
    }

    /// The parameters' shapes, PyTorch's names.
    const fn infos() -> [TensorInfo; 4] {
        let w_ih = TensorInfo {
            layer: 0,
            layer_kind: "Lstm",
            role: Role::InputWeight(4),
            rows: 4 * H,
            cols: I,
        };
        [
            w_ih,
            TensorInfo {
                role: Role::RecurrentWeight(4),
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
    4 * h * (i + h)
}

impl<const I: usize, const H: usize, T: Float, B: Dim> SequenceLayer<OMatrix<T, Const<I>, B>>
    for Lstm<I, H, T>
where
    DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<H>, B>,
{
    type Out = OMatrix<T, Const<H>, B>;
    /// `(h, c)`: the hidden state and the cell state.
    type State = (OMatrix<T, Const<H>, B>, OMatrix<T, Const<H>, B>);
    type StepCache = LstmCache<T, I, H, B>;

    fn zero_state(batch: usize) -> Self::State {
        let zero = || OMatrix::zeros_generic(Const::<H>, B::from_usize(batch));
        (zero(), zero())
    }

    #[inline]
    fn step(&self, state: &mut Self::State, x: &OMatrix<T, Const<I>, B>) -> Self::Out {
        let (h, c) = state;
        for ((x, h), c) in x
            .as_slice()
            .as_chunks::<I>()
            .0
            .iter()
            .zip(h.as_mut_slice().as_chunks_mut::<H>().0)
            .zip(c.as_mut_slice().as_chunks_mut::<H>().0)
        {
            kernels::dispatch!(step_work(I, H), {
                self.advance(x, h, c);
            });
        }
        h.clone()
    }

    fn step_train(
        &self,
        state: &mut Self::State,
        x: OMatrix<T, Const<I>, B>,
        _: &mut TrainContext,
    ) -> (Self::Out, Self::StepCache) {
        let (h_before, c_before) = state.clone();
        let (h, c) = state;
        let columns = x.shape_generic().1;
        let mut gates: [OMatrix<T, Const<H>, B>; 5] =
            core::array::from_fn(|_| OMatrix::zeros_generic(Const::<H>, columns));
        for (b, ((x, h), c)) in x
            .as_slice()
            .as_chunks::<I>()
            .0
            .iter()
            .zip(h.as_mut_slice().as_chunks_mut::<H>().0)
            .zip(c.as_mut_slice().as_chunks_mut::<H>().0)
            .enumerate()
        {
            let g = kernels::dispatch!(step_work(I, H), self.advance(x, h, c));
            for (m, g) in gates.iter_mut().zip(g) {
                m.as_mut_slice()[b * H..][..H].copy_from_slice(&g);
            }
        }
        let cache = LstmCache {
            x,
            h: h_before,
            c: c_before,
            gates,
        };
        (h.clone(), cache)
    }

    fn step_backward(
        &self,
        cache: Self::StepCache,
        d_out: Self::Out,
        d_state: &mut Self::State,
        grad: &mut Self,
    ) -> OMatrix<T, Const<I>, B> {
        let LstmCache { mut x, h, c, gates } = cache;
        let (dh, dc) = d_state;
        *dh += d_out;
        let gates = gates.each_ref().map(|m| m.as_slice().as_chunks::<H>().0);
        for (b, (((x, dh), dc), (h, c))) in x
            .as_mut_slice()
            .as_chunks_mut::<I>()
            .0
            .iter_mut()
            .zip(dh.as_mut_slice().as_chunks_mut::<H>().0)
            .zip(dc.as_mut_slice().as_chunks_mut::<H>().0)
            .zip(
                h.as_slice()
                    .as_chunks::<H>()
                    .0
                    .iter()
                    .zip(c.as_slice().as_chunks::<H>().0),
            )
            .enumerate()
        {
            let g = gates.map(|m| &m[b]);
            let mut dx = [T::zero(); I];
            kernels::dispatch!(2 * step_work(I, H), {
                self.retreat(x, h, c, g, dh, dc, &mut dx, grad)
            });
            // dL/dx over the input's storage, no longer needed
            *x = dx;
        }
        x
    }
}

crate::core::layer_as_one_step!([const I: usize, const H: usize, T: Float] Lstm<I, H, T>, out = Const<H>);

crate::core::network::network_inherent_methods!([const I: usize, const H: usize, T: Float] Lstm<I, H, T>);

impl<const I: usize, const H: usize, T: Float> Default for Lstm<I, H, T> {
    /// All zeros, as a gradient accumulator starts.
    fn default() -> Self {
        Lstm {
            w_ih: [[[T::zero(); H]; 4]; I],
            w_hh: [[[T::zero(); H]; 4]; H],
            b_ih: [[T::zero(); H]; 4],
            b_hh: [[T::zero(); H]; 4],
        }
    }
}

impl<const I: usize, const H: usize, T: Float> fmt::Debug for Lstm<I, H, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Lstm<{I}, {H}, {}> ", T::NAME)?;
        f.debug_struct("")
            .field("w_ih", &self.w_ih.as_flattened().as_flattened())
            .field("w_hh", &self.w_hh.as_flattened().as_flattened())
            .field("b_ih", &self.b_ih.as_flattened())
            .field("b_hh", &self.b_hh.as_flattened())
            .finish()
    }
}

// SAFETY: `Lstm` is four nested arrays of `f32` or `f64`, for which the all-zero bit pattern is
// the value 0.0, with no padding between them.
unsafe impl<const I: usize, const H: usize, T: Float + bytemuck::Zeroable> bytemuck::Zeroable
    for Lstm<I, H, T>
{
}

impl<const I: usize, const H: usize, T: Float> Params<T> for Lstm<I, H, T> {
    const LAYERS: usize = 1;

    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "Lstm<{I}, {H}, {}>", T::NAME)
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
        let Lstm {
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

impl<const I: usize, const H: usize, T: Float> Network for Lstm<I, H, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}

impl<const I: usize, const H: usize, T: Float, Rest> FirstLayer<Rest> for Lstm<I, H, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}

crate::core::params::approx_via_params!([const I: usize, const H: usize, T: Float] Lstm<I, H, T>, T);
