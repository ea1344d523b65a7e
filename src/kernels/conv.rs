//! Two-dimensional windows over images stored channel by channel, row by row (CHW): the
//! arithmetic of convolution and pooling, for one image at a time, with no scratch memory.
//!
//! Sizes are run-time values here; the layers pass their compile-time sizes, and the compiler
//! folds them in.

use core::ops::Range;

use crate::core::Float;

/// The sizes of a window sliding over an image: `channels` planes of `rows x cols` in,
/// `out_rows x out_cols` out, a square window of `k` with stride `s` and zero padding `p`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    /// Rows of the input.
    pub rows: usize,
    /// Columns of the input.
    pub cols: usize,
    /// Rows of the output: `(rows + 2p − k) / s + 1`.
    pub out_rows: usize,
    /// Columns of the output.
    pub out_cols: usize,
    /// The window's side.
    pub k: usize,
    /// The stride.
    pub s: usize,
    /// The zero padding on each side.
    pub p: usize,
}

impl Window {
    /// The output positions `i` along a side of `n` inputs (`n_out` outputs) whose input
    /// `i s + offset − p` lies inside the image, for a window offset `offset`.
    #[inline(always)]
    fn valid(&self, offset: usize, n: usize, n_out: usize) -> Range<usize> {
        let (s, p) = (self.s, self.p);
        let lo = if p > offset {
            (p - offset).div_ceil(s)
        } else {
            0
        };
        if n + p <= offset {
            return 0..0;
        }
        let hi = ((n - 1 + p - offset) / s + 1).min(n_out);
        lo..hi.max(lo)
    }

    /// Valid output rows for a window row `ky`.
    #[inline(always)]
    pub fn rows_for(&self, ky: usize) -> Range<usize> {
        self.valid(ky, self.rows, self.out_rows)
    }

    /// Valid output columns for a window column `kx`.
    #[inline(always)]
    pub fn cols_for(&self, kx: usize) -> Range<usize> {
        self.valid(kx, self.cols, self.out_cols)
    }

    /// The input row or column of output position `i` at window offset `offset` (valid
    /// positions only).
    #[inline(always)]
    pub fn input_of(&self, i: usize, offset: usize) -> usize {
        i * self.s + offset - self.p
    }
}

/// `out[o] += Σ_c Σ_ky Σ_kx w[o, c, ky, kx] · in[c][y s + ky − p][x s + kx − p]` for one
/// image, `out` holding `cout` planes of the output (already holding the bias), `input` `cin`
/// planes. `w` is `cout x (cin · k · k)`, column-major: `w[o + cout · ((c k + ky) k + kx)]`.
pub(crate) fn conv_forward<T: Float>(g: &Window, cout: usize, w: &[T], input: &[T], out: &mut [T]) {
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.out_rows * g.out_cols, g.k);
    let cin = input.len() / plane_in;
    for (o, out_plane) in out.chunks_exact_mut(plane_out).enumerate() {
        for c in 0..cin {
            let in_plane = &input[c * plane_in..][..plane_in];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = w[o + cout * ((c * k + ky) * k + kx)];
                    let xs = g.cols_for(kx);
                    for y in g.rows_for(ky) {
                        let in_row = &in_plane[g.input_of(y, ky) * g.cols..][..g.cols];
                        let out_row = &mut out_plane[y * g.out_cols..][..g.out_cols];
                        axpy_window(g, wv, in_row, out_row, xs.clone(), kx);
                    }
                }
            }
        }
    }
}

/// `out_row[x] += a · in_row[x s + kx − p]` for `x` in `xs`.
#[inline(always)]
fn axpy_window<T: Float>(
    g: &Window,
    a: T,
    in_row: &[T],
    out_row: &mut [T],
    xs: Range<usize>,
    kx: usize,
) {
    if xs.is_empty() {
        return;
    }
    if g.s == 1 {
        let start = xs.start + kx - g.p;
        let src = &in_row[start..start + xs.len()];
        for (o, &i) in out_row[xs].iter_mut().zip(src) {
            *o = a.mul_add(i, *o);
        }
    } else {
        for x in xs {
            out_row[x] = a.mul_add(in_row[g.input_of(x, kx)], out_row[x]);
        }
    }
}

/// The transpose of [`conv_forward`] in the input: `d_in[c][iy][ix] += Σ w[o, c, ky, kx] ·
/// d_out[o][y][x]` over the outputs that read `(iy, ix)`.
pub(crate) fn conv_backward_input<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    d_out: &[T],
    d_in: &mut [T],
) {
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.out_rows * g.out_cols, g.k);
    for (c, in_plane) in d_in.chunks_exact_mut(plane_in).enumerate() {
        for o in 0..cout {
            let out_plane = &d_out[o * plane_out..][..plane_out];
            for ky in 0..k {
                for kx in 0..k {
                    let wv = w[o + cout * ((c * k + ky) * k + kx)];
                    let xs = g.cols_for(kx);
                    if xs.is_empty() {
                        continue;
                    }
                    for y in g.rows_for(ky) {
                        let in_row = &mut in_plane[g.input_of(y, ky) * g.cols..][..g.cols];
                        let out_row = &out_plane[y * g.out_cols..][..g.out_cols];
                        if g.s == 1 {
                            let start = xs.start + kx - g.p;
                            let dst = &mut in_row[start..start + xs.len()];
                            for (i, &d) in dst.iter_mut().zip(&out_row[xs.clone()]) {
                                *i = wv.mul_add(d, *i);
                            }
                        } else {
                            for x in xs.clone() {
                                let i = g.input_of(x, kx);
                                in_row[i] = wv.mul_add(out_row[x], in_row[i]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `dw[o, c, ky, kx] += Σ_y Σ_x d_out[o][y][x] · in[c][y s + ky − p][x s + kx − p]` and
/// `db[o] += Σ d_out[o]`, for one image.
pub(crate) fn conv_backward_params<T: Float>(
    g: &Window,
    cout: usize,
    input: &[T],
    d_out: &[T],
    dw: &mut [T],
    db: &mut [T],
) {
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.out_rows * g.out_cols, g.k);
    let cin = input.len() / plane_in;
    for (o, out_plane) in d_out.chunks_exact(plane_out).enumerate() {
        db[o] += out_plane.iter().fold(T::zero(), |a, &d| a + d);
        for c in 0..cin {
            let in_plane = &input[c * plane_in..][..plane_in];
            for ky in 0..k {
                for kx in 0..k {
                    let xs = g.cols_for(kx);
                    let mut sum = T::zero();
                    if !xs.is_empty() {
                        for y in g.rows_for(ky) {
                            let in_row = &in_plane[g.input_of(y, ky) * g.cols..][..g.cols];
                            let out_row = &out_plane[y * g.out_cols..][..g.out_cols];
                            if g.s == 1 {
                                let start = xs.start + kx - g.p;
                                let src = &in_row[start..start + xs.len()];
                                sum += super::small::dot(&out_row[xs.clone()], src);
                            } else {
                                for x in xs.clone() {
                                    sum = out_row[x].mul_add(in_row[g.input_of(x, kx)], sum);
                                }
                            }
                        }
                    }
                    dw[o + cout * ((c * k + ky) * k + kx)] += sum;
                }
            }
        }
    }
}

/// The place in `plane` (`g.rows x g.cols`) of the largest value of output `(y, x)`'s window:
/// the first one in row-major order among equals, and the first NaN if there is one (as
/// PyTorch's `max_pool2d` on the CPU).
#[inline(always)]
pub(crate) fn window_argmax<T: Float>(g: &Window, plane: &[T], y: usize, x: usize) -> usize {
    let mut best = g.input_of(y, 0) * g.cols + g.input_of(x, 0);
    let mut max = plane[best];
    if max.is_nan() {
        return best;
    }
    for ky in 0..g.k {
        let row = g.input_of(y, ky) * g.cols;
        for kx in 0..g.k {
            let at = row + g.input_of(x, kx);
            let v = plane[at];
            if v > max || v.is_nan() {
                best = at;
                max = v;
                if v.is_nan() {
                    return best;
                }
            }
        }
    }
    best
}

/// The sum of output `(y, x)`'s window in `plane`.
#[inline(always)]
pub(crate) fn window_sum<T: Float>(g: &Window, plane: &[T], y: usize, x: usize) -> T {
    let mut sum = T::zero();
    for ky in 0..g.k {
        let row = &plane[g.input_of(y, ky) * g.cols..][..g.cols];
        let start = g.input_of(x, 0);
        sum += row[start..start + g.k]
            .iter()
            .fold(T::zero(), |a, &v| a + v);
    }
    sum
}

/// Calls `f(input_plane, output_plane, y, x)` for every output place of every plane of a batch
/// of planes (`input` holds `n` planes of `g.rows x g.cols`, `output` `n` of
/// `g.out_rows x g.out_cols`).
#[inline(always)]
pub(crate) fn for_each_window<T, U>(
    g: &Window,
    input: &[T],
    output: &mut [U],
    mut f: impl FnMut(&[T], &mut U, usize, usize),
) {
    let (plane_in, plane_out) = (g.rows * g.cols, g.out_rows * g.out_cols);
    for (pi, po) in input
        .chunks_exact(plane_in)
        .zip(output.chunks_exact_mut(plane_out))
    {
        for (y, row) in po.chunks_exact_mut(g.out_cols).enumerate() {
            for (x, out) in row.iter_mut().enumerate() {
                f(pi, out, y, x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(rows: usize, cols: usize, k: usize, s: usize, p: usize) -> Window {
        Window {
            rows,
            cols,
            out_rows: (rows + 2 * p - k) / s + 1,
            out_cols: (cols + 2 * p - k) / s + 1,
            k,
            s,
            p,
        }
    }

    /// The definition, position by position, with the padding as explicit zeros.
    fn naive(g: &Window, cout: usize, w: &[f64], input: &[f64]) -> Vec<f64> {
        let cin = input.len() / (g.rows * g.cols);
        let mut out = vec![0.0; cout * g.out_rows * g.out_cols];
        for o in 0..cout {
            for y in 0..g.out_rows {
                for x in 0..g.out_cols {
                    let mut sum = 0.0;
                    for c in 0..cin {
                        for ky in 0..g.k {
                            for kx in 0..g.k {
                                let (iy, ix) = (
                                    (y * g.s + ky) as isize - g.p as isize,
                                    (x * g.s + kx) as isize - g.p as isize,
                                );
                                if iy >= 0
                                    && ix >= 0
                                    && (iy as usize) < g.rows
                                    && (ix as usize) < g.cols
                                {
                                    sum += w[o + cout * ((c * g.k + ky) * g.k + kx)]
                                        * input[(c * g.rows + iy as usize) * g.cols + ix as usize];
                                }
                            }
                        }
                    }
                    out[(o * g.out_rows + y) * g.out_cols + x] = sum;
                }
            }
        }
        out
    }

    #[test]
    fn direct_convolution_is_the_definition_for_strides_and_paddings() {
        for (rows, cols, k, s, p) in [
            (5, 7, 3, 1, 0),
            (6, 5, 3, 2, 1),
            (4, 4, 5, 1, 2),
            (7, 6, 2, 3, 1),
            (3, 3, 3, 1, 1),
        ] {
            let g = window(rows, cols, k, s, p);
            let (cin, cout) = (2, 3);
            let input: Vec<f64> = (0..cin * rows * cols)
                .map(|i| ((i * 7919) % 23) as f64 - 11.0)
                .collect();
            let w: Vec<f64> = (0..cout * cin * k * k)
                .map(|i| ((i * 104_729) % 17) as f64 - 8.0)
                .collect();
            let mut out = vec![0.0; cout * g.out_rows * g.out_cols];
            conv_forward(&g, cout, &w, &input, &mut out);
            assert_eq!(
                out,
                naive(&g, cout, &w, &input),
                "{rows}x{cols} k{k} s{s} p{p}"
            );
        }
    }
}
