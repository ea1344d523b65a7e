//! Training steps on several threads: the batch is cut into one slice of columns per thread,
//! each thread runs forward and backward on its slice into a gradient of its own, and the
//! gradients are combined (weighted by slice size) before one optimizer update.
//!
//! This is data parallelism, as PyTorch's `DistributedDataParallel` does across processes.
//! It splits *all* of a step's work (the products, the activations, the loss), where
//! splitting each product over threads ([`linalg::set_threads`](crate::linalg::set_threads))
//! pays a thread hand-off per product.
//!
//! Train inside [`DataParallel::run`]: its worker threads are started once and spin between
//! steps, as BLAS libraries' threads do (starting a thread costs ~30 µs here, and a fresh
//! thread's first allocations fault in pages under the process's one memory lock, which made a
//! step on two fresh threads slower than on one). Measured on this project's 2-core machine,
//! 784-100-10 with batches of 100: 0.204 s an epoch on one thread, 0.176 s on two (1.16×); the
//! rest is serial (converting the batch, combining the two gradients across cores, the
//! update) or lost to smaller products (`docs/performance.md`).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use nalgebra::{Const, Dyn, OMatrix};

use super::Train;
use crate::core::{Float, HyperparameterError, InputOf, Network, Params};
use crate::loss::TargetOf;
use crate::optim::Optimizer;

/// Gradient buffers for data-parallel training steps on `threads` threads: the calling thread
/// and `threads - 1` workers, started by [`run`](DataParallel::run) for a whole training loop,
/// or by [`train_step`](DataParallel::train_step) for one step.
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
/// # Ok::<(), typenet::HyperparameterError>(())
/// ```
pub struct DataParallel<N> {
    grads: Vec<Box<N>>,
}

impl<N: bytemuck::Zeroable> DataParallel<N> {
    /// Buffers for `threads` threads (one gradient of the network's size each, on the heap).
    /// `threads` must be at least 1 (a [`HyperparameterError`] otherwise).
    pub fn new(threads: usize) -> Result<Self, HyperparameterError> {
        if threads == 0 {
            return Err(HyperparameterError {
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

/// A thread's part of a step: its gradient, its copy of its slice of the batch, and what it
/// found.
struct Part<'g, N, T: Float, const I: usize, const C: usize> {
    grad: &'g mut N,
    x: OMatrix<T, Const<I>, Dyn>,
    y: OMatrix<T, Const<C>, Dyn>,
    /// The slice's share of the batch (its columns over the batch's); 0 when idle this step.
    share: T,
    /// The slice's mean loss.
    loss: T,
}

/// What the threads of a [`Session`] share.
struct Shared<'n, 'g, N, T: Float, const I: usize, const C: usize> {
    net: RwLock<&'n mut N>,
    /// Parts 1.. (part 0 is the calling thread's), one per worker.
    parts: Vec<Mutex<Part<'g, N, T, I, C>>>,
    /// The number of the step under way; `STOP` ends the workers.
    step: AtomicUsize,
    /// Steps finished, summed over the workers.
    done: AtomicUsize,
    /// Set by a worker that panicked.
    failed: AtomicBool,
}

impl<'n, N, T: Float, const I: usize, const C: usize> Shared<'n, '_, N, T, I, C> {
    /// The network for reading, whether or not a panicking thread poisoned the lock (panics are
    /// reported through `failed`).
    fn read_net(&self) -> std::sync::RwLockReadGuard<'_, &'n mut N> {
        self.net.read().unwrap_or_else(PoisonError::into_inner)
    }
}

const STOP: usize = usize::MAX;

/// Spins until `ready()`, yielding the core after a while.
fn spin_until(mut ready: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !ready() {
        if spins < 1 << 16 {
            spins += 1;
            core::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// Fills `grad` with the gradient of the slice's mean loss; returns that loss. (The shares of
/// the slices are applied when they are combined, in one pass.)
fn slice_gradient<N, L, T, const I: usize, const C: usize>(
    net: &N,
    loss: &L,
    x: &OMatrix<T, Const<I>, Dyn>,
    y: &OMatrix<T, Const<C>, Dyn>,
    grad: &mut N,
) -> T
where
    T: Float,
    N: Network + Params<T>,
    OMatrix<T, Const<I>, Dyn>: InputOf<N, Out = OMatrix<T, Const<C>, Dyn>>,
    OMatrix<T, Const<C>, Dyn>: TargetOf<L, OMatrix<T, Const<C>, Dyn>, Scalar = T>,
{
    grad.set_zero();
    net.accumulate_gradient(loss, x, y, grad)
}

/// Training steps on the threads of a [`DataParallel::run`]: the workers stay up, spinning,
/// between steps.
pub struct Session<'s, 'n, 'g, N, L, T: Float, const I: usize, const C: usize> {
    shared: &'s Shared<'n, 'g, N, T, I, C>,
    grad: &'g mut N,
    loss: &'s L,
    steps: usize,
}

impl<N, L, T, const I: usize, const C: usize> Session<'_, '_, '_, N, L, T, I, C>
where
    T: Float,
    N: Network + Params<T> + Send + Sync,
    L: Sync,
    OMatrix<T, Const<I>, Dyn>: InputOf<N, Out = OMatrix<T, Const<C>, Dyn>>,
    OMatrix<T, Const<C>, Dyn>: TargetOf<L, OMatrix<T, Const<C>, Dyn>, Scalar = T>,
{
    /// One training step on the batch `x` against `y`, its columns shared among the threads.
    /// Returns the loss before the step. As with [`train_step_with`](Train::train_step_with),
    /// a step whose loss or gradient is not finite leaves the network untouched and returns the
    /// loss.
    ///
    /// # Panics
    ///
    /// If `x` and `y` have different numbers of columns, or a worker thread panicked.
    pub fn train_step<O: Optimizer<N, T>>(
        &mut self,
        opt: &mut O,
        x: &OMatrix<T, Const<I>, Dyn>,
        y: &OMatrix<T, Const<C>, Dyn>,
    ) -> T {
        let columns = x.ncols();
        assert_eq!(
            columns,
            y.ncols(),
            "inputs and targets must have as many columns"
        );
        let workers = self.shared.parts.len();
        let parts = (workers + 1).min(columns).max(1);
        // slice k holds columns [start_k, start_k + len_k), the first `columns % parts` one
        // longer than the rest
        let slice = |k: usize| {
            let (base, extra) = (columns / parts, columns % parts);
            (k * base + k.min(extra), base + usize::from(k < extra))
        };
        let share = |len: usize| T::of_f64(len as f64 / columns as f64);
        for (k, part) in self.shared.parts.iter().enumerate() {
            let mut part = lock(part);
            if k + 1 < parts {
                let (start, len) = slice(k + 1);
                copy_columns(&mut part.x, &x.as_slice()[start * I..][..len * I]);
                copy_columns(&mut part.y, &y.as_slice()[start * C..][..len * C]);
                part.share = share(len);
            } else {
                part.share = T::zero();
            }
        }
        self.steps += 1;
        self.shared.step.store(self.steps, Ordering::Release);

        let (start, len) = slice(0);
        let own = {
            let net = self.shared.read_net();
            if parts == 1 {
                slice_gradient(&**net, self.loss, x, y, self.grad)
            } else {
                let x0 = OMatrix::<T, Const<I>, Dyn>::from_column_slice(
                    &x.as_slice()[start * I..][..len * I],
                );
                let y0 = OMatrix::<T, Const<C>, Dyn>::from_column_slice(
                    &y.as_slice()[start * C..][..len * C],
                );
                slice_gradient(&**net, self.loss, &x0, &y0, self.grad)
            }
        };

        let expected = self.steps * workers;
        spin_until(|| {
            assert!(
                !self.shared.failed.load(Ordering::Acquire),
                "a DataParallel worker thread panicked"
            );
            self.shared.done.load(Ordering::Acquire) == expected
        });
        // the batch's mean: the slices' means weighted by their shares, one pass per slice
        let own_share = share(len);
        let mut value = own * own_share;
        for (k, part) in self.shared.parts[..parts - 1].iter().enumerate() {
            let part = lock(part);
            value += part.loss * part.share;
            let (mine, theirs) = (if k == 0 { own_share } else { T::one() }, part.share);
            self.grad.zip_params_mut(&*part.grad, [], &mut |t, p, []| {
                t.iter_mut()
                    .zip(p)
                    .for_each(|(t, &p)| *t = *t * mine + p * theirs)
            });
        }
        if value.is_finite() && self.grad.all_finite() {
            let mut net = self
                .shared
                .net
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            opt.update(&mut **net, self.grad);
        }
        value
    }

    /// Calls `f` with the network as it is between steps (to evaluate it, say).
    pub fn with_net<R>(&self, f: impl FnOnce(&N) -> R) -> R {
        f(&self.shared.read_net())
    }
}

/// Locks a part, whether or not a panicking worker poisoned it (the caller reports panics).
fn lock<P>(part: &Mutex<P>) -> std::sync::MutexGuard<'_, P> {
    part.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `dst ← the columns in `src``, reusing `dst`'s storage when it has as many.
fn copy_columns<T: Float, const R: usize>(dst: &mut OMatrix<T, Const<R>, Dyn>, src: &[T]) {
    if dst.len() == src.len() {
        dst.as_mut_slice().copy_from_slice(src);
    } else {
        *dst = OMatrix::<T, Const<R>, Dyn>::from_column_slice(src);
    }
}

impl<N> DataParallel<N> {
    /// Runs `f` with a [`Session`] whose worker threads (`threads - 1` of them) stay up, and
    /// spin, between its steps: a training loop inside `f` pays for starting them once. The
    /// network is `net`, the loss `loss`. When `f` returns (or panics) the workers stop.
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use typenet::parallel::DataParallel;
    /// use typenet::prelude::*;
    ///
    /// type Net = net![Dense<4, 8, f64>, Tanh, Dense<8, 3, f64>];
    /// let mut net = Net::random(&mut StdRng::seed_from_u64(1));
    /// let x = OMatrix::<f64, Const<4>, Dyn>::from_fn(10, |r, c| (r * 10 + c) as f64 / 40.0);
    /// let y = OMatrix::<f64, Const<3>, Dyn>::from_fn(10, |r, c| ((r + c) % 3 == 0) as u8 as f64);
    /// let mut opt = Sgd::new(0.5);
    /// let (first, last) = DataParallel::<Net>::new(2)?.run(&mut net, &SoftmaxCrossEntropy, |s| {
    ///     let first = s.train_step(&mut opt, &x, &y);
    ///     let mut last = first;
    ///     for _ in 0..100 {
    ///         last = s.train_step(&mut opt, &x, &y);
    ///     }
    ///     (first, last)
    /// });
    /// assert!(last < first);
    /// # Ok::<(), typenet::HyperparameterError>(())
    /// ```
    pub fn run<T, L, const I: usize, const C: usize, R>(
        &mut self,
        net: &mut N,
        loss: &L,
        f: impl FnOnce(&mut Session<'_, '_, '_, N, L, T, I, C>) -> R,
    ) -> R
    where
        T: Float,
        N: Network + Params<T> + Send + Sync,
        L: Sync,
        OMatrix<T, Const<I>, Dyn>: InputOf<N, Out = OMatrix<T, Const<C>, Dyn>>,
        OMatrix<T, Const<C>, Dyn>: TargetOf<L, OMatrix<T, Const<C>, Dyn>, Scalar = T>,
    {
        let (grad0, others) = self.grads.split_at_mut(1);
        let shared = Shared {
            net: RwLock::new(net),
            parts: others
                .iter_mut()
                .map(|grad| {
                    Mutex::new(Part {
                        grad: &mut **grad,
                        x: OMatrix::<T, Const<I>, Dyn>::zeros(0),
                        y: OMatrix::<T, Const<C>, Dyn>::zeros(0),
                        share: T::zero(),
                        loss: T::zero(),
                    })
                })
                .collect(),
            step: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
        };
        std::thread::scope(|scope| {
            for part in &shared.parts {
                let shared = &shared;
                scope.spawn(move || worker(shared, part, loss));
            }
            // stops the workers however `f` ends, so that the scope can join them
            struct Stop<'a>(&'a AtomicUsize);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(STOP, Ordering::Release);
                }
            }
            let _stop = Stop(&shared.step);
            f(&mut Session {
                shared: &shared,
                grad: &mut *grad0[0],
                loss,
                steps: 0,
            })
        })
    }

    /// One training step of `net` on the batch `x` against `y`, its columns shared among the
    /// threads: [`run`](DataParallel::run) for one step (so the worker threads are started for
    /// it). Returns the loss before the step. As with
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
        if self.grads.len() == 1 || x.ncols() < 2 {
            return net.train_step_with(&mut self.grads[0], opt, loss, x, y);
        }
        self.run(net, loss, |session| session.train_step(opt, x, y))
    }
}

/// A worker's loop: wait for a step, compute its part if it has one, report, until `STOP`.
fn worker<N, L, T, const I: usize, const C: usize>(
    shared: &Shared<'_, '_, N, T, I, C>,
    part: &Mutex<Part<'_, N, T, I, C>>,
    loss: &L,
) where
    T: Float,
    N: Network + Params<T>,
    OMatrix<T, Const<I>, Dyn>: InputOf<N, Out = OMatrix<T, Const<C>, Dyn>>,
    OMatrix<T, Const<C>, Dyn>: TargetOf<L, OMatrix<T, Const<C>, Dyn>, Scalar = T>,
{
    // reports a panic of this thread to the one waiting for it
    struct Failed<'a>(&'a AtomicBool);
    impl Drop for Failed<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0.store(true, Ordering::Release);
            }
        }
    }
    let _failed = Failed(&shared.failed);
    let mut seen = 0;
    loop {
        let mut step = seen;
        spin_until(|| {
            step = shared.step.load(Ordering::Acquire);
            step != seen
        });
        if step == STOP {
            return;
        }
        seen = step;
        {
            let mut part = lock(part);
            let part = &mut *part;
            if part.share != T::zero() {
                let net = shared.read_net();
                part.loss = slice_gradient(&**net, loss, &part.x, &part.y, part.grad);
            }
        }
        shared.done.fetch_add(1, Ordering::Release);
    }
}
