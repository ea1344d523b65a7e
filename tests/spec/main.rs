//! The behaviour of typenet, as one integration-test crate (see each module's doc).

mod baked;
mod big_networks;
mod cnn;
mod compile_fail;
mod composition;
mod conv1d;
mod dataset;
mod examples;
mod footprint;
mod fused;
mod gradcheck;
mod hardening;
mod idx;
mod lstm;
mod mnist;
mod model_files;
mod no_alloc;
mod numerics;
mod optimizers;
mod own_layer;
mod parallel;
#[cfg(feature = "pytorch")]
mod pytorch_cnn;
#[cfg(feature = "pytorch")]
mod pytorch_import;
#[cfg(feature = "pytorch")]
mod pytorch_sequence;
mod sequence;
mod support;
mod training;
mod wrong_layers;
mod wrong_recurrent;
