//! Training steps on several threads: the batch is cut into one slice of columns per thread,
//! each thread runs forward and backward on its slice into a gradient of its own, the
//! gradients are combined (weighted by slice size), and the parameters take one step.
//!
//! This is data parallelism, as PyTorch's `DistributedDataParallel` does across processes.
//! It splits *all* of a step's work (the products, the activations, the loss, and the
//! combination and the update too), where splitting each product over threads
//! ([`kernels::set_threads`](crate::kernels::set_threads)) pays a thread hand-off per product.
//!
//! A [`DataParallel`] owns its worker threads (a dedicated rayon pool, started by
//! [`DataParallel::new`] and stopped when it is dropped); the calling thread is the first of
//! the step's threads. A step runs in three phases, each thread on its own share:
//!
//! 1. **Gradients.** Thread `k` takes slice `k` of the batch (a copy of its columns, or its
//!    columns converted on that thread by [`Session::train_step_from`]), zeroes its gradient
//!    and runs forward and backward on it.
//! 2. **Combination.** Thread `k` combines range `k` of every parameter tensor: the slices'
//!    gradients, each weighted by its share of the columns, and checks that its range is
//!    finite. The sum goes into the first gradient for the general optimizers, into thread
//!    `k`'s own gradient for plain descent (the update then reads it where it was written;
//!    the ranges are copied into the first gradient when the session ends). Either way
//!    [`DataParallel::gradient`] is then the whole batch's. Consecutive steps alternate
//!    between two sets of gradients, so that a thread seldom rewrites memory that another
//!    core has just read (each such cache line costs a trip between the cores).
//! 3. **Update**, if the loss and every range are finite. For plain gradient descent
//!    ([`Optimizer::as_descent`], which [`Sgd`](crate::Sgd) gives) thread `k` applies the
//!    [`Descent`](crate::Descent) step to range `k` of the parameters; any other optimizer is
//!    called once, on the calling thread, with the whole gradient.
//!
//! Between phases and between steps a waiting thread spins briefly (50 µs, then yields the
//! core until 200 µs have passed), then sleeps until it is woken: a training loop's next phase
//! finds the workers awake, and idle workers use no CPU.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use core::time::Duration;
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::Train;
use crate::core::build::zeroed_boxed;
use crate::core::{Float, HyperparameterError, InputOf, Network, Params, Samples};
use crate::kernels::available_cores;
use crate::loss::TargetOf;
use crate::optim::Optimizer;

/// Gradient buffers and worker threads for data-parallel training steps on `threads`
/// threads: the calling thread and `threads - 1` workers, which sleep between steps.
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
    /// One gradient per thread; the first holds the whole batch's after a step.
    grads: Vec<Box<N>>,
    /// A second gradient per thread (none for one thread): consecutive steps alternate
    /// between the two sets.
    spare: Vec<Box<N>>,
    /// The workers (`threads - 1` of them); `None` for one thread.
    crew: Option<Crew>,
}

impl<N> DataParallel<N> {
    /// Buffers (two gradients of the network's size per thread, on the heap; one for one
    /// thread) and worker threads for `threads` threads, `threads` clamped to the number of cores
    /// ([`available_cores`]): threads beyond the cores would only take turns on them, and a
    /// step waits for its slowest thread, so more threads than cores is never faster.
    /// [`threads`](Self::threads) tells the number used.
    ///
    /// `threads` must be at least 1 (a [`HyperparameterError`] otherwise). The `threads - 1`
    /// workers are started here, once, and sleep whenever no step runs. Should the system
    /// refuse to start them, the steps run on the calling thread alone (`threads() == 1`).
    ///
    /// ```
    /// use typenet::kernels::available_cores;
    /// use typenet::parallel::DataParallel;
    /// use typenet::prelude::*;
    ///
    /// type Net = net![Dense<4, 8>, Relu, Dense<8, 3>];
    /// let parallel = DataParallel::<Net>::new(1_000)?;
    /// assert!(parallel.threads() <= available_cores());
    /// assert!(DataParallel::<Net>::new(0).is_err());
    /// # Ok::<(), typenet::HyperparameterError>(())
    /// ```
    pub fn new<T: Float>(threads: usize) -> Result<Self, HyperparameterError>
    where
        N: Params<T>,
    {
        Self::unclamped(threads.min(available_cores()))
    }

    /// [`new`](Self::new) without the clamp: `threads` threads even beyond the number of
    /// cores, where they take turns and each step is slower than with one thread per core.
    /// For tests of many-way splits on small machines, and for machines whose core count is
    /// misreported; prefer [`new`](Self::new).
    pub fn new_unclamped<T: Float>(threads: usize) -> Result<Self, HyperparameterError>
    where
        N: Params<T>,
    {
        Self::unclamped(threads)
    }

    fn unclamped<T: Float>(threads: usize) -> Result<Self, HyperparameterError>
    where
        N: Params<T>,
    {
        if threads == 0 {
            return Err(HyperparameterError {
                name: "threads",
                value: 0.0,
                requirement: "at least 1",
            });
        }
        let crew = if threads > 1 {
            Crew::start(threads - 1)
        } else {
            None
        };
        let threads = crew.as_ref().map_or(1, |crew| crew.workers + 1);
        let gradients = |count: usize| (0..count).map(|_| zeroed_boxed::<N, T>()).collect();
        Ok(DataParallel {
            grads: gradients(threads),
            spare: gradients(if threads > 1 { threads } else { 0 }),
            crew,
        })
    }
}

impl<N> DataParallel<N> {
    /// The number of threads a step uses (at most: a batch of fewer columns uses fewer), the
    /// calling thread included.
    pub fn threads(&self) -> usize {
        self.grads.len()
    }

    /// The gradient of the last step (of the whole batch), as
    /// [`train_step_with`](Train::train_step_with) leaves it in its buffer.
    pub fn gradient(&self) -> &N {
        &self.grads[0]
    }
}

/// A thread's slice of a batch, in buffers it reuses from step to step, and its mean loss.
struct Slice<T, X, Y> {
    x: X,
    y: Y,
    loss: T,
}

impl<T: Float, X: Samples, Y: Samples> Slice<T, X, Y> {
    fn empty() -> Self {
        Slice {
            x: X::empty(),
            y: Y::empty(),
            loss: T::zero(),
        }
    }
}

/// What fills a thread's slice with its samples of the batch.
type Load<'a, T, X, Y> = dyn Fn(Range<usize>, &mut Slice<T, X, Y>) + Sync + 'a;

/// Training steps of one network with one loss on the threads of a [`DataParallel`]
/// ([`DataParallel::run`]), on batches of inputs `X` (columns `OMatrix<T, Const<I>, Dyn>` or
/// images `ImageN<T, C, H, W, Dyn>`) against targets `Y`.
pub struct Session<'s, 'n, 'g, N, L, T, X, Y> {
    crew: Option<&'s mut Crew>,
    grads: &'g mut [Box<N>],
    spare: &'g mut [Box<N>],
    /// Whether the next step of several slices uses `spare`.
    flip: bool,
    /// Where the last step left the batch's gradient.
    left: Left,
    net: &'n mut N,
    loss: &'s L,
    /// One per thread.
    slices: Vec<Slice<T, X, Y>>,
    /// [`gather`] for this network.
    gather: fn(&mut [Box<N>], &[Box<N>], Left),
}

/// Where a step left the batch's gradient: in `pieces` pieces, piece `k` in gradient `k` of the
/// first set or of the spare one (with one piece, whole in gradient 0 of that set).
#[derive(Clone, Copy, PartialEq)]
struct Left {
    spare: bool,
    pieces: usize,
}

/// Whole in the first gradient, where [`DataParallel::gradient`] reads it.
const WHOLE: Left = Left {
    spare: false,
    pieces: 1,
};

impl<N, L, T, X, Y> Drop for Session<'_, '_, '_, N, L, T, X, Y> {
    /// Leaves the last step's gradient whole in the first buffer, for
    /// [`DataParallel::gradient`].
    fn drop(&mut self) {
        if self.left != WHOLE {
            (self.gather)(self.grads, self.spare, self.left);
        }
    }
}

impl<N, L, T, X, Y> Session<'_, '_, '_, N, L, T, X, Y>
where
    T: Float,
    N: Network + Params<T> + Send + Sync,
    L: Sync,
    X: Samples + InputOf<N> + Send + Sync,
    Y: Samples + TargetOf<L, X::Out, Scalar = T> + Send + Sync,
{
    /// One training step on the batch `x` against `y`, its samples (columns or images) shared
    /// among the threads.
    /// Returns the loss before the step. As with [`train_step_with`](Train::train_step_with),
    /// a step whose loss or gradient is not finite leaves the network untouched and returns the
    /// loss.
    ///
    /// Each thread copies its columns out of `x` and `y`; to have each thread produce its own
    /// columns (convert them from bytes, say), use [`train_step_from`](Self::train_step_from).
    ///
    /// # Panics
    ///
    /// If `x` and `y` have different numbers of columns (`inputs and targets must have as many
    /// columns`), or with the panic of a worker thread (the loss's, say), after every thread
    /// has stopped working on the step.
    pub fn train_step<O: Optimizer<N, T>>(&mut self, opt: &mut O, x: &X, y: &Y) -> T {
        let columns = x.samples();
        assert_eq!(
            columns,
            y.samples(),
            "inputs and targets must have as many columns"
        );
        crate::optim::ensure_valid(opt);
        let parts = self.parts(columns);
        if parts < 2 {
            self.left = WHOLE;
            return self
                .net
                .train_step_with(&mut *self.grads[0], opt, self.loss, x, y);
        }
        self.parallel_step(opt, columns, parts, &|range, slice| {
            slice.x.copy_samples(x, range.clone());
            slice.y.copy_samples(y, range);
        })
    }

    /// One training step on a batch of `columns` columns that the threads produce themselves:
    /// each thread calls `fill(range, x, y)` for its own range of the batch's columns, and
    /// `fill` must leave in `x` and `y` the inputs and targets of those columns (one column
    /// each per index of `range`; the buffers are the thread's own, kept from step to step).
    /// The threads then step as [`train_step`](Self::train_step) does. Converting a batch
    /// from bytes this way is split among the threads too:
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use typenet::data::{Dataset, OneHot};
    /// use typenet::parallel::DataParallel;
    /// use typenet::prelude::*;
    ///
    /// type Net = net![Dense<4, 8>, Relu, Dense<8, 2>];
    /// let pixels: Vec<u8> = (0..40).map(|i| (i * 37 % 256) as u8).collect();
    /// let data = Dataset::new("toy", 4, pixels, (0..10).map(|i| i % 2).collect())?;
    /// let mut net = Net::random(&mut StdRng::seed_from_u64(2));
    /// let mut sgd = Sgd::new(0.1);
    /// let batch: Vec<usize> = (0..10).collect();
    /// let loss = DataParallel::<Net>::new(2)?.run(&mut net, &SoftmaxCrossEntropy, |s| {
    ///     s.train_step_from(&mut sgd, batch.len(), |columns, x, y| {
    ///         data.inputs_into(&batch[columns.clone()], x).expect("4 pixels a sample");
    ///         data.targets_into(&batch[columns], OneHot::PLAIN, y).expect("labels 0 and 1");
    ///     })
    /// });
    /// assert!(loss.is_finite());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    ///
    /// If `fill` leaves another number of columns in `x` or `y` than its range has (`fill
    /// must leave one column of inputs and of targets per index of its range`), or with the
    /// panic of `fill` or of any thread, after every thread has stopped working on the step.
    pub fn train_step_from<O, F>(&mut self, opt: &mut O, columns: usize, fill: F) -> T
    where
        O: Optimizer<N, T>,
        F: Fn(Range<usize>, &mut X, &mut Y) + Sync,
    {
        let load = |range: Range<usize>, slice: &mut Slice<T, X, Y>| {
            let len = range.len();
            fill(range, &mut slice.x, &mut slice.y);
            assert!(
                slice.x.samples() == len && slice.y.samples() == len,
                "fill must leave one column of inputs and of targets per index of its range"
            );
        };
        crate::optim::ensure_valid(opt);
        let parts = self.parts(columns);
        if parts < 2 {
            self.left = WHOLE;
            let slice = &mut self.slices[0];
            load(0..columns, slice);
            return self.net.train_step_with(
                &mut *self.grads[0],
                opt,
                self.loss,
                &slice.x,
                &slice.y,
            );
        }
        self.parallel_step(opt, columns, parts, &load)
    }

    /// Calls `f` with the network as it is between steps (to evaluate it, say).
    pub fn with_net<R>(&self, f: impl FnOnce(&N) -> R) -> R {
        f(self.net)
    }

    /// Into how many slices a batch of `columns` columns is cut.
    fn parts(&self, columns: usize) -> usize {
        match self.crew {
            Some(_) => self.grads.len().min(columns),
            None => 1,
        }
    }

    /// A step of `parts >= 2` slices, each thread's loaded by `load`: the three phases of the
    /// module's documentation.
    fn parallel_step<O: Optimizer<N, T>>(
        &mut self,
        opt: &mut O,
        columns: usize,
        parts: usize,
        load: &Load<'_, T, X, Y>,
    ) -> T {
        let Session {
            crew,
            grads,
            spare,
            flip,
            left,
            net,
            loss,
            slices,
            ..
        } = self;
        // consecutive steps alternate between two sets of gradients: a thread reads the others'
        // gradients in the combination, and rewriting a buffer that another core still holds
        // in its cache costs a trip between the cores per cache line
        let in_spare = *flip;
        let grads: &mut [Box<N>] = if in_spare { spare } else { grads };
        *flip = !in_spare;
        let crew = crew
            .as_deref_mut()
            .expect("a step of several slices has workers");
        let loss: &L = loss;
        let shares: Vec<T> = (0..parts)
            .map(|k| T::of_f64(columns_of(columns, parts, k).len() as f64 / columns as f64))
            .collect();

        // 1. each thread's slice and its gradient
        {
            let net: &N = net;
            let work: Vec<Mutex<(&mut N, &mut Slice<T, X, Y>)>> = grads
                .iter_mut()
                .zip(slices.iter_mut())
                .take(parts)
                .map(|(grad, slice)| Mutex::new((&mut **grad, slice)))
                .collect();
            crew.broadcast(&|k| {
                let Some(work) = work.get(k) else { return };
                let mut work = lock(work);
                let (grad, slice) = &mut *work;
                load(columns_of(columns, parts, k), slice);
                grad.set_zero();
                slice.loss = net.accumulate_gradient(loss, &slice.x, &slice.y, &mut **grad);
            });
        }
        // the batch's mean: the slices' means weighted by their shares
        let value = slices[..parts]
            .iter()
            .zip(&shares)
            .fold(T::zero(), |value, (slice, &share)| {
                value + slice.loss * share
            });

        // 2. the combination, each thread its range of every tensor: for plain descent into
        // the thread's own gradient, where the update then finds it in the same core's cache;
        // for any other optimizer into the first gradient, which `update` reads whole
        let descent = opt.as_descent();
        let mut lists: Vec<Vec<Vec<&mut [T]>>> = (0..parts).map(|_| Vec::new()).collect();
        for grad in grads[..parts].iter_mut() {
            let pieces = split_pieces(grad.tensors_mut().map(|t| t.data), parts);
            for (mine, piece) in lists.iter_mut().zip(pieces) {
                mine.push(piece);
            }
        }
        let sums: Vec<Mutex<Sum<'_, T>>> = lists
            .into_iter()
            .enumerate()
            .map(|(k, mut pieces)| {
                let target = if descent.is_some() { k } else { 0 };
                let mut weights = shares.clone();
                Mutex::new(Sum {
                    into: pieces.remove(target),
                    own: weights.remove(target),
                    sources: pieces,
                    weights,
                })
            })
            .collect();
        *left = Left {
            spare: in_spare,
            pieces: if descent.is_some() { parts } else { 1 },
        };
        let finite = AtomicBool::new(true);
        crew.broadcast(&|k| {
            let Some(sum) = sums.get(k) else { return };
            let mut sum = lock(sum);
            sum.combine();
            if !sum.into.iter().all(|piece| T::all_finite(piece)) {
                finite.store(false, Ordering::Relaxed);
            }
        });
        if !(value.is_finite() && finite.into_inner()) {
            return value;
        }

        // 3. the update
        match descent {
            Some(step) => {
                let params: Vec<Mutex<Vec<&mut [T]>>> =
                    split_pieces(net.tensors_mut().map(|t| t.data), parts)
                        .into_iter()
                        .map(Mutex::new)
                        .collect();
                crew.broadcast(&|k| {
                    let (Some(params), Some(sum)) = (params.get(k), sums.get(k)) else {
                        return;
                    };
                    let (mut params, sum) = (lock(params), lock(sum));
                    for (theta, grad) in params.iter_mut().zip(&sum.into) {
                        crate::kernels::apply_descent(step, theta, grad);
                    }
                });
            }
            None => {
                drop(sums);
                opt.update(net, &grads[0]);
            }
        }
        // buffers (batch norm's running statistics) as the first slice's step left them
        net.take_buffers(&grads[0]);
        value
    }
}

impl<N> DataParallel<N> {
    /// Runs `f` with a [`Session`]: training steps of `net` against `loss` on this
    /// `DataParallel`'s threads. The workers sleep between the session's steps (after a brief
    /// spin, so that a training loop's next step finds them awake), and stay for later
    /// sessions; no thread is started here.
    ///
    /// A panic in `f`, or in a worker during a step (which then reaches `f` from
    /// [`Session::train_step`]), propagates out of `run` with its own payload; the
    /// `DataParallel` stays usable.
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
    pub fn run<T, L, X, Y, R>(
        &mut self,
        net: &mut N,
        loss: &L,
        f: impl FnOnce(&mut Session<'_, '_, '_, N, L, T, X, Y>) -> R,
    ) -> R
    where
        T: Float,
        N: Network + Params<T> + Send + Sync,
        L: Sync,
        X: Samples + InputOf<N> + Send + Sync,
        Y: Samples + TargetOf<L, X::Out, Scalar = T> + Send + Sync,
    {
        let threads = self.grads.len();
        f(&mut Session {
            crew: self.crew.as_mut(),
            grads: &mut self.grads,
            spare: &mut self.spare,
            flip: false,
            left: WHOLE,
            net,
            loss,
            slices: (0..threads).map(|_| Slice::empty()).collect(),
            gather: gather::<T, N>,
        })
    }

    /// One training step of `net` on the batch `x` against `y`, its columns shared among the
    /// threads: [`run`](DataParallel::run) for one step. Returns the loss before the step. As
    /// with [`train_step_with`](Train::train_step_with), a step whose loss or gradient is not
    /// finite leaves `net` untouched and returns the loss.
    ///
    /// # Panics
    ///
    /// As [`Session::train_step`]: if `x` and `y` have different numbers of columns (`inputs
    /// and targets must have as many columns`), or with the panic of a worker thread.
    pub fn train_step<T, L, O, X, Y>(
        &mut self,
        net: &mut N,
        opt: &mut O,
        loss: &L,
        x: &X,
        y: &Y,
    ) -> T
    where
        T: Float,
        N: Network + Params<T> + Send + Sync,
        L: Sync,
        O: Optimizer<N, T>,
        X: Samples + InputOf<N> + Send + Sync,
        Y: Samples + TargetOf<L, X::Out, Scalar = T> + Send + Sync,
    {
        self.run(net, loss, |session| session.train_step(opt, x, y))
    }
}

/// The columns of slice `k` when `columns` are cut into `parts` slices, the first
/// `columns % parts` one column longer than the rest.
fn columns_of(columns: usize, parts: usize, k: usize) -> Range<usize> {
    let (base, extra) = (columns / parts, columns % parts);
    let start = k * base + k.min(extra);
    start..start + base + usize::from(k < extra)
}

/// The elements of a tensor of `len` elements that thread `k` of `parts` combines and
/// updates: consecutive ranges of a multiple of 16 elements (a 64-byte cache line of `f32`),
/// so that two threads seldom write to one line.
fn piece_of(len: usize, parts: usize, k: usize) -> Range<usize> {
    let step = len.div_ceil(parts).next_multiple_of(16);
    let start = (k * step).min(len);
    start..(start + step).min(len)
}

/// Cuts each tensor into the pieces of [`piece_of`]: element `k` holds thread `k`'s piece of
/// every tensor, in order.
fn split_pieces<'a, T>(
    tensors: impl Iterator<Item = &'a mut [T]>,
    parts: usize,
) -> Vec<Vec<&'a mut [T]>> {
    let mut pieces: Vec<Vec<&'a mut [T]>> = (0..parts).map(|_| Vec::new()).collect();
    for tensor in tensors {
        let len = tensor.len();
        let mut rest = tensor;
        for (k, mine) in pieces.iter_mut().enumerate() {
            let (piece, tail) =
                core::mem::take(&mut rest).split_at_mut(piece_of(len, parts, k).len());
            mine.push(piece);
            rest = tail;
        }
    }
    pieces
}

/// A thread's part of the combination: its piece of every tensor of one gradient (`into`) and
/// of each other slice's gradient (`sources`), and the slices' shares of the batch.
struct Sum<'a, T> {
    into: Vec<&'a mut [T]>,
    own: T,
    sources: Vec<Vec<&'a mut [T]>>,
    weights: Vec<T>,
}

impl<T: Float> Sum<'_, T> {
    /// `into ← own · into + Σⱼ weightⱼ · sourceⱼ`: the slices' mean gradients, weighted by
    /// their shares, are the batch's.
    fn combine(&mut self) {
        let own = self.own;
        for (j, (source, &weight)) in self.sources.iter().zip(&self.weights).enumerate() {
            for (into, source) in self.into.iter_mut().zip(source) {
                if j == 0 {
                    for (g, &s) in into.iter_mut().zip(source.iter()) {
                        *g = *g * own + s * weight;
                    }
                } else {
                    for (g, &s) in into.iter_mut().zip(source.iter()) {
                        *g += s * weight;
                    }
                }
            }
        }
    }
}

/// Copies the pieces of the batch's gradient that a step left elsewhere ([`Left`]) into the
/// first gradient, which then holds it whole.
fn gather<T: Float, N: Params<T>>(grads: &mut [Box<N>], spare: &[Box<N>], left: Left) {
    let (first, rest) = grads.split_at_mut(1);
    let pieces = split_pieces(first[0].tensors_mut().map(|t| t.data), left.pieces);
    for (k, mine) in pieces.into_iter().enumerate() {
        let source: &N = match (left.spare, k) {
            (true, k) => &spare[k],
            (false, 0) => continue,
            (false, k) => &rest[k - 1],
        };
        for (piece, tensor) in mine.into_iter().zip(source.tensors()) {
            piece.copy_from_slice(&tensor.data[piece_of(tensor.data.len(), left.pieces, k)]);
        }
    }
}

/// Locks a mutex whether or not a panicking thread poisoned it: every value behind one here is
/// either rewritten before it is read again or checked (panics are reported separately).
fn lock<P>(mutex: &Mutex<P>) -> MutexGuard<'_, P> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A phase's work, lent to the workers for the phase only ([`Crew::broadcast`]).
type Job = &'static (dyn Fn(usize) + Sync);

/// The value of [`Signals::go`] that ends the workers.
const STOP: usize = usize::MAX;

/// How long a waiting thread spins before it starts yielding its core, and how long it waits
/// in all before it sleeps. A wake-up from sleep costs the woken thread microseconds; the spin
/// spares them to the phases of a step, which end within tens of microseconds of each other.
const SPIN: Duration = Duration::from_micros(50);
const YIELD: Duration = Duration::from_micros(200);

/// A counter that threads wait on: a waiter spins for a while, yields the core for a while,
/// then sleeps until a change wakes it.
struct Beacon {
    value: AtomicUsize,
    /// Waiters asleep (or about to be) on `wake`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Beacon {
    fn new() -> Self {
        Beacon {
            value: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    fn set(&self, value: usize) {
        self.value.store(value, Ordering::SeqCst);
        self.notify();
    }

    fn add(&self, n: usize) {
        self.value.fetch_add(n, Ordering::SeqCst);
        self.notify();
    }

    /// Wakes the sleepers, if any. A waiter counts itself in `sleepers` under the lock and
    /// then reads `value`, both sequentially consistent; the change to `value` comes before
    /// this read of `sleepers`. So either the waiter sees the new value, or this sees the
    /// waiter and takes the lock, which the waiter holds until it sleeps on `wake`: no wake-up
    /// is lost.
    fn notify(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            drop(lock(&self.lock));
            self.wake.notify_all();
        }
    }

    /// Waits until `ready(value)`; returns that value.
    fn wait_until(&self, ready: impl Fn(usize) -> bool) -> usize {
        let value = self.value.load(Ordering::Acquire);
        if ready(value) {
            return value;
        }
        let start = Instant::now();
        loop {
            for _ in 0..64 {
                let value = self.value.load(Ordering::Acquire);
                if ready(value) {
                    return value;
                }
                core::hint::spin_loop();
            }
            let waited = start.elapsed();
            if waited >= YIELD {
                break;
            }
            if waited >= SPIN {
                std::thread::yield_now();
            }
        }
        let mut guard = lock(&self.lock);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let value = loop {
            let value = self.value.load(Ordering::SeqCst);
            if ready(value) {
                break value;
            }
            guard = self
                .wake
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        value
    }
}

/// What the calling thread and the workers share.
struct Signals {
    /// The number of the phase to run (phases are numbered from 1); [`STOP`] ends the workers.
    go: Beacon,
    /// Phases finished, summed over the workers.
    done: Beacon,
    /// The phase's work while it runs.
    job: Mutex<Option<Job>>,
    /// The first panic of a worker in the phase.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

/// The worker threads of a [`DataParallel`], each running [`work`] on a dedicated rayon pool.
struct Crew {
    signals: Arc<Signals>,
    workers: usize,
    /// The number of the last phase.
    phase: usize,
    _pool: rayon::ThreadPool,
}

impl Crew {
    /// `workers` threads, or `None` if they cannot be started.
    fn start(workers: usize) -> Option<Crew> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("typenet-parallel-{}", i + 1))
            .build()
            .ok()?;
        let signals = Arc::new(Signals {
            go: Beacon::new(),
            done: Beacon::new(),
            job: Mutex::new(None),
            panic: Mutex::new(None),
        });
        let theirs = Arc::clone(&signals);
        pool.spawn_broadcast(move |context| work(&theirs, context.index() + 1));
        Some(Crew {
            signals,
            workers,
            phase: 0,
            _pool: pool,
        })
    }

    /// Runs `f(k)` on thread `k` for every `k` from 0 (the calling thread) to `workers`, and
    /// returns when all have finished; a worker's panic is then resumed here. If `f(0)`
    /// panics, the panic propagates once the workers have finished.
    fn broadcast(&mut self, f: &(dyn Fn(usize) + Sync)) {
        // SAFETY: this only extends the lifetime of the reference; the layout of the two types
        // is the same. The workers use `job` only between this phase's `go` and their report
        // of it in `done` (`work` calls it and lets go of it before reporting, and catches its
        // panics so that it always reports), and the `Finish` below waits for every worker's
        // report, then empties the slot, before this function returns or unwinds (it is a
        // drop guard of this frame, which nothing can leak). `&mut self` makes this the only
        // phase under way on this crew, so no other phase's report is taken for this one's.
        // `f` itself outlives the call: the reference never dangles while it can be used.
        let job = unsafe { core::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        *lock(&self.signals.job) = Some(job);
        self.phase += 1;
        let finish = Finish {
            signals: &self.signals,
            reports: self.phase * self.workers,
        };
        self.signals.go.set(self.phase);
        f(0);
        drop(finish);
        if let Some(payload) = lock(&self.signals.panic).take() {
            panic::resume_unwind(payload);
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.signals.go.set(STOP);
    }
}

/// Waits for every worker's report of a phase and then takes its work back, however the
/// calling thread leaves [`Crew::broadcast`].
struct Finish<'a> {
    signals: &'a Signals,
    reports: usize,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.signals.done.wait_until(|done| done >= self.reports);
        *lock(&self.signals.job) = None;
        if std::thread::panicking() {
            // the calling thread's own panic goes on; a worker's would be a second one
            lock(&self.signals.panic).take();
        }
    }
}

/// A worker's loop: wait for a phase, run its work as thread `k`, report, until [`STOP`].
fn work(signals: &Signals, k: usize) {
    let mut seen = 0;
    loop {
        let phase = signals.go.wait_until(|phase| phase != seen);
        if phase == STOP {
            return;
        }
        seen = phase;
        {
            let job = *lock(&signals.job);
            if let Some(job) = job
                && let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| job(k)))
            {
                lock(&signals.panic).get_or_insert(payload);
            }
        }
        signals.done.add(1);
    }
}
