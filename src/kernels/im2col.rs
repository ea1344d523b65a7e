//! Convolutions of `Dyn` batches as matrix products (with `std`): the batch's windows copied
//! into the columns of one matrix (im2col), then one product of the gemm crates (their
//! kernels chosen at run time, their threads through [`set_threads`](super::set_threads)) for
//! the forward pass, one for the weights' gradient and one for the input's, whose columns are
//! added back into the images (col2im).
//!
//! The windows matrix `X` has one row per output place of every image, `(image, y, x)`, and
//! one column per tap `(c, ky, kx)`, stored column by column: a column is a tap's input
//! plane, shifted, for every image in turn, so it is filled by contiguous copies. With `w` the
//! `cout x taps` kernel and `S = X wᵀ` (`places x cout`), the output of channel `o` is column
//! `o` of `S` cut back into images; the weights' gradient is `Xᵀ dS`, the windows' gradient
//! `dS w`.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::any::Any;
use core::cell::RefCell;

use nalgebra::{Dyn, MatrixView, MatrixViewMut};

use super::conv::Window;
use crate::core::Float;

std::thread_local! {
    /// Each thread's [`Scratch`], kept from call to call: a batch's windows matrix is
    /// megabytes (LeNet's first layer, 100 images: 5.8 MB), and a fresh one each call would be
    /// pages faulted in and zeroed, every step.
    static SCRATCH: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// The buffers of one call: the windows matrix (or its gradient) and the product `S` (or its
/// gradient).
struct Scratch<T> {
    cols: Vec<T>,
    s: Vec<T>,
}

/// Runs `f` with this thread's scratch buffers of scalar `T`, resized to `cols` and `s`
/// values (their contents are whatever a previous call left: `f` must write before it reads).
fn with_scratch<T: Float, R>(cols: usize, s: usize, f: impl FnOnce(&mut [T], &mut [T]) -> R) -> R {
    let kept = SCRATCH.with(|cell| cell.borrow_mut().take());
    let mut scratch = kept
        .and_then(|b| b.downcast::<Scratch<T>>().ok())
        .unwrap_or_else(|| {
            Box::new(Scratch {
                cols: Vec::new(),
                s: Vec::new(),
            })
        });
    scratch.cols.resize(cols, T::zero());
    scratch.s.resize(s, T::zero());
    let Scratch { cols, s } = &mut *scratch;
    let result = f(cols, s);
    SCRATCH.with(|cell| *cell.borrow_mut() = Some(scratch));
    result
}

/// `dst ← src` for a short run (a row of an image), without a call to `memcpy`: eight values
/// at a time, then one by one.
#[inline(always)]
fn copy_row<T: Float>(dst: &mut [T], src: &[T]) {
    let (mut d, mut s) = (dst.chunks_exact_mut(8), src.chunks_exact(8));
    for (d, s) in (&mut d).zip(&mut s) {
        let block: [T; 8] = s.try_into().expect("eight values");
        d.copy_from_slice(&block);
    }
    for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = s;
    }
}

/// Whether a batch of `n` images is worth the windows matrix and the gemm crates: each of its
/// products must be large enough for them ([`is_large`](super::is_large)).
pub(crate) fn worth_it(g: &Window, cin: usize, cout: usize, n: usize) -> bool {
    let taps = cin * g.k * g.k;
    super::is_large(n * g.plane_out(), taps, cout) && super::is_large(taps, n * g.plane_out(), cout)
}

/// `X`, the windows matrix of `input` (`n` images of `cin` planes), into `cols`
/// (`n · plane_out` rows by `cin · k · k` columns, column-major); the padding reads as zeros.
fn im2col<T: Float>(g: &Window, cin: usize, input: &[T], cols: &mut [T]) {
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.plane_out(), g.k);
    let vol_in = cin * plane_in;
    let places = input.len() / vol_in * plane_out;
    for (tap, column) in cols.chunks_exact_mut(places).enumerate() {
        let (c, ky, kx) = (tap / (k * k), tap / k % k, tap % k);
        let xs = g.cols_for(kx);
        let ys = g.rows_for(ky);
        for (image, dst) in input
            .chunks_exact(vol_in)
            .zip(column.chunks_exact_mut(plane_out))
        {
            let in_plane = &image[c * plane_in..][..plane_in];
            if g.s == 1 && g.p == 0 {
                // every window inside the image: one row of the plane, shifted, per output row
                let rows = in_plane[(ky * g.cols + kx)..].chunks(g.cols);
                for (dst_row, in_row) in dst.chunks_exact_mut(g.out_cols).zip(rows) {
                    copy_row(dst_row, &in_row[..g.out_cols]);
                }
                continue;
            }
            for (y, dst_row) in dst.chunks_exact_mut(g.out_cols).enumerate() {
                if !ys.contains(&y) || xs.is_empty() {
                    dst_row.fill(T::zero());
                    continue;
                }
                let in_row = &in_plane[g.input_of(y, ky) * g.cols..][..g.cols];
                dst_row[..xs.start].fill(T::zero());
                dst_row[xs.end..].fill(T::zero());
                if g.s == 1 {
                    let start = xs.start + kx - g.p;
                    copy_row(&mut dst_row[xs.clone()], &in_row[start..start + xs.len()]);
                } else {
                    for x in xs.clone() {
                        dst_row[x] = in_row[g.input_of(x, kx)];
                    }
                }
            }
        }
    }
}

/// The transpose of [`im2col`]: adds each window's values of `cols` back into the places of
/// `d_in` they were copied from.
fn col2im<T: Float>(g: &Window, cin: usize, cols: &[T], d_in: &mut [T]) {
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.plane_out(), g.k);
    let vol_in = cin * plane_in;
    let places = d_in.len() / vol_in * plane_out;
    for (tap, column) in cols.chunks_exact(places).enumerate() {
        let (c, ky, kx) = (tap / (k * k), tap / k % k, tap % k);
        let xs = g.cols_for(kx);
        if xs.is_empty() {
            continue;
        }
        for (image, src) in d_in
            .chunks_exact_mut(vol_in)
            .zip(column.chunks_exact(plane_out))
        {
            let in_plane = &mut image[c * plane_in..][..plane_in];
            for y in g.rows_for(ky) {
                let src_row = &src[y * g.out_cols..][..g.out_cols];
                let in_row = &mut in_plane[g.input_of(y, ky) * g.cols..][..g.cols];
                if g.s == 1 {
                    let start = xs.start + kx - g.p;
                    for (d, &v) in in_row[start..start + xs.len()]
                        .iter_mut()
                        .zip(&src_row[xs.clone()])
                    {
                        *d += v;
                    }
                } else {
                    for x in xs.clone() {
                        in_row[g.input_of(x, kx)] += src_row[x];
                    }
                }
            }
        }
    }
}

/// `wᵀ` (`taps x cout`) as a view of the kernel's column-major `cout x taps` storage.
fn kernel_transposed<T: Float>(w: &[T], cout: usize) -> MatrixView<'_, T, Dyn, Dyn, Dyn, Dyn> {
    MatrixView::from_slice_with_strides_generic(
        w,
        Dyn(w.len() / cout),
        Dyn(cout),
        Dyn(cout),
        Dyn(1),
    )
}

/// The values of a windows matrix that one call works on: a batch is cut into chunks of whole
/// images, each chunk's matrix at most this large (or one image), so that it stays in a core's
/// L2 cache between being written and being read by the product (LeNet's first layer: 6
/// images at a time, 384 KB in `f32`). A whole batch's matrix (5.8 MB for 100 images) went
/// through memory twice, and copying it took as long as the product.
const CHUNK_VALUES: usize = 96 * 1024;

/// The images of a chunk (see [`CHUNK_VALUES`]) for windows of `taps` taps.
fn chunk_images(g: &Window, taps: usize) -> usize {
    (CHUNK_VALUES / (g.plane_out() * taps).max(1)).max(1)
}

/// The forward pass of a batch ([`conv::forward`](super::conv::forward)): `out ← X wᵀ + b`,
/// cut back into images, a chunk of images at a time.
pub(crate) fn forward<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    b: &[T],
    input: &[T],
    out: &mut [T],
) {
    let taps = w.len() / cout;
    let (vol_in, vol_out) = (g.volume_in(taps / (g.k * g.k)), cout * g.plane_out());
    let n = chunk_images(g, taps);
    for (x, y) in input.chunks(n * vol_in).zip(out.chunks_mut(n * vol_out)) {
        forward_chunk(g, cout, w, b, x, y);
    }
}

/// The backward pass of a batch ([`conv::backward`](super::conv::backward)), a chunk of images
/// at a time.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    input: &[T],
    d_out: &[T],
    dw: &mut [T],
    db: &mut [T],
    d_in: Option<&mut [T]>,
) {
    let taps = w.len() / cout;
    let (vol_in, vol_out) = (g.volume_in(taps / (g.k * g.k)), cout * g.plane_out());
    let n = chunk_images(g, taps);
    let chunks = input.chunks(n * vol_in).zip(d_out.chunks(n * vol_out));
    match d_in {
        Some(d_in) => {
            for ((x, d), d_x) in chunks.zip(d_in.chunks_mut(n * vol_in)) {
                backward_chunk(g, cout, w, x, d, dw, db, Some(d_x));
            }
        }
        None => {
            for (x, d) in chunks {
                backward_chunk(g, cout, w, x, d, dw, db, None);
            }
        }
    }
}

/// [`forward`] of one chunk.
fn forward_chunk<T: Float>(g: &Window, cout: usize, w: &[T], b: &[T], input: &[T], out: &mut [T]) {
    let taps = w.len() / cout;
    let cin = taps / (g.k * g.k);
    let plane_out = g.plane_out();
    let places = input.len() / g.volume_in(cin) * plane_out;
    with_scratch(
        places * taps,
        places * cout,
        |cols: &mut [T], s: &mut [T]| {
            im2col(g, cin, input, cols);
            {
                let x = MatrixView::from_slice_generic(&*cols, Dyn(places), Dyn(taps));
                let mut sm = MatrixViewMut::from_slice_generic(&mut *s, Dyn(places), Dyn(cout));
                super::gemm(
                    &mut sm,
                    T::one(),
                    &x,
                    &kernel_transposed(w, cout),
                    T::zero(),
                );
            }
            // column o of S, image by image, is output plane o of each image
            for (o, (column, &bias)) in s.chunks_exact(places).zip(b).enumerate() {
                for (image, src) in out
                    .chunks_exact_mut(cout * plane_out)
                    .zip(column.chunks_exact(plane_out))
                {
                    for (d, &v) in image[o * plane_out..][..plane_out].iter_mut().zip(src) {
                        *d = v + bias;
                    }
                }
            }
        },
    );
}

/// [`backward`] of one chunk: `dS` gathered from `d_out`, `dw += (Xᵀ dS)ᵀ`, `db += Σ dS`, and,
/// if asked, `d_in += col2im(dS w)`.
#[allow(clippy::too_many_arguments)]
fn backward_chunk<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    input: &[T],
    d_out: &[T],
    dw: &mut [T],
    db: &mut [T],
    d_in: Option<&mut [T]>,
) {
    let taps = w.len() / cout;
    let cin = taps / (g.k * g.k);
    let plane_out = g.plane_out();
    let places = input.len() / g.volume_in(cin) * plane_out;
    with_scratch(
        places * taps,
        places * cout,
        |cols: &mut [T], ds: &mut [T]| {
            // dS: column o is output channel o's gradient, image after image
            for (o, column) in ds.chunks_exact_mut(places).enumerate() {
                for (image, dst) in d_out
                    .chunks_exact(cout * plane_out)
                    .zip(column.chunks_exact_mut(plane_out))
                {
                    dst.copy_from_slice(&image[o * plane_out..][..plane_out]);
                }
            }
            for (b, column) in db.iter_mut().zip(ds.chunks_exact(places)) {
                *b += column.iter().fold(T::zero(), |a, &v| a + v);
            }
            im2col(g, cin, input, cols);
            let dsm = MatrixView::from_slice_generic(&*ds, Dyn(places), Dyn(cout));
            {
                // dwᵀ (taps x cout) += Xᵀ dS
                let xt = MatrixView::from_slice_with_strides_generic(
                    &*cols,
                    Dyn(taps),
                    Dyn(places),
                    Dyn(places),
                    Dyn(1),
                );
                let mut dwt = MatrixViewMut::from_slice_with_strides_generic(
                    dw,
                    Dyn(taps),
                    Dyn(cout),
                    Dyn(cout),
                    Dyn(1),
                );
                super::gemm(&mut dwt, T::one(), &xt, &dsm, T::one());
            }
            if let Some(d_in) = d_in {
                // the windows' gradient, dX = dS w, into the windows matrix's buffer
                {
                    let wm = MatrixView::from_slice_generic(w, Dyn(cout), Dyn(taps));
                    let mut dx =
                        MatrixViewMut::from_slice_generic(&mut *cols, Dyn(places), Dyn(taps));
                    super::gemm(&mut dx, T::one(), &dsm, &wm, T::zero());
                }
                col2im(g, cin, cols, d_in);
            }
        },
    );
}
