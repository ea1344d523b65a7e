//! The fully connected layer.

use core::fmt;
use core::mem::MaybeUninit;

use nalgebra::{Const, DefaultAllocator, Dim, OMatrix, SMatrix, SVector, allocator::Allocator};

use crate::core::{
    Descent, FirstLayer, Float, Layer, Network, Params, Role, Tensor, TensorInfo, TensorMut,
};
use crate::kernels;

/// Whether a layer of `O x I` weights takes a batch of `columns` (of type `B`) through the small
/// kernels, which never allocate: always for single samples and `Const<K>` batches, and for
/// `Dyn` batches too small for the gemm crates' packed products. A small layer thus computes a
/// `Dyn` batch exactly as it computes the same `Const<K>` batch.
#[inline]
fn uses_small_kernels<B: Dim, const O: usize, const I: usize>(columns: usize) -> bool {
    B::try_to_usize().is_some() || !kernels::is_large(O, I, columns)
}

/// A fully connected layer from `I` inputs to `O` outputs: `y = W x + b`.
///
/// `W` is `O x I` (one row per output, as PyTorch's `nn.Linear(I, O).weight`), `b` has `O`
/// entries. For a batch `X` (`I x B`, one column per sample) the layer computes
/// `Y = W X + b 1ᵀ`, and its backward pass, given `G = dL/dY`, is
///
/// - `dL/dW += G Xᵀ`
/// - `dL/db += G 1` (the sum over the batch: the loss has already divided by the batch size)
/// - `dL/dX  = Wᵀ G`
///
/// The parameters live inline: `Dense<784, 100>` is 314 KB of `f32`. Build large networks
/// straight onto the heap with `random_boxed` (see `Chain`).
///
/// ```
/// use nalgebra::{SMatrix, SVector};
/// use typenet::prelude::*;
/// let layer = Dense::<2, 3>::new(
///     SMatrix::<f32, 3, 2>::new(1.0, 0.0, 0.0, 1.0, 1.0, 1.0),
///     SVector::<f32, 3>::new(0.5, 0.0, -1.0),
/// );
/// let y = layer.forward(&SVector::<f32, 2>::new(2.0, 3.0));
/// assert_eq!(y, SVector::<f32, 3>::new(2.5, 3.0, 4.0));
/// ```
#[derive(Clone, PartialEq)]
pub struct Dense<const I: usize, const O: usize, T: Float = f32> {
    /// Weights, `O x I`.
    pub w: SMatrix<T, O, I>,
    /// Biases.
    pub b: SVector<T, O>,
}

impl<const I: usize, const O: usize, T: Float> Dense<I, O, T> {
    /// A layer with the given weights and biases.
    pub const fn new(w: SMatrix<T, O, I>, b: SVector<T, O>) -> Self {
        Dense { w, b }
    }
}

crate::core::network::network_inherent_methods!([const I: usize, const O: usize, T: Float] Dense<I, O, T>);

impl<const I: usize, const O: usize, T: Float> Default for Dense<I, O, T> {
    /// All zeros, as a gradient accumulator starts.
    fn default() -> Self {
        Dense {
            w: SMatrix::zeros(),
            b: SVector::zeros(),
        }
    }
}

impl<const I: usize, const O: usize, T: Float> fmt::Debug for Dense<I, O, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dense<{I}, {O}, {}> ", T::NAME)?;
        f.debug_struct("")
            .field("w", &self.w)
            .field("b", &self.b)
            .finish()
    }
}

// SAFETY: `Dense` is two nalgebra `ArrayStorage` matrices of `f32` or `f64`, for which the
// all-zero bit pattern is the value 0.0; nalgebra itself implements `Zeroable` for them.
unsafe impl<const I: usize, const O: usize, T: Float + bytemuck::Zeroable> bytemuck::Zeroable
    for Dense<I, O, T>
{
}

impl<const I: usize, const O: usize, T: Float, B: Dim> Layer<OMatrix<T, Const<I>, B>>
    for Dense<I, O, T>
where
    DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B>,
{
    type Out = OMatrix<T, Const<O>, B>;
    type Cache = OMatrix<T, Const<I>, B>;

    fn forward(&self, x: &OMatrix<T, Const<I>, B>) -> Self::Out {
        let mut y =
            OMatrix::<T, Const<O>, B>::from_fn_generic(Const::<O>, x.shape_generic().1, |r, _| {
                self.b[r]
            });
        if uses_small_kernels::<B, O, I>(x.ncols()) {
            kernels::add_product(y.as_mut_slice(), &self.w, x.as_slice());
        } else {
            kernels::gemm(&mut y, T::one(), &self.w, x, T::one());
        }
        y
    }

    fn forward_train(&self, x: OMatrix<T, Const<I>, B>) -> (Self::Out, Self::Cache) {
        (self.forward(&x), x)
    }

    fn backward(
        &self,
        x: Self::Cache,
        d_out: Self::Out,
        grad: &mut Self,
    ) -> OMatrix<T, Const<I>, B> {
        self.backward_params_ref(&x, &d_out, grad);
        // dL/dX = Wᵀ G, written over X's storage (the cache is no longer needed)
        let mut d_x = x;
        self.input_gradient(&mut d_x, &d_out);
        d_x
    }

    fn backward_params(&self, x: Self::Cache, d_out: Self::Out, grad: &mut Self) {
        self.backward_params_ref(&x, &d_out, grad);
    }

    const DESCENDS: bool = true;

    fn backward_descend<S: Float>(
        &mut self,
        x: Self::Cache,
        g: Self::Out,
        step: Descent<S>,
    ) -> OMatrix<T, Const<I>, B> {
        let step = step.cast::<T>();
        if B::try_to_usize() == Some(1) {
            // One sample: one pass over the columns of W. Column j gives dL/dx_j (a dot
            // product with the old weights) and then takes its step, while it is in cache.
            let mut x = x;
            let g = g.as_slice();
            // (an opaque row count, for the reason `kernels::opaque` gives)
            let rows = kernels::opaque(O);
            kernels::descend_columns(self.w.as_mut_slice(), rows, x.as_mut_slice(), g, step);
            self.descend_bias(g, step);
            return x;
        }
        // A batch: dL/dX with the old weights, then the step.
        let mut d_x = x.clone();
        self.input_gradient(&mut d_x, &g);
        self.descend(&x, &g, step);
        d_x
    }

    fn backward_descend_params<S: Float>(
        &mut self,
        x: Self::Cache,
        g: Self::Out,
        step: Descent<S>,
    ) {
        self.descend(&x, &g, step.cast::<T>());
    }
}

impl<const I: usize, const O: usize, T: Float> Dense<I, O, T> {
    /// `dW += G Xᵀ`, `db += G 1`.
    fn backward_params_ref<B: Dim>(
        &self,
        x: &OMatrix<T, Const<I>, B>,
        d_out: &OMatrix<T, Const<O>, B>,
        grad: &mut Self,
    ) where
        DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B>,
    {
        if uses_small_kernels::<B, O, I>(x.ncols()) {
            kernels::add_outer(&mut grad.w, d_out.as_slice(), x.as_slice());
        } else {
            kernels::gemm(
                &mut grad.w,
                T::one(),
                d_out,
                &kernels::transposed(x),
                T::one(),
            );
        }
        for col in d_out.column_iter() {
            grad.b += col;
        }
    }

    /// `dX ← Wᵀ G`, over whatever `d_x` held.
    fn input_gradient<B: Dim>(&self, d_x: &mut OMatrix<T, Const<I>, B>, g: &OMatrix<T, Const<O>, B>)
    where
        DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B>,
    {
        if uses_small_kernels::<B, O, I>(g.ncols()) {
            kernels::transposed_product(d_x.as_mut_slice(), &self.w, g.as_slice());
        } else {
            kernels::gemm_tr(d_x, T::one(), &self.w, g, T::zero());
        }
    }

    /// The step of `step` for the gradient `dW = G Xᵀ`, `db = G 1`, without storing it.
    fn descend<B: Dim>(
        &mut self,
        x: &OMatrix<T, Const<I>, B>,
        g: &OMatrix<T, Const<O>, B>,
        step: Descent<T>,
    ) where
        DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B>,
    {
        if uses_small_kernels::<B, O, I>(g.ncols()) {
            // column by column: the column's gradient summed over the batch, then its step
            kernels::descend_outer(&mut self.w, g.as_slice(), x.as_slice(), step);
        } else {
            // one product: W ← (1 - lr wd) W - lr G Xᵀ, against a transposed view of X
            let (alpha, beta) = step.product_coefficients();
            kernels::gemm(&mut self.w, alpha, g, &kernels::transposed(x), beta);
        }
        self.descend_bias(g.as_slice(), step);
    }

    /// `b ← b - lr (Σ_c g_c + wd b)` for the columns of `g` (`O` values each).
    fn descend_bias(&mut self, g: &[T], step: Descent<T>) {
        let mut sum = [T::zero(); O];
        for g in g.chunks_exact(O) {
            sum.iter_mut().zip(g).for_each(|(s, &g)| *s += g);
        }
        step.apply(self.b.as_mut_slice(), &sum);
    }
}

impl<const I: usize, const O: usize, T: Float> Params<T> for Dense<I, O, T> {
    const LAYERS: usize = 1;

    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "Dense<{I}, {O}, {}>", T::NAME)
    }

    fn zeroed_in(slot: &mut MaybeUninit<Self>) -> &mut Self {
        // SAFETY: all-zero bytes are a valid `Dense` (two nalgebra array storages of `f32` or
        // `f64`, where they are 0.0: the `Zeroable` impl above), so after writing zeros over
        // the whole slot it is initialised. The pointer is the slot's own, borrowed mutably.
        // Exercised by every `train_step` of a network with a `Dense` layer.
        unsafe {
            slot.as_mut_ptr().write_bytes(0, 1);
            slot.assume_init_mut()
        }
    }

    fn fill(&mut self, value: T) {
        // slices, not nalgebra's `fill`, which walks the matrix element by element
        self.w.as_mut_slice().fill(value);
        self.b.as_mut_slice().fill(value);
    }

    fn all_finite(&self) -> bool {
        kernels::all_finite(self.w.as_slice()) & kernels::all_finite(self.b.as_slice())
    }

    fn zip_params_mut<const K: usize, F>(&mut self, grad: &Self, state: [&mut Self; K], f: &mut F)
    where
        F: FnMut(&mut [T], &[T], [&mut [T]; K]),
    {
        let mut state = state;
        f(
            self.w.as_mut_slice(),
            grad.w.as_slice(),
            state.each_mut().map(|s| s.w.as_mut_slice()),
        );
        f(
            self.b.as_mut_slice(),
            grad.b.as_slice(),
            state.map(|s| s.b.as_mut_slice()),
        );
    }

    fn tensors(&self) -> impl Iterator<Item = Tensor<'_, T>> {
        let [w, b] = Self::infos();
        [
            Tensor {
                info: w,
                data: self.w.as_slice(),
            },
            Tensor {
                info: b,
                data: self.b.as_slice(),
            },
        ]
        .into_iter()
    }

    fn tensors_mut(&mut self) -> impl Iterator<Item = TensorMut<'_, T>> {
        let [w, b] = Self::infos();
        [
            TensorMut {
                info: w,
                data: self.w.as_mut_slice(),
            },
            TensorMut {
                info: b,
                data: self.b.as_mut_slice(),
            },
        ]
        .into_iter()
    }
}

impl<const I: usize, const O: usize, T: Float> Dense<I, O, T> {
    const fn infos() -> [TensorInfo; 2] {
        let weight = TensorInfo {
            layer: 0,
            layer_kind: "Dense",
            role: Role::Weight,
            rows: O,
            cols: I,
        };
        let bias = TensorInfo {
            role: Role::Bias,
            cols: 1,
            ..weight
        };
        [weight, bias]
    }
}

impl<const I: usize, const O: usize, T: Float> Network for Dense<I, O, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}

impl<const I: usize, const O: usize, T: Float, Rest> FirstLayer<Rest> for Dense<I, O, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}

crate::core::params::approx_via_params!([const I: usize, const O: usize, T: Float] Dense<I, O, T>, T);

// no state from one time step to the next: a sequence network runs it on every step
impl<const I: usize, const O: usize, T: Float> crate::core::Stateless for Dense<I, O, T> {}
