//! The fully connected layer.

use core::fmt;

use nalgebra::{
    Const, DefaultAllocator, Dim, MatrixView, OMatrix, SMatrix, SVector, U1, allocator::Allocator,
};

use crate::{Float, Layer, Leads, Network, Params, Role, Tensor, TensorInfo, TensorMut, linalg};

/// Whether a layer of `O x I` weights takes a batch of `columns` (of type `B`) through
/// typenet's own small-shape kernels, which never allocate: always for single samples and
/// `Const<K>` batches, and for `Dyn` batches too small for [`linalg::gemm`]'s packed products.
/// A small layer thus computes a `Dyn` batch exactly as it computes the same `Const<K>` batch.
#[inline]
fn small<B: Dim, const O: usize, const I: usize>(columns: usize) -> bool {
    B::try_to_usize().is_some() || !linalg::is_large(O, I, columns)
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

crate::network::network_inherent_methods!([const I: usize, const O: usize, T: Float] Dense<I, O, T>);

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
        if small::<B, O, I>(x.ncols()) {
            linalg::mul_add(y.as_mut_slice(), &self.w, x.as_slice());
        } else {
            linalg::gemm(&mut y, T::one(), &self.w, x, T::one());
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
        if small::<B, O, I>(d_out.ncols()) {
            linalg::tr_mul(d_x.as_mut_slice(), &self.w, d_out.as_slice());
        } else {
            linalg::gemm_tr(&mut d_x, T::one(), &self.w, &d_out, T::zero());
        }
        d_x
    }

    fn backward_params(&self, x: Self::Cache, d_out: Self::Out, grad: &mut Self) {
        self.backward_params_ref(&x, &d_out, grad);
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
        if small::<B, O, I>(x.ncols()) {
            linalg::add_outer(&mut grad.w, d_out.as_slice(), x.as_slice());
        } else {
            linalg::gemm(&mut grad.w, T::one(), d_out, &transposed(x), T::one());
        }
        for col in d_out.column_iter() {
            grad.b += col;
        }
    }
}

/// `Xᵀ` as a view of `X`'s own storage: `X` is `I x B` column-major, so its transpose is `B x I`
/// with row stride `I` and column stride 1. No copy, no allocation.
pub(crate) fn transposed<T: Float, B: Dim, const I: usize>(
    x: &OMatrix<T, Const<I>, B>,
) -> MatrixView<'_, T, B, Const<I>, Const<I>, U1>
where
    DefaultAllocator: Allocator<Const<I>, B>,
{
    MatrixView::from_slice_with_strides_generic(
        x.as_slice(),
        x.shape_generic().1,
        Const::<I>,
        Const::<I>,
        U1,
    )
}

impl<const I: usize, const O: usize, T: Float> Params<T> for Dense<I, O, T> {
    const LAYERS: usize = 1;

    fn write_signature(out: &mut dyn fmt::Write) -> fmt::Result {
        write!(out, "Dense<{I}, {O}, {}>", T::NAME)
    }

    fn write_rust_value(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        out.write_str("::typenet::Dense::new(\n")?;
        write_array_storage(out, self.w.as_slice(), O)?;
        out.write_str(",\n")?;
        write_array_storage(out, self.b.as_slice(), O)?;
        out.write_str(",\n)")
    }

    fn fill(&mut self, value: T) {
        // slices, not nalgebra's `fill`, which walks the matrix element by element
        self.w.as_mut_slice().fill(value);
        self.b.as_mut_slice().fill(value);
    }

    fn all_finite(&self) -> bool {
        T::all_finite(self.w.as_slice()) & T::all_finite(self.b.as_slice())
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

/// Writes `::typenet::nalgebra::Matrix::from_array_storage(ArrayStorage([[…]; C]))` for
/// column-major `data` with `rows` rows, each value as its exact bits.
fn write_array_storage<T: Float>(out: &mut dyn fmt::Write, data: &[T], rows: usize) -> fmt::Result {
    out.write_str(
        "::typenet::nalgebra::Matrix::from_array_storage(::typenet::nalgebra::ArrayStorage([",
    )?;
    for column in data.chunks(rows.max(1)) {
        out.write_str("\n[")?;
        for &v in column {
            T::write_rust_literal(v, out)?;
            out.write_str(",")?;
        }
        out.write_str("],")?;
    }
    out.write_str("]))")
}

impl<const I: usize, const O: usize, T: Float> Network for Dense<I, O, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}

impl<const I: usize, const O: usize, T: Float, Rest> Leads<Rest> for Dense<I, O, T> {
    type Scalar = T;
    type InputDim = Const<I>;
    type Input = SVector<T, I>;
}
