//! The arithmetic: the kernels the layers compute with. This folder knows no layer; it sits
//! beside `core` (it needs only the scalar trait) and everything above may use it.
//!
//! - `small`: products of single samples and `Const<K>` batches (and `Dyn` batches too small
//!   for the gemm crates): never allocate, vectorised over contiguous rows, each compiled for
//!   several instruction sets and run in the best the CPU has ([`simd_level`]).
//! - `dispatch`: that choice, made once at run time ([`SimdLevel`], `TYPENET_SIMD`).
//! - [`gemm`](fn@gemm): products of `Dyn` batches through the gemm crates (kernels chosen at
//!   run time, threads through [`set_threads`]), and a bounds-checked loop for the rest.
//! - `conv`: convolutions and pools of single images and `Const<K>` batches, direct, with no
//!   scratch memory; `im2col`: those of `Dyn` batches as products through the gemm crates.
//! - `recurrent`: products with the gate-stacked weights of recurrent cells, and their
//!   gates' nonlinearities, vectorisable.
//! - [`exp_f32`]: a branch-free, vectorisable `e^x` for the `f32` activations.
//!
//! Why the gemm crates rather than nalgebra's `matrixmultiply`: its kernels stop at AVX2; see
//! `docs/design.md` §5 and `docs/performance.md` for the measurements.

pub(crate) mod conv;
pub(crate) mod dispatch;
mod exp;
mod gemm;
#[cfg(feature = "std")]
pub(crate) mod im2col;
pub(crate) mod recurrent;
mod small;
mod threads;

pub(crate) use dispatch::dispatch;
pub use dispatch::{SimdLevel, simd_level};

pub(crate) use exp::exp;
pub use exp::exp_f32;
pub use gemm::{gemm, gemm_tr};
pub(crate) use gemm::{is_large, transposed};
#[cfg(feature = "std")]
pub(crate) use small::unit_from_bytes;
pub(crate) use small::{
    add_outer, add_product, all_finite, apply_descent, descend_columns, descend_outer,
    map_in_place, opaque, softmax_columns, transposed_product, zip_map_in_place,
};
pub use threads::{available_cores, set_threads, threads};
