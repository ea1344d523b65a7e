//! What is wrong with sequences handed to the BPTT training steps.

use core::fmt;

/// Sequences the BPTT training steps ([`TrainSequence`](crate::TrainSequence)) cannot train on.
/// Nothing is computed and the network is left as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SequenceError {
    /// No sequence, or sequences of no time step.
    Empty,
    /// As many input sequences as target sequences are needed.
    CountMismatch {
        /// Input sequences given.
        inputs: usize,
        /// Target sequences given.
        targets: usize,
    },
    /// A sequence's inputs and targets have different numbers of time steps.
    LengthMismatch {
        /// Which sequence (0 for a single one).
        sequence: usize,
        /// Its input steps.
        inputs: usize,
        /// Its target steps.
        targets: usize,
    },
    /// The sequences of a batch must be equally long (they run side by side).
    UnequalLengths {
        /// Which sequence differs from the first.
        sequence: usize,
        /// Its length.
        length: usize,
        /// The first sequence's length.
        first: usize,
    },
    /// The warm-up takes every step: nothing is left to train on.
    WarmupTooLong {
        /// Steps of warm-up asked for.
        warmup: usize,
        /// Steps in the sequences.
        length: usize,
    },
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SequenceError::Empty => {
                f.write_str("no sequence to train on (no sequence, or no time step)")
            }
            SequenceError::CountMismatch { inputs, targets } => write!(
                f,
                "{inputs} input sequences and {targets} target sequences: each input needs its target"
            ),
            SequenceError::LengthMismatch {
                sequence,
                inputs,
                targets,
            } => write!(
                f,
                "sequence {sequence} has {inputs} input steps and {targets} target steps; they must match"
            ),
            SequenceError::UnequalLengths {
                sequence,
                length,
                first,
            } => write!(
                f,
                "sequence {sequence} has {length} steps and sequence 0 has {first}; the sequences of a batch must be equally long"
            ),
            SequenceError::WarmupTooLong { warmup, length } => write!(
                f,
                "a warm-up of {warmup} steps leaves nothing to train on in sequences of {length} steps"
            ),
        }
    }
}

impl core::error::Error for SequenceError {}
