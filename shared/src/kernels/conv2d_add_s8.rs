//! A conv fused with the residual add that consumes its output: output rows in chunks of
//! about [`CHUNK_BYTES`] are computed into scratch by the conv kernel on the sub-geometry of
//! those rows, then added into the skip tensor in place. Each output pixel sees the same
//! taps and padding as in the whole conv, so the results equal conv-then-add bit for bit.

use super::add_s8::{LUT_BYTES, Luts};
use super::select::{self, Kernel};
use super::{AddParams, ConvGeom, OutQuant, add_s8};
use crate::format::{Padding, Requant, Shape};

/// Bytes of conv output a chunk aims at (at least one output row).
const CHUNK_BYTES: usize = 1024;

/// Output rows per chunk.
const fn chunk_rows(g: &ConvGeom) -> usize {
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
const fn chunk_bytes(g: &ConvGeom) -> usize {
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
fn rows(g: &ConvGeom, oy0: usize, oy1: usize) -> Option<(ConvGeom, usize, usize)> {
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

/// Bytes at the start of a fused op's `scratch_len` bytes of scratch that its conv gets: all
/// but the chunk buffer and, where both fit, the add's tables. [`select::conv_s8`] plans the
/// conv's variant with this much.
pub const fn conv_scratch_bytes(g: &ConvGeom, scratch_len: usize) -> usize {
    let rest = scratch_len.saturating_sub(chunk_bytes(g));
    if rest >= super::conv2d_s8::scratch_bytes(g) + LUT_BYTES + 4 {
        rest - LUT_BYTES - 4
    } else {
        rest
    }
}

/// `skip ← add(skip, conv(input))` (the skip is the add's `a` when `skip_is_a`), chunk by
/// chunk, each chunk's conv on variant `conv` (planned by [`select::conv_s8`] for the whole
/// geometry and [`conv_scratch_bytes`]; a chunk's geometry takes the same one); `scratch`
/// holds at least [`min_scratch_bytes`]. `false` where the set `K` lacks `conv`. Buffers
/// shorter than the geometry says (never for a validated model) leave `skip` unchanged.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_add_s8<const K: u128>(
    conv: Kernel,
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
) -> bool {
    let (oh, row) = (
        g.output.h as usize,
        g.output.w as usize * g.output.c as usize,
    );
    let in_row = g.input.w as usize * g.input.c as usize;
    let n = chunk_rows(g);
    let buf_len = chunk_bytes(g);
    if skip.len() < oh * row || input.len() < g.input.h as usize * in_row || scratch.len() < buf_len
    {
        return true;
    }
    let lut_at = conv_scratch_bytes(g, scratch.len());
    let (rest, buf) = scratch.split_at_mut(scratch.len() - buf_len);
    let buf: &mut [i8] = bytemuck::cast_slice_mut(buf);
    // The add's tables after the conv's scratch where both fit, else none.
    let (conv_scratch, lut) = rest.split_at_mut(lut_at);
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(lut);
    let luts = Luts::new(add, words);
    let mut oy = 0;
    while oy < oh {
        let end = (oy + n).min(oh);
        let Some((sub, in0, in1)) = rows(g, oy, end) else {
            return true;
        };
        let out = &mut buf[..(end - oy) * row];
        let ran = select::conv2d_s8_in::<K>(
            conv,
            &sub,
            q,
            &input[in0 * in_row..in1 * in_row],
            weights,
            bias,
            requant,
            conv_scratch,
            out,
        );
        if !ran {
            return false;
        }
        let acc = &mut skip[oy * row..end * row];
        match &luts {
            Some(l) => l.in_place(skip_is_a, acc, out),
            None => add_s8::add_s8_in_place(add, skip_is_a, acc, out, &mut []),
        }
        oy = end;
    }
    true
}
