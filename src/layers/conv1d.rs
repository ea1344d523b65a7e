//! The causal one-dimensional convolution over time, PyTorch's `nn.Conv1d` padded on the left.

use core::fmt;

use nalgebra::{Const, DefaultAllocator, Dim, OMatrix, SVector, allocator::Allocator};

use crate::core::{
    FirstLayer, Float, Network, Params, Role, SequenceLayer, StateValues, Tensor, TensorInfo,
    TensorMut, TrainContext,
};
use crate::kernels;

/// A causal convolution over time from `CIN` channels to `COUT`, with a kernel of `K` taps
/// spaced `D` steps apart (the dilation, default 1), scalar `T` (default `f32`):
///
/// ```text
/// y_t = b + Σ_{k<K} W[:, :, k] x_{t − (K−1−k)·D}
/// ```
///
/// so the kernel's last tap, `W[:, :, K−1]`, multiplies the newest sample, and samples before
/// the start of the sequence are zero. It is PyTorch's
/// `nn.Conv1d(CIN, COUT, K, dilation=D, padding=0)` applied to the sequence padded with
/// `(K−1)·D` zeros on the left (a cross-correlation: the kernel is not flipped), one output
/// per input step.
///
/// Its state is a ring buffer of the last `K·D` inputs ([`Conv1dState`]), zero at the start of
/// a sequence. Run it step by step ([`step`](crate::Chain::step): no allocation for one
/// stream), over whole sequences ([`forward_sequence`](crate::Chain::forward_sequence)) and
/// train it through time ([`SequenceLayer::step_backward`]); as a layer of independent samples
/// ([`Layer`](crate::Layer)) it is one step from the zero state (`b + W[:, :, K−1] x`).
///
/// Weights are `w[c][k][o]`: for each input channel and tap, the `COUT` output channels'
/// weights, which is a `COUT x (CIN·K)` matrix stored column by column (column `c·K + k`), so
/// PyTorch's `weight` (`[COUT, CIN, K]`, row-major) maps to it directly.
///
/// The impulse response of a kernel `[1, 2, 3]` with dilation 2 is the kernel reversed, its
/// taps 2 steps apart:
///
/// ```
/// use typenet::prelude::*;
/// let conv = Conv1d::<1, 1, 3, 2>::new([[[1.0], [2.0], [3.0]]], [0.0]);
/// let mut xs = OMatrix::<f32, Const<1>, Dyn>::zeros(7);
/// xs[0] = 1.0;
/// let ys = conv.forward_sequence(&xs);
/// assert_eq!(ys.as_slice(), [3.0, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0]);
/// ```
#[derive(Clone, Copy, PartialEq)]
pub struct Conv1d<
    const CIN: usize,
    const COUT: usize,
    const K: usize,
    const D: usize = 1,
    T: Float = f32,
> {
    /// The kernel: `w[c][k][o]` multiplies input channel `c` at tap `k` (tap `K − 1` is the
    /// newest sample) into output channel `o`.
    pub w: [[[T; COUT]; K]; CIN],
    /// One bias per output channel.
    pub b: [T; COUT],
}

/// The streaming state of a [`Conv1d`] over `B` sequences: a ring buffer of the last `K·D`
/// inputs (of which the convolution reads `(K−1)·D + 1`) and the slot the next input goes to.
/// All zero at the start of a sequence.
///
/// ```
/// use typenet::prelude::*;
/// let conv = Conv1d::<1, 1, 2>::new([[[1.0], [1.0]]], [0.0]);
/// let mut state = conv.initial_state();
/// conv.step(&mut state, &SVector::<f32, 1>::new(5.0));
/// conv.step(&mut state, &SVector::<f32, 1>::new(7.0));
/// assert_eq!(state.past(0), Some(&SVector::<f32, 1>::new(7.0))); // the newest input
/// assert_eq!(state.past(1), Some(&SVector::<f32, 1>::new(5.0)));
/// assert_eq!(state.past(2), None); // beyond what the ring keeps
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Conv1dState<T: Float, const CIN: usize, const K: usize, const D: usize, B: Dim>
where
    DefaultAllocator: Allocator<Const<CIN>, B>,
{
    /// Slot `j` of the ring is `ring[j / D][j % D]`.
    ring: [[OMatrix<T, Const<CIN>, B>; D]; K],
    /// The slot the next input is written to (always below `K·D`).
    pos: usize,
}

impl<T: Float, const CIN: usize, const K: usize, const D: usize, B: Dim>
    Conv1dState<T, CIN, K, D, B>
where
    DefaultAllocator: Allocator<Const<CIN>, B>,
{
    /// The input of `lag` steps ago (`0`: the newest), for `lag` below `K·D`, the inputs the
    /// ring keeps; zero before the start of the sequence.
    pub fn past(&self, lag: usize) -> Option<&OMatrix<T, Const<CIN>, B>> {
        (lag < K * D).then(|| slot(&self.ring, (self.pos + 2 * K * D - 1 - lag) % (K * D)))
    }

    /// The slot of the ring the next input is written to (below `K·D`).
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<T: Float, const CIN: usize, const K: usize, const D: usize, B: Dim> StateValues<T>
    for Conv1dState<T, CIN, K, D, B>
where
    DefaultAllocator: Allocator<Const<CIN>, B>,
{
    /// The ring's slots in order (the write position is not a value).
    fn for_each_slice(&self, f: &mut dyn FnMut(&[T])) {
        for m in self.ring.as_flattened() {
            f(m.as_slice());
        }
    }

    fn for_each_slice_mut(&mut self, f: &mut dyn FnMut(&mut [T])) {
        for m in self.ring.as_flattened_mut() {
            f(m.as_mut_slice());
        }
    }
}

/// Slot `j` of a ring.
#[inline(always)]
fn slot<M, const K: usize, const D: usize>(ring: &[[M; D]; K], j: usize) -> &M {
    &ring[j / D][j % D]
}

/// Slot `j` of a ring, writable.
#[inline(always)]
fn slot_mut<M, const K: usize, const D: usize>(ring: &mut [[M; D]; K], j: usize) -> &mut M {
    &mut ring[j / D][j % D]
}

/// What a [`Conv1d`] keeps of one time step of `B` sequences for the backward pass: the
/// values under each tap and the ring slot the step's input went to.
#[derive(Clone, Debug)]
pub struct Conv1dCache<T: Float, const CIN: usize, const K: usize, B: Dim>
where
    DefaultAllocator: Allocator<Const<CIN>, B>,
{
    /// `taps[k]` is the input tap `k` read (`taps[K − 1]` is the step's input).
    taps: [OMatrix<T, Const<CIN>, B>; K],
    /// The slot the step's input was written to.
    pos: usize,
}

impl<const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float>
    Conv1d<CIN, COUT, K, D, T>
{
    /// A convolution with kernel `w` (`w[c][k][o]`) and biases `b`.
    pub const fn new(w: [[[T; COUT]; K]; CIN], b: [T; COUT]) -> Self {
        Conv1d { w, b }
    }

    /// The weight from input channel `c` at tap `k` into output channel `o`: PyTorch's
    /// `weight[o, c, k]`.
    pub fn weight(&self, o: usize, c: usize, k: usize) -> T {
        self.w[c][k][o]
    }

    /// The kernel as one slice, `COUT x (CIN·K)` column by column.
    pub fn w_slice(&self) -> &[T] {
        self.w.as_flattened().as_flattened()
    }

    /// The kernel as one slice, writable.
    pub fn w_slice_mut(&mut self) -> &mut [T] {
        self.w.as_flattened_mut().as_flattened_mut()
    }

    /// The ring slot tap `k` reads when the step's input went to slot `pos`.
    #[inline(always)]
    fn tap(pos: usize, k: usize) -> usize {
        const {
            assert!(
                K > 0 && D > 0,
                "a Conv1d has at least one tap and a dilation of at least 1"
            )
        };
        let j = pos + K * D - (K - 1 - k) * D;
        if j >= K * D { j - K * D } else { j }
    }

    /// One step of sequence `b` (column `b` of the ring's matrices): writes its input `x` to
    /// slot `pos` and its output to `y`. The product reads the taps where they lie in the ring,
    /// with four partial sums over the input channels (a chain of additions `K·CIN/4` long,
    /// not `K·CIN`).
    #[inline(always)]
    fn advance<B: Dim>(
        &self,
        ring: &mut [[OMatrix<T, Const<CIN>, B>; D]; K],
        pos: usize,
        b: usize,
        x: &[T; CIN],
        y: &mut [T; COUT],
    ) where
        DefaultAllocator: Allocator<Const<CIN>, B>,
    {
        slot_mut(ring, pos).as_mut_slice().as_chunks_mut::<CIN>().0[b] = *x;
        let zero = [T::zero(); COUT];
        let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
        for k in 0..K {
            let v = &slot(ring, Self::tap(pos, k))
                .as_slice()
                .as_chunks::<CIN>()
                .0[b];
            let mut c = 0;
            while c + 4 <= CIN {
                let (w0, w1, w2, w3) = (
                    &self.w[c][k],
                    &self.w[c + 1][k],
                    &self.w[c + 2][k],
                    &self.w[c + 3][k],
                );
                let (v0, v1, v2, v3) = (v[c], v[c + 1], v[c + 2], v[c + 3]);
                for o in 0..COUT {
                    s0[o] += w0[o] * v0;
                    s1[o] += w1[o] * v1;
                    s2[o] += w2[o] * v2;
                    s3[o] += w3[o] * v3;
                }
                c += 4;
            }
            while c < CIN {
                let (wc, vc) = (&self.w[c][k], v[c]);
                for o in 0..COUT {
                    s0[o] += wc[o] * vc;
                }
                c += 1;
            }
        }
        for o in 0..COUT {
            y[o] = self.b[o] + ((s0[o] + s1[o]) + (s2[o] + s3[o]));
        }
    }

    /// The backward pass of one step of sequence `b`: `u` the values under the taps, `dy`
    /// dL/dy; adds into `grad` and into the taps' slots of `d_ring` (dL/d(ring after the
    /// step) on entry, dL/d(ring before it) on exit), and writes dL/dx to `dx`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn retreat<B: Dim>(
        &self,
        u: &[[T; K]; CIN],
        dy: &[T; COUT],
        d_ring: &mut [[OMatrix<T, Const<CIN>, B>; D]; K],
        pos: usize,
        b: usize,
        dx: &mut [T; CIN],
        grad: &mut Self,
    ) where
        DefaultAllocator: Allocator<Const<CIN>, B>,
    {
        for (gb, &d) in grad.b.iter_mut().zip(dy) {
            *gb += d;
        }
        // dL/dW: column c·K + k gains dy · u[c][k]
        for (column, &v) in grad.w.as_flattened_mut().iter_mut().zip(u.as_flattened()) {
            for (g, &d) in column.iter_mut().zip(dy) {
                *g += d * v;
            }
        }
        // dL/d(the value under tap k, channel c) = W[:, c·K + k] · dy, four partial sums
        let mut du = [[T::zero(); CIN]; K];
        for (c, taps) in self.w.iter().enumerate() {
            for (k, column) in taps.iter().enumerate() {
                let mut s = [T::zero(); 4];
                let (w4, w_tail) = column.as_chunks::<4>();
                let (d4, d_tail) = dy.as_chunks::<4>();
                for (w4, d4) in w4.iter().zip(d4) {
                    for q in 0..4 {
                        s[q] += w4[q] * d4[q];
                    }
                }
                for (&w, &d) in w_tail.iter().zip(d_tail) {
                    s[0] += w * d;
                }
                du[k][c] = (s[0] + s[1]) + (s[2] + s[3]);
            }
        }
        for (k, du) in du.iter().enumerate() {
            let v = &mut slot_mut(d_ring, Self::tap(pos, k))
                .as_mut_slice()
                .as_chunks_mut::<CIN>()
                .0[b];
            for (v, &d) in v.iter_mut().zip(du) {
                *v += d;
            }
        }
        // the step wrote its input over slot `pos`: what was there before influenced nothing
        // after it
        let v = &mut slot_mut(d_ring, pos)
            .as_mut_slice()
            .as_chunks_mut::<CIN>()
            .0[b];
        *dx = *v;
        *v = [T::zero(); CIN];
    }

    /// The parameters' shapes, PyTorch's names.
    const fn infos() -> [TensorInfo; 2] {
        let weight = TensorInfo {
            layer: 0,
            layer_kind: "Conv1d",
            role: Role::Kernel1d(K),
            rows: COUT,
            cols: CIN * K,
        };
        let bias = TensorInfo {
            role: Role::Bias,
            cols: 1,
            ..weight
        };
        [weight, bias]
    }
}

/// Work (values touched) of one step, for the dispatch threshold.
const fn step_work(cin: usize, cout: usize, k: usize) -> usize {
    cin * cout * k
}

impl<const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float, B: Dim>
    SequenceLayer<OMatrix<T, Const<CIN>, B>> for Conv1d<CIN, COUT, K, D, T>
where
    DefaultAllocator: Allocator<Const<CIN>, B> + Allocator<Const<COUT>, B>,
{
    type Out = OMatrix<T, Const<COUT>, B>;
    type State = Conv1dState<T, CIN, K, D, B>;
    type StepCache = Conv1dCache<T, CIN, K, B>;

    fn zero_state(batch: usize) -> Self::State {
        const {
            assert!(
                K > 0 && D > 0,
                "a Conv1d has at least one tap and a dilation of at least 1"
            )
        };
        let columns = B::from_usize(batch);
        Conv1dState {
            ring: core::array::from_fn(|_| {
                core::array::from_fn(|_| OMatrix::zeros_generic(Const::<CIN>, columns))
            }),
            pos: 0,
        }
    }

    #[inline]
    fn step(&self, state: &mut Self::State, x: &OMatrix<T, Const<CIN>, B>) -> Self::Out {
        let pos = state.pos;
        let mut y = OMatrix::zeros_generic(Const::<COUT>, x.shape_generic().1);
        for (b, (x, y)) in x
            .as_slice()
            .as_chunks::<CIN>()
            .0
            .iter()
            .zip(y.as_mut_slice().as_chunks_mut::<COUT>().0)
            .enumerate()
        {
            let ring = &mut state.ring;
            kernels::dispatch!(step_work(CIN, COUT, K), {
                self.advance(ring, pos, b, x, y);
            });
        }
        state.pos = if pos + 1 == K * D { 0 } else { pos + 1 };
        y
    }

    fn step_train(
        &self,
        state: &mut Self::State,
        x: OMatrix<T, Const<CIN>, B>,
        _: &mut TrainContext,
    ) -> (Self::Out, Self::StepCache) {
        let pos = state.pos;
        let columns = x.shape_generic().1;
        let mut y = OMatrix::zeros_generic(Const::<COUT>, columns);
        let mut taps: [OMatrix<T, Const<CIN>, B>; K] =
            core::array::from_fn(|_| OMatrix::zeros_generic(Const::<CIN>, columns));
        for (b, (x, y)) in x
            .as_slice()
            .as_chunks::<CIN>()
            .0
            .iter()
            .zip(y.as_mut_slice().as_chunks_mut::<COUT>().0)
            .enumerate()
        {
            let ring = &mut state.ring;
            kernels::dispatch!(step_work(CIN, COUT, K), {
                self.advance(ring, pos, b, x, y);
            });
            // the values under the taps, which later steps write over
            for (k, m) in taps.iter_mut().enumerate() {
                let v = &slot(ring, Self::tap(pos, k))
                    .as_slice()
                    .as_chunks::<CIN>()
                    .0[b];
                m.as_mut_slice().as_chunks_mut::<CIN>().0[b] = *v;
            }
        }
        state.pos = if pos + 1 == K * D { 0 } else { pos + 1 };
        (y, Conv1dCache { taps, pos })
    }

    fn step_backward(
        &self,
        cache: Self::StepCache,
        d_out: Self::Out,
        d_state: &mut Self::State,
        grad: &mut Self,
    ) -> OMatrix<T, Const<CIN>, B> {
        // d_state's own position is not used: the slots are those the step used
        let Conv1dCache { taps, pos } = cache;
        let mut u_all = taps;
        for (b, dy) in d_out.as_slice().as_chunks::<COUT>().0.iter().enumerate() {
            let mut u = [[T::zero(); K]; CIN];
            for (k, m) in u_all.iter().enumerate() {
                let t = &m.as_slice().as_chunks::<CIN>().0[b];
                for c in 0..CIN {
                    u[c][k] = t[c];
                }
            }
            let mut dx = [T::zero(); CIN];
            let ring = &mut d_state.ring;
            kernels::dispatch!(2 * step_work(CIN, COUT, K), {
                self.retreat(&u, dy, ring, pos, b, &mut dx, grad)
            });
            // dL/dx over the newest tap's storage (the step's input), no longer needed
            u_all[K - 1].as_mut_slice().as_chunks_mut::<CIN>().0[b] = dx;
        }
        let columns = d_out.shape_generic().1;
        u_all
            .into_iter()
            .next_back()
            .unwrap_or_else(|| OMatrix::zeros_generic(Const::<CIN>, columns))
    }
}

crate::core::layer_as_one_step!(
    [const I: usize, const COUT: usize, const K: usize, const D: usize, T: Float]
    Conv1d<I, COUT, K, D, T>, out = Const<COUT>
);

crate::core::network::network_inherent_methods!(
    [const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float]
    Conv1d<CIN, COUT, K, D, T>
);

impl<const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float> Default
    for Conv1d<CIN, COUT, K, D, T>
{
    /// All zeros, as a gradient accumulator starts.
    fn default() -> Self {
        Conv1d {
            w: [[[T::zero(); COUT]; K]; CIN],
            b: [T::zero(); COUT],
        }
    }
}

impl<const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float> fmt::Debug
    for Conv1d<CIN, COUT, K, D, T>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conv1d<{CIN}, {COUT}, {K}, {D}, {}> ", T::NAME)?;
        f.debug_struct("")
            .field("w", &self.w_slice())
            .field("b", &self.b)
            .finish()
    }
}

// SAFETY: `Conv1d` is two arrays of `f32` or `f64`, for which the all-zero bit pattern is the
// value 0.0, with no padding between them.
unsafe impl<
    const CIN: usize,
    const COUT: usize,
    const K: usize,
    const D: usize,
    T: Float + bytemuck::Zeroable,
> bytemuck::Zeroable for Conv1d<CIN, COUT, K, D, T>
{
}

impl<const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float> Params<T>
    for Conv1d<CIN, COUT, K, D, T>
{
    const LAYERS: usize = 1;

    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "Conv1d<{CIN}, {COUT}, {K}, {D}, {}>", T::NAME)
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
        let Conv1d { w: kernel, b: bias } = self;
        [
            TensorMut {
                info: w,
                data: kernel.as_flattened_mut().as_flattened_mut(),
            },
            TensorMut {
                info: b,
                data: &mut bias[..],
            },
        ]
        .into_iter()
    }
}

impl<const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float> Network
    for Conv1d<CIN, COUT, K, D, T>
{
    type Scalar = T;
    type InputDim = Const<CIN>;
    type Input = SVector<T, CIN>;
}

impl<const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float, Rest>
    FirstLayer<Rest> for Conv1d<CIN, COUT, K, D, T>
{
    type Scalar = T;
    type InputDim = Const<CIN>;
    type Input = SVector<T, CIN>;
}

crate::core::params::approx_via_params!(
    [const CIN: usize, const COUT: usize, const K: usize, const D: usize, T: Float]
    Conv1d<CIN, COUT, K, D, T>, T
);
