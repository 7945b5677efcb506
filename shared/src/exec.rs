//! The executor: runs a validated [`Model`] op by op inside one caller-provided RAM buffer
//! (activation arena followed by scratch), calling the kernels. No allocation, no panics on
//! a validated model.

use core::ops::Range;

use crate::error::{Error, Result};
use crate::format::{ADD_TAG, Add, Conv2d, DATA_ALIGN, Op, Precision, TensorInfo};
use crate::fuse::{self, ConvAdd};
use crate::kernels::{self, AddParams, ConvGeom, OutQuant, PoolGeom};
use crate::model::Model;

/// Splits `arena` into shared views of `reads` and a mutable view of `write`.
/// The validator guarantees that an op's output never overlaps its inputs.
fn io<'b>(
    arena: &'b mut [u8],
    reads: [Range<usize>; 2],
    write: Range<usize>,
) -> Result<([&'b [u8]; 2], &'b mut [u8])> {
    let bad = Error::BufferSize {
        expected: write.end as u32,
        found: arena.len() as u32,
    };
    if write.end > arena.len() || write.start > write.end {
        return Err(bad);
    }
    let (left, rest) = arena.split_at_mut(write.start);
    let (out, right) = rest.split_at_mut(write.end - write.start);
    let (left, right): (&'b [u8], &'b [u8]) = (left, right);
    let view = |r: &Range<usize>| -> Result<&'b [u8]> {
        if r.is_empty() {
            Ok(&[])
        } else if r.end <= write.start {
            Ok(&left[r.clone()])
        } else if r.start >= write.end && r.end <= write.end + right.len() {
            Ok(&right[r.start - write.end..r.end - write.end])
        } else {
            Err(Error::ArenaOverlap {
                a: u16::MAX,
                b: u16::MAX,
            })
        }
    };
    Ok(([view(&reads[0])?, view(&reads[1])?], out))
}

fn range(t: &TensorInfo, p: Precision) -> Range<usize> {
    t.offset as usize..t.offset as usize + t.bytes(p)
}

/// Checks the RAM buffer and splits it into (arena, scratch).
fn split_ram<'b>(model: &Model, ram: &'b mut [u8]) -> Result<(&'b mut [u8], &'b mut [u8])> {
    if ram.len() < model.ram_bytes() {
        return Err(Error::BufferSize {
            expected: model.ram_bytes() as u32,
            found: ram.len() as u32,
        });
    }
    if !(ram.as_ptr() as usize).is_multiple_of(DATA_ALIGN) {
        return Err(Error::Misaligned {
            offset: 0,
            align: DATA_ALIGN as u32,
        });
    }
    let (arena, rest) = ram.split_at_mut(model.arena_bytes());
    Ok((arena, &mut rest[..model.scratch_bytes()]))
}

fn conv_geom(
    model: &Model,
    c: &crate::format::Conv2d,
) -> Result<(ConvGeom, TensorInfo, TensorInfo)> {
    let (i, o) = (model.tensor(c.input)?, model.tensor(c.output)?);
    let g = ConvGeom {
        input: i.shape,
        output: o.shape,
        kernel: c.kernel,
        stride: c.stride,
        padding: c.padding,
    };
    Ok((g, i, o))
}

fn pool_geom(
    model: &Model,
    p: &crate::format::Pool2d,
) -> Result<(PoolGeom, TensorInfo, TensorInfo)> {
    let (i, o) = (model.tensor(p.input)?, model.tensor(p.output)?);
    Ok((
        PoolGeom {
            input: i.shape,
            output: o.shape,
            kernel: p.kernel,
            stride: p.stride,
        },
        i,
        o,
    ))
}

/// The fusion of `conv` with `next` if the blob was planned for it: [`fuse::conv_add`] holds
/// and the add's output shares the skip's arena offset (the validator then guarantees that
/// nothing reads the conv's output or the skip later).
fn fused(model: &Model, conv: &Conv2d, next: &Op) -> Result<Option<ConvAdd>> {
    let Some(f) = fuse::conv_add(model.precision(), conv, next) else {
        return Ok(None);
    };
    let same = model.tensor(f.add.output)?.offset == model.tensor(f.skip)?.offset;
    Ok(same.then_some(f))
}

/// The add's parameters for its input and output tensors.
fn add_params(model: &Model, a: &Add) -> Result<AddParams> {
    let (ta, tb, o) = (
        model.tensor(a.a)?,
        model.tensor(a.b)?,
        model.tensor(a.output)?,
    );
    let q = OutQuant::new(0, o.zero_point as i32, a.relu);
    Ok(AddParams {
        quant: a.quant,
        a_zp: ta.zero_point as i32,
        b_zp: tb.zero_point as i32,
        output_zp: q.output_zp,
        act_min: q.act_min,
        act_max: q.act_max,
    })
}

/// Runs a fused conv + add: the skip's bytes become the add's output. Not inlined, for the
/// reason [`op_s8`] gives.
#[inline(never)]
fn conv_add_s8(
    model: &Model,
    c: &Conv2d,
    f: &ConvAdd,
    arena: &mut [u8],
    scratch: &mut [u8],
) -> Result<()> {
    const P: Precision = Precision::Int8;
    let (g, i, o) = conv_geom(model, c)?;
    let skip = model.tensor(f.skip)?;
    let p = add_params(model, &f.add)?;
    let ([x, _], acc) = io(arena, [range(&i, P), 0..0], range(&skip, P))?;
    let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
    kernels::conv2d_add_s8(
        &g,
        &q,
        bytemuck::cast_slice(x),
        model.data_i8(c.weights)?,
        model.data_i32(c.bias)?,
        model.data_requant(c.requant)?,
        &p,
        f.skip_is_a,
        scratch,
        bytemuck::cast_slice_mut(acc),
    );
    Ok(())
}

/// Runs one unfused int8 op. Not inlined: inlined into the op loop, every kernel's locals
/// got their own slot in one frame of ~2.4 KB, the largest share of the firmware's stack.
#[inline(never)]
fn op_s8(model: &Model, op: &Op, arena: &mut [u8], scratch: &mut [u8]) -> Result<()> {
    const P: Precision = Precision::Int8;
    match *op {
        Op::Conv2d(c) => {
            let (g, i, o) = conv_geom(model, &c)?;
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
            kernels::conv2d_s8(
                &g,
                &q,
                bytemuck::cast_slice(x),
                model.data_i8(c.weights)?,
                model.data_i32(c.bias)?,
                model.data_requant(c.requant)?,
                scratch,
                bytemuck::cast_slice_mut(y),
            );
        }
        Op::Dense(d) => {
            let (i, o) = (model.tensor(d.input)?, model.tensor(d.output)?);
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, d.relu);
            kernels::dense_s8(
                &q,
                bytemuck::cast_slice(x),
                model.data_i8(d.weights)?,
                model.data_i32(d.bias)?,
                model.data_requant(d.requant)?,
                scratch,
                bytemuck::cast_slice_mut(y),
            );
        }
        Op::MaxPool2d(p) | Op::AvgPool2d(p) => {
            let (g, i, o) = pool_geom(model, &p)?;
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            let (x, y) = (bytemuck::cast_slice(x), bytemuck::cast_slice_mut(y));
            match op {
                Op::MaxPool2d(_) => kernels::maxpool2d_s8(&g, x, y),
                _ => kernels::avgpool2d_s8(&g, x, y),
            }
        }
        Op::GlobalAvgPool(u) => {
            let (i, o) = (model.tensor(u.input)?, model.tensor(u.output)?);
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            kernels::global_avgpool_s8(
                i.shape,
                bytemuck::cast_slice(x),
                bytemuck::cast_slice_mut(y),
            );
        }
        Op::Relu(u) => {
            let (i, o) = (model.tensor(u.input)?, model.tensor(u.output)?);
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            kernels::relu_s8(
                o.zero_point,
                bytemuck::cast_slice(x),
                bytemuck::cast_slice_mut(y),
            );
        }
        Op::Add(a) => {
            let (ta, tb, o) = (
                model.tensor(a.a)?,
                model.tensor(a.b)?,
                model.tensor(a.output)?,
            );
            let p = add_params(model, &a)?;
            let ([xa, xb], y) = io(arena, [range(&ta, P), range(&tb, P)], range(&o, P))?;
            kernels::add_s8(
                &p,
                bytemuck::cast_slice(xa),
                bytemuck::cast_slice(xb),
                scratch,
                bytemuck::cast_slice_mut(y),
            );
        }
        Op::Flatten(_) => {} // a view: same bytes, same offset
    }
    Ok(())
}

/// Runs an int8 model on one input (HWC, quantized as the input tensor says) and returns
/// the output tensor's int8 values, which live in `ram`.
pub fn run_s8<'b>(model: &Model, input: &[i8], ram: &'b mut [u8]) -> Result<&'b [i8]> {
    run_s8_observed(model, input, ram, &mut |_, _, _| {})
}

/// [`run_s8`], calling `observe(op_index, op, output)` after each op with the values it
/// wrote (per-layer timing, tracing, calibration). A conv fused with the add after it
/// ([`fuse`]) reports no values (its output never exists), then the add its output.
pub fn run_s8_observed<'b>(
    model: &Model,
    input: &[i8],
    ram: &'b mut [u8],
    observe: &mut dyn FnMut(u16, &Op, &[i8]),
) -> Result<&'b [i8]> {
    const P: Precision = Precision::Int8;
    if model.precision() != P {
        return Err(Error::WrongPrecision);
    }
    let (arena, scratch) = split_ram(model, ram)?;
    let tin = model.input()?;
    if input.len() != tin.shape.len() {
        return Err(Error::BufferSize {
            expected: tin.shape.len() as u32,
            found: input.len() as u32,
        });
    }
    arena[range(&tin, P)].copy_from_slice(bytemuck::cast_slice(input));
    let mut ops = model.ops();
    let mut index = 0u16;
    while let Some(op) = ops.next() {
        let op = op?;
        // A conv followed by an add may be fused; the tag byte says "add" before any decode.
        if let Op::Conv2d(c) = op
            && ops.next_tag() == Some(ADD_TAG)
            && let Some(Ok(next)) = ops.clone().next()
            && let Some(f) = fused(model, &c, &next)?
        {
            conv_add_s8(model, &c, &f, arena, scratch)?;
            observe(index, &op, &[]);
            ops.next();
            let out = model.tensor(f.add.output)?;
            observe(
                index + 1,
                &next,
                bytemuck::cast_slice(&arena[range(&out, P)]),
            );
            index += 2;
            continue;
        }
        op_s8(model, &op, arena, scratch)?;
        let out = model.tensor(op.output())?;
        observe(index, &op, bytemuck::cast_slice(&arena[range(&out, P)]));
        index += 1;
    }
    let tout = model.output()?;
    Ok(bytemuck::cast_slice(&arena[range(&tout, P)]))
}

fn f(b: &[u8]) -> Result<&[f32]> {
    bytemuck::try_cast_slice(b).map_err(|_| Error::Misaligned {
        offset: 0,
        align: 4,
    })
}

fn f32_mut(b: &mut [u8]) -> Result<&mut [f32]> {
    bytemuck::try_cast_slice_mut(b).map_err(|_| Error::Misaligned {
        offset: 0,
        align: 4,
    })
}

/// Runs an f32 model on one input (HWC) and returns the output values, which live in `ram`.
pub fn run_f32<'b>(model: &Model, input: &[f32], ram: &'b mut [u8]) -> Result<&'b [f32]> {
    run_f32_observed(model, input, ram, &mut |_, _, _| {})
}

/// [`run_f32`], calling `observe(op_index, op, output)` after each op (e.g. to calibrate
/// activation ranges for quantization).
pub fn run_f32_observed<'b>(
    model: &Model,
    input: &[f32],
    ram: &'b mut [u8],
    observe: &mut dyn FnMut(u16, &Op, &[f32]),
) -> Result<&'b [f32]> {
    const P: Precision = Precision::F32;
    if model.precision() != P {
        return Err(Error::WrongPrecision);
    }
    let (arena, _scratch) = split_ram(model, ram)?;
    let tin = model.input()?;
    if input.len() != tin.shape.len() {
        return Err(Error::BufferSize {
            expected: tin.shape.len() as u32,
            found: input.len() as u32,
        });
    }
    arena[range(&tin, P)].copy_from_slice(bytemuck::cast_slice(input));
    for (index, op) in model.ops().enumerate() {
        let op = op?;
        match op {
            Op::Conv2d(c) => {
                let (g, i, o) = conv_geom(model, &c)?;
                let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
                let y = f32_mut(y)?;
                kernels::conv2d_f32(
                    &g,
                    c.relu,
                    f(x)?,
                    model.data_f32(c.weights)?,
                    model.data_f32(c.bias)?,
                    y,
                );
            }
            Op::Dense(d) => {
                let (i, o) = (model.tensor(d.input)?, model.tensor(d.output)?);
                let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
                let y = f32_mut(y)?;
                kernels::dense_f32(
                    d.relu,
                    f(x)?,
                    model.data_f32(d.weights)?,
                    model.data_f32(d.bias)?,
                    y,
                );
            }
            op @ (Op::MaxPool2d(p) | Op::AvgPool2d(p)) => {
                let (g, i, o) = pool_geom(model, &p)?;
                let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
                let y = f32_mut(y)?;
                match op {
                    Op::MaxPool2d(_) => kernels::maxpool2d_f32(&g, f(x)?, y),
                    _ => kernels::avgpool2d_f32(&g, f(x)?, y),
                }
            }
            Op::GlobalAvgPool(u) => {
                let (i, o) = (model.tensor(u.input)?, model.tensor(u.output)?);
                let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
                let y = f32_mut(y)?;
                kernels::global_avgpool_f32(i.shape, f(x)?, y);
            }
            Op::Relu(u) => {
                let (i, o) = (model.tensor(u.input)?, model.tensor(u.output)?);
                let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
                let y = f32_mut(y)?;
                kernels::relu_f32(f(x)?, y);
            }
            Op::Add(a) => {
                let (ta, tb, o) = (
                    model.tensor(a.a)?,
                    model.tensor(a.b)?,
                    model.tensor(a.output)?,
                );
                let ([xa, xb], y) = io(arena, [range(&ta, P), range(&tb, P)], range(&o, P))?;
                let y = f32_mut(y)?;
                kernels::add_f32(a.relu, f(xa)?, f(xb)?, y);
            }
            Op::Flatten(_) => {}
        }
        let out = model.tensor(op.output())?;
        observe(index as u16, &op, f(&arena[range(&out, P)])?);
    }
    let tout = model.output()?;
    let out = &arena[range(&tout, P)];
    f(out)
}
