//! Fused SGD: backward passes that take a plain SGD step on each layer's parameters as they
//! reach it, with no gradient buffer.
//!
//! [`Train::train_step`](crate::Train::train_step) walks the parameters five times besides
//! forward and backward: it zeroes the gradient, accumulates into it, checks it is finite, and
//! the optimizer reads it and rewrites the parameters. For a small network trained one sample
//! at a time those passes are most of the step. [`Train::sgd_step`](crate::Train::sgd_step)
//! instead lets each layer update itself inside backward, right after it has used its weights
//! for dL/dIn: on the W1 network (10 → 5 × 32 → 2, sigmoid) a step goes from 1.8 to 1.3 µs
//! (`docs/performance.md`).

use nalgebra::{Const, DefaultAllocator, Dim, OMatrix, allocator::Allocator};

use crate::{Chain, Dense, Float, Layer, Sgd, linalg};

/// A layer that can take a plain SGD step inside its backward pass.
///
/// Implemented by [`Dense`], every activation and [`Chain`]s of them; a layer of your own can
/// implement it too (or be trained with [`Train::train_step`](crate::Train::train_step), which
/// needs only [`Layer`]).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot take a fused SGD step on `{In}`",
    label = "no `FusedSgd` implementation",
    note = "`sgd_step` needs every layer to implement `typenet::FusedSgd`; `train_step` with `Sgd` needs only `Layer`"
)]
pub trait FusedSgd<In>: Layer<In> {
    /// The backward pass, taking the step `θ ← θ - lr (∂L/∂θ + wd θ)` of `sgd` on this
    /// layer's parameters as it goes. Returns dL/dIn, computed with the parameters as they were
    /// before the step.
    fn backward_sgd(&mut self, cache: Self::Cache, d_out: Self::Out, sgd: &Sgd) -> In;

    /// [`backward_sgd`](FusedSgd::backward_sgd) without dL/dIn, for the first layer.
    fn backward_sgd_params(&mut self, cache: Self::Cache, d_out: Self::Out, sgd: &Sgd) {
        let _ = self.backward_sgd(cache, d_out, sgd);
    }
}

impl<In, A, B> FusedSgd<In> for Chain<A, B>
where
    A: FusedSgd<In>,
    B: FusedSgd<A::Out>,
{
    fn backward_sgd(&mut self, cache: Self::Cache, d_out: Self::Out, sgd: &Sgd) -> In {
        let d_mid = self.tail.backward_sgd(cache.1, d_out, sgd);
        self.head.backward_sgd(cache.0, d_mid, sgd)
    }

    fn backward_sgd_params(&mut self, cache: Self::Cache, d_out: Self::Out, sgd: &Sgd) {
        let d_mid = self.tail.backward_sgd(cache.1, d_out, sgd);
        self.head.backward_sgd_params(cache.0, d_mid, sgd);
    }
}

impl<const I: usize, const O: usize, T: Float, B: Dim> FusedSgd<OMatrix<T, Const<I>, B>>
    for Dense<I, O, T>
where
    DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B>,
{
    fn backward_sgd(&mut self, x: Self::Cache, g: Self::Out, sgd: &Sgd) -> OMatrix<T, Const<I>, B> {
        let (lr, wd) = sgd.rates::<T>();
        if B::try_to_usize() == Some(1) {
            // One sample: one pass over the columns of W. Column j gives dL/dx_j (a dot
            // product with the old weights) and then takes its step, while it is in cache.
            let mut x = x;
            let g = g.as_slice();
            // (an opaque row count, for the reason `linalg::opaque` gives)
            let rows = linalg::opaque(O);
            for (w, x) in self
                .w
                .as_mut_slice()
                .chunks_exact_mut(rows)
                .zip(x.as_mut_slice())
            {
                let xj = *x;
                *x = linalg::dot(w, g);
                if wd == T::zero() {
                    w.iter_mut().zip(g).for_each(|(w, &g)| *w -= lr * (g * xj));
                } else {
                    w.iter_mut()
                        .zip(g)
                        .for_each(|(w, &g)| *w -= lr * (g * xj + wd * *w));
                }
            }
            self.step_bias(g, lr, wd);
            return x;
        }
        // A batch: dL/dX with the old weights, then the step.
        let mut d_x = x.clone();
        if B::try_to_usize().is_some() || !linalg::is_large(O, I, g.ncols()) {
            linalg::tr_mul(d_x.as_mut_slice(), &self.w, g.as_slice());
        } else {
            linalg::gemm_tr(&mut d_x, T::one(), &self.w, &g, T::zero());
        }
        self.step(&x, &g, lr, wd);
        d_x
    }

    fn backward_sgd_params(&mut self, x: Self::Cache, g: Self::Out, sgd: &Sgd) {
        let (lr, wd) = sgd.rates::<T>();
        self.step(&x, &g, lr, wd);
    }
}

impl<const I: usize, const O: usize, T: Float> Dense<I, O, T> {
    /// `W ← W - lr (G Xᵀ + wd W)`, `b ← b - lr (G 1 + wd b)`.
    fn step<B: Dim>(
        &mut self,
        x: &OMatrix<T, Const<I>, B>,
        g: &OMatrix<T, Const<O>, B>,
        lr: T,
        wd: T,
    ) where
        DefaultAllocator: Allocator<Const<I>, B> + Allocator<Const<O>, B>,
    {
        let columns = g.ncols();
        if B::try_to_usize().is_some() || !linalg::is_large(O, I, columns) {
            // column by column: the column's gradient summed over the batch, then its step
            let (x, g) = (x.as_slice(), g.as_slice());
            let rows = linalg::opaque(O);
            for (j, w) in self.w.as_mut_slice().chunks_exact_mut(rows).enumerate() {
                let mut grad = [T::zero(); O];
                for (g, x) in g.chunks_exact(rows).zip(x.chunks_exact(I)) {
                    let xj = x[j];
                    grad.iter_mut().zip(g).for_each(|(s, &g)| *s += g * xj);
                }
                descend(w, &grad, lr, wd);
            }
            self.step_bias(g, lr, wd);
        } else {
            // one product: W ← (1 - lr wd) W - lr G Xᵀ, against a transposed view of X
            let x_t = crate::dense::transposed(x);
            linalg::gemm(&mut self.w, -lr, g, &x_t, T::one() - lr * wd);
            self.step_bias(g.as_slice(), lr, wd);
        }
    }

    /// `b ← b - lr (Σ_c g_c + wd b)` for the columns of `g` (`O` values each).
    fn step_bias(&mut self, g: &[T], lr: T, wd: T) {
        let mut sum = [T::zero(); O];
        for g in g.chunks_exact(O) {
            sum.iter_mut().zip(g).for_each(|(s, &g)| *s += g);
        }
        descend(self.b.as_mut_slice(), &sum, lr, wd);
    }
}

/// `θ ← θ - lr (g + wd θ)`, written as [`Sgd`]'s update writes it (to the bit).
#[inline(always)]
fn descend<T: Float>(theta: &mut [T], grad: &[T], lr: T, wd: T) {
    if wd == T::zero() {
        theta.iter_mut().zip(grad).for_each(|(p, &g)| *p -= lr * g);
    } else {
        theta
            .iter_mut()
            .zip(grad)
            .for_each(|(p, &g)| *p -= lr * (g + wd * *p));
    }
}
