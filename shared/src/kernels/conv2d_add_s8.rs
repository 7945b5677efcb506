//! A conv fused with the residual add that consumes its output: output rows in chunks of
//! about [`CHUNK_BYTES`] are computed into scratch by the conv kernel on the sub-geometry of
//! those rows, then added into the skip tensor in place. Each output pixel sees the same
//! taps and padding as in the whole conv, so the results equal conv-then-add bit for bit.

use super::add_s8::{LUT_BYTES, Luts};
use super::{AddParams, ConvGeom, OutQuant, add_s8, conv2d_s8};
use crate::format::{Padding, Requant, Shape};

/// Bytes of conv output a chunk aims at (at least one output row).
const CHUNK_BYTES: usize = 1024;

/// Output rows per chunk.
pub(crate) const fn chunk_rows(g: &ConvGeom) -> usize {
    let row = g.output.w as usize * g.output.c as usize;
    let r = match CHUNK_BYTES.checked_div(row) {
        Some(r) if r > 0 => r,
        _ => 1,
    };
    if r > g.output.h as usize {
        g.output.h as usize
    } else {
        r
    }
}

/// Bytes of the chunk buffer, rounded to the arena alignment.
pub(crate) const fn chunk_bytes(g: &ConvGeom) -> usize {
    crate::plan::align_up(chunk_rows(g) * g.output.w as usize * g.output.c as usize)
}

/// Scratch an encoder declares for the fused op: the conv's ([`conv2d_s8_scratch_bytes`]
/// (super::conv2d_s8_scratch_bytes)), the chunk buffer and the add's tables.
pub const fn scratch_bytes(g: &ConvGeom) -> usize {
    super::conv2d_s8::scratch_bytes(g) + chunk_bytes(g) + LUT_BYTES
}

/// The least scratch the fused op runs with (the conv on its im2col path, the add without
/// its tables).
pub const fn min_scratch_bytes(g: &ConvGeom) -> usize {
    super::conv2d_s8::min_scratch_bytes(g) + chunk_bytes(g)
}

/// The geometry of output rows `oy0..oy1` of `g` and the input rows it reads: the window
/// rows clipped to the input, the clipped rows becoming the sub-geometry's top and bottom
/// padding. `None` if no input row is in the window (padding ≥ kernel).
pub(crate) fn rows(g: &ConvGeom, oy0: usize, oy1: usize) -> Option<(ConvGeom, usize, usize)> {
    let (sh, kh) = (g.stride[0] as isize, g.kernel[0] as isize);
    let start = oy0 as isize * sh - g.padding.top as isize;
    let end = (oy1 as isize - 1) * sh - g.padding.top as isize + kh;
    let (in0, in1) = (start.max(0), end.min(g.input.h as isize));
    if in1 <= in0 {
        return None;
    }
    let sub = ConvGeom {
        input: Shape::new(g.input.c, (in1 - in0) as u16, g.input.w),
        output: Shape::new(g.output.c, (oy1 - oy0) as u16, g.output.w),
        padding: Padding {
            top: (in0 - start) as u8,
            bottom: (end - in1) as u8,
            ..g.padding
        },
        ..*g
    };
    Some((sub, in0 as usize, in1 as usize))
}

/// `skip ← add(skip, conv(input))` (the skip is the add's `a` when `skip_is_a`), chunk by
/// chunk; `scratch` holds at least [`min_scratch_bytes`]. Buffers shorter than the geometry
/// says (never for a validated model) leave `skip` unchanged.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_add_s8(
    g: &ConvGeom,
    q: &OutQuant,
    input: &[i8],
    weights: &[i8],
    bias: &[i32],
    requant: &[Requant],
    add: &AddParams,
    skip_is_a: bool,
    scratch: &mut [u8],
    skip: &mut [i8],
) {
    let (oh, row) = (
        g.output.h as usize,
        g.output.w as usize * g.output.c as usize,
    );
    let in_row = g.input.w as usize * g.input.c as usize;
    let n = chunk_rows(g);
    let buf_len = chunk_bytes(g);
    if skip.len() < oh * row || input.len() < g.input.h as usize * in_row || scratch.len() < buf_len
    {
        return;
    }
    let (rest, buf) = scratch.split_at_mut(scratch.len() - buf_len);
    let buf: &mut [i8] = bytemuck::cast_slice_mut(buf);
    // The add's tables after the conv's scratch where both fit, else none.
    let conv_need = super::conv2d_s8::scratch_bytes(g);
    let lut_at = if rest.len() >= conv_need + LUT_BYTES + 4 {
        rest.len() - LUT_BYTES - 4
    } else {
        rest.len()
    };
    let (conv_scratch, lut) = rest.split_at_mut(lut_at);
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(lut);
    let luts = Luts::new(add, words);
    let mut oy = 0;
    while oy < oh {
        let end = (oy + n).min(oh);
        let Some((sub, in0, in1)) = rows(g, oy, end) else {
            return;
        };
        let out = &mut buf[..(end - oy) * row];
        conv2d_s8::conv2d_s8(
            &sub,
            q,
            &input[in0 * in_row..in1 * in_row],
            weights,
            bias,
            requant,
            conv_scratch,
            out,
        );
        let acc = &mut skip[oy * row..end * row];
        match &luts {
            Some(l) => l.in_place(skip_is_a, acc, out),
            None => add_s8::add_s8_in_place(add, skip_is_a, acc, out, &mut []),
        }
        oy = end;
    }
}
