//! The training context: what a layer that behaves differently in training is handed by the
//! training forward pass ([`Layer::forward_train_in`](crate::Layer::forward_train_in)).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the training forward pass hands each layer: the random numbers of
/// [`Dropout`](crate::Dropout)'s masks. Layers that behave the same in training and inference
/// ignore it.
///
/// [`Train::train_step`](crate::Train::train_step) and the other steps without a context make
/// one with [`TrainContext::next`]: a generator seeded by a process-wide step counter, so that
/// each step draws new masks and a single-threaded program draws the same ones run after run.
/// For masks of your own choosing (a seed per experiment, one stream per thread), make one with
/// [`seeded`](TrainContext::seeded) and call the `…_in` steps.
///
/// ```
/// use typenet::prelude::*;
/// let mut a = TrainContext::seeded(7);
/// let mut b = TrainContext::seeded(7);
/// assert_eq!(a.uniform(), b.uniform()); // the same seed, the same numbers
/// ```
#[derive(Debug)]
pub struct TrainContext {
    seed: u64,
    /// Made from `seed` when a layer first asks: a step of a network without dropout costs
    /// nothing.
    rng: Option<StdRng>,
}

impl TrainContext {
    /// A context whose random numbers are seeded by `seed`.
    pub fn seeded(seed: u64) -> Self {
        TrainContext { seed, rng: None }
    }

    /// A context seeded from `rng`.
    pub fn from_rng<R: Rng + ?Sized>(rng: &mut R) -> Self {
        TrainContext::seeded(rng.next_u64())
    }

    /// A context for the next training step of this process: seeded by a counter shared by
    /// the whole process (the same sequence of seeds in every run), or, on a target without
    /// atomic operations, by the same seed every time.
    pub fn next() -> Self {
        TrainContext::seeded(next_seed())
    }

    /// The generator, for layers that draw random numbers.
    pub fn rng(&mut self) -> &mut StdRng {
        let seed = self.seed;
        self.rng.get_or_insert_with(|| StdRng::seed_from_u64(seed))
    }

    /// A number drawn uniformly from `[0, 1)`, with 24 random bits (enough for a mask).
    #[inline]
    pub fn uniform(&mut self) -> f32 {
        (self.rng().next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }
}

#[cfg(target_has_atomic = "ptr")]
fn next_seed() -> u64 {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static STEPS: AtomicUsize = AtomicUsize::new(0);
    // a fixed odd key, so that step 0's seed is not 0
    (STEPS.fetch_add(1, Ordering::Relaxed) as u64) ^ 0x9E37_79B9_7F4A_7C15
}

#[cfg(not(target_has_atomic = "ptr"))]
fn next_seed() -> u64 {
    0x9E37_79B9_7F4A_7C15
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_draws_new_numbers() {
        let (mut a, mut b) = (TrainContext::next(), TrainContext::next());
        assert_ne!(a.rng().next_u64(), b.rng().next_u64());
    }

    #[test]
    fn uniform_numbers_lie_in_the_unit_interval() {
        let mut c = TrainContext::seeded(1);
        let draws: Vec<f32> = (0..10_000).map(|_| c.uniform()).collect();
        assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = draws.iter().sum::<f32>() / draws.len() as f32;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
    }
}
