//! The arithmetic: the kernels the layers compute with. This folder knows no layer; it sits
//! beside `core` (it needs only the scalar trait) and everything above may use it.
//!
//! - `small`: products of single samples and `Const<K>` batches (and `Dyn` batches too small
//!   for the gemm crates): never allocate, vectorised over contiguous rows.
//! - [`gemm`](fn@gemm): products of `Dyn` batches through the gemm crates (kernels chosen at
//!   run time, threads through [`set_threads`]), and a bounds-checked loop for the rest.
//! - [`exp_f32`]: a branch-free, vectorisable `e^x` for the `f32` activations.
//!
//! Why the gemm crates rather than nalgebra's `matrixmultiply`: its kernels stop at AVX2; see
//! `docs/design.md` §5 and `docs/performance.md` for the measurements.

mod exp;
mod gemm;
mod small;
mod threads;

pub(crate) use exp::exp;
pub use exp::exp_f32;
pub use gemm::{gemm, gemm_tr};
pub(crate) use gemm::{is_large, transposed};
pub(crate) use small::{add_outer, add_product, dot, opaque, transposed_product};
pub use threads::{available_cores, set_threads, threads};
