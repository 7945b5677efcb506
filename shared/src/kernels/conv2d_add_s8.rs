//! A conv fused with the residual add that consumes its output. On the band path (DSP) each
//! block of 4 output pixels is added into the skip tensor in place as soon as it is
//! computed; elsewhere output rows in chunks of about [`CHUNK_BYTES`] are computed into
//! scratch by the conv kernel on the sub-geometry of those rows, then added. Each output
//! pixel sees the same taps and padding as in the whole conv, so the results equal
//! conv-then-add bit for bit.

use super::add_s8::{SkipAdd, TABLE_BYTES};
use super::select::{self, Kernel, has_const};
use super::{AddParams, ConvGeom, OutQuant, add_s8, conv2d_1x1, conv2d_band, conv2d_s8};
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

/// Scratch of the chunked path with both of the add's tables: the conv on im2col, the chunk
/// buffer, two tables.
const fn chunked_bytes(g: &ConvGeom) -> usize {
    conv2d_s8::min_scratch_bytes(g) + chunk_bytes(g) + 2 * TABLE_BYTES
}

/// Scratch of the band path with the skip's table only (0 where the band path does not
/// apply): the table (and 4 bytes to align it), the band's scratch and one block's outputs.
const fn band_bytes(g: &ConvGeom) -> usize {
    match conv2d_band::scratch_bytes(g, conv2d_s8::RQ_WORDS) {
        0 => 0,
        b => TABLE_BYTES + 4 + b + conv2d_band::block_bytes(g),
    }
}

/// Scratch an encoder declares for the fused op: for a geometry the band path takes, its
/// needs with one table (at least the chunked path's minimum, which the host's portable
/// path then runs within, taking tables as they fit); else the chunked path's with both
/// tables. Either path takes a second table where the scratch holds it (another op needing
/// more), with the same results.
pub const fn scratch_bytes(g: &ConvGeom) -> usize {
    let (band, least) = (band_bytes(g), min_scratch_bytes(g));
    if band == 0 {
        chunked_bytes(g)
    } else if band > least {
        band
    } else {
        least
    }
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

/// The band path's layout of `scratch_len` bytes: `(lut, len)`, the bytes of the add's
/// tables at the start (two where they fit beside the band's needs, else the skip's only,
/// and 4 to align them) and the conv's bytes after them, before one block's outputs at the
/// end. `None` where the band path does not take the geometry or the scratch is short.
pub(crate) const fn band_conv_scratch(g: &ConvGeom, scratch_len: usize) -> Option<(usize, usize)> {
    let need = conv2d_band::scratch_bytes(g, conv2d_s8::RQ_WORDS);
    let block = conv2d_band::block_bytes(g);
    if need == 0 || scratch_len < TABLE_BYTES + 4 + need + block {
        return None;
    }
    let rest = scratch_len - block;
    let tables = if rest >= 2 * TABLE_BYTES + 4 + need {
        2
    } else {
        1
    };
    let lut = tables * TABLE_BYTES + 4;
    Some((lut, rest - lut))
}

/// Bytes of the chunked path's conv scratch at the start of `scratch_len` bytes: all but the
/// chunk buffer and the add's tables after the conv's least scratch (two where they fit,
/// else one, else none: the add then rescales every element).
pub(crate) const fn chunked_conv_scratch(g: &ConvGeom, scratch_len: usize) -> usize {
    let rest = scratch_len.saturating_sub(chunk_bytes(g));
    let spare = rest.saturating_sub(conv2d_s8::min_scratch_bytes(g) + 4);
    let tables = spare / TABLE_BYTES;
    let tables = if tables > 2 { 2 } else { tables };
    rest - tables * TABLE_BYTES - if tables > 0 { 4 } else { 0 }
}

/// `skip ← add(skip, conv(input))` (the skip is the add's `a` when `skip_is_a`) on the path
/// and conv variant that [`select::conv_add_s8`] planned: `path` [`Kernel::ConvAddBand`]
/// (DSP; elsewhere the chunked path runs it), [`Kernel::ConvAddPointwise`] (block by block,
/// its conv [`Kernel::ConvPointwise`]) or [`Kernel::ConvAdd`], chunk by chunk, each
/// chunk's conv on variant `conv` (a chunk's geometry takes the whole one's). `scratch`
/// holds at least [`min_scratch_bytes`]. `false`, with `skip` unchanged, where the set `K`
/// lacks the path or `conv`. Buffers shorter than the geometry says (never for a validated
/// model) leave `skip` unchanged.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn conv2d_add_s8<const K: u128>(
    (path, conv): (Kernel, Kernel),
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
    match path {
        Kernel::ConvAddBand if has_const!(K, Kernel::ConvAddBand) => {
            #[cfg(dsp)]
            {
                let Kernel::ConvBand { groups, relu, .. } = conv else {
                    return false;
                };
                let Some(block) = select::band_block::<K>(conv) else {
                    return false;
                };
                let plan = (groups as usize, relu);
                return band(
                    g, q, input, weights, bias, requant, add, skip_is_a, scratch, skip, plan, block,
                );
            }
        }
        Kernel::ConvAddPointwise if has_const!(K, Kernel::ConvAddPointwise) => {
            if conv != Kernel::ConvPointwise || !has_const!(K, Kernel::ConvPointwise) {
                return false;
            }
            return pointwise(
                g, q, input, weights, bias, requant, add, skip_is_a, scratch, skip,
            );
        }
        Kernel::ConvAdd if has_const!(K, Kernel::ConvAdd) => {}
        _ => return false,
    }
    let lut_at = chunked_conv_scratch(g, scratch.len());
    let (rest, buf) = scratch.split_at_mut(scratch.len() - buf_len);
    let buf: &mut [i8] = bytemuck::cast_slice_mut(buf);
    let (conv_scratch, lut) = rest.split_at_mut(lut_at);
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(lut);
    let luts = SkipAdd::new(add, skip_is_a, words);
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
            Some(l) => l.apply(acc, out),
            None => add_s8::add_s8_in_place(add, skip_is_a, acc, out, &mut []),
        }
        oy = end;
    }
    true
}

/// The band path of the fused op ([`conv2d_band`]) as [`band_conv_scratch`] lays it out,
/// the conv planned as `plan` with block function `block`. `false`, having written
/// nothing, where the band path does not run the conv after all (never when planned).
#[cfg(dsp)]
#[allow(clippy::too_many_arguments)]
fn band(
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
    plan: (usize, bool),
    block: conv2d_band::BlockFn,
) -> bool {
    let Some((lut, _)) = band_conv_scratch(g, scratch.len()) else {
        return false;
    };
    let fits = conv2d_s8::inputs_fit(g, input.len(), weights.len(), bias, requant);
    if !fits {
        return false;
    }
    let block_len = conv2d_band::block_bytes(g);
    let (rest, buf) = scratch.split_at_mut(scratch.len() - block_len);
    let (lut, conv_scratch) = rest.split_at_mut(lut);
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(lut);
    let Some(luts) = SkipAdd::new(add, skip_is_a, words) else {
        return false;
    };
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(conv_scratch);
    let dest = conv2d_band::Dest::Add {
        buf: bytemuck::cast_slice_mut(buf),
        skip,
        add: &luts,
    };
    conv2d_band::conv(
        g, q, input, weights, bias, requant, words, dest, plan, block,
    )
}

/// The direct 1×1 path of the fused op ([`conv2d_1x1`]) as [`conv2d_1x1::add_scratch`] lays
/// it out: the add's tables, the conv's scratch, one block's outputs. `false`, having written
/// nothing, where the path does not run the conv after all (never when planned).
#[allow(clippy::too_many_arguments)]
fn pointwise(
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
    let Some((lut, len)) = conv2d_1x1::add_scratch(g, scratch.len()) else {
        return false;
    };
    if !conv2d_s8::inputs_fit(g, input.len(), weights.len(), bias, requant) {
        return false;
    }
    let (lut, rest) = scratch.split_at_mut(lut);
    let (conv_scratch, buf) = rest.split_at_mut(len);
    let (_, words, _) = bytemuck::pod_align_to_mut::<u8, u32>(lut);
    let Some(luts) = SkipAdd::new(add, skip_is_a, words) else {
        return false;
    };
    let dest = conv2d_1x1::Dest::Add {
        buf: bytemuck::cast_slice_mut(buf),
        skip,
        add: &luts,
    };
    conv2d_1x1::conv(g, q, input, weights, bias, requant, conv_scratch, dest)
}
