//! What makes a layer a whole network: a known input width and scalar, and constructors that
//! check, at compile time, that every layer fits the one before it.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, DimName, Dyn, OMatrix};

use super::{Float, Layer};

/// A network (or a single layer) whose input width and scalar type are fixed by its type: a
/// [`Dense`](crate::Dense), or a [`Chain`](crate::Chain) whose first layer is one (a
/// parameter-free layer in front takes its width from what follows it).
///
/// ```
/// use nalgebra::Const;
/// use typenet::prelude::*;
/// type Net = net![Relu, Dense<3, 4, f64>, Tanh];
/// let x: <Net as Network>::Input = SVector::<f64, 3>::zeros();
/// let batch: Batch<Net> = Batch::<Net>::zeros(5);
/// assert_eq!(batch.shape(), (3, 5));
/// let _: Const<3> = <<Net as Network>::InputDim as nalgebra::DimName>::name();
/// ```
pub trait Network {
    /// The scalar type of the parameters and of the input.
    type Scalar: Float;
    /// The input width, as a nalgebra dimension (`Const<I>`).
    type InputDim: DimName;
    /// One input sample: `SVector<Scalar, I>`.
    type Input;
}

/// A layer that can come first in a network, followed by the layers `Rest`: it says what the
/// network takes. A layer with a fixed input width (a `Dense`) ignores `Rest`; a parameter-free
/// layer that works at any width (an activation) takes `Rest`'s input.
///
/// (Its former name, `Leads`, remains as an alias.)
pub trait FirstLayer<Rest> {
    /// The scalar type of the network's input.
    type Scalar: Float;
    /// The network's input width.
    type InputDim: DimName;
    /// One input sample of the network.
    type Input;
}

/// The input a network that starts with an image layer ([`Conv2d`](crate::Conv2d),
/// a pool, [`BatchNorm2d`](crate::BatchNorm2d)) declares as its [`Network::Input`]: images of
/// `C` channels with scalar `T`, of whatever size the network fits. Such a layer takes images
/// of any size, so the size that fits the whole network is only known once an image meets it:
/// a wrong size is then a compile error at `forward`, `train_step` or `gradcheck`, not at
/// `random` (see `docs/shape-errors.md`). It has no values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnyImage<T, C>(core::marker::PhantomData<(T, C)>);

/// "`N`'s declared input fits `N`", asked by the constructors (`random`, `zeros`, …) so that a
/// network whose layers do not fit each other is a compile error where it is built. For a
/// column input it is `N: Layer<Self>`, whose failure says `shape mismatch` and names the layer;
/// for [`AnyImage`] it holds, and the check waits for the image.
#[diagnostic::on_unimplemented(
    message = "shape mismatch: `{N}` cannot take its own input `{Self}`",
    note = "check the output of each layer against the input of the next"
)]
pub trait Wired<N> {}

impl<N, T, R, C> Wired<N> for OMatrix<T, R, C>
where
    T: nalgebra::Scalar,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
    N: Layer<OMatrix<T, R, C>>,
{
}

impl<N, T, C> Wired<N> for AnyImage<T, C> {}

/// A batch of inputs of network `N`: `OMatrix<N::Scalar, N::InputDim, B>`, one column per
/// sample, `B` samples (`Dyn` by default: any number, on the heap; `Const<K>` for a fixed
/// number, on the stack).
pub type Batch<N, B = Dyn> = OMatrix<<N as Network>::Scalar, <N as Network>::InputDim, B>;

/// Writes the constructors and `forward` of a network type as *inherent* methods whose `where`
/// clause asks that the type be a layer of its own input (or of the given input). An
/// ill-formed chain then fails with the layer trait's own "shape mismatch" message (E0277),
/// where a trait method would give E0599 ("the method exists but its trait bounds were not
/// satisfied"), which names no layer.
macro_rules! network_inherent_methods {
    ([$($g:tt)*] $ty:ty) => {
        impl<$($g)*> $ty {
            /// The forward pass ([`Layer::forward`](crate::Layer::forward)), as an inherent
            /// method so that a shape mismatch is reported as one.
            #[inline]
            pub fn forward<X: $crate::InputOf<Self>>(&self, x: &X) -> X::Out {
                $crate::Layer::forward(X::as_layer(self), x)
            }

            /// The streaming state of one stream, all zero (the start of a sequence): every
            /// recurrent layer's state, on the stack, of a type derived from the network's
            /// ([`StreamState`](crate::StreamState)). One network serves any number of
            /// streams, each with its own state. (Example: [`Gru`](crate::Gru).)
            #[inline]
            pub fn initial_state(&self) -> $crate::StreamState<Self>
            where
                Self: $crate::Network + $crate::SequenceLayer<$crate::StepInput<Self>>,
                nalgebra::DefaultAllocator:
                    nalgebra::allocator::Allocator<<Self as $crate::Network>::InputDim>,
            {
                <Self as $crate::SequenceLayer<$crate::StepInput<Self>>>::zero_state(1)
            }

            /// Sets `state` back to the start of a sequence (all zero), as
            /// [`initial_state`](Self::initial_state) makes it.
            #[inline]
            pub fn reset(&self, state: &mut $crate::StreamState<Self>)
            where
                Self: $crate::Network + $crate::SequenceLayer<$crate::StepInput<Self>>,
                nalgebra::DefaultAllocator:
                    nalgebra::allocator::Allocator<<Self as $crate::Network>::InputDim>,
            {
                *state = self.initial_state();
            }

            /// One time step of one stream: updates `state` and returns the output. No heap,
            /// no allocation; the same bits as [`forward_sequence`](Self::forward_sequence)
            /// gives at that step.
            #[inline]
            pub fn step<X: $crate::StepOf<Self>>(&self, state: &mut X::State, x: &X) -> X::Out {
                $crate::SequenceLayer::step(X::as_sequence_layer(self), state, x)
            }

            /// The outputs at every step of the sequence `xs` (one column a time step,
            /// `Dyn` or `Const<L>` columns), from the zero state: [`step`](Self::step) in a
            /// loop, so the same bits.
            pub fn forward_sequence<R, L>(
                &self,
                xs: &nalgebra::OMatrix<
                    <Self as $crate::Network>::Scalar,
                    <Self as $crate::Network>::InputDim,
                    L,
                >,
            ) -> nalgebra::OMatrix<<Self as $crate::Network>::Scalar, R, L>
            where
                Self: $crate::Network
                    + $crate::SequenceLayer<
                        $crate::StepInput<Self>,
                        Out = nalgebra::OVector<<Self as $crate::Network>::Scalar, R>,
                    >,
                R: nalgebra::DimName,
                L: nalgebra::Dim,
                nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<<Self as $crate::Network>::InputDim, L>
                    + nalgebra::allocator::Allocator<<Self as $crate::Network>::InputDim>
                    + nalgebra::allocator::Allocator<R, L>
                    + nalgebra::allocator::Allocator<R>,
            {
                let mut state = self.initial_state();
                self.forward_sequence_from(&mut state, xs)
            }

            /// [`forward_sequence`](Self::forward_sequence) from `state`, which it leaves
            /// at the end of the sequence: a long stream in blocks.
            pub fn forward_sequence_from<R, L>(
                &self,
                state: &mut $crate::StreamState<Self>,
                xs: &nalgebra::OMatrix<
                    <Self as $crate::Network>::Scalar,
                    <Self as $crate::Network>::InputDim,
                    L,
                >,
            ) -> nalgebra::OMatrix<<Self as $crate::Network>::Scalar, R, L>
            where
                Self: $crate::Network
                    + $crate::SequenceLayer<
                        $crate::StepInput<Self>,
                        Out = nalgebra::OVector<<Self as $crate::Network>::Scalar, R>,
                    >,
                R: nalgebra::DimName,
                L: nalgebra::Dim,
                nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<<Self as $crate::Network>::InputDim, L>
                    + nalgebra::allocator::Allocator<<Self as $crate::Network>::InputDim>
                    + nalgebra::allocator::Allocator<R, L>
                    + nalgebra::allocator::Allocator<R>,
            {
                let steps = xs.shape_generic().1;
                let mut ys = nalgebra::OMatrix::<<Self as $crate::Network>::Scalar, R, L>::zeros_generic(
                    R::name(),
                    steps,
                );
                for (t, x) in xs.column_iter().enumerate() {
                    let x: $crate::StepInput<Self> = x.into_owned();
                    let y = <Self as $crate::SequenceLayer<$crate::StepInput<Self>>>::step(self, state, &x);
                    ys.column_mut(t).copy_from(&y);
                }
                ys
            }

            /// A network whose parameters are all zero (as a gradient accumulator starts).
            pub fn zeros() -> Self
            where
                Self: $crate::Network
                    + $crate::Params<<Self as $crate::Network>::Scalar>
                    + Default,
                <Self as $crate::Network>::Input: $crate::core::network::Wired<Self>,
            {
                Self::default()
            }

            /// A network with weights drawn by the default initialisation
            /// ([`Init::Xavier`](crate::Init::Xavier)) and zero biases.
            pub fn random<R: rand::Rng + ?Sized>(rng: &mut R) -> Self
            where
                Self: $crate::Network
                    + $crate::Params<<Self as $crate::Network>::Scalar>
                    + Default,
                <Self as $crate::Network>::Input: $crate::core::network::Wired<Self>,
            {
                Self::random_with(rng, $crate::Init::default())
            }

            /// A network with weights drawn by `init` and zero biases.
            pub fn random_with<R: rand::Rng + ?Sized>(rng: &mut R, init: $crate::Init) -> Self
            where
                Self: $crate::Network
                    + $crate::Params<<Self as $crate::Network>::Scalar>
                    + Default,
                <Self as $crate::Network>::Input: $crate::core::network::Wired<Self>,
            {
                $crate::core::build::random_with(rng, init)
            }

            /// [`zeros`](Self::zeros), built directly on the heap: the parameters never pass
            /// through the stack, so networks far larger than a thread's stack can be built.
            #[cfg(feature = "alloc")]
            pub fn zeros_boxed() -> alloc::boxed::Box<Self>
            where
                Self: $crate::Network
                    + $crate::Params<<Self as $crate::Network>::Scalar>,
                <Self as $crate::Network>::Input: $crate::core::network::Wired<Self>,
            {
                $crate::core::build::zeroed_boxed::<Self, <Self as $crate::Network>::Scalar>()
            }

            /// [`random`](Self::random), built directly on the heap.
            #[cfg(feature = "alloc")]
            pub fn random_boxed<R: rand::Rng + ?Sized>(rng: &mut R) -> alloc::boxed::Box<Self>
            where
                Self: $crate::Network
                    + $crate::Params<<Self as $crate::Network>::Scalar>,
                <Self as $crate::Network>::Input: $crate::core::network::Wired<Self>,
            {
                Self::random_boxed_with(rng, $crate::Init::default())
            }

            /// [`random_with`](Self::random_with), built directly on the heap.
            #[cfg(feature = "alloc")]
            pub fn random_boxed_with<R: rand::Rng + ?Sized>(
                rng: &mut R,
                init: $crate::Init,
            ) -> alloc::boxed::Box<Self>
            where
                Self: $crate::Network
                    + $crate::Params<<Self as $crate::Network>::Scalar>,
                <Self as $crate::Network>::Input: $crate::core::network::Wired<Self>,
            {
                $crate::core::build::random_boxed_with(rng, init)
            }
        }
    };
}
pub(crate) use network_inherent_methods;
