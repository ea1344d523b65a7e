//! Visiting the parameters of a layer or network: one small trait that serves the optimizers,
//! the finite-difference checker, zeroing, initialisation and parameter counts.

use core::fmt;
use core::mem::MaybeUninit;

use super::Float;

/// What a parameter tensor is for. New kinds of layers may bring new roles, so a `match`
/// needs a `_` arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// A weight matrix, `rows` outputs by `cols` inputs (fan-out by fan-in).
    Weight,
    /// A bias vector.
    Bias,
    /// A convolution's kernel of `K x K` (the value): `rows` output channels by `cols` =
    /// input channels · K · K, stored column by column as every tensor; PyTorch's shape is
    /// `[rows, cols / (K · K), K, K]`.
    Kernel2d(usize),
    /// A 1-d convolution's kernel of `K` taps (the value): `rows` output channels by `cols` =
    /// input channels · K, stored column by column as every tensor; PyTorch's shape is
    /// `[rows, cols / K, K]`.
    Kernel1d(usize),
    /// A recurrent layer's input weights, its gates' matrices stacked (the value: how many
    /// gates): PyTorch's `weight_ih_l0`, `rows` = gates · hidden by `cols` inputs.
    InputWeight(usize),
    /// A recurrent layer's recurrent weights, stacked as
    /// [`InputWeight`](Role::InputWeight): PyTorch's `weight_hh_l0`.
    RecurrentWeight(usize),
    /// A recurrent layer's input biases: PyTorch's `bias_ih_l0`.
    InputBias,
    /// A recurrent layer's recurrent biases: PyTorch's `bias_hh_l0`.
    RecurrentBias,
    /// A per-channel scale that starts at one (batch norm's γ).
    Scale,
    /// A running mean, kept by the training steps, not trained (a buffer, in PyTorch's
    /// words; [`Params::buffers`]).
    RunningMean,
    /// A running variance, kept as [`RunningMean`](Role::RunningMean) is.
    RunningVar,
}

impl Role {
    /// The conventional short name (`"weight"`, `"bias"`), PyTorch's for the tensors of a
    /// recurrent layer (`"weight_ih_l0"`).
    pub const fn name(self) -> &'static str {
        match self {
            Role::Weight => "weight",
            Role::Bias => "bias",
            Role::Kernel2d(_) | Role::Kernel1d(_) => "weight",
            Role::InputWeight(_) => "weight_ih_l0",
            Role::RecurrentWeight(_) => "weight_hh_l0",
            Role::InputBias => "bias_ih_l0",
            Role::RecurrentBias => "bias_hh_l0",
            Role::Scale => "weight",
            Role::RunningMean => "running_mean",
            Role::RunningVar => "running_var",
        }
    }
}

/// Where a parameter tensor sits in a network and what shape it has.
///
/// Layers are numbered from 0 in the order the input flows through them, counting
/// parameter-free layers too, and flattening chains of chains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorInfo {
    /// Index of the layer in the flattened network.
    pub layer: usize,
    /// The kind of layer that owns the tensor (`"Dense"`).
    pub layer_kind: &'static str,
    /// Weight or bias.
    pub role: Role,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns. Data is stored column by column (nalgebra's layout).
    pub cols: usize,
}

impl TensorInfo {
    /// The same tensor seen from a network in which its layer comes `offset` layers later.
    pub const fn shifted(mut self, offset: usize) -> Self {
        self.layer += offset;
        self
    }

    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the tensor has no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row and column of the element stored at `index` (column-major).
    pub const fn position(&self, index: usize) -> (usize, usize) {
        (index % self.rows, index / self.rows)
    }
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "layer {} ({}) {} [{}x{}]",
            self.layer,
            self.layer_kind,
            self.role.name(),
            self.rows,
            self.cols
        )
    }
}

/// A parameter tensor, read-only.
#[derive(Debug)]
pub struct Tensor<'a, T> {
    /// Where it sits and its shape.
    pub info: TensorInfo,
    /// Its elements, column-major.
    pub data: &'a [T],
}

/// A parameter tensor, writable.
#[derive(Debug)]
pub struct TensorMut<'a, T> {
    /// Where it sits and its shape.
    pub info: TensorInfo,
    /// Its elements, column-major.
    pub data: &'a mut [T],
}

/// The parameters of a layer or network, visited as a sequence of tensors.
///
/// Two values of the same network type visit tensors of the same shapes in the same order, so
/// a network, its gradient and an optimizer's state can be walked side by side with `zip`.
/// This is the only description of the parameters in the crate: everything that touches all of
/// them (optimizers, the checker, initialisation, counting, model files, the PyTorch import,
/// `approx` comparisons) goes through it, so a layer that implements it and
/// [`Layer`](crate::Layer) works with all of them.
///
/// `Default` is the all-zero value (the gradient of a step starts there, and `random` fills
/// it in).
///
/// ```
/// use typenet::prelude::*;
/// type Net = net![Dense<3, 4>, Relu, Dense<4, 2>];
/// let net = Net::zeros();
/// assert_eq!(Params::<f32>::param_count(&net), 3 * 4 + 4 + 4 * 2 + 2);
/// let shapes: Vec<_> = net.tensors().map(|t| (t.info.layer, t.info.rows, t.info.cols)).collect();
/// assert_eq!(shapes, [(0, 4, 3), (0, 4, 1), (2, 2, 4), (2, 2, 1)]);
/// ```
pub trait Params<T: Float>: Default {
    /// Number of layers, counting parameter-free ones (used to number layers in a chain).
    const LAYERS: usize;

    /// Writes the layer's own name and shape as its type reads, first layer to last for a
    /// chain: `Dense<784, 100, f32>, Relu, Dense<100, 10, f32>`. Model files record it as the
    /// network's signature and refuse to load into a network of another one
    /// ([`model_file::signature`](crate::model_file::signature)), so it must not change from
    /// one build to the next.
    ///
    /// The default derives it from the layer's tensors: their kind, shapes and scalar,
    /// `Scale<3x1, f32>` for a layer whose one tensor is a 3 x 1 `Scale` weight; a layer
    /// without parameters writes `?`. Override it to name the layer exactly (typenet's own
    /// layers do).
    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        let empty = Self::default();
        let mut tensors = empty.tensors().peekable();
        let Some(first) = tensors.peek() else {
            return out.write_str("?");
        };
        out.write_str(first.info.layer_kind)?;
        out.write_str("<")?;
        for t in tensors {
            write!(out, "{}x{}, ", t.info.rows, t.info.cols)?;
        }
        write!(out, "{}>", T::NAME)
    }

    /// Writes the all-zero value of the type (as a gradient starts) into `slot` and returns
    /// it, without building it anywhere else first: a training step builds the network-sized
    /// gradient in place this way, so it is on the stack once. The default writes
    /// `Self::default()`, one value of the layer's own size; [`Chain`](crate::Chain) writes
    /// its two parts in place, and typenet's layers write zeros where they are.
    fn zeroed_in(slot: &mut MaybeUninit<Self>) -> &mut Self {
        slot.write(Self::default())
    }

    /// The parameter tensors, in order.
    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>>;

    /// The parameter tensors, writable, in the same order as [`tensors`](Params::tensors).
    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>>;

    /// The layer's buffers: values that are not trained but kept by training, as a batch
    /// norm's running statistics, in order. Model files save and load them after the
    /// parameters; the optimizers, the checker and initialisation leave them alone.
    ///
    /// A layer with buffers updates them through the gradient: its `backward` writes the
    /// step's new buffers into the gradient value (which has the layer's own type), and the
    /// training steps copy them into the network with the update
    /// ([`take_buffers`](Params::take_buffers)); its `backward_descend` writes them into
    /// itself. None by default.
    fn buffers(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        core::iter::empty()
    }

    /// The buffers, writable, in the order of [`buffers`](Params::buffers).
    fn buffers_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        core::iter::empty()
    }

    /// Copies the buffers of `grad` (the gradient of a step, where `backward` left the
    /// step's new buffers) into `self`: what the training steps do after the update.
    fn take_buffers(&mut self, grad: &Self) {
        for (mine, new) in self.buffers_mut().zip(grad.buffers()) {
            mine.data.copy_from_slice(new.data);
        }
    }

    /// Total number of scalar parameters.
    fn param_count(&self) -> usize {
        self.tensors().map(|t| t.data.len()).sum()
    }

    /// Sets every parameter to `value`.
    fn fill(&mut self, value: T) {
        self.tensors_mut().for_each(|t| t.data.fill(value));
    }

    /// Sets every parameter to zero (as a gradient accumulator is before a step).
    fn set_zero(&mut self) {
        self.fill(T::zero());
    }

    /// Whether every parameter is finite (no NaN, no infinity).
    fn all_finite(&self) -> bool {
        self.tensors().all(|t| T::all_finite(t.data))
    }

    /// Visits the parameter slices of `self` side by side with the matching slices of `grad`
    /// and of `K` more values of the same type (optimizer state): `f(params, grad, [state…])`,
    /// tensor by tensor, in the order of [`tensors`](Params::tensors).
    ///
    /// This is how the optimizers update a network. The default walks the three
    /// [`tensors`](Params::tensors) iterators in step, which costs a little per tensor;
    /// typenet's own layers and [`Chain`](crate::Chain) override it with plain recursion that
    /// the compiler flattens (`docs/performance.md`).
    ///
    /// ```
    /// use typenet::prelude::*;
    /// let mut net = <net![Dense<2, 3>, Relu, Dense<3, 1>]>::zeros();
    /// let mut grad = net.clone();
    /// grad.fill(1.0);
    /// let mut seen = Vec::new();
    /// net.zip_params_mut(&grad, [], &mut |p: &mut [f32], g: &[f32], []| {
    ///     p.iter_mut().zip(g).for_each(|(p, g)| *p -= 0.5 * g);
    ///     seen.push(p.len());
    /// });
    /// assert_eq!(seen, [6, 3, 3, 1]); // w, b of each Dense
    /// assert!(net.tensors().all(|t| t.data.iter().all(|&v| v == -0.5)));
    /// ```
    fn zip_params_mut<const K: usize, F>(&mut self, grad: &Self, state: [&mut Self; K], f: &mut F)
    where
        Self: Sized,
        F: FnMut(&mut [T], &[T], [&mut [T]; K]),
    {
        let mut state = state.map(|s| s.tensors_mut());
        for (p, g) in self.tensors_mut().zip(grad.tensors()) {
            let st = state.each_mut().map(|s| {
                s.next()
                    .expect("values of one type have the same tensors")
                    .data
            });
            f(p.data, g.data, st);
        }
    }

    /// The `index`-th scalar parameter in visiting order, with the tensor it belongs to.
    fn param_mut(&mut self, index: usize) -> Option<(TensorInfo, usize, &mut T)> {
        let mut index = index;
        for t in self.tensors_mut() {
            if index < t.data.len() {
                return Some((t.info, index, &mut t.data[index]));
            }
            index -= t.data.len();
        }
        None
    }
}

/// Whether every parameter of `a` is `close` to the matching one of `b`: the comparison behind
/// the `approx` traits of typenet's layers and networks.
pub(crate) fn all_params_close<T: Float, N: Params<T>>(
    a: &N,
    b: &N,
    mut close: impl FnMut(&T, &T) -> bool,
) -> bool {
    a.tensors()
        .zip(b.tensors())
        .all(|(x, y)| x.data.iter().zip(y.data).all(|(x, y)| close(x, y)))
}

/// Implements `approx`'s `AbsDiffEq`, `RelativeEq` and `UlpsEq` for a layer or network type,
/// parameter by parameter, with the scalar `$scalar` as the tolerance's type.
macro_rules! approx_via_params {
    ([$($g:tt)*] $ty:ty, $scalar:ty $(, where $($bound:tt)*)?) => {
        impl<$($g)*> approx::AbsDiffEq for $ty $(where $($bound)*)? {
            type Epsilon = $scalar;
            fn default_epsilon() -> $scalar {
                <$scalar as approx::AbsDiffEq>::default_epsilon()
            }
            fn abs_diff_eq(&self, other: &Self, epsilon: $scalar) -> bool {
                $crate::core::params::all_params_close::<$scalar, _>(self, other, |a, b| {
                    a.abs_diff_eq(b, epsilon)
                })
            }
        }

        impl<$($g)*> approx::RelativeEq for $ty $(where $($bound)*)? {
            fn default_max_relative() -> $scalar {
                <$scalar as approx::RelativeEq>::default_max_relative()
            }
            fn relative_eq(&self, other: &Self, epsilon: $scalar, max_relative: $scalar) -> bool {
                $crate::core::params::all_params_close::<$scalar, _>(self, other, |a, b| {
                    a.relative_eq(b, epsilon, max_relative)
                })
            }
        }

        impl<$($g)*> approx::UlpsEq for $ty $(where $($bound)*)? {
            fn default_max_ulps() -> u32 {
                <$scalar as approx::UlpsEq>::default_max_ulps()
            }
            fn ulps_eq(&self, other: &Self, epsilon: $scalar, max_ulps: u32) -> bool {
                $crate::core::params::all_params_close::<$scalar, _>(self, other, |a, b| {
                    a.ulps_eq(b, epsilon, max_ulps)
                })
            }
        }
    };
}
pub(crate) use approx_via_params;
