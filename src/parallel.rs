//! Training steps on several threads: the batch is cut into one slice of columns per thread,
//! each thread runs forward and backward on its slice into a gradient of its own, and the
//! gradients are combined (weighted by slice size) before one optimizer update.
//!
//! This is data parallelism, as PyTorch's `DistributedDataParallel` does across processes.
//! It splits *all* of a step's work (the products, the activations, the loss), where
//! splitting each product over threads ([`linalg::set_threads`](crate::linalg::set_threads))
//! pays a thread hand-off per product. Neither is free: on this project's 2-core test machine,
//! with a 784-100-10 network and batches of 100, one step takes about 0.33 ms on one thread,
//! and both ways of using two threads were slower (0.40 ms per step here, 0.53 ms per step
//! with split products; `docs/performance.md` has the breakdown). Each thread's slice must
//! carry enough work to repay a thread start, a gradient of its own to zero, scale and add:
//! large batches of large layers.

use alloc::boxed::Box;
use alloc::vec::Vec;

use nalgebra::{Const, Dyn, OMatrix};

use crate::{Error, Float, InputOf, Network, Optimizer, Params, TargetOf, Train};

/// Gradient buffers for data-parallel training steps on `threads` threads (the calling thread
/// and `threads - 1` scoped threads started for each step).
///
/// The result of a step is the same as [`Train::train_step_with`] on the whole batch, up to
/// the rounding of the sums: every loss in typenet is a mean over the batch, so the mean of the
/// slices' losses and gradients, each weighted by its share of the columns, is the batch's.
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use typenet::parallel::DataParallel;
/// use typenet::prelude::*;
///
/// type Net = net![Dense<4, 8, f64>, Tanh, Dense<8, 3, f64>];
/// let mut rng = StdRng::seed_from_u64(1);
/// let (mut a, mut b) = (Net::random(&mut rng), Net::zeros());
/// b.clone_from(&a);
/// let x = OMatrix::<f64, Const<4>, Dyn>::from_fn(10, |r, c| (r * 10 + c) as f64 / 40.0);
/// let y = OMatrix::<f64, Const<3>, Dyn>::from_fn(10, |r, c| ((r + c) % 3 == 0) as u8 as f64);
///
/// let mut two = DataParallel::<Net>::new(2)?;
/// let loss_two = two.train_step(&mut a, &mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
/// let loss_one = b.train_step(&mut Sgd::new(0.1), &SoftmaxCrossEntropy, &x, &y);
/// assert!((loss_two - loss_one).abs() < 1e-12);
/// assert!((a.forward(&x) - b.forward(&x)).abs().max() < 1e-12);
/// # Ok::<(), typenet::Error>(())
/// ```
pub struct DataParallel<N> {
    grads: Vec<Box<N>>,
}

impl<N: bytemuck::Zeroable> DataParallel<N> {
    /// Buffers for `threads` threads (one gradient of the network's size each, on the heap).
    /// `threads` must be at least 1 ([`Error::InvalidHyperparameter`] otherwise).
    pub fn new(threads: usize) -> Result<Self, Error> {
        if threads == 0 {
            return Err(Error::InvalidHyperparameter {
                name: "threads",
                value: 0.0,
                requirement: "at least 1",
            });
        }
        Ok(DataParallel {
            grads: (0..threads).map(|_| bytemuck::zeroed_box()).collect(),
        })
    }

    /// The number of threads a step uses (at most: a batch of fewer columns uses fewer).
    pub fn threads(&self) -> usize {
        self.grads.len()
    }

    /// The gradient of the last step (of the whole batch), as
    /// [`train_step_with`](Train::train_step_with) leaves it in its buffer.
    pub fn gradient(&self) -> &N {
        &self.grads[0]
    }
}

impl<N> DataParallel<N> {
    /// One training step of `net` on the batch `x` against `y`, its columns shared among the
    /// threads. Returns the loss before the step. As with
    /// [`train_step_with`](Train::train_step_with), a step whose loss or gradient is not
    /// finite leaves `net` untouched and returns the loss.
    pub fn train_step<T, L, O, const I: usize, const C: usize>(
        &mut self,
        net: &mut N,
        opt: &mut O,
        loss: &L,
        x: &OMatrix<T, Const<I>, Dyn>,
        y: &OMatrix<T, Const<C>, Dyn>,
    ) -> T
    where
        T: Float,
        N: Network + Params<T> + Send + Sync,
        L: Sync,
        O: Optimizer<N, T>,
        OMatrix<T, Const<I>, Dyn>: InputOf<N, Out = OMatrix<T, Const<C>, Dyn>>,
        OMatrix<T, Const<C>, Dyn>: TargetOf<L, OMatrix<T, Const<C>, Dyn>, Scalar = T>,
    {
        let columns = x.ncols();
        let parts = self.grads.len().min(columns).max(1);
        if parts == 1 {
            return net.train_step_with(&mut self.grads[0], opt, loss, x, y);
        }
        // slice k holds columns [start_k, start_k + len_k), the first `columns % parts` one
        // longer than the rest
        let slice = |k: usize| {
            let (base, extra) = (columns / parts, columns % parts);
            (k * base + k.min(extra), base + usize::from(k < extra))
        };
        let shared: &N = net;
        let mut losses = alloc::vec![T::zero(); parts];
        // slice k into gradient k; returns the slice's share of the batch-mean loss
        let work = |k: usize, grad: &mut N| {
            let (start, len) = slice(k);
            // copies of contiguous runs of columns (nalgebra's `into_owned` of a view copies
            // element by element: a fifth of the step, measured)
            let x_k = OMatrix::<T, Const<I>, Dyn>::from_column_slice(
                &x.as_slice()[start * I..][..len * I],
            );
            let y_k = OMatrix::<T, Const<C>, Dyn>::from_column_slice(
                &y.as_slice()[start * C..][..len * C],
            );
            grad.set_zero();
            let value = shared.accumulate_gradient(loss, &x_k, &y_k, grad);
            let share = T::of_f64(len as f64 / columns as f64);
            for t in grad.tensors_mut() {
                t.data.iter_mut().for_each(|g| *g *= share);
            }
            value * share
        };
        // The calling thread takes slice 0 itself and starts a thread for each other slice.
        // (Handing them to rayon's pool was no faster: its sleeping workers took as long to
        // wake as a thread takes to start.)
        let (grad0, others) = self.grads.split_at_mut(1);
        let (loss0, other_losses) = losses.split_at_mut(1);
        std::thread::scope(|scope| {
            let work = &work;
            let others = others.iter_mut().zip(other_losses).take(parts - 1);
            for (k, (grad, part_loss)) in others.enumerate() {
                scope.spawn(move || *part_loss = work(k + 1, grad));
            }
            loss0[0] = work(0, &mut grad0[0]);
        });
        let (first, rest) = self.grads.split_at_mut(1);
        let total = &mut first[0];
        for part in &rest[..parts - 1] {
            total.zip_params_mut(part, [], &mut |t, p, []| {
                t.iter_mut().zip(p).for_each(|(t, &p)| *t += p)
            });
        }
        let value = losses.iter().fold(T::zero(), |s, &l| s + l);
        if value.is_finite() && total.all_finite() {
            opt.update(net, total);
        }
        value
    }
}
