//! Two-dimensional windows over images stored channel by channel, row by row (CHW): the
//! arithmetic of convolution and pooling, for one image at a time, with no scratch memory.
//!
//! Sizes are run-time values here; the layers pass their compile-time sizes, and the compiler
//! folds them in.

use core::ops::Range;

use super::dispatch::dispatch;
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

    /// The input row or column of output position `i` at window offset `offset` along a side
    /// of `n`, or `None` where it falls in the padding.
    #[inline(always)]
    pub fn input_at(&self, i: usize, offset: usize, n: usize) -> Option<usize> {
        (i * self.s + offset)
            .checked_sub(self.p)
            .filter(|&at| at < n)
    }

    /// The output positions along a side of `n` inputs (`n_out` outputs) whose whole window
    /// lies inside the image: every output without padding.
    #[inline(always)]
    pub fn inner(&self, n: usize, n_out: usize) -> Range<usize> {
        let (first, last) = (self.valid(0, n, n_out), self.valid(self.k - 1, n, n_out));
        first.start..last.end.max(first.start)
    }

    /// The values of one output plane.
    #[inline(always)]
    pub fn plane_out(&self) -> usize {
        self.out_rows * self.out_cols
    }

    /// The values of one input image of `channels` channels.
    #[inline(always)]
    pub fn volume_in(&self, channels: usize) -> usize {
        channels * self.rows * self.cols
    }
}

/// `out ← conv(input) + b` for `n` images (`input.len() / (cin · rows · cols)` of them):
/// `out` holds `cout` planes of the output per image, `w` is `cout x (cin · k · k)`
/// column-major (`w[o + cout · ((c k + ky) k + kx)]`).
///
/// `dynamic` says the batch is a run-time number of images (`Dyn`): then, with `std`, a batch
/// large enough goes through im2col and one product of the gemm crates
/// ([`im2col`](super::im2col)); every other batch (single images, `Const<K>`, no `std`) runs
/// the direct kernel image by image, with no scratch memory.
pub(crate) fn forward<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    b: &[T],
    input: &[T],
    out: &mut [T],
    dynamic: bool,
) {
    let cin = w.len() / cout / (g.k * g.k);
    let (vol_in, plane_out) = (g.volume_in(cin), g.plane_out());
    #[cfg(feature = "std")]
    if dynamic && super::im2col::worth_it(g, cin, cout, input.len() / vol_in.max(1)) {
        super::im2col::forward(g, cout, w, b, input, out);
        return;
    }
    let _ = dynamic;
    for (xi, yi) in input
        .chunks_exact(vol_in)
        .zip(out.chunks_exact_mut(cout * plane_out))
    {
        for (plane, &bias) in yi.chunks_exact_mut(plane_out).zip(b) {
            plane.fill(bias);
        }
        conv_forward(g, cout, w, xi, yi);
    }
}

/// The backward pass of [`forward`] for `n` images: adds dL/dw into `dw`, dL/db into `db`, and,
/// if asked, dL/dinput into `d_in` (which the caller has zeroed). The same choice of path as
/// [`forward`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    input: &[T],
    d_out: &[T],
    dw: &mut [T],
    db: &mut [T],
    mut d_in: Option<&mut [T]>,
    dynamic: bool,
) {
    let cin = w.len() / cout / (g.k * g.k);
    let (vol_in, vol_out) = (g.volume_in(cin), cout * g.plane_out());
    #[cfg(feature = "std")]
    if dynamic && super::im2col::worth_it(g, cin, cout, input.len() / vol_in.max(1)) {
        super::im2col::backward(g, cout, w, input, d_out, dw, db, d_in);
        return;
    }
    let _ = dynamic;
    for (i, (xi, di)) in input
        .chunks_exact(vol_in)
        .zip(d_out.chunks_exact(vol_out))
        .enumerate()
    {
        conv_backward_params(g, cout, xi, di, dw, db);
        if let Some(d_in) = d_in.as_deref_mut() {
            conv_backward_input(g, cout, w, di, &mut d_in[i * vol_in..][..vol_in]);
        }
    }
}

/// `out[o] += Σ_c Σ_ky Σ_kx w[o, c, ky, kx] · in[c][y s + ky − p][x s + kx − p]` for one
/// image, `out` holding `cout` planes of the output (already holding the bias), `input` `cin`
/// planes. `w` is `cout x (cin · k · k)`, column-major: `w[o + cout · ((c k + ky) k + kx)]`.
///
/// The outputs whose window lies inside the image (all of them without padding) are computed
/// in tiles of eight adjacent outputs of a row by up to eight output channels, held in
/// registers while the window's taps are added: each input value loaded is used for every
/// channel of the tile, each weight for eight outputs. The few outputs whose window reaches
/// into the padding are summed one by one. Run in the best instruction set the CPU has
/// ([`dispatch`](super::dispatch)); every level adds in the same order (no fused multiply-add),
/// so every level gives the same bits.
pub(crate) fn conv_forward<T: Float>(g: &Window, cout: usize, w: &[T], input: &[T], out: &mut [T]) {
    dispatch!(
        out.len() * w.len() / cout.max(1),
        conv_forward_body(g, cout, w, input, out)
    );
}

/// [`conv_forward`] at the given level.
#[cfg(test)]
pub(crate) fn conv_forward_at<T: Float>(
    level: super::SimdLevel,
    g: &Window,
    cout: usize,
    w: &[T],
    input: &[T],
    out: &mut [T],
) {
    super::dispatch::run_at(
        level,
        #[inline(always)]
        || conv_forward_body(g, cout, w, input, out),
    );
}

/// The columns of a tile of [`conv_forward`].
const LANES: usize = 8;

#[inline(always)]
fn conv_forward_body<T: Float>(g: &Window, cout: usize, w: &[T], input: &[T], out: &mut [T]) {
    let inner_rows = g.inner(g.rows, g.out_rows);
    let inner_cols = g.inner(g.cols, g.out_cols);
    if g.s == 1 {
        forward_tiles(
            g,
            cout,
            w,
            input,
            out,
            inner_rows.clone(),
            inner_cols.clone(),
            1,
        );
    } else {
        forward_tiles(
            g,
            cout,
            w,
            input,
            out,
            inner_rows.clone(),
            inner_cols.clone(),
            g.s,
        );
    }
    // the outputs whose window reaches into the padding
    if inner_rows.len() == g.out_rows && inner_cols.len() == g.out_cols {
        return;
    }
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.plane_out(), g.k);
    for y in 0..g.out_rows {
        for x in 0..g.out_cols {
            if inner_rows.contains(&y) && inner_cols.contains(&x) {
                continue;
            }
            for (c, in_plane) in input.chunks_exact(plane_in).enumerate() {
                for ky in 0..k {
                    let Some(iy) = g.input_at(y, ky, g.rows) else {
                        continue;
                    };
                    for kx in 0..k {
                        let Some(ix) = g.input_at(x, kx, g.cols) else {
                            continue;
                        };
                        let v = in_plane[iy * g.cols + ix];
                        let taps = &w[cout * ((c * k + ky) * k + kx)..][..cout];
                        for (o, &wv) in taps.iter().enumerate() {
                            out[o * plane_out + y * g.out_cols + x] += wv * v;
                        }
                    }
                }
            }
        }
    }
}

/// The inner outputs `rows x cols` of [`conv_forward`], in tiles of [`LANES`] columns (then
/// single columns) by 8, 6, 4, 2 and 1 output channels. `step` is the stride (a constant 1 where
/// the caller can say so, for contiguous loads).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward_tiles<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    input: &[T],
    out: &mut [T],
    rows: Range<usize>,
    cols: Range<usize>,
    step: usize,
) {
    for y in rows {
        let mut x = cols.start;
        while x + LANES <= cols.end {
            forward_channels::<T, LANES>(g, cout, w, input, out, y, x, step);
            x += LANES;
        }
        while x < cols.end {
            forward_channels::<T, 1>(g, cout, w, input, out, y, x, step);
            x += 1;
        }
    }
}

/// The tiles of `L` columns at output `(y, x0)` for every output channel.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn forward_channels<T: Float, const L: usize>(
    g: &Window,
    cout: usize,
    w: &[T],
    input: &[T],
    out: &mut [T],
    y: usize,
    x0: usize,
    step: usize,
) {
    let mut o = 0;
    while o + 8 <= cout {
        forward_tile::<T, 8, L>(g, cout, w, input, out, o, y, x0, step);
        o += 8;
    }
    // six chains of additions keep the adders busy where four would not (LeNet's first
    // layer has six channels)
    if o + 6 <= cout {
        forward_tile::<T, 6, L>(g, cout, w, input, out, o, y, x0, step);
        o += 6;
    }
    if o + 4 <= cout {
        forward_tile::<T, 4, L>(g, cout, w, input, out, o, y, x0, step);
        o += 4;
    }
    if o + 2 <= cout {
        forward_tile::<T, 2, L>(g, cout, w, input, out, o, y, x0, step);
        o += 2;
    }
    if o < cout {
        forward_tile::<T, 1, L>(g, cout, w, input, out, o, y, x0, step);
    }
}

/// Output channels `o0 .. o0 + OB` at output row `y`, columns `x0 .. x0 + L` (all inner:
/// every tap inside the image), summed in registers over the input channels and taps, then
/// added to `out`.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline(always)]
fn forward_tile<T: Float, const OB: usize, const L: usize>(
    g: &Window,
    cout: usize,
    w: &[T],
    input: &[T],
    out: &mut [T],
    o0: usize,
    y: usize,
    x0: usize,
    step: usize,
) {
    let (plane_in, k) = (g.rows * g.cols, g.k);
    let (iy0, ix0) = (y * g.s - g.p, x0 * step - g.p);
    // the inputs of one tap for the tile's L columns: `(L − 1) step + 1` values
    let reach = (L - 1) * step + 1;
    let mut acc = [[T::zero(); L]; OB];
    let mut taps = w.chunks_exact(cout);
    for in_plane in input.chunks_exact(plane_in) {
        for ky in 0..k {
            let row = &in_plane[(iy0 + ky) * g.cols + ix0..][..reach + k - 1];
            for kx in 0..k {
                let tap = taps.next().expect("a weight for every tap");
                let wt: [T; OB] = tap[o0..o0 + OB].try_into().expect("OB weights");
                let seg = &row[kx..kx + reach];
                let v: [T; L] = core::array::from_fn(|l| seg[l * step]);
                for o in 0..OB {
                    for l in 0..L {
                        acc[o][l] += wt[o] * v[l];
                    }
                }
            }
        }
    }
    let plane_out = g.plane_out();
    for (o, acc) in acc.iter().enumerate() {
        let row = &mut out[(o0 + o) * plane_out + y * g.out_cols + x0..][..L];
        for (r, &a) in row.iter_mut().zip(acc) {
            *r += a;
        }
    }
}

/// The transpose of [`conv_forward`] in the input: `d_in[c][iy][ix] += Σ w[o, c, ky, kx] ·
/// d_out[o][y][x]` over the outputs that read `(iy, ix)`, one image.
pub(crate) fn conv_backward_input<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    d_out: &[T],
    d_in: &mut [T],
) {
    dispatch!(
        d_out.len() * w.len() / cout.max(1),
        conv_backward_input_body(g, cout, w, d_out, d_in)
    );
}

#[inline(always)]
fn conv_backward_input_body<T: Float>(
    g: &Window,
    cout: usize,
    w: &[T],
    d_out: &[T],
    d_in: &mut [T],
) {
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.plane_out(), g.k);
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
                                *i += wv * d;
                            }
                        } else {
                            for x in xs.clone() {
                                in_row[g.input_of(x, kx)] += wv * out_row[x];
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
    dispatch!(
        d_out.len() * dw.len() / cout.max(1),
        conv_backward_params_body(g, cout, input, d_out, dw, db)
    );
}

#[inline(always)]
fn conv_backward_params_body<T: Float>(
    g: &Window,
    cout: usize,
    input: &[T],
    d_out: &[T],
    dw: &mut [T],
    db: &mut [T],
) {
    let (plane_in, plane_out, k) = (g.rows * g.cols, g.plane_out(), g.k);
    for (o, out_plane) in d_out.chunks_exact(plane_out).enumerate() {
        db[o] += out_plane.iter().fold(T::zero(), |a, &d| a + d);
        for (c, in_plane) in input.chunks_exact(plane_in).enumerate() {
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
                                    sum += out_row[x] * in_row[g.input_of(x, kx)];
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

/// Max pooling of `input` (planes of `g.rows x g.cols`) into `out` (planes of
/// `g.out_rows x g.out_cols`): each output the largest value of its window, the first NaN if
/// there is one (so ties and NaNs resolve as PyTorch's `max_pool2d` on the CPU), computed a row of outputs at a time so that it
/// vectorises.
pub(crate) fn max_pool<T: Float>(g: &Window, input: &[T], out: &mut [T]) {
    dispatch!(input.len(), max_pool_body(g, input, out));
}

/// The maximum of `m` and `v` by the pools' rule: a NaN, once there, stays; a NaN replaces a
/// number; a larger number replaces a smaller one (of equal ones, `m` stays).
#[inline(always)]
fn pool_max<T: Float>(m: T, v: T) -> T {
    if pool_takes(m, v) { v } else { m }
}

/// Whether `v` replaces `m` as the pools' maximum ([`pool_max`]).
#[inline(always)]
fn pool_takes<T: Float>(m: T, v: T) -> bool {
    v > m || (v.is_nan() && !m.is_nan())
}

/// Whether the pool is the common 2 x 2 windows, side by side, which have a faster path.
#[inline(always)]
fn pairs(g: &Window) -> bool {
    g.k == 2 && g.s == 2 && g.p == 0
}

#[inline(always)]
fn max_pool_body<T: Float>(g: &Window, input: &[T], out: &mut [T]) {
    let (plane_in, plane_out, s, k) = (g.rows * g.cols, g.plane_out(), g.s, g.k);
    if pairs(g) {
        for (plane, out_plane) in input
            .chunks_exact(plane_in)
            .zip(out.chunks_exact_mut(plane_out))
        {
            for (rows, out_row) in plane
                .chunks_exact(2 * g.cols)
                .zip(out_plane.chunks_exact_mut(g.out_cols))
            {
                let (top, bottom) = rows.split_at(g.cols);
                let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
                for (o, (a, b)) in out_row.iter_mut().zip(windows) {
                    *o = pool_max(pool_max(pool_max(a[0], a[1]), b[0]), b[1]);
                }
            }
        }
        return;
    }
    for (plane, out_plane) in input
        .chunks_exact(plane_in)
        .zip(out.chunks_exact_mut(plane_out))
    {
        for (y, out_row) in out_plane.chunks_exact_mut(g.out_cols).enumerate() {
            // the window rows in order, each window's places in order: the first NaN, else
            // the first of the largest
            for ky in 0..k {
                let row = &plane[g.input_of(y, ky) * g.cols..][..g.cols];
                for (o, window) in out_row.iter_mut().zip(row.windows(k).step_by(s)) {
                    let mut m = if ky == 0 { window[0] } else { *o };
                    for &v in window {
                        if v > m || (v.is_nan() && !m.is_nan()) {
                            m = v;
                        }
                    }
                    *o = m;
                }
            }
        }
    }
}

/// The backward pass of [`max_pool`]: each output's gradient in `d_out` added to the place of
/// its window's maximum in `d_in` (the first of equal values in row-major order, the first
/// NaN if there is one).
pub(crate) fn max_pool_backward<T: Float>(g: &Window, input: &[T], d_out: &[T], d_in: &mut [T]) {
    dispatch!(input.len(), max_pool_backward_body(g, input, d_out, d_in));
}

#[inline(always)]
fn max_pool_backward_body<T: Float>(g: &Window, input: &[T], d_out: &[T], d_in: &mut [T]) {
    let (plane_in, plane_out, s, k, cols) = (g.rows * g.cols, g.plane_out(), g.s, g.k, g.cols);
    let planes = input
        .chunks_exact(plane_in)
        .zip(d_out.chunks_exact(plane_out))
        .zip(d_in.chunks_exact_mut(plane_in));
    // (a fold, not `any`: without an early exit it vectorises)
    let nan = input.iter().fold(false, |nan, v| nan | v.is_nan());
    if pairs(g) && !nan {
        // the windows do not overlap, and without NaNs the maximum is the first of the
        // largest: each place gets its output's gradient or nothing, chosen without a branch
        let n = g.out_cols;
        for ((plane, d_plane), d_in_plane) in planes {
            let rows = plane
                .chunks_exact(2 * cols)
                .zip(d_in_plane.chunks_exact_mut(2 * cols));
            for ((rows, d_rows), d_row) in rows.zip(d_plane.chunks_exact(n)) {
                let (top, bottom) = (&rows[..2 * n], &rows[cols..cols + 2 * n]);
                let (d_top, d_bottom) = d_rows.split_at_mut(cols);
                let (d_top, d_bottom) = (&mut d_top[..2 * n], &mut d_bottom[..2 * n]);
                for x in 0..n {
                    let (a0, a1, b0, b1) =
                        (top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]);
                    let c1 = a1 > a0;
                    let m0 = if c1 { a1 } else { a0 };
                    let c2 = b0 > m0;
                    let m1 = if c2 { b0 } else { m0 };
                    let c3 = b1 > m1;
                    let (d, zero) = (d_row[x], T::zero());
                    d_bottom[2 * x + 1] += if c3 { d } else { zero };
                    d_bottom[2 * x] += if c2 && !c3 { d } else { zero };
                    d_top[2 * x + 1] += if c1 && !c2 && !c3 { d } else { zero };
                    d_top[2 * x] += if !c1 && !c2 && !c3 { d } else { zero };
                }
            }
        }
        return;
    }
    for ((plane, d_plane), d_in_plane) in planes {
        for (y, d_row) in d_plane.chunks_exact(g.out_cols).enumerate() {
            let top = g.input_of(y, 0) * cols;
            for (x, &d) in d_row.iter().enumerate() {
                let left = top + x * s;
                let (mut at, mut m) = (left, plane[left]);
                for ky in 0..k {
                    let start = left + ky * cols;
                    for (kx, &v) in plane[start..start + k].iter().enumerate() {
                        if v > m || (v.is_nan() && !m.is_nan()) {
                            m = v;
                            at = start + kx;
                        }
                    }
                }
                d_in_plane[at] += d;
            }
        }
    }
}

/// The place in `plane` (`g.rows x g.cols`) of the largest value of output `(y, x)`'s window:
/// the first one in row-major order among equals, and the first NaN if there is one (as
/// PyTorch's `max_pool2d` on the CPU): the definition the pools are tested against.
#[cfg(test)]
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

    /// The backward pass by the definition: (dL/dw, dL/db, dL/dinput) of one image for the
    /// output gradient `d_out`.
    fn naive_backward(
        g: &Window,
        cout: usize,
        w: &[f64],
        input: &[f64],
        d_out: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let cin = input.len() / (g.rows * g.cols);
        let (mut dw, mut db, mut d_in) =
            (vec![0.0; w.len()], vec![0.0; cout], vec![0.0; input.len()]);
        for o in 0..cout {
            for y in 0..g.out_rows {
                for x in 0..g.out_cols {
                    let d = d_out[(o * g.out_rows + y) * g.out_cols + x];
                    db[o] += d;
                    for c in 0..cin {
                        for ky in 0..g.k {
                            for kx in 0..g.k {
                                let (Some(iy), Some(ix)) =
                                    (g.input_at(y, ky, g.rows), g.input_at(x, kx, g.cols))
                                else {
                                    continue;
                                };
                                let (wi, ii) = (
                                    o + cout * ((c * g.k + ky) * g.k + kx),
                                    (c * g.rows + iy) * g.cols + ix,
                                );
                                dw[wi] += d * input[ii];
                                d_in[ii] += d * w[wi];
                            }
                        }
                    }
                }
            }
        }
        (dw, db, d_in)
    }

    fn close(got: &[f64], expected: &[f64], what: &str) {
        assert_eq!(got.len(), expected.len(), "{what}: lengths");
        for (i, (a, b)) in got.iter().zip(expected).enumerate() {
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "{what}: value {i} is {a}, the definition gives {b}"
            );
        }
    }

    /// One random case: `n` images of `cin x rows x cols`, `cout` channels, a window of `k`,
    /// stride `s`, padding `p`; every path (the direct kernel at every level this CPU has, the
    /// batch entry points as a `Const` and as a `Dyn` batch, and the windows-matrix path
    /// itself) against the definition, forward and backward.
    #[allow(clippy::too_many_arguments)]
    fn every_path_is_the_definition(
        n: usize,
        cin: usize,
        cout: usize,
        rows: usize,
        cols: usize,
        k: usize,
        s: usize,
        p: usize,
        seed: u64,
    ) {
        use rand::{RngExt, SeedableRng, rngs::StdRng};
        let g = window(rows, cols, k, s, p);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut random =
            |len: usize| -> Vec<f64> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let (vol_in, vol_out) = (cin * rows * cols, cout * g.plane_out());
        let (w, b, input, d_out) = (
            random(cout * cin * k * k),
            random(cout),
            random(n * vol_in),
            random(n * vol_out),
        );
        let mut expected = Vec::new();
        let (mut e_dw, mut e_db, mut e_din) = (vec![0.0; w.len()], vec![0.0; cout], Vec::new());
        for (xi, di) in input.chunks(vol_in).zip(d_out.chunks(vol_out)) {
            let out = naive(&g, cout, &w, xi);
            expected.extend(
                out.chunks(g.plane_out())
                    .zip(&b)
                    .flat_map(|(plane, &bias)| plane.iter().map(move |v| v + bias)),
            );
            let (dw, db, d_in) = naive_backward(&g, cout, &w, xi, di);
            e_dw.iter_mut().zip(&dw).for_each(|(e, v)| *e += v);
            e_db.iter_mut().zip(&db).for_each(|(e, v)| *e += v);
            e_din.extend(d_in);
        }
        let case = format!("{n} x {cin}x{rows}x{cols} -> {cout}, k{k} s{s} p{p}");
        for level in crate::kernels::SimdLevel::ALL
            .into_iter()
            .filter(|l| l.is_available())
        {
            let mut out = vec![0.0; vol_out];
            for (plane, &bias) in out.chunks_mut(g.plane_out()).zip(&b) {
                plane.fill(bias);
            }
            conv_forward_at(level, &g, cout, &w, &input[..vol_in], &mut out);
            close(
                &out,
                &expected[..vol_out],
                &format!("{case}, direct at {level:?}"),
            );
        }
        for (dynamic, path) in [(false, "Const batch"), (true, "Dyn batch")] {
            let mut out = vec![f64::NAN; n * vol_out];
            forward(&g, cout, &w, &b, &input, &mut out, dynamic);
            close(&out, &expected, &format!("{case}, forward of a {path}"));
            let (mut dw, mut db, mut d_in) =
                (vec![0.0; w.len()], vec![0.0; cout], vec![0.0; n * vol_in]);
            backward(
                &g,
                cout,
                &w,
                &input,
                &d_out,
                &mut dw,
                &mut db,
                Some(&mut d_in),
                dynamic,
            );
            close(&dw, &e_dw, &format!("{case}, dw of a {path}"));
            close(&db, &e_db, &format!("{case}, db of a {path}"));
            close(&d_in, &e_din, &format!("{case}, d_in of a {path}"));
        }
        #[cfg(feature = "std")]
        {
            // the windows-matrix path whatever the size (the gemm crates take the large
            // products, the loop of `kernels::gemm` the small ones)
            let mut out = vec![f64::NAN; n * vol_out];
            crate::kernels::im2col::forward(&g, cout, &w, &b, &input, &mut out);
            close(&out, &expected, &format!("{case}, im2col forward"));
            let (mut dw, mut db, mut d_in) =
                (vec![0.0; w.len()], vec![0.0; cout], vec![0.0; n * vol_in]);
            crate::kernels::im2col::backward(
                &g,
                cout,
                &w,
                &input,
                &d_out,
                &mut dw,
                &mut db,
                Some(&mut d_in),
            );
            close(&dw, &e_dw, &format!("{case}, im2col dw"));
            close(&db, &e_db, &format!("{case}, im2col db"));
            close(&d_in, &e_din, &format!("{case}, im2col d_in"));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn every_path_computes_the_definition(
            n in 1usize..5,
            cin in 1usize..4,
            cout in 1usize..12,
            rows in 1usize..14,
            cols in 1usize..22,
            k in 1usize..6,
            s in 1usize..4,
            p in 0usize..3,
            seed in 0u64..1_000_000,
        ) {
            // the window must fit the padded image
            proptest::prop_assume!(rows + 2 * p >= k && cols + 2 * p >= k);
            every_path_is_the_definition(n, cin, cout, rows, cols, k, s, p, seed);
        }
    }

    #[test]
    fn the_lenet_layers_take_every_path_correctly() {
        // large enough for the gemm crates: 24 x 24 outputs of 6 channels, 8 x 8 of 16
        every_path_is_the_definition(3, 1, 6, 28, 28, 5, 1, 0, 1);
        every_path_is_the_definition(3, 6, 16, 12, 12, 5, 1, 0, 2);
        every_path_is_the_definition(2, 3, 9, 17, 13, 3, 2, 1, 3);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn max_pooling_is_the_first_maximum_of_each_window(
            planes in 1usize..4,
            rows in 1usize..12,
            cols in 1usize..40,
            k in 1usize..4,
            s in 1usize..4,
            seed in 0u64..1_000_000,
        ) {
            use rand::{RngExt, SeedableRng, rngs::StdRng};
            proptest::prop_assume!(rows >= k && cols >= k);
            let g = window(rows, cols, k, s, 0);
            let mut rng = StdRng::seed_from_u64(seed);
            // few distinct values: many ties; a NaN now and then
            let input: Vec<f32> = (0..planes * rows * cols)
                .map(|_| match rng.random_range(0..20) {
                    0 => f32::NAN,
                    v => (v % 4) as f32,
                })
                .collect();
            let d_out: Vec<f32> = (0..planes * g.plane_out()).map(|i| i as f32 + 1.0).collect();
            let (mut expected, mut expected_d) = (Vec::new(), vec![0.0f32; input.len()]);
            for (p, plane) in input.chunks(rows * cols).enumerate() {
                for y in 0..g.out_rows {
                    for x in 0..g.out_cols {
                        let at = window_argmax(&g, plane, y, x);
                        expected.push(plane[at]);
                        expected_d[p * rows * cols + at] += d_out[(p * g.out_rows + y) * g.out_cols + x];
                    }
                }
            }
            let mut out = vec![0.0f32; planes * g.plane_out()];
            max_pool(&g, &input, &mut out);
            let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&out), bits(&expected));
            let mut d_in = vec![0.0f32; input.len()];
            max_pool_backward(&g, &input, &d_out, &mut d_in);
            proptest::prop_assert_eq!(d_in, expected_d);
        }
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
