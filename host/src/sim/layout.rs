//! Layout conversions between PyTorch/burn's NCHW (batch 1: CHW) and the blob arena's HWC,
//! and between OIHW conv weights and the kernels' OHWI.

/// CHW values of a `[c, h, w]` tensor → HWC (element (c, y, x) at `(y·w + x)·c_total + c`).
pub fn chw_to_hwc(x: &[f32], [c, h, w]: [usize; 3]) -> Vec<f32> {
    let mut y = vec![0f32; c * h * w];
    for ci in 0..c {
        for p in 0..h * w {
            y[p * c + ci] = x[ci * h * w + p];
        }
    }
    y
}

/// HWC values of a `[c, h, w]` tensor → CHW.
pub fn hwc_to_chw(x: &[f32], [c, h, w]: [usize; 3]) -> Vec<f32> {
    let mut y = vec![0f32; c * h * w];
    for ci in 0..c {
        for p in 0..h * w {
            y[ci * h * w + p] = x[p * c + ci];
        }
    }
    y
}

/// Conv weights `[o][i][kh][kw]` (OIHW) → `[o][kh][kw][i]` (OHWI).
pub fn oihw_to_ohwi(w: &[f32], [o, i, kh, kw]: [usize; 4]) -> Vec<f32> {
    let mut y = vec![0f32; o * i * kh * kw];
    for oc in 0..o {
        for ic in 0..i {
            for ky in 0..kh {
                for kx in 0..kw {
                    y[((oc * kh + ky) * kw + kx) * i + ic] = w[((oc * i + ic) * kh + ky) * kw + kx];
                }
            }
        }
    }
    y
}

/// Dense weights `[in][out]` (burn), `in` indexing the CHW flatten of `[c, h, w]`, →
/// `[out][in']` with `in'` the HWC memory order of the same tensor (`[n, 1, 1]` for a
/// plain vector: a transpose only).
pub fn dense_to_out_in_hwc(w: &[f32], out: usize, [c, h, w_]: [usize; 3]) -> Vec<f32> {
    let n = c * h * w_;
    let mut y = vec![0f32; out * n];
    for ci in 0..c {
        for p in 0..h * w_ {
            let chw = ci * h * w_ + p;
            let hwc = p * c + ci;
            for o in 0..out {
                y[o * n + hwc] = w[chw * out + o];
            }
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chw_hwc_round_trip_and_index() {
        let dims = [3, 2, 4];
        let x: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let h = chw_to_hwc(&x, dims);
        // element (c=2, y=1, x=3): CHW index 2·8 + 1·4 + 3 = 23, HWC index (1·4 + 3)·3 + 2 = 23
        assert_eq!(h[23], 23.0);
        // element (c=1, y=0, x=1): CHW 9, HWC 4
        assert_eq!(h[4], 9.0);
        assert_eq!(hwc_to_chw(&h, dims), x);
    }

    #[test]
    fn weight_permutations_place_known_entries() {
        let w: Vec<f32> = (0..2 * 3 * 2 * 2).map(|v| v as f32).collect();
        let t = oihw_to_ohwi(&w, [2, 3, 2, 2]);
        // (o=1, i=2, ky=0, kx=1): OIHW ((1·3+2)·2+0)·2+1 = 21; OHWI ((1·2+0)·2+1)·3+2 = 17
        assert_eq!(t[17], 21.0);
        // dense over a 2x1x2 tensor, 3 outputs: in (c=1, x=0) is CHW 2, HWC 1
        let d: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let t = dense_to_out_in_hwc(&d, 3, [2, 1, 2]);
        assert_eq!(t[4 + 1], d[2 * 3 + 1]); // out 1, hwc 1 = w[chw 2][out 1]
    }
}
