//! Conv2d on f32 slices (NCHW, groups 1): forward, input gradient and weight/bias gradient
//! as im2col / col2im around one `gemm` call per image, parallel over the batch on rayon.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ops::Range;

use gemm::Parallelism;
use rayon::prelude::*;

/// Everything about one convolution's shapes: any stride, dilation and asymmetric padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Batch.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub co: usize,
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[y, x]`.
    pub stride: [usize; 2],
    /// Dilation `[y, x]`.
    pub dilation: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub padding: [usize; 4],
}

impl Geometry {
    /// Output `[height, width]`; `None` when the kernel does not fit the padded input or a
    /// stride or dilation is zero.
    pub fn output(&self) -> Option<[usize; 2]> {
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [t, l, b, r] = self.padding;
        if sh == 0 || sw == 0 || dh == 0 || dw == 0 || kh == 0 || kw == 0 {
            return None;
        }
        let eh = dh * (kh - 1) + 1;
        let ew = dw * (kw - 1) + 1;
        let (ph, pw) = (self.h + t + b, self.w + l + r);
        if ph < eh || pw < ew {
            return None;
        }
        Some([(ph - eh) / sh + 1, (pw - ew) / sw + 1])
    }

    /// Rows of the im2col matrix: `c · kh · kw`.
    pub(super) fn k(&self) -> usize {
        self.c * self.kernel[0] * self.kernel[1]
    }

    /// Output pixels per image and channel.
    pub(super) fn p(&self) -> usize {
        let [oh, ow] = self.output().unwrap_or([0, 0]);
        oh * ow
    }

    /// A 1×1, stride-1, unpadded conv: the image itself is its im2col matrix.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0; 4]
    }

    /// For output coordinate range `0..out` along one axis, kernel tap `tap`: the first and
    /// one-past-last output index whose input index `o·s + tap·d − pad` lies in `0..size`.
    fn valid(out: usize, size: usize, s: usize, off: isize) -> (usize, usize) {
        // input = o*s + off must satisfy 0 <= input < size.
        let lo = if off >= 0 {
            0
        } else {
            ((-off) as usize).div_ceil(s)
        };
        let hi = if (size as isize) - off <= 0 {
            0
        } else {
            (((size as isize - off) as usize).div_ceil(s)).min(out)
        };
        (lo.min(hi), hi)
    }

    /// The im2col matrix of one image `x` (`c·h·w`) into `cols` (`k × p`, row-major).
    fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [t, l, _, _] = self.padding;
        let [oh, ow] = self.output().unwrap_or([0, 0]);
        let p = oh * ow;
        for c in 0..self.c {
            let plane = &x[c * self.h * self.w..(c + 1) * self.h * self.w];
            for ky in 0..kh {
                let offy = (ky * dh) as isize - t as isize;
                let (y0, y1) = Self::valid(oh, self.h, sh, offy);
                for kx in 0..kw {
                    let offx = (kx * dw) as isize - l as isize;
                    let (x0, x1) = Self::valid(ow, self.w, sw, offx);
                    let row = ((c * kh + ky) * kw + kx) * p;
                    let dst = &mut cols[row..row + p];
                    dst[..y0 * ow].fill(0.0);
                    dst[y1 * ow..].fill(0.0);
                    if sh == 1 && sw == 1 && ow == self.w {
                        // Output rows as wide as input rows at stride 1: rows y0..y1 of this
                        // tap are one shifted copy of the plane, then the columns whose
                        // window falls off the left or right edge (which read the
                        // neighbouring row) are zeroed — one copy instead of one per row.
                        let (lo, hi) = (y0 * ow, y1 * ow);
                        let shift = offy * self.w as isize + offx;
                        let rows = &mut dst[lo..hi];
                        match shifted_span(lo, hi, shift, plane.len()) {
                            Some((d, src)) => {
                                rows[..d.start - lo].fill(0.0);
                                rows[d.end - lo..].fill(0.0);
                                rows[d.start - lo..d.end - lo].copy_from_slice(&plane[src]);
                            }
                            None => rows.fill(0.0),
                        }
                        zero_edges(rows, ow, x0, x1);
                        continue;
                    }
                    for oy in y0..y1 {
                        let iy = (oy * sh) as isize + offy;
                        let src = &plane[iy as usize * self.w..(iy as usize + 1) * self.w];
                        let d = &mut dst[oy * ow..(oy + 1) * ow];
                        d[..x0].fill(0.0);
                        d[x1..].fill(0.0);
                        let ix0 = ((x0 * sw) as isize + offx) as usize;
                        if sw == 1 {
                            d[x0..x1].copy_from_slice(&src[ix0..ix0 + (x1 - x0)]);
                        } else {
                            for (j, v) in d[x0..x1].iter_mut().enumerate() {
                                *v = src[ix0 + j * sw];
                            }
                        }
                    }
                }
            }
        }
    }

    /// Runs `f` on image `x`'s im2col matrix (`k × p`): `x` itself for a pointwise conv,
    /// else this thread's buffer filled by [`Geometry::im2col`].
    fn with_columns<R>(&self, x: &[f32], f: impl FnOnce(&[f32]) -> R) -> R {
        if self.is_pointwise() {
            f(x)
        } else {
            with_cols(self.k() * self.p(), |cols| {
                self.im2col(x, cols);
                f(cols)
            })
        }
    }

    /// Adds the im2col-shaped `cols` (`k × p`) into one image's gradient `dx` (`c·h·w`,
    /// zeroed by the caller). `cols` is scratch: the stride-1 full-width path zeroes its
    /// entries for windows off the left and right edges, then adds each tap's rows as one
    /// shifted span (the mirror of [`Geometry::im2col`]'s).
    fn col2im(&self, cols: &mut [f32], dx: &mut [f32]) {
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let [dh, dw] = self.dilation;
        let [t, l, _, _] = self.padding;
        let [oh, ow] = self.output().unwrap_or([0, 0]);
        let p = oh * ow;
        for c in 0..self.c {
            let plane = &mut dx[c * self.h * self.w..(c + 1) * self.h * self.w];
            for ky in 0..kh {
                let offy = (ky * dh) as isize - t as isize;
                let (y0, y1) = Self::valid(oh, self.h, sh, offy);
                for kx in 0..kw {
                    let offx = (kx * dw) as isize - l as isize;
                    let (x0, x1) = Self::valid(ow, self.w, sw, offx);
                    let row = ((c * kh + ky) * kw + kx) * p;
                    let src = &mut cols[row..row + p];
                    if sh == 1 && sw == 1 && ow == self.w {
                        let (lo, hi) = (y0 * ow, y1 * ow);
                        let shift = offy * self.w as isize + offx;
                        zero_edges(&mut src[lo..hi], ow, x0, x1);
                        // Outside the span only the zeroed edge columns lie.
                        if let Some((d, span)) = shifted_span(lo, hi, shift, plane.len()) {
                            for (a, b) in plane[span].iter_mut().zip(&src[d]) {
                                *a += b;
                            }
                        }
                        continue;
                    }
                    let src = &*src;
                    for oy in y0..y1 {
                        let iy = (oy * sh) as isize + offy;
                        let d = &mut plane[iy as usize * self.w..(iy as usize + 1) * self.w];
                        let s = &src[oy * ow + x0..oy * ow + x1];
                        let ix0 = ((x0 * sw) as isize + offx) as usize;
                        if sw == 1 {
                            for (a, b) in d[ix0..ix0 + s.len()].iter_mut().zip(s) {
                                *a += b;
                            }
                        } else {
                            for (j, b) in s.iter().enumerate() {
                                d[ix0 + j * sw] += b;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// For a stride-1 tap whose output rows are as wide as the input's: output positions
/// `lo..hi` (whole rows) read plane positions `shift` further on; the part of them inside
/// the plane (`0..len`) as `(output positions, plane positions)`, `None` if none is. The
/// positions outside it are edge-window columns only.
fn shifted_span(
    lo: usize,
    hi: usize,
    shift: isize,
    len: usize,
) -> Option<(Range<usize>, Range<usize>)> {
    let s0 = (lo as isize + shift).max(0);
    let s1 = (hi as isize + shift).min(len as isize);
    (s0 < s1).then(|| {
        let out = (s0 - shift) as usize..(s1 - shift) as usize;
        (out, s0 as usize..s1 as usize)
    })
}

/// Zeroes columns `..x0` and `x1..` of each `ow`-wide row of `rows`: the windows that fall
/// off the left or right edge.
fn zero_edges(rows: &mut [f32], ow: usize, x0: usize, x1: usize) {
    for r in rows.chunks_exact_mut(ow) {
        r[..x0].fill(0.0);
        r[x1..].fill(0.0);
    }
}

thread_local! {
    /// Each thread's im2col buffer, kept across calls: every caller overwrites the part it
    /// uses before reading it, so it is never zeroed again (a fresh zeroed buffer per rayon
    /// job was a memset and page faults per conv call).
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's im2col buffer, `n` values long (contents left over from an
/// earlier call: `f` must write before it reads). `f` must not run rayon work that could
/// re-enter here on the same thread (the gemm calls are single-threaded).
fn with_cols<R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COLS.with_borrow_mut(|v| {
        if v.len() < n {
            v.resize(n, 0.0);
        }
        f(&mut v[..n])
    })
}

/// A row- or column-strided view of a matrix in a slice: element `(i, j)` at `i·rs + j·cs`.
#[derive(Clone, Copy)]
struct Mat<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

/// `dst (m × n, row-major) (+)= a (m × k) · b (k × n)`; `accumulate` adds to `dst`.
///
/// # Panics
/// If a matrix does not fit its slice.
fn matmul(m: usize, n: usize, k: usize, dst: &mut [f32], accumulate: bool, a: Mat, b: Mat) {
    matmul_strided(m, n, k, (dst, n, 1), accumulate, a, b)
}

/// [`matmul`] into a destination with strides `(dst, rs, cs)`: element `(i, j)` at
/// `i·rs + j·cs`. gemm transposes a problem whose destination has the smaller column
/// stride, so a column-major destination (`rs = 1`) keeps `a` and `b` as given — for the
/// weight gradient (small `m · n`, long `k`) that skips packing the im2col matrix and ran
/// its product 17–35% faster than the row-major form (same sums, bit for bit).
fn matmul_strided(
    m: usize,
    n: usize,
    k: usize,
    (dst, rs, cs): (&mut [f32], usize, usize),
    accumulate: bool,
    a: Mat,
    b: Mat,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |mat: Mat, rows: usize, cols: usize| {
        (rows.max(1) - 1) * mat.rs + (cols.max(1) - 1) * mat.cs
    };
    assert!(
        (m - 1) * rs + (n - 1) * cs < dst.len() && rs > 0 && cs > 0,
        "gemm: destination out of its slice"
    );
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * rs + j * cs] = 0.0;
                }
            }
        }
        return;
    }
    assert!(
        last(a, m, k) < a.data.len(),
        "gemm: left matrix out of its slice"
    );
    assert!(
        last(b, k, n) < b.data.len(),
        "gemm: right matrix out of its slice"
    );
    // SAFETY: the three matrices lie inside their slices (asserted above), `dst` is borrowed
    // mutably and so aliases neither input, and all strides are positive (`dst`'s asserted;
    // distinct elements of `dst` may not overlap: every caller passes `(n, 1)` or `(1, m)`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            cs as isize,
            rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// The sum of `v` in eight interleaved lanes (vectorizes; a plain fold is one serial chain).
pub fn sum(v: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = v.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// Forward: `y[n] = w · im2col(x[n]) + bias`, `y` NCHW `[n, co, oh, ow]`.
///
/// # Panics
/// If the geometry has no output or a slice's length does not match it.
pub fn forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (k, p) = (g.k(), g.p());
    assert_eq!(x.len(), g.n * g.c * g.h * g.w, "conv input length");
    assert_eq!(w.len(), g.co * k, "conv weight length");
    if let Some(b) = bias {
        assert_eq!(b.len(), g.co, "conv bias length");
    }
    let img = g.c * g.h * g.w;
    if p == 0 || img == 0 {
        // No output, or no input channels: the bias alone.
        let mut y = vec![0f32; g.n * g.co * p];
        if let (Some(b), true) = (bias, p > 0) {
            for (i, row) in y.chunks_mut(p).enumerate() {
                row.fill(b[i % g.co]);
            }
        }
        return y;
    }
    let fill = |y: &mut [MaybeUninit<f32>]| {
        y.par_chunks_mut(g.co * p)
            .zip(x.par_chunks(img.max(1)))
            .for_each(|(yn, xn)| {
                image_forward(g, xn, w, bias, yn);
            });
    };
    // SAFETY: `x` holds `n` images (asserted), so the `n` chunks of `co · p` pair up with
    // them one to one, and `image_forward` writes each in full.
    unsafe { super::written(g.n * g.co * p, fill) }
}

/// One image of [`forward`]: `yn` (`co · p`) = `w · im2col(xn) + bias`, every value
/// written; returns `yn` initialized. The geometry has an output and input channels.
pub(super) fn image_forward<'a>(
    g: &Geometry,
    xn: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    yn: &'a mut [MaybeUninit<f32>],
) -> &'a mut [f32] {
    let (k, p) = (g.k(), g.p());
    // Each output row starts at its bias (or 0), then the product adds in: no zeroing
    // pass before.
    for (c, row) in yn.chunks_mut(p).enumerate() {
        let v = bias.map_or(0.0, |b| b[c]);
        row.iter_mut().for_each(|e| {
            e.write(v);
        });
    }
    // SAFETY: the loop above wrote all `co · p` values of this image.
    let yn = unsafe { super::assume_init(yn) };
    let wm = Mat {
        data: w,
        rs: k,
        cs: 1,
    };
    g.with_columns(xn, |src| {
        let cm = Mat {
            data: src,
            rs: p,
            cs: 1,
        };
        matmul(g.co, p, k, yn, true, wm, cm);
    });
    yn
}

/// Input gradient: `dx[n] = col2im(wᵀ · dy[n])`, NCHW like the input.
///
/// # Panics
/// If a slice's length does not match the geometry.
pub fn input_grad(g: &Geometry, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let (k, p) = (g.k(), g.p());
    assert_eq!(w.len(), g.co * k, "conv weight length");
    assert_eq!(dy.len(), g.n * g.co * p, "conv output gradient length");
    let img = g.c * g.h * g.w;
    let mut dx = vec![0f32; g.n * img];
    if p == 0 || img == 0 {
        return dx;
    }
    dx.par_chunks_mut(img)
        .zip(dy.par_chunks(g.co * p))
        .for_each(|(dxn, dyn_)| image_input_grad(g, w, dyn_, dxn));
    dx
}

/// One image of [`input_grad`]: `dxn` (`c·h·w`, zeroed by the caller) `+= col2im(wᵀ ·
/// dyn_)`.
pub(super) fn image_input_grad(g: &Geometry, w: &[f32], dyn_: &[f32], dxn: &mut [f32]) {
    let (k, p) = (g.k(), g.p());
    let wt = Mat {
        data: w,
        rs: 1,
        cs: k,
    };
    let gm = Mat {
        data: dyn_,
        rs: p,
        cs: 1,
    };
    if g.is_pointwise() {
        matmul(k, p, g.co, dxn, false, wt, gm);
    } else {
        with_cols(k * p, |cols| {
            matmul(k, p, g.co, cols, false, wt, gm);
            g.col2im(cols, dxn);
        });
    }
}

/// Weight and bias gradients: `dw = Σₙ dy[n] · im2col(x[n])ᵀ` (`[co, c, kh, kw]`) and
/// `db = Σₙ,ₚ dy[n, co, p]`, each thread summing its share of the batch.
///
/// # Panics
/// If a slice's length does not match the geometry.
pub fn weight_grad(g: &Geometry, x: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let (k, p) = (g.k(), g.p());
    assert_eq!(x.len(), g.n * g.c * g.h * g.w, "conv input length");
    assert_eq!(dy.len(), g.n * g.co * p, "conv output gradient length");
    let img = g.c * g.h * g.w;
    if p == 0 || img == 0 {
        return (vec![0f32; g.co * k], vec![0f32; g.co]);
    }
    let per = g.share();
    let partial: Vec<(Vec<f32>, Vec<f32>)> = x
        .par_chunks(img * per)
        .zip(dy.par_chunks(g.co * p * per))
        .map(|(xs, dys)| {
            let mut dw = vec![0f32; g.co * k];
            let mut db = vec![0f32; g.co];
            for (i, (xn, dyn_)) in xs.chunks(img).zip(dys.chunks(g.co * p)).enumerate() {
                image_weight_grad(g, xn, dyn_, i == 0, (&mut dw, &mut db));
            }
            (dw, db)
        })
        .collect();
    g.weight_grad_total(partial)
}

impl Geometry {
    /// Images per rayon task in the weight gradient: contiguous shares of the batch, one
    /// per thread, so there are few accumulators to add up.
    pub(super) fn share(&self) -> usize {
        let threads = rayon::current_num_threads().max(1);
        self.n.div_ceil(threads).max(1)
    }

    /// The weight gradient `[co, c, kh, kw]` and bias gradient from the shares' partial
    /// sums (weight column-major, `[k][co]`), added in share order.
    pub(super) fn weight_grad_total(
        &self,
        partial: Vec<(Vec<f32>, Vec<f32>)>,
    ) -> (Vec<f32>, Vec<f32>) {
        let k = self.k();
        let mut it = partial.into_iter();
        let (mut dwt, mut db) = it.next().unwrap_or_default();
        for (pw, pb) in it {
            dwt.iter_mut().zip(&pw).for_each(|(a, b)| *a += b);
            db.iter_mut().zip(&pb).for_each(|(a, b)| *a += b);
        }
        let mut dw = vec![0f32; self.co * k];
        for (j, col) in dwt.chunks_exact(self.co.max(1)).enumerate() {
            for (o, &v) in col.iter().enumerate() {
                dw[o * k + j] = v;
            }
        }
        (dw, db)
    }
}

/// One image of [`weight_grad`]: adds `dyn_ · im2col(xn)ᵀ` into `dw` (column-major,
/// `[k][co]`; overwritten when `first`) and each output row's sum into `db`.
pub(super) fn image_weight_grad(
    g: &Geometry,
    xn: &[f32],
    dyn_: &[f32],
    first: bool,
    (dw, db): (&mut [f32], &mut [f32]),
) {
    let (k, p) = (g.k(), g.p());
    let gm = Mat {
        data: dyn_,
        rs: p,
        cs: 1,
    };
    g.with_columns(xn, |src| {
        let ct = Mat {
            data: src,
            rs: 1,
            cs: p,
        };
        matmul_strided(g.co, k, p, (dw, 1, g.co), !first, gm, ct);
    });
    for (b, row) in db.iter_mut().zip(dyn_.chunks(p)) {
        *b += sum(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one output at a time.
    fn naive(g: &Geometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let [oh, ow] = g.output().unwrap_or([0, 0]);
        let [kh, kw] = g.kernel;
        let mut y = vec![0f32; g.n * g.co * oh * ow];
        for n in 0..g.n {
            for o in 0..g.co {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut s = 0f32;
                        for c in 0..g.c {
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize
                                        - g.padding[0] as isize;
                                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize
                                        - g.padding[1] as isize;
                                    if iy < 0 || ix < 0 || iy as usize >= g.h || ix as usize >= g.w
                                    {
                                        continue;
                                    }
                                    s += x[((n * g.c + c) * g.h + iy as usize) * g.w + ix as usize]
                                        * w[((o * g.c + c) * kh + ky) * kw + kx];
                                }
                            }
                        }
                        y[((n * g.co + o) * oh + oy) * ow + ox] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn output_size_follows_the_padded_extent() {
        let g = Geometry {
            n: 1,
            c: 1,
            h: 7,
            w: 6,
            co: 1,
            kernel: [3, 3],
            stride: [2, 2],
            dilation: [1, 1],
            padding: [0, 1, 1, 0],
        };
        assert_eq!(g.output(), Some([3, 3])); // (7 + 0 + 1 - 3) / 2 + 1, (6 + 1 + 0 - 3) / 2 + 1
        assert_eq!(
            Geometry {
                kernel: [9, 3],
                ..g
            }
            .output(),
            None
        );
    }

    #[test]
    fn forward_equals_the_definition_with_stride_dilation_and_odd_padding() {
        let g = Geometry {
            n: 2,
            c: 3,
            h: 7,
            w: 6,
            co: 4,
            kernel: [3, 2],
            stride: [2, 1],
            dilation: [1, 2],
            padding: [2, 0, 1, 3],
        };
        let x: Vec<f32> = (0..2 * 3 * 42)
            .map(|i| ((i * 37) % 11) as f32 - 5.0)
            .collect();
        let w: Vec<f32> = (0..4 * 3 * 6)
            .map(|i| ((i * 13) % 7) as f32 - 3.0)
            .collect();
        // Small integers: every sum is exact in f32, whatever the order.
        assert_eq!(forward(&g, &x, &w, None), naive(&g, &x, &w));
    }

    /// im2col's and col2im's one-span paths (stride 1, output as wide as the input): 'same'
    /// 3×3 and 5×5, dilated, asymmetric left/right padding, taller padding than the image, a
    /// 1-wide image: forward and both gradients equal the definition exactly (small integers).
    #[test]
    fn stride_one_full_width_taps_equal_the_definition() {
        let cases = [
            ([3, 3], [1, 1], [1, 1, 1, 1], [5, 8]),
            ([5, 5], [1, 1], [2, 2, 2, 2], [6, 7]),
            ([3, 3], [2, 2], [2, 2, 2, 2], [9, 9]),
            ([3, 3], [1, 1], [0, 0, 2, 2], [4, 6]),
            ([3, 3], [1, 1], [2, 2, 0, 0], [4, 6]),
            ([5, 3], [1, 1], [4, 1, 4, 1], [2, 5]),
            ([3, 3], [1, 1], [1, 1, 1, 1], [3, 1]),
        ];
        for (kernel, dilation, padding, [h, w]) in cases {
            let g = Geometry {
                n: 2,
                c: 3,
                h,
                w,
                co: 2,
                kernel,
                stride: [1, 1],
                dilation,
                padding,
            };
            assert_eq!(g.output().map(|o| o[1]), Some(w), "{kernel:?} {padding:?}");
            let x: Vec<f32> = (0..2 * 3 * h * w)
                .map(|i| ((i * 37) % 11) as f32 - 5.0)
                .collect();
            let wt: Vec<f32> = (0..2 * 3 * kernel[0] * kernel[1])
                .map(|i| ((i * 13) % 7) as f32 - 3.0)
                .collect();
            let b = [0.5, -1.5];
            let want: Vec<f32> = naive(&g, &x, &wt)
                .chunks(g.p())
                .enumerate()
                .flat_map(|(i, r)| r.iter().map(move |v| v + b[i % 2]))
                .collect();
            assert_eq!(
                forward(&g, &x, &wt, Some(&b)),
                want,
                "{kernel:?} {padding:?}"
            );
            // Both gradients against the scatter form of the definition (col2im's one-span
            // path, the weight gradient's column-major product).
            let [oh, ow] = g.output().unwrap_or([0, 0]);
            let dy: Vec<f32> = (0..2 * 2 * oh * ow)
                .map(|i| ((i * 29) % 9) as f32 - 4.0)
                .collect();
            let (mut dx, mut dw, mut db) = (vec![0f32; x.len()], vec![0f32; wt.len()], [0f32; 2]);
            let [kh, kw] = kernel;
            for n in 0..2 {
                for o in 0..2 {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let gy = dy[((n * 2 + o) * oh + oy) * ow + ox];
                            db[o] += gy;
                            for c in 0..3 {
                                for ky in 0..kh {
                                    for kx in 0..kw {
                                        let iy =
                                            (oy + ky * dilation[0]) as isize - padding[0] as isize;
                                        let ix =
                                            (ox + kx * dilation[1]) as isize - padding[1] as isize;
                                        if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= w
                                        {
                                            continue;
                                        }
                                        let xi = ((n * 3 + c) * h + iy as usize) * w + ix as usize;
                                        let wi = ((o * 3 + c) * kh + ky) * kw + kx;
                                        dx[xi] += wt[wi] * gy;
                                        dw[wi] += x[xi] * gy;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            assert_eq!(input_grad(&g, &wt, &dy), dx, "dx {kernel:?} {padding:?}");
            let (gw, gb) = weight_grad(&g, &x, &dy);
            assert_eq!(gw, dw, "dw {kernel:?} {padding:?}");
            assert_eq!(gb.as_slice(), db.as_slice(), "db {kernel:?} {padding:?}");
        }
    }
}
