//! The executor: runs a validated [`Model`] op by op inside one caller-provided RAM buffer
//! (activation arena followed by scratch), calling the kernels. No allocation, no panics on
//! a validated model. Which kernel variant runs each op is planned once ([`plan_s8`]); a
//! build can compile a subset of the variants ([`run_s8_in`], [`needed`]).

use core::ops::Range;

use crate::error::{Error, Result};
use crate::format::{ADD_TAG, Add, Conv2d, DATA_ALIGN, Op, Precision, TensorInfo};
use crate::fuse::{self, ConvAdd};
use crate::kernels::select::{self, Kernel, KernelSet, has, has_const, scratch_words};
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
pub fn add_params(model: &Model, a: &Add) -> Result<AddParams> {
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

/// Runs a fused conv + add on its planned path and conv variant: the skip's bytes become the
/// add's output (inlined: ResNet-8's peak stack measured 2,308 B so, 2,700 B apart).
#[inline]
fn conv_add_s8<const K: u128>(
    model: &Model,
    (index, c, f, kernels): (u16, &Conv2d, &ConvAdd, (Kernel, Kernel)),
    (g, i, o): (ConvGeom, TensorInfo, TensorInfo),
    arena: &mut [u8],
    scratch: &mut [u8],
) -> Result<()> {
    const P: Precision = Precision::Int8;
    let skip = model.tensor(f.skip)?;
    let p = add_params(model, &f.add)?;
    let ([x, _], acc) = io(arena, [range(&i, P), 0..0], range(&skip, P))?;
    let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
    let ran = kernels::conv2d_add_s8::<K>(
        kernels,
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
    let missing = if has(K, kernels.0) {
        kernels.1
    } else {
        kernels.0
    };
    ran.then_some(()).ok_or(not_built(index, missing))
}

/// The error for an op whose variant this build left out.
#[cold]
fn not_built(op: u16, kernel: Kernel) -> Error {
    Error::KernelNotBuilt {
        op,
        kernel: kernel.index(),
    }
}

/// One step of an int8 run: an op, or a conv fused with the add after it, and the kernel
/// variant that runs it ([`select`]). The executor runs these; [`needed`] collects them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Index of the (first) op.
    pub index: u16,
    pub op: Op,
    /// The add fused into the conv `op`, with what the fusion needs.
    pub fused: Option<(Op, ConvAdd)>,
    /// The variant that runs the step (`None`: a flatten, which is a view); a fused step's
    /// path ([`Kernel::ConvAdd`], [`Kernel::ConvAddBand`] or [`Kernel::ConvAddPointwise`]).
    pub kernel: Option<Kernel>,
    /// A fused step's conv variant.
    pub conv: Option<Kernel>,
    /// A conv's geometry, input and output tensors (looked up once, for plan and run).
    pub geom: Option<(ConvGeom, TensorInfo, TensorInfo)>,
}

/// The int8 steps of `model` in execution order, each with its kernel variant, planned
/// for a RAM buffer as [`run_s8`] takes it.
pub fn plan_s8<'m, 'a>(model: &'m Model<'a>) -> Plan<'m, 'a> {
    plan_s8_in::<{ KernelSet::ALL.0 }>(model)
}

/// [`plan_s8`] for a build with the variants `K`: without either fused path
/// ([`Kernel::ConvAdd`], [`Kernel::ConvAddBand`], [`Kernel::ConvAddPointwise`]) a fused pair is an
/// [`Error::KernelNotBuilt`] (and the fused step's planning is not compiled in).
pub fn plan_s8_in<'m, 'a, const K: u128>(model: &'m Model<'a>) -> Plan<'m, 'a, K> {
    Plan {
        model,
        ops: model.ops(),
        index: 0,
    }
}

/// Iterator of [`plan_s8_in`].
pub struct Plan<'m, 'a, const K: u128 = { u128::MAX }> {
    model: &'m Model<'a>,
    ops: crate::model::Records<'a, Op>,
    index: u16,
}

impl<const K: u128> Iterator for Plan<'_, '_, K> {
    type Item = Result<Step>;

    fn next(&mut self) -> Option<Result<Step>> {
        let op = match self.ops.next()? {
            Ok(op) => op,
            Err(e) => return Some(Err(e)),
        };
        let index = self.index;
        let step = plan_op(
            self.model,
            &mut self.ops,
            index,
            op,
            has_const!(K, Kernel::ConvAdd)
                || has_const!(K, Kernel::ConvAddBand)
                || has_const!(K, Kernel::ConvAddPointwise),
        );
        if let Ok(s) = &step {
            self.index += 1 + s.fused.is_some() as u16;
        }
        Some(step)
    }
}

/// The step starting with `op` (taking the add after it from `ops` when fused).
fn plan_op(
    model: &Model,
    ops: &mut crate::model::Records<'_, Op>,
    index: u16,
    op: Op,
    fuse: bool,
) -> Result<Step> {
    const P: Precision = Precision::Int8;
    let words = scratch_words(model.arena_bytes(), model.scratch_bytes());
    let mut step = Step {
        index,
        op,
        fused: None,
        kernel: None,
        conv: None,
        geom: None,
    };
    // A conv followed by an add may be fused; the tag byte says "add" before any decode.
    if let Op::Conv2d(c) = op
        && ops.next_tag() == Some(ADD_TAG)
        && let Some(Ok(next)) = ops.clone().next()
        && let Some(f) = fused(model, &c, &next)?
    {
        if !fuse {
            return Err(not_built(index, Kernel::ConvAdd));
        }
        ops.next();
        let geom = conv_geom(model, &c)?;
        let (g, i, o) = &geom;
        let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
        let (path, conv) = select::conv_add_s8(
            g,
            &q,
            i.bytes(P),
            model.data_i8(c.weights)?.len(),
            model.data_i32(c.bias)?,
            model.data_requant(c.requant)?,
            &add_params(model, &f.add)?,
            model.arena_bytes(),
            model.scratch_bytes(),
        );
        step.fused = Some((next, f));
        step.kernel = Some(path);
        step.conv = Some(conv);
        step.geom = Some(geom);
        return Ok(step);
    }
    step.kernel = match op {
        Op::Conv2d(c) => {
            let geom = conv_geom(model, &c)?;
            step.geom = Some(geom);
            Some(conv_kernel(model, &c, &geom, words)?)
        }
        Op::Dense(d) => {
            let (i, o) = (model.tensor(d.input)?, model.tensor(d.output)?);
            Some(select::dense_s8(
                i.bytes(P),
                model.data_i8(d.weights)?.len(),
                model.data_i32(d.bias)?.len(),
                model.data_requant(d.requant)?.len(),
                o.bytes(P),
                words,
            ))
        }
        Op::MaxPool2d(_) => Some(Kernel::MaxPool),
        Op::AvgPool2d(_) => Some(Kernel::AvgPool),
        Op::GlobalAvgPool(_) => Some(Kernel::GlobalAvgPool),
        Op::Relu(_) => Some(Kernel::Relu),
        Op::Add(_) => Some(Kernel::Add),
        Op::Flatten(_) => None,
    };
    Ok(step)
}

/// The variant of conv `c` (its geometry and tensors `geom`) with `words` words of scratch.
fn conv_kernel(
    model: &Model,
    c: &Conv2d,
    geom: &(ConvGeom, TensorInfo, TensorInfo),
    words: usize,
) -> Result<Kernel> {
    const P: Precision = Precision::Int8;
    let (g, i, o) = geom;
    let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
    Ok(select::conv_s8(
        g,
        &q,
        i.bytes(P),
        model.data_i8(c.weights)?.len(),
        model.data_i32(c.bias)?,
        model.data_requant(c.requant)?,
        o.bytes(P),
        words,
    ))
}

/// The kernel variants an int8 model runs: what a firmware for it must be built with. The
/// same planner as the executor's ([`plan_s8`]), so a firmware built with this set runs the
/// model; an f32 model needs none of them.
pub fn needed(model: &Model) -> Result<KernelSet> {
    if model.precision() != Precision::Int8 {
        return Ok(KernelSet::EMPTY);
    }
    let mut set = KernelSet::EMPTY;
    for step in plan_s8(model) {
        let step = step?;
        for k in [step.kernel, step.conv].into_iter().flatten() {
            set = set.with(k);
        }
    }
    Ok(set)
}

/// Runs one unfused int8 op on its planned variant `kernel`. With the plan computed apart
/// ([`plan_s8_in`]) inlining it costs no stack (measured: the seed net's peak 1,308 B
/// inlined, 1,644 B not; the size build 952 B smaller).
#[inline]
fn op_s8<const K: u128>(
    model: &Model,
    step: &Step,
    arena: &mut [u8],
    scratch: &mut [u8],
) -> Result<()> {
    const P: Precision = Precision::Int8;
    let Step {
        index,
        op,
        kernel,
        geom,
        ..
    } = *step;
    match (kernel, op) {
        (Some(k), Op::Conv2d(c)) => {
            let Some((g, i, o)) = geom else {
                return Err(Error::BadOpTable { index });
            };
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, c.relu);
            let ran = select::conv2d_s8_in::<K>(
                k,
                &g,
                &q,
                bytemuck::cast_slice(x),
                model.data_i8(c.weights)?,
                model.data_i32(c.bias)?,
                model.data_requant(c.requant)?,
                scratch,
                bytemuck::cast_slice_mut(y),
            );
            if !ran {
                return Err(not_built(index, k));
            }
        }
        (Some(k @ (Kernel::Dense | Kernel::DenseReference)), Op::Dense(d)) => {
            let (i, o) = (model.tensor(d.input)?, model.tensor(d.output)?);
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            let q = OutQuant::new(i.zero_point as i32, o.zero_point as i32, d.relu);
            let (x, y) = (bytemuck::cast_slice(x), bytemuck::cast_slice_mut(y));
            let (w, b, rq) = (
                model.data_i8(d.weights)?,
                model.data_i32(d.bias)?,
                model.data_requant(d.requant)?,
            );
            if k == Kernel::Dense && has_const!(K, Kernel::Dense) {
                kernels::dense_s8_fast(&q, x, w, b, rq, scratch, y);
            } else if k == Kernel::DenseReference && has_const!(K, Kernel::DenseReference) {
                kernels::reference::dense_s8(&q, x, w, b, rq, y);
            } else {
                return Err(not_built(index, k));
            }
        }
        (Some(k), Op::MaxPool2d(p) | Op::AvgPool2d(p)) => {
            let (g, i, o) = pool_geom(model, &p)?;
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            let (x, y) = (bytemuck::cast_slice(x), bytemuck::cast_slice_mut(y));
            if k == Kernel::MaxPool && has_const!(K, Kernel::MaxPool) {
                kernels::maxpool2d_s8(&g, x, y);
            } else if k == Kernel::AvgPool && has_const!(K, Kernel::AvgPool) {
                kernels::avgpool2d_s8(&g, x, y);
            } else {
                return Err(not_built(index, k));
            }
        }
        (Some(k), Op::GlobalAvgPool(u)) => {
            if !has_const!(K, Kernel::GlobalAvgPool) {
                return Err(not_built(index, k));
            }
            let (i, o) = (model.tensor(u.input)?, model.tensor(u.output)?);
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            kernels::global_avgpool_s8(
                i.shape,
                bytemuck::cast_slice(x),
                bytemuck::cast_slice_mut(y),
            );
        }
        (Some(k), Op::Relu(u)) => {
            if !has_const!(K, Kernel::Relu) {
                return Err(not_built(index, k));
            }
            let (i, o) = (model.tensor(u.input)?, model.tensor(u.output)?);
            let ([x, _], y) = io(arena, [range(&i, P), 0..0], range(&o, P))?;
            kernels::relu_s8(
                o.zero_point,
                bytemuck::cast_slice(x),
                bytemuck::cast_slice_mut(y),
            );
        }
        (Some(k), Op::Add(a)) => {
            if !has_const!(K, Kernel::Add) {
                return Err(not_built(index, k));
            }
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
        (None, Op::Flatten(_)) => {} // a view: same bytes, same offset
        // Unreachable: the planner pairs each op with its own kind of variant.
        _ => return Err(Error::BadOpTable { index }),
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
    run_s8_in::<{ KernelSet::ALL.0 }>(model, input, ram, observe)
}

/// [`run_s8_observed`] with only the kernel variants in the set `K` (bits of a
/// [`KernelSet`]) compiled in: a firmware passes its blob's [`needed`] set and links no
/// other variant. A step whose variant `K` lacks fails with [`Error::KernelNotBuilt`].
pub fn run_s8_in<'b, const K: u128>(
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
    for step in plan_s8_in::<K>(model) {
        let step = step?;
        let Step {
            index,
            op,
            fused,
            kernel,
            conv,
            geom,
        } = step;
        if let (Some((next, f)), Op::Conv2d(c), Some(path), Some(conv), Some(geom)) =
            (fused, op, kernel, conv, geom)
        {
            // A constant: without a fused path the fused code is not compiled in.
            if !has_const!(K, Kernel::ConvAdd)
                && !has_const!(K, Kernel::ConvAddBand)
                && !has_const!(K, Kernel::ConvAddPointwise)
            {
                return Err(not_built(index, path));
            }
            conv_add_s8::<K>(model, (index, &c, &f, (path, conv)), geom, arena, scratch)?;
            observe(index, &op, &[]);
            let out = model.tensor(f.add.output)?;
            observe(
                index + 1,
                &next,
                bytemuck::cast_slice(&arena[range(&out, P)]),
            );
            continue;
        }
        op_s8::<K>(model, &step, arena, scratch)?;
        let out = model.tensor(op.output())?;
        observe(index, &op, bytemuck::cast_slice(&arena[range(&out, P)]));
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
