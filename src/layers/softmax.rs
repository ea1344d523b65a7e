//! The softmax over each sample's column.

use nalgebra::{DefaultAllocator, Dim, OMatrix, allocator::Allocator};

use crate::core::{Float, Layer};

/// Softmax over each column (each sample): `softmax(x)_i = e^(x_i) / Σ_j e^(x_j)`.
///
/// - Derivative (as a vector-Jacobian product): given `g = dL/dy`,
///   `dL/dx_i = y_i (g_i - Σ_j g_j y_j)`.
/// - Stable form: `e^(x_i - m) / Σ_j e^(x_j - m)` with `m = max_j x_j`, so no exponential
///   overflows: softmax of `[1000, 1000, 1000]` is `[1/3, 1/3, 1/3]` and of
///   `[-1000, 0, 1000]` is `[0, 0, 1]`.
/// - A NaN anywhere in a column makes the whole column NaN.
/// - PyTorch: `torch.nn.Softmax(dim=-1)` (typenet's samples are columns). When training a
///   classifier, prefer a linear output with [`SoftmaxCrossEntropy`](crate::SoftmaxCrossEntropy),
///   which fuses the two stably.
///
/// ```
/// use typenet::prelude::*;
/// let y = Softmax.forward(&SVector::<f32, 3>::new(-1000.0, 0.0, 1000.0));
/// assert_eq!(y, SVector::<f32, 3>::new(0.0, 0.0, 1.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Softmax;

impl Softmax {
    /// Replaces every column of `x` by its softmax.
    pub fn apply_columns<T: Float, R: Dim, C: Dim>(x: &mut OMatrix<T, R, C>)
    where
        DefaultAllocator: Allocator<R, C>,
    {
        let rows = x.nrows();
        crate::kernels::softmax_columns(x.as_mut_slice(), rows);
    }
}

impl<T, R, C> Layer<OMatrix<T, R, C>> for Softmax
where
    T: Float,
    R: Dim,
    C: Dim,
    DefaultAllocator: Allocator<R, C>,
{
    type Out = OMatrix<T, R, C>;
    type Cache = OMatrix<T, R, C>;

    fn forward(&self, x: &Self::Out) -> Self::Out {
        let mut y = x.clone();
        Softmax::apply_columns(&mut y);
        y
    }

    fn forward_train(&self, mut x: Self::Out) -> (Self::Out, Self::Cache) {
        Softmax::apply_columns(&mut x);
        (x.clone(), x)
    }

    fn backward(&self, y: Self::Cache, mut d: Self::Out, _grad: &mut Self) -> Self::Out {
        for (mut d, y) in d.column_iter_mut().zip(y.column_iter()) {
            let s = d.dot(&y);
            d.zip_apply(&y, |d, y| *d = y * (*d - s));
        }
        d
    }

    super::elementwise::descends_without_parameters!();
}

super::elementwise::parameter_free_layer!(Softmax);
