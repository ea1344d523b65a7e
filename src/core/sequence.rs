//! The contract of layers that run one time step at a time and carry state from step to step
//! (GRU, LSTM, causal convolutions), and of the stateless layers between them.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, OMatrix, OVector};

use super::{Chain, Layer, Network, TrainContext};

/// A layer (or a whole network) that runs on a sequence one time step at a time, carrying a
/// state from each step to the next. `X` is one time step of a batch of sequences:
/// `OMatrix<T, Const<I>, B>`, one column per sequence (`B = U1` for one stream, the streaming
/// case; `Dyn` or `Const<K>` for training on several sequences at once).
///
/// The state of a network is the tuple of its layers' states, its type derived from the
/// network's type; stateless layers ([`Dense`](crate::Dense), the activations: those marked
/// [`Stateless`]) have the state `()` and run as they do on independent samples.
///
/// Backpropagation through time walks the steps backwards: `step_backward` receives dL/d(the
/// state after the step) in `d_state` and leaves dL/d(the state before it) there, adds
/// dL/dparams into `grad`, and returns dL/dx. After the first step has been walked, `d_state`
/// holds the gradient with respect to the initial state.
///
/// A network that has a layer which cannot run step by step is a compile error where it is
/// streamed:
///
/// ```compile_fail,E0277
/// use typenet::prelude::*;
/// type Net = net![Dense<4, 8>, Dense<9, 1>];
/// let net = Net::zeros(); // shape mismatch: `Dense<9, 1>` cannot take … Const<8> …
/// ```
///
/// See `docs/sequences.md` for the conventions (PyTorch's gate orders and layouts) and for how
/// to write a recurrent layer of your own.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot run one time step of `{X}`",
    label = "`{Self}` cannot run step by step on this input",
    note = "sequence networks are made of recurrent layers (Gru, Lstm, Conv1d) and stateless layers (Dense, activations, marked `Stateless`), each taking the previous one's output width; a layer of your own runs in them once it implements `SequenceLayer` or, if it keeps no state, `Stateless`"
)]
pub trait SequenceLayer<X>: Sized {
    /// What one step produces (one column per sequence).
    type Out;
    /// What the layer carries from one step to the next, for a batch of sequences: `()` for a
    /// stateless layer, the hidden state for a GRU, a tuple for a chain. Zero is the start of
    /// every sequence ([`zero_state`](SequenceLayer::zero_state)).
    type State: Clone;
    /// What `step_train` keeps of one step for `step_backward`.
    type StepCache;

    /// The state at the start of a sequence, all zero, for `batch` sequences side by side
    /// (for `B = U1` or `Const<K>`, `batch` must be 1 or `K`).
    fn zero_state(batch: usize) -> Self::State;

    /// One time step, for inference: updates `state` and returns the output.
    fn step(&self, state: &mut Self::State, x: &X) -> Self::Out;

    /// One time step for training: also returns what `step_backward` needs. The output and the
    /// new state are those of [`step`](SequenceLayer::step), to the bit.
    fn step_train(
        &self,
        state: &mut Self::State,
        x: X,
        ctx: &mut TrainContext,
    ) -> (Self::Out, Self::StepCache);

    /// The backward pass of one step: given its cache, dL/dOut of the step and, in `d_state`,
    /// dL/d(state after the step), adds dL/dparams into `grad`, leaves dL/d(state before the
    /// step) in `d_state` and returns dL/dx.
    fn step_backward(
        &self,
        cache: Self::StepCache,
        d_out: Self::Out,
        d_state: &mut Self::State,
        grad: &mut Self,
    ) -> X;
}

/// A layer that keeps no state from one time step to the next: in a sequence network it runs
/// on each step as it runs on independent samples ([`Layer`]), with the state `()`.
/// [`Dense`](crate::Dense), the activations, [`Dropout`](crate::Dropout) and
/// [`Flatten`](crate::Flatten) are; mark a stateless layer of your own so to use it between
/// recurrent layers.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::Stateless;
/// #[derive(Clone, Copy, Default)]
/// struct Halve;
/// impl Stateless for Halve {}
/// impl<const N: usize> Layer<SVector<f32, N>> for Halve {
///     type Out = SVector<f32, N>;
///     type Cache = ();
///     fn forward(&self, x: &SVector<f32, N>) -> SVector<f32, N> { x * 0.5 }
///     fn forward_train(&self, x: SVector<f32, N>) -> (SVector<f32, N>, ()) { (x * 0.5, ()) }
///     fn backward(&self, _: (), d: SVector<f32, N>, _: &mut Self) -> SVector<f32, N> { d * 0.5 }
/// }
/// let mut state = ();
/// let y = SequenceLayer::step(&Halve, &mut state, &SVector::<f32, 2>::new(2.0, 4.0));
/// assert_eq!(y, SVector::<f32, 2>::new(1.0, 2.0));
/// ```
pub trait Stateless {}

impl<X, L: Layer<X> + Stateless> SequenceLayer<X> for L {
    type Out = L::Out;
    type State = ();
    type StepCache = L::Cache;

    #[inline]
    fn zero_state(_: usize) {}

    #[inline]
    fn step(&self, _: &mut (), x: &X) -> L::Out {
        self.forward(x)
    }

    #[inline]
    fn step_train(&self, _: &mut (), x: X, ctx: &mut TrainContext) -> (L::Out, L::Cache) {
        self.forward_train_in(x, ctx)
    }

    #[inline]
    fn step_backward(&self, cache: L::Cache, d_out: L::Out, _: &mut (), grad: &mut Self) -> X {
        self.backward(cache, d_out, grad)
    }
}

impl<X, A, B> SequenceLayer<X> for Chain<A, B>
where
    A: SequenceLayer<X>,
    B: SequenceLayer<A::Out>,
{
    type Out = B::Out;
    type State = (A::State, B::State);
    type StepCache = (A::StepCache, B::StepCache);

    #[inline]
    fn zero_state(batch: usize) -> Self::State {
        (A::zero_state(batch), B::zero_state(batch))
    }

    #[inline]
    fn step(&self, state: &mut Self::State, x: &X) -> B::Out {
        let mid = self.head.step(&mut state.0, x);
        self.tail.step(&mut state.1, &mid)
    }

    #[inline]
    fn step_train(
        &self,
        state: &mut Self::State,
        x: X,
        ctx: &mut TrainContext,
    ) -> (B::Out, Self::StepCache) {
        let (mid, head) = self.head.step_train(&mut state.0, x, ctx);
        let (out, tail) = self.tail.step_train(&mut state.1, mid, ctx);
        (out, (head, tail))
    }

    #[inline]
    fn step_backward(
        &self,
        cache: Self::StepCache,
        d_out: B::Out,
        d_state: &mut Self::State,
        grad: &mut Self,
    ) -> X {
        let d_mid = self
            .tail
            .step_backward(cache.1, d_out, &mut d_state.1, &mut grad.tail);
        self.head
            .step_backward(cache.0, d_mid, &mut d_state.0, &mut grad.head)
    }
}

/// One time step of one stream of network `N`: a column of its input width and scalar.
pub type StepInput<N> = OVector<<N as Network>::Scalar, <N as Network>::InputDim>;

/// The streaming state of network `N` (one stream): what
/// [`initial_state`](crate::Chain::initial_state) returns, derived from the network's type.
///
/// ```
/// use typenet::prelude::*;
/// use typenet::StreamState;
/// type Amp = net![Gru<1, 4>, Dense<4, 1>];
/// let state: StreamState<Amp> = Amp::zeros().initial_state();
/// assert_eq!(state.0, SVector::<f32, 4>::zeros()); // the GRU's hidden state; the Dense has `()`
/// ```
pub type StreamState<N> = <N as SequenceLayer<StepInput<N>>>::State;

/// "`Self` is one time step that network `N` can take": [`SequenceLayer`] seen from the
/// input's side, for the error a mismatch gives (as [`InputOf`](crate::InputOf)).
#[diagnostic::on_unimplemented(
    message = "shape mismatch: `{N}` cannot take `{Self}` as one time step",
    label = "`{N}` cannot take this time step",
    note = "one time step of one stream is an `SVector<T, I>` of the network's input width I and scalar T"
)]
pub trait StepOf<N>: Sized {
    /// `N`, seen as a sequence layer of `Self` (it is `N`).
    type Net: SequenceLayer<Self, Out = Self::Out, State = Self::State>;
    /// What one step of `N` gives.
    type Out;
    /// The state `N` carries.
    type State: Clone;
    /// `net` as a sequence layer of `Self` (the identity).
    fn as_sequence_layer(net: &N) -> &Self::Net;
}

impl<X, N: SequenceLayer<X>> StepOf<N> for X {
    type Net = N;
    type Out = N::Out;
    type State = N::State;
    #[inline(always)]
    fn as_sequence_layer(net: &N) -> &N {
        net
    }
}

/// The values of a state (or of its gradient), visited slice by slice in a fixed order: for
/// the checker (which perturbs the initial state) and for norms. Implemented for `()`, for
/// pairs (the state of a chain) and for nalgebra matrices (a hidden state).
pub trait StateValues<T> {
    /// Calls `f` on each slice of values, in order.
    fn for_each_slice(&self, f: &mut dyn FnMut(&[T]));
    /// Calls `f` on each slice of values, writable, in the order of
    /// [`for_each_slice`](StateValues::for_each_slice).
    fn for_each_slice_mut(&mut self, f: &mut dyn FnMut(&mut [T]));
    /// The number of values.
    fn value_count(&self) -> usize {
        let mut n = 0;
        self.for_each_slice(&mut |s| n += s.len());
        n
    }
}

impl<T> StateValues<T> for () {
    fn for_each_slice(&self, _: &mut dyn FnMut(&[T])) {}
    fn for_each_slice_mut(&mut self, _: &mut dyn FnMut(&mut [T])) {}
}

impl<T, A: StateValues<T>, B: StateValues<T>> StateValues<T> for (A, B) {
    fn for_each_slice(&self, f: &mut dyn FnMut(&[T])) {
        self.0.for_each_slice(f);
        self.1.for_each_slice(f);
    }
    fn for_each_slice_mut(&mut self, f: &mut dyn FnMut(&mut [T])) {
        self.0.for_each_slice_mut(f);
        self.1.for_each_slice_mut(f);
    }
}

impl<T: nalgebra::Scalar, R: Dim, C: Dim> StateValues<T> for OMatrix<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    fn for_each_slice(&self, f: &mut dyn FnMut(&[T])) {
        f(self.as_slice());
    }
    fn for_each_slice_mut(&mut self, f: &mut dyn FnMut(&mut [T])) {
        f(self.as_mut_slice());
    }
}

/// Writes a recurrent layer's [`Layer`] implementation from its [`SequenceLayer`] one: as a
/// layer of independent samples, a recurrent layer is one time step from the zero state (a
/// GRU's output for a sequence of length one). This is what lets it sit in `net!` beside every
/// other layer, with the same compile-time shape checks; sequences go through
/// `forward_sequence`, `step` and the BPTT training steps. `$out` is the output width (a
/// `Const`), `I` must name the input width among the generics.
macro_rules! layer_as_one_step {
    ([$($g:tt)*] $ty:ty, out = $out:ty) => {
        impl<$($g)*, B: nalgebra::Dim>
            $crate::core::Layer<nalgebra::OMatrix<T, nalgebra::Const<I>, B>> for $ty
        where
            // the bounds of the layer's `SequenceLayer` impl, not that impl itself: a bound
            // on it would make the two impls each other's conditions, and a mismatch in a
            // chain would be reported as an overflow, not as `shape mismatch`
            nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<nalgebra::Const<I>, B>
                + nalgebra::allocator::Allocator<$out, B>,
        {
            type Out = nalgebra::OMatrix<T, $out, B>;
            type Cache = <Self as $crate::core::SequenceLayer<
                nalgebra::OMatrix<T, nalgebra::Const<I>, B>,
            >>::StepCache;

            fn forward(&self, x: &nalgebra::OMatrix<T, nalgebra::Const<I>, B>) -> Self::Out {
                let mut state =
                    <Self as $crate::core::SequenceLayer<nalgebra::OMatrix<T, nalgebra::Const<I>, B>>>::zero_state(x.ncols());
                <Self as $crate::core::SequenceLayer<nalgebra::OMatrix<T, nalgebra::Const<I>, B>>>::step(self, &mut state, x)
            }

            fn forward_train(
                &self,
                x: nalgebra::OMatrix<T, nalgebra::Const<I>, B>,
            ) -> (Self::Out, Self::Cache) {
                let mut state =
                    <Self as $crate::core::SequenceLayer<nalgebra::OMatrix<T, nalgebra::Const<I>, B>>>::zero_state(x.ncols());
                // a recurrent layer draws no random numbers: any context will do
                let mut ctx = $crate::core::TrainContext::seeded(0);
                <Self as $crate::core::SequenceLayer<nalgebra::OMatrix<T, nalgebra::Const<I>, B>>>::step_train(self, &mut state, x, &mut ctx)
            }

            fn backward(
                &self,
                cache: Self::Cache,
                d_out: Self::Out,
                grad: &mut Self,
            ) -> nalgebra::OMatrix<T, nalgebra::Const<I>, B> {
                let mut d_state =
                    <Self as $crate::core::SequenceLayer<
                        nalgebra::OMatrix<T, nalgebra::Const<I>, B>,
                    >>::zero_state(d_out.ncols());
                <Self as $crate::core::SequenceLayer<nalgebra::OMatrix<T, nalgebra::Const<I>, B>>>::step_backward(self, cache, d_out, &mut d_state, grad)
            }
        }
    };
}
pub(crate) use layer_as_one_step;

/// Backpropagation through time over the steps `steps` of a batch of `batch` sequences, from
/// `state` (which it leaves at the end of the window): runs the steps forward for training,
/// keeping each step's cache, hands each step's output to `d_out` (which returns dL/dOut of that
/// step: the loss's gradient), then walks the steps backwards, adding dL/dparams into `grad` and
/// passing each step's dL/dx to `d_input`. Returns dL/d(the state at the start of the window).
///
/// The one loop behind the BPTT training steps and the checker through time.
#[cfg(feature = "alloc")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn backprop_through_time<N, X>(
    net: &N,
    state: &mut N::State,
    ctx: &mut TrainContext,
    steps: core::ops::Range<usize>,
    batch: usize,
    mut input: impl FnMut(usize) -> X,
    mut d_out: impl FnMut(usize, N::Out) -> N::Out,
    mut d_input: impl FnMut(usize, X),
    grad: &mut N,
) -> N::State
where
    N: SequenceLayer<X>,
{
    let mut caches = alloc::vec::Vec::with_capacity(steps.len());
    for t in steps.clone() {
        let (out, cache) = net.step_train(state, input(t), ctx);
        caches.push((cache, d_out(t, out)));
    }
    let mut d_state = N::zero_state(batch);
    for (t, (cache, d)) in steps.rev().zip(caches.into_iter().rev()) {
        let dx = net.step_backward(cache, d, &mut d_state, grad);
        d_input(t, dx);
    }
    d_state
}
