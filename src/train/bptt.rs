//! Training through time: backpropagation through whole sequences or windows of them
//! (truncated BPTT), with gradient clipping by global norm.

use alloc::boxed::Box;

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, DimName, Dyn, OMatrix, OVector};

use super::SequenceError;
use crate::core::{
    Float, Network, Params, SequenceLayer, StepInput, TrainContext, Values, backprop_through_time,
    build,
};
use crate::loss::{Loss, TargetOf};
use crate::optim::{Optimizer, clip_grad_norm};

/// How a BPTT training step walks its sequences: whole (the default) or in windows of a fixed
/// number of steps (truncated BPTT), after an optional warm-up, with an optional bound on the
/// gradient's global norm.
///
/// - **Full** ([`Bptt::full`]): one optimizer step per call, the gradient through every step.
/// - **Truncated** ([`Bptt::truncated`]): the sequences are cut into windows of `window` steps
///   (the last may be shorter). Each window is one optimizer step; the state runs on from one
///   window into the next, but the gradient stops at the window's start. This is how long audio
///   is trained: memory and work per step stay bounded while the state sees the whole past.
/// - **Warm-up** ([`Bptt::warmup`]): the first steps only build the state (no loss, no
///   gradient), as the start of a recording would otherwise be trained from a zero state that
///   streaming never sees again.
/// - **Clipping** ([`Bptt::clip_norm`]): each step's gradient is scaled down to that global L2
///   norm when it is longer ([`clip_grad_norm`]), as PyTorch's `clip_grad_norm_`.
///
/// ```
/// use typenet::Bptt;
/// let b = Bptt::truncated(256).warmup(64).clip_norm(1.0);
/// assert_eq!((b.window(), b.warmup_steps(), b.max_norm()), (Some(256), 64, Some(1.0)));
/// assert_eq!(Bptt::default(), Bptt::full());
/// assert_eq!(Bptt::try_truncated(0).unwrap_err().to_string(),
///            "invalid BPTT window 0: must be at least one step");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bptt {
    window: Option<usize>,
    warmup: usize,
    clip: Option<f64>,
}

impl Bptt {
    /// Backpropagation through the whole sequence, one optimizer step per call.
    pub const fn full() -> Self {
        Bptt {
            window: None,
            warmup: 0,
            clip: None,
        }
    }

    /// Truncated BPTT with windows of `window` steps.
    ///
    /// # Panics
    ///
    /// For `window = 0`, with the message of [`try_truncated`](Bptt::try_truncated)'s error.
    #[track_caller]
    pub fn truncated(window: usize) -> Self {
        crate::optim::or_panic(Self::try_truncated(window))
    }

    /// [`truncated`](Bptt::truncated), refusing a window of no step with an error.
    pub fn try_truncated(window: usize) -> Result<Self, crate::HyperparameterError> {
        if window == 0 {
            return Err(crate::HyperparameterError {
                name: "BPTT window",
                value: 0.0,
                requirement: "at least one step",
            });
        }
        Ok(Bptt {
            window: Some(window),
            ..Self::full()
        })
    }

    /// The same, with the first `steps` steps of every call run only to build the state.
    pub const fn warmup(self, steps: usize) -> Self {
        Bptt {
            warmup: steps,
            ..self
        }
    }

    /// The same, with every gradient clipped to the global L2 norm `max_norm`.
    ///
    /// # Panics
    ///
    /// If `max_norm` is not finite and positive, with the message of
    /// [`try_clip_norm`](Bptt::try_clip_norm)'s error.
    #[track_caller]
    pub fn clip_norm(self, max_norm: f64) -> Self {
        crate::optim::or_panic(self.try_clip_norm(max_norm))
    }

    /// [`clip_norm`](Bptt::clip_norm), refusing a bound that is not finite and positive with
    /// an error.
    pub fn try_clip_norm(self, max_norm: f64) -> Result<Self, crate::HyperparameterError> {
        let max_norm = crate::optim::positive("gradient norm bound", max_norm)?;
        Ok(Bptt {
            clip: Some(max_norm),
            ..self
        })
    }

    /// The window of truncated BPTT (`None`: the whole sequence).
    pub const fn window(&self) -> Option<usize> {
        self.window
    }

    /// Steps of warm-up.
    pub const fn warmup_steps(&self) -> usize {
        self.warmup
    }

    /// The bound on the gradient's global norm, if any.
    pub const fn max_norm(&self) -> Option<f64> {
        self.clip
    }
}

/// Training through time, for every [`Network`] that runs step by step
/// ([`SequenceLayer`]): one sequence at a time ([`train_sequence`](TrainSequence::train_sequence))
/// or batches of equally long sequences side by side
/// ([`train_sequences`](TrainSequence::train_sequences)), with the existing losses and
/// optimizers. Brought into scope by the prelude.
///
/// The loss of a window is the mean over its steps of the loss at each step (itself the mean
/// over the batch, as every loss is): sequences of any length train at the same scale.
///
/// ```
/// use rand::{rngs::StdRng, SeedableRng};
/// use typenet::prelude::*;
/// // learn to output the previous input: a one-sample delay
/// type Net = net![Gru<1, 8>, Dense<8, 1>];
/// let mut net = Net::random(&mut StdRng::seed_from_u64(5));
/// let xs = OMatrix::<f32, Const<1>, Dyn>::from_fn(64, |_, t| ((t * 7919 % 13) as f32 / 6.0) - 1.0);
/// let ys = OMatrix::<f32, Const<1>, Dyn>::from_fn(64, |_, t| if t == 0 { 0.0 } else { xs[t - 1] });
/// let mut opt = Adam::new(0.02);
/// let first = net.train_sequence(&mut opt, &Mse, &xs, &ys)?;
/// let mut last = first;
/// for _ in 0..300 {
///     last = net.train_sequence(&mut opt, &Mse, &xs, &ys)?;
/// }
/// assert!(last < first / 10.0, "{first} -> {last}");
/// # Ok::<(), typenet::SequenceError>(())
/// ```
pub trait TrainSequence: Network + Sized {
    /// One optimizer step of full backpropagation through time on the sequence `xs` (one
    /// column a time step) against targets `ys`, from the zero state. Returns the loss before
    /// the step.
    ///
    /// As [`Train::train_step`](crate::Train::train_step): a loss or gradient that is not
    /// finite leaves the network exactly as it was (and is returned), and an optimizer whose
    /// hyperparameters are not valid in the network's scalar panics before anything is
    /// computed. Sequences whose inputs and targets differ in length are refused with a
    /// [`SequenceError`].
    fn train_sequence<L, O, R, RY, C>(
        &mut self,
        opt: &mut O,
        loss: &L,
        xs: &OMatrix<Self::Scalar, Self::InputDim, C>,
        ys: &OMatrix<Self::Scalar, RY, C>,
    ) -> Result<Self::Scalar, SequenceError>
    where
        Self: SequenceLayer<StepInput<Self>, Out = OVector<Self::Scalar, R>> + Params<Self::Scalar>,
        OVector<Self::Scalar, RY>: TargetOf<L, OVector<Self::Scalar, R>, Scalar = Self::Scalar>,
        O: Optimizer<Self, Self::Scalar>,
        R: DimName,
        RY: DimName,
        C: Dim,
        DefaultAllocator: Allocator<Self::InputDim, C>
            + Allocator<RY, C>
            + Allocator<Self::InputDim>
            + Allocator<R>
            + Allocator<RY>,
    {
        self.train_sequence_with(opt, loss, xs, ys, &Bptt::full())
    }

    /// [`train_sequence`](TrainSequence::train_sequence) walked as `bptt` says (windows,
    /// warm-up, clipping): one optimizer step per window. Returns the mean loss over the
    /// steps trained on, each window's before its step.
    fn train_sequence_with<L, O, R, RY, C>(
        &mut self,
        opt: &mut O,
        loss: &L,
        xs: &OMatrix<Self::Scalar, Self::InputDim, C>,
        ys: &OMatrix<Self::Scalar, RY, C>,
        bptt: &Bptt,
    ) -> Result<Self::Scalar, SequenceError>
    where
        Self: SequenceLayer<StepInput<Self>, Out = OVector<Self::Scalar, R>> + Params<Self::Scalar>,
        OVector<Self::Scalar, RY>: TargetOf<L, OVector<Self::Scalar, R>, Scalar = Self::Scalar>,
        O: Optimizer<Self, Self::Scalar>,
        R: DimName,
        RY: DimName,
        C: Dim,
        DefaultAllocator: Allocator<Self::InputDim, C>
            + Allocator<RY, C>
            + Allocator<Self::InputDim>
            + Allocator<R>
            + Allocator<RY>,
    {
        let length = xs.ncols();
        if length != ys.ncols() {
            return Err(SequenceError::LengthMismatch {
                sequence: 0,
                inputs: length,
                targets: ys.ncols(),
            });
        }
        train_windows(
            self,
            opt,
            loss,
            length,
            1,
            |t| xs.column(t).into_owned(),
            |t| ys.column(t).into_owned(),
            bptt,
        )
    }

    /// One pass of BPTT over a batch of equally long sequences run side by side (`xs[b]`, one
    /// column a time step, against `ys[b]`), walked as `bptt` says: one optimizer step per
    /// window, the gradient of each the mean over the batch. Returns the mean loss over the
    /// steps trained on.
    ///
    /// Refused with a [`SequenceError`], before anything is computed: no sequence, as many
    /// inputs as targets not given, sequences of different lengths, a warm-up as long as the
    /// sequences.
    fn train_sequences<L, O, R, RY>(
        &mut self,
        opt: &mut O,
        loss: &L,
        xs: &[OMatrix<Self::Scalar, Self::InputDim, Dyn>],
        ys: &[OMatrix<Self::Scalar, RY, Dyn>],
        bptt: &Bptt,
    ) -> Result<Self::Scalar, SequenceError>
    where
        Self: SequenceLayer<
                OMatrix<Self::Scalar, Self::InputDim, Dyn>,
                Out = OMatrix<Self::Scalar, R, Dyn>,
            > + Params<Self::Scalar>,
        OMatrix<Self::Scalar, RY, Dyn>:
            TargetOf<L, OMatrix<Self::Scalar, R, Dyn>, Scalar = Self::Scalar>,
        O: Optimizer<Self, Self::Scalar>,
        R: DimName,
        RY: DimName,
        DefaultAllocator: Allocator<Self::InputDim, Dyn> + Allocator<R, Dyn> + Allocator<RY, Dyn>,
    {
        if xs.len() != ys.len() {
            return Err(SequenceError::CountMismatch {
                inputs: xs.len(),
                targets: ys.len(),
            });
        }
        let Some(first) = xs.first() else {
            return Err(SequenceError::Empty);
        };
        let length = first.ncols();
        for (b, (x, y)) in xs.iter().zip(ys).enumerate() {
            if x.ncols() != length {
                return Err(SequenceError::UnequalLengths {
                    sequence: b,
                    length: x.ncols(),
                    first: length,
                });
            }
            if y.ncols() != x.ncols() {
                return Err(SequenceError::LengthMismatch {
                    sequence: b,
                    inputs: x.ncols(),
                    targets: y.ncols(),
                });
            }
        }
        let batch = xs.len();
        let gather = |t: usize| {
            OMatrix::<Self::Scalar, Self::InputDim, Dyn>::from_fn_generic(
                Self::InputDim::name(),
                Dyn(batch),
                |r, b| xs[b][(r, t)],
            )
        };
        let gather_y = |t: usize| {
            OMatrix::<Self::Scalar, RY, Dyn>::from_fn_generic(RY::name(), Dyn(batch), |r, b| {
                ys[b][(r, t)]
            })
        };
        train_windows(self, opt, loss, length, batch, gather, gather_y, bptt)
    }
}

impl<N: Network> TrainSequence for N {}

/// The walk of every BPTT training step: warm-up, then window by window a gradient through
/// time, clipped, and an optimizer step.
#[allow(clippy::too_many_arguments)]
fn train_windows<N, X, Y, L, O>(
    net: &mut N,
    opt: &mut O,
    loss: &L,
    length: usize,
    batch: usize,
    x_at: impl Fn(usize) -> X,
    y_at: impl Fn(usize) -> Y,
    bptt: &Bptt,
) -> Result<N::Scalar, SequenceError>
where
    N: Network + SequenceLayer<X> + Params<N::Scalar>,
    N::Out: Values<Scalar = N::Scalar>,
    Y: TargetOf<L, N::Out, Scalar = N::Scalar>,
    O: Optimizer<N, N::Scalar>,
{
    if length == 0 {
        return Err(SequenceError::Empty);
    }
    if bptt.warmup >= length {
        return Err(SequenceError::WarmupTooLong {
            warmup: bptt.warmup,
            length,
        });
    }
    crate::optim::ensure_valid(opt);
    let mut state = N::zero_state(batch);
    for t in 0..bptt.warmup {
        net.step(&mut state, &x_at(t));
    }
    let window = bptt.window.unwrap_or(length);
    let mut grad: Box<N> = build::zeroed_boxed::<N, N::Scalar>();
    let mut ctx = TrainContext::next();
    let mut total = 0.0;
    let mut start = bptt.warmup;
    while start < length {
        let end = (start + window).min(length);
        let inv_steps = N::Scalar::of_f64(1.0 / (end - start) as f64);
        let mut sum = 0.0;
        grad.set_zero();
        backprop_through_time(
            &*net,
            &mut state,
            &mut ctx,
            start..end,
            batch,
            &x_at,
            |t, out| {
                let (value, mut d) = Y::loss(loss).loss_and_gradient(out, &y_at(t));
                sum += value.as_f64();
                d.values_mut().iter_mut().for_each(|v| *v *= inv_steps);
                d
            },
            |_, _| {},
            &mut grad,
        );
        if let Some(max_norm) = bptt.clip {
            clip_grad_norm(&mut *grad, max_norm);
        }
        if sum.is_finite() && grad.all_finite() {
            opt.update(net, &grad);
            net.take_buffers(&grad);
        }
        total += sum;
        start = end;
    }
    Ok(N::Scalar::of_f64(total / (length - bptt.warmup) as f64))
}
