//! Reading an ONNX file into whittle's graph IR: the protobuf model (onnx-ir's generated
//! `ModelProto`), checked op by op against what whittle runs, mapped node for node onto
//! [`NodeDef`]s with weights in burn's layouts. The only file that knows ONNX's types.

use std::collections::{BTreeMap, HashMap, HashSet};

use onnx_ir::{AttributeProto, Message, ModelProto, NodeProto, TensorProto};

use super::error::ImportError;
use super::{Converted, Provenance};
use crate::graph::op::{
    AvgPool, BatchNorm, Clip, Conv2d, Dense, Flatten, GlobalAvgPool, MaxPool, Relu, Softmax,
};
use crate::graph::{GraphDef, InputRange, NodeDef, Op, Pad, Shape};
use crate::nn::NamedTensor;

/// The ONNX ops whittle imports, as error messages list them.
pub const SUPPORTED: &str = "Conv, BatchNormalization, Relu, Clip, Add, MaxPool, AveragePool, \
     GlobalAveragePool, Flatten, Reshape (to [batch, features]), Gemm, MatMul (+ Add), Dropout, \
     Identity, Softmax (last), Transpose (NHWC input), Pad (before a Conv), Constant";

const OPS: &[&str] = &[
    "Conv",
    "BatchNormalization",
    "Relu",
    "Clip",
    "Add",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "Flatten",
    "Reshape",
    "Gemm",
    "MatMul",
    "Dropout",
    "Identity",
    "Softmax",
    "Transpose",
    "Pad",
    "Constant",
];

// TensorProto.DataType values.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const DOUBLE: i32 = 11;

/// An activation of the graph being built: its whittle value name and shape.
#[derive(Debug, Clone)]
struct Val {
    name: String,
    shape: Shape,
}

/// A Pad waiting for the conv that reads it: its input and `[top, left, bottom, right]`.
#[derive(Debug, Clone)]
struct PendingPad {
    node: String,
    src: Val,
    pad: [usize; 4],
}

struct Ctx<'m> {
    path: String,
    opset: i64,
    /// Initializers and Constant outputs by name.
    consts: HashMap<String, &'m TensorProto>,
    /// Activations by ONNX value name.
    vals: HashMap<String, Val>,
    pads: HashMap<String, PendingPad>,
    /// How many node inputs (and graph outputs) read each ONNX value.
    readers: HashMap<String, usize>,
    /// MatMul outputs (ONNX name) → index in `nodes` of their bias-less Dense.
    matmuls: HashMap<String, usize>,
    used_names: HashSet<String>,
    nodes: Vec<NodeDef>,
    weights: Vec<Vec<NamedTensor>>,
    removed: Vec<String>,
    folded: Vec<String>,
    graph_output: String,
}

/// The display name of an ONNX node: its name, or its index and first output.
fn label(i: usize, n: &NodeProto) -> String {
    if n.name.is_empty() {
        format!(
            "#{i} (output {})",
            n.output.first().map_or("?", |s| s.as_str())
        )
    } else {
        n.name.clone()
    }
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
    attr(n, name).map_or(default, |a| a.i)
}

fn attr_f(n: &NodeProto, name: &str) -> Option<f32> {
    attr(n, name).map(|a| a.f)
}

fn attr_ints(n: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(n, name).map(|a| a.ints.clone())
}

fn attr_s(n: &NodeProto, name: &str) -> Option<String> {
    attr(n, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

/// A float tensor's values (FLOAT or DOUBLE, inline or raw bytes) and dimensions.
fn floats(t: &TensorProto) -> Result<(Vec<usize>, Vec<f32>), String> {
    let dims = dims_of(t)?;
    let count: usize = dims.iter().product();
    if t.data_location.value() == 1 {
        return Err(format!("tensor `{}` stores its data externally", t.name));
    }
    let v: Vec<f32> = match t.data_type {
        FLOAT if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        FLOAT => t.float_data.clone(),
        DOUBLE if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        DOUBLE => t.double_data.iter().map(|&d| d as f32).collect(),
        other => {
            return Err(format!(
                "tensor `{}` has data type {other}; whittle reads float (1) and double (11)",
                t.name
            ));
        }
    };
    if v.len() != count {
        return Err(format!(
            "tensor `{}` has {} values for dims {dims:?}",
            t.name,
            v.len()
        ));
    }
    Ok((dims, v))
}

/// An integer tensor's values (INT64 or INT32, inline or raw bytes).
fn ints(t: &TensorProto) -> Result<Vec<i64>, String> {
    let count: usize = dims_of(t)?.iter().product();
    let v: Vec<i64> = match t.data_type {
        INT64 if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect(),
        INT64 => t.int64_data.clone(),
        INT32 if !t.raw_data.is_empty() => t
            .raw_data
            .chunks_exact(4)
            .map(|b| i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect(),
        INT32 => t.int32_data.iter().map(|&v| i64::from(v)).collect(),
        other => {
            return Err(format!(
                "tensor `{}` has data type {other}; expected int64 (7) or int32 (6)",
                t.name
            ));
        }
    };
    if v.len() != count {
        return Err(format!("tensor `{}` has {} values", t.name, v.len()));
    }
    Ok(v)
}

fn dims_of(t: &TensorProto) -> Result<Vec<usize>, String> {
    t.dims
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| format!("tensor `{}` has dims {:?}", t.name, t.dims))
        })
        .collect()
}

fn tensor(name: &str, shape: Vec<usize>, values: Vec<f32>) -> NamedTensor {
    NamedTensor {
        name: name.into(),
        shape,
        values,
    }
}

/// Transposes a row-major `[rows, cols]` matrix.
fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

/// Padding `[begin, end]` of one axis under an ONNX `auto_pad` SAME mode.
pub(super) fn same_pad(n: usize, k: usize, s: usize, upper: bool) -> [usize; 2] {
    let out = n.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(n);
    let small = total / 2;
    if upper {
        [small, total - small]
    } else {
        [total - small, small]
    }
}

impl<'m> Ctx<'m> {
    fn err(&self, i: usize, n: &NodeProto, message: impl Into<String>) -> ImportError {
        ImportError::Node {
            path: self.path.clone(),
            node: label(i, n),
            op: n.op_type.clone(),
            opset: self.opset,
            message: message.into(),
        }
    }

    /// A fresh whittle node name for ONNX node `n` (its name, else its output's).
    fn fresh(&mut self, n: &NodeProto) -> String {
        let base = if n.name.is_empty() {
            n.output.first().cloned().unwrap_or_else(|| "node".into())
        } else {
            n.name.clone()
        };
        let mut name = base.clone();
        let mut k = 1;
        while self.used_names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.used_names.insert(name.clone());
        name
    }

    /// The activation ONNX value `name` read by node `n`, refusing a pending Pad (only a
    /// Conv folds it).
    fn act(&self, i: usize, n: &NodeProto, name: &str) -> Result<Val, ImportError> {
        if let Some(p) = self.pads.get(name) {
            return Err(self.err(
                i,
                n,
                format!(
                    "reads the output of Pad `{}`: whittle folds a Pad only into the Conv after it",
                    p.node
                ),
            ));
        }
        if let Some(v) = self.vals.get(name) {
            return Ok(v.clone());
        }
        if self.consts.contains_key(name) {
            return Err(self.err(
                i,
                n,
                format!("input `{name}` is a constant where whittle expects an activation"),
            ));
        }
        Err(self.err(
            i,
            n,
            format!("input `{name}` is not defined before this node"),
        ))
    }

    fn constant(
        &self,
        i: usize,
        n: &NodeProto,
        name: &str,
    ) -> Result<&'m TensorProto, ImportError> {
        self.consts.get(name).copied().ok_or_else(|| {
            self.err(
                i,
                n,
                format!("input `{name}` must be a constant (an initializer or a Constant node)"),
            )
        })
    }

    fn const_floats(
        &self,
        i: usize,
        n: &NodeProto,
        name: &str,
    ) -> Result<(Vec<usize>, Vec<f32>), ImportError> {
        floats(self.constant(i, n, name)?).map_err(|m| self.err(i, n, m))
    }

    /// An optional scalar constant input (Clip's bounds, Pad's value).
    fn opt_scalar(&self, i: usize, n: &NodeProto, k: usize) -> Result<Option<f32>, ImportError> {
        match n.input.get(k).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(name) => {
                let (_, v) = self.const_floats(i, n, name)?;
                match v.as_slice() {
                    [x] => Ok(Some(*x)),
                    _ => Err(self.err(i, n, format!("input `{name}` must be a scalar"))),
                }
            }
        }
    }

    /// Appends a node reading `inputs`, checks its shape and records its output.
    fn push(
        &mut self,
        i: usize,
        n: &NodeProto,
        op: Op,
        inputs: Vec<Val>,
        weights: Vec<NamedTensor>,
    ) -> Result<usize, ImportError> {
        let shapes: Vec<Shape> = inputs.iter().map(|v| v.shape).collect();
        let shape = op.kind().infer(&shapes).map_err(|m| self.err(i, n, m))?;
        let name = self.fresh(n);
        self.nodes.push(NodeDef {
            name: name.clone(),
            op,
            inputs: inputs.into_iter().map(|v| v.name).collect(),
        });
        self.weights.push(weights);
        self.define(n, Val { name, shape });
        Ok(self.nodes.len() - 1)
    }

    fn define(&mut self, n: &NodeProto, v: Val) {
        if let Some(out) = n.output.first() {
            self.vals.insert(out.clone(), v);
        }
    }

    /// The node is removed: its output is its first input.
    fn alias(&mut self, i: usize, n: &NodeProto, why: &str) -> Result<(), ImportError> {
        let src = n.input.first().cloned().unwrap_or_default();
        let v = self.act(i, n, &src)?;
        self.define(n, v);
        self.removed
            .push(format!("{} ({}): {why}", label(i, n), n.op_type));
        Ok(())
    }

    /// Outputs after the first must not be read (Dropout's mask, MaxPool's indices, …).
    fn single_output(&self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        for o in n.output.iter().skip(1).filter(|o| !o.is_empty()) {
            if self.readers.get(o).copied().unwrap_or(0) > 0 {
                return Err(self.err(
                    i,
                    n,
                    format!("its extra output `{o}` is read; whittle supports only the first"),
                ));
            }
        }
        Ok(())
    }

    fn conv(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x_name = n.input.first().cloned().unwrap_or_default();
        let (x, extra, pad_node) = match self.pads.get(&x_name) {
            Some(p) => (p.src.clone(), p.pad, Some(p.node.clone())),
            None => (self.act(i, n, &x_name)?, [0; 4], None),
        };
        let Shape::Chw(cin, h, w) = x.shape else {
            return Err(self.err(i, n, format!("needs a [C, H, W] input, found {}", x.shape)));
        };
        let w_name = n.input.get(1).cloned().unwrap_or_default();
        let (wd, wv) = self.const_floats(i, n, &w_name)?;
        let [out, wc, kh, kw] = wd[..] else {
            return Err(self.err(
                i,
                n,
                format!("weight dims {wd:?}: whittle imports 2-D convs"),
            ));
        };
        if attr_i(n, "group", 1) != 1 {
            return Err(self.err(
                i,
                n,
                "group > 1: whittle imports dense convs (group = 1) only",
            ));
        }
        if wc != cin {
            return Err(self.err(
                i,
                n,
                format!("weight has {wc} input channels, its input {}", x.shape),
            ));
        }
        if let Some(d) = attr_ints(n, "dilations")
            && d.iter().any(|&v| v != 1)
        {
            return Err(self.err(i, n, format!("dilations {d:?}: whittle supports 1 only")));
        }
        if let Some(k) = attr_ints(n, "kernel_shape")
            && k != [kh as i64, kw as i64]
        {
            return Err(self.err(
                i,
                n,
                format!("kernel_shape {k:?} disagrees with the weight"),
            ));
        }
        let stride = match attr_ints(n, "strides") {
            None => [1, 1],
            Some(s) => match s[..] {
                [a, b] if a > 0 && b > 0 => [a as usize, b as usize],
                _ => return Err(self.err(i, n, format!("strides {s:?}"))),
            },
        };
        let mut pad = self.window_pads(i, n, [h, w], [kh, kw], stride)?;
        for (p, e) in pad.iter_mut().zip(extra) {
            *p += e;
        }
        if let Some(p) = pad_node {
            self.folded
                .push(format!("Pad `{p}` into Conv `{}`", label(i, n)));
        }
        let bias = match n.input.get(2).filter(|s| !s.is_empty()) {
            Some(b) => {
                let (bd, bv) = self.const_floats(i, n, &b.clone())?;
                if bv.len() != out {
                    return Err(self.err(i, n, format!("bias dims {bd:?} for {out} channels")));
                }
                Some(bv)
            }
            None => None,
        };
        let op = Op::Conv2d(Conv2d {
            out,
            kernel: [kh, kw],
            stride,
            padding: Pad(pad),
            bias: bias.is_some(),
            groups: 1,
        });
        let mut ws = vec![tensor("weight", wd.clone(), wv)];
        if let Some(b) = bias {
            ws.push(tensor("bias", vec![out], b));
        }
        self.push(i, n, op, vec![x], ws)?;
        Ok(())
    }

    /// `[top, left, bottom, right]` from `pads` / `auto_pad` of a conv or pool.
    fn window_pads(
        &self,
        i: usize,
        n: &NodeProto,
        hw: [usize; 2],
        k: [usize; 2],
        s: [usize; 2],
    ) -> Result<[usize; 4], ImportError> {
        let auto = attr_s(n, "auto_pad").unwrap_or_else(|| "NOTSET".into());
        match auto.as_str() {
            "NOTSET" | "" => match attr_ints(n, "pads") {
                None => Ok([0; 4]),
                Some(p) if p.len() == 4 && p.iter().all(|&v| v >= 0) => {
                    Ok([p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize])
                }
                Some(p) => Err(self.err(i, n, format!("pads {p:?}: expected 4 values ≥ 0"))),
            },
            "VALID" => Ok([0; 4]),
            "SAME_UPPER" | "SAME_LOWER" => {
                let up = auto == "SAME_UPPER";
                let [t, b] = same_pad(hw[0], k[0], s[0], up);
                let [l, r] = same_pad(hw[1], k[1], s[1], up);
                Ok([t, l, b, r])
            }
            other => Err(self.err(i, n, format!("auto_pad `{other}`"))),
        }
    }

    fn pool(&mut self, i: usize, n: &NodeProto, max: bool) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        self.single_output(i, n)?;
        let Shape::Chw(_, h, w) = x.shape else {
            return Err(self.err(i, n, format!("needs a [C, H, W] input, found {}", x.shape)));
        };
        let kernel = match attr_ints(n, "kernel_shape").as_deref() {
            Some(&[a, b]) if a > 0 && b > 0 => [a as usize, b as usize],
            k => return Err(self.err(i, n, format!("kernel_shape {k:?}: expected 2 values"))),
        };
        let stride = match attr_ints(n, "strides").as_deref() {
            None => [1, 1],
            Some(&[a, b]) if a > 0 && b > 0 => [a as usize, b as usize],
            Some(s) => return Err(self.err(i, n, format!("strides {s:?}"))),
        };
        if attr_i(n, "ceil_mode", 0) != 0 {
            return Err(self.err(i, n, "ceil_mode = 1: whittle pools with floor"));
        }
        if let Some(d) = attr_ints(n, "dilations")
            && d.iter().any(|&v| v != 1)
        {
            return Err(self.err(i, n, format!("dilations {d:?}: whittle supports 1 only")));
        }
        if attr_i(n, "storage_order", 0) != 0 {
            return Err(self.err(i, n, "storage_order = 1 (column-major indices)"));
        }
        let pad = self.window_pads(i, n, [h, w], kernel, stride)?;
        if pad != [0; 4] {
            return Err(self.err(i, n, format!("pads {pad:?}: whittle pools without padding")));
        }
        let op = if max {
            Op::MaxPool(MaxPool { kernel, stride })
        } else {
            Op::AvgPool(AvgPool { kernel, stride })
        };
        self.push(i, n, op, vec![x], Vec::new())?;
        Ok(())
    }

    fn batch_norm(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        self.single_output(i, n)?;
        if attr_i(n, "training_mode", 0) != 0 {
            return Err(self.err(i, n, "training_mode = 1: whittle imports inference graphs"));
        }
        if n.input.len() != 5 {
            return Err(self.err(i, n, "expected inputs X, scale, B, mean, var"));
        }
        let c = x.shape.channels();
        let mut ws = Vec::new();
        for (k, name) in ["gamma", "beta", "running_mean", "running_var"]
            .iter()
            .enumerate()
        {
            let (d, v) = self.const_floats(i, n, &n.input[k + 1].clone())?;
            if v.len() != c {
                return Err(self.err(i, n, format!("{name} dims {d:?} for {c} channels")));
            }
            ws.push(tensor(name, vec![c], v));
        }
        let epsilon = f64::from(attr_f(n, "epsilon").unwrap_or(1e-5));
        // ONNX: running = momentum·running + (1 − momentum)·batch; whittle (PyTorch): the
        // weight of the batch.
        let momentum = (1.0 - f64::from(attr_f(n, "momentum").unwrap_or(0.9))).clamp(0.0, 1.0);
        self.push(
            i,
            n,
            Op::BatchNorm(BatchNorm { epsilon, momentum }),
            vec![x],
            ws,
        )?;
        Ok(())
    }

    fn clip(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        let (lo, hi) = if self.opset < 11 {
            (attr_f(n, "min"), attr_f(n, "max"))
        } else {
            (self.opt_scalar(i, n, 1)?, self.opt_scalar(i, n, 2)?)
        };
        let op = match (lo, hi) {
            (Some(0.0), None) => Op::Relu(Relu {}),
            (Some(l), Some(h)) if l.is_finite() && h.is_finite() && l <= h => {
                Op::Clip(Clip { min: l, max: h })
            }
            _ => {
                return Err(self.err(
                    i,
                    n,
                    format!(
                        "bounds {lo:?}..{hi:?}: whittle imports Clip with finite constant bounds \
                         (ReLU6 is 0..6) or min 0 without max (ReLU)"
                    ),
                ));
            }
        };
        self.push(i, n, op, vec![x], Vec::new())?;
        Ok(())
    }

    fn add(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let [a, b] = &n.input[..] else {
            return Err(self.err(i, n, "expected two inputs"));
        };
        let (ca, cb) = (self.consts.contains_key(a), self.consts.contains_key(b));
        if !ca && !cb {
            let (va, vb) = (self.act(i, n, a)?, self.act(i, n, b)?);
            self.push(
                i,
                n,
                Op::Add(crate::graph::op::Add {}),
                vec![va, vb],
                Vec::new(),
            )?;
            return Ok(());
        }
        // A constant: the bias of the MatMul before it.
        let (x, c) = if ca { (b, a) } else { (a, b) };
        let Some(&k) = self.matmuls.get(x) else {
            return Err(self.err(
                i,
                n,
                "adds a constant: whittle imports that only as the bias after a MatMul",
            ));
        };
        if self.readers.get(x).copied().unwrap_or(0) != 1 {
            return Err(self.err(
                i,
                n,
                format!("the MatMul output `{x}` is read elsewhere too: its bias cannot fold"),
            ));
        }
        let (_, v) = self.const_floats(i, n, &c.clone())?;
        let Op::Dense(d) = &self.nodes[k].op else {
            return Err(self.err(i, n, "internal: MatMul is not a Dense"));
        };
        let out = d.out;
        let bias = match v.len() {
            1 => vec![v[0]; out],
            m if m == out => v,
            m => return Err(self.err(i, n, format!("{m} bias values for {out} features"))),
        };
        self.nodes[k].op = Op::Dense(Dense { out, bias: true });
        self.weights[k].push(tensor("bias", vec![out], bias));
        self.matmuls.remove(x);
        let v = self.vals[x].clone();
        self.define(n, v);
        self.folded.push(format!(
            "Add `{}` into MatMul `{}` as its bias",
            label(i, n),
            self.nodes[k].name
        ));
        Ok(())
    }

    fn gemm(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        let Shape::Flat(k) = x.shape else {
            return Err(self.err(
                i,
                n,
                format!("needs a flat input (Flatten first), found {}", x.shape),
            ));
        };
        if attr_i(n, "transA", 0) != 0 {
            return Err(self.err(
                i,
                n,
                "transA = 1 would transpose the batch axis of its activation input; whittle \
                 imports Gemm with transA = 0 (transB either way)",
            ));
        }
        let alpha = attr_f(n, "alpha").unwrap_or(1.0);
        let beta = attr_f(n, "beta").unwrap_or(1.0);
        let (wd, wv) = self.const_floats(i, n, &n.input.get(1).cloned().unwrap_or_default())?;
        let trans_b = attr_i(n, "transB", 0) != 0;
        let (out, w) = match (&wd[..], trans_b) {
            (&[kk, o], false) if kk == k => (o, wv),
            (&[o, kk], true) if kk == k => (o, transpose(&wv, o, kk)),
            _ => {
                return Err(self.err(
                    i,
                    n,
                    format!("B dims {wd:?} (transB {trans_b}) do not fit {k} input features"),
                ));
            }
        };
        let w: Vec<f32> = w.into_iter().map(|v| v * alpha).collect();
        let mut ws = vec![tensor("weight", vec![k, out], w)];
        let bias = match n.input.get(2).filter(|s| !s.is_empty()) {
            None => false,
            Some(c) => {
                let (cd, cv) = self.const_floats(i, n, &c.clone())?;
                let b = match cv.len() {
                    1 => vec![cv[0] * beta; out],
                    m if m == out && cd.iter().rev().skip(1).all(|&d| d == 1) => {
                        cv.into_iter().map(|v| v * beta).collect()
                    }
                    _ => {
                        return Err(self.err(
                            i,
                            n,
                            format!("C dims {cd:?}: whittle adds one bias per output feature"),
                        ));
                    }
                };
                ws.push(tensor("bias", vec![out], b));
                true
            }
        };
        self.push(i, n, Op::Dense(Dense { out, bias }), vec![x], ws)?;
        Ok(())
    }

    fn matmul(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        let Shape::Flat(k) = x.shape else {
            return Err(self.err(i, n, format!("needs a flat input, found {}", x.shape)));
        };
        let (wd, wv) = self.const_floats(i, n, &n.input.get(1).cloned().unwrap_or_default())?;
        let out = match wd[..] {
            [kk, o] if kk == k => o,
            _ => {
                return Err(self.err(
                    i,
                    n,
                    format!("B dims {wd:?} do not fit {k} input features (activation × constant)"),
                ));
            }
        };
        let idx = self.push(
            i,
            n,
            Op::Dense(Dense { out, bias: false }),
            vec![x],
            vec![tensor("weight", vec![k, out], wv)],
        )?;
        if let Some(o) = n.output.first() {
            self.matmuls.insert(o.clone(), idx);
        }
        Ok(())
    }

    fn flatten(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        let rank = if matches!(x.shape, Shape::Chw(..)) {
            4
        } else {
            2
        };
        let axis = attr_i(n, "axis", 1);
        if axis != 1 && axis + rank != 1 {
            return Err(self.err(i, n, format!("axis {axis}: whittle flattens from axis 1")));
        }
        self.flat_value(i, n, x)
    }

    fn flat_value(&mut self, i: usize, n: &NodeProto, x: Val) -> Result<(), ImportError> {
        match x.shape {
            Shape::Chw(..) => {
                self.push(i, n, Op::Flatten(Flatten {}), vec![x], Vec::new())?;
            }
            Shape::Flat(_) => {
                self.define(n, x);
                self.removed
                    .push(format!("{} ({}): already flat", label(i, n), n.op_type));
            }
        }
        Ok(())
    }

    fn reshape(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        let s_name = n.input.get(1).cloned().unwrap_or_default();
        let shape = ints(self.constant(i, n, &s_name)?).map_err(|m| self.err(i, n, m))?;
        let numel = x.shape.numel() as i64;
        let zero_is_copy = attr_i(n, "allowzero", 0) == 0;
        let flat = match shape[..] {
            [-1, f] => f == numel,
            [0, f] if zero_is_copy => f == numel || f == -1,
            [1, f] => f == numel || f == -1,
            _ => false,
        };
        if !flat {
            return Err(self.err(
                i,
                n,
                format!(
                    "shape {shape:?} of a {} value: whittle imports Reshape only to \
                     [batch, {numel}]",
                    x.shape
                ),
            ));
        }
        self.flat_value(i, n, x)
    }

    fn softmax(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x = self.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
        let axis = attr_i(n, "axis", if self.opset < 13 { 1 } else { -1 });
        if !matches!(x.shape, Shape::Flat(_)) || !(axis == 1 || axis == -1) {
            return Err(self.err(
                i,
                n,
                format!(
                    "axis {axis} over {}: whittle imports Softmax over features",
                    x.shape
                ),
            ));
        }
        if n.output.first() != Some(&self.graph_output) {
            return Err(self.err(i, n, "whittle imports Softmax only as the model's output"));
        }
        self.push(i, n, Op::Softmax(Softmax {}), vec![x], Vec::new())?;
        Ok(())
    }

    fn pad(&mut self, i: usize, n: &NodeProto) -> Result<(), ImportError> {
        let x_name = n.input.first().cloned().unwrap_or_default();
        let (src, mut acc) = match self.pads.get(&x_name) {
            Some(p) => (p.src.clone(), p.pad),
            None => (self.act(i, n, &x_name)?, [0; 4]),
        };
        let mode = attr_s(n, "mode").unwrap_or_else(|| "constant".into());
        if mode != "constant" {
            return Err(self.err(
                i,
                n,
                format!("mode `{mode}`: whittle folds zero padding only"),
            ));
        }
        let (pads, value) = if self.opset < 11 {
            (attr_ints(n, "pads").unwrap_or_default(), attr_f(n, "value"))
        } else {
            let p = ints(self.constant(i, n, &n.input.get(1).cloned().unwrap_or_default())?)
                .map_err(|m| self.err(i, n, m))?;
            (p, self.opt_scalar(i, n, 2)?)
        };
        if value.is_some_and(|v| v != 0.0) {
            return Err(self.err(
                i,
                n,
                format!("value {value:?}: whittle folds zero padding only"),
            ));
        }
        // Full rank-4 pads, or per axis when `axes` (opset 18) names them.
        let mut full = [0i64; 8];
        match n.input.get(3).filter(|s| !s.is_empty()) {
            None if pads.len() == 8 => full.copy_from_slice(&pads),
            None => return Err(self.err(i, n, format!("pads {pads:?}: expected 8 values"))),
            Some(a) => {
                let axes = ints(self.constant(i, n, a)?).map_err(|m| self.err(i, n, m))?;
                if pads.len() != 2 * axes.len() {
                    return Err(self.err(i, n, format!("pads {pads:?} for axes {axes:?}")));
                }
                for (k, &ax) in axes.iter().enumerate() {
                    let ax = if ax < 0 { ax + 4 } else { ax };
                    if !(0..4).contains(&ax) {
                        return Err(self.err(i, n, format!("axis {ax}")));
                    }
                    full[ax as usize] = pads[k];
                    full[ax as usize + 4] = pads[k + axes.len()];
                }
            }
        }
        if full.iter().any(|&p| p < 0)
            || full[0] != 0
            || full[1] != 0
            || full[4] != 0
            || full[5] != 0
        {
            return Err(self.err(
                i,
                n,
                format!(
                    "pads {full:?}: whittle folds non-negative padding of height and width only"
                ),
            ));
        }
        for (a, p) in acc.iter_mut().zip([full[2], full[3], full[6], full[7]]) {
            *a += p as usize;
        }
        if let Some(o) = n.output.first() {
            self.pads.insert(
                o.clone(),
                PendingPad {
                    node: label(i, n),
                    src,
                    pad: acc,
                },
            );
        }
        Ok(())
    }
}

/// Parses ONNX bytes (`path` names them in errors) into a whittle graph definition with
/// weights per node, for an input in `range`.
pub fn convert(bytes: &[u8], path: &str, range: InputRange) -> Result<Converted, ImportError> {
    let parse = |message: String| ImportError::Parse {
        path: path.into(),
        message,
    };
    let signature = |message: String| ImportError::Signature {
        path: path.into(),
        message,
    };
    if bytes.is_empty() {
        return Err(parse("the file is empty".into()));
    }
    // The protobuf decoder returns errors on bad wire data (truncation included); it does
    // not panic (see the truncation test).
    let model = ModelProto::parse_from_bytes(bytes).map_err(|e| {
        parse(format!(
            "protobuf decoding failed ({e}): the file is truncated or not ONNX"
        ))
    })?;
    let Some(g) = model.graph.as_ref() else {
        return Err(parse("no graph".into()));
    };
    if model.ir_version <= 0 || g.node.is_empty() {
        return Err(parse(format!(
            "ir_version {}, {} nodes: not a model",
            model.ir_version,
            g.node.len()
        )));
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .ok_or_else(|| parse("no opset for the default ONNX domain".into()))?;

    // Every op must be known before any work.
    for (i, n) in g.node.iter().enumerate() {
        let default_domain = n.domain.is_empty() || n.domain == "ai.onnx";
        if !default_domain || !OPS.contains(&n.op_type.as_str()) {
            return Err(ImportError::Unsupported {
                path: path.into(),
                node: label(i, n),
                op: if default_domain {
                    n.op_type.clone()
                } else {
                    format!("{}::{}", n.domain, n.op_type)
                },
                opset,
                supported: SUPPORTED,
            });
        }
    }

    let mut consts: HashMap<String, &TensorProto> =
        g.initializer.iter().map(|t| (t.name.clone(), t)).collect();
    for (i, n) in g.node.iter().enumerate() {
        if n.op_type == "Constant" {
            let t =
                attr(n, "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or_else(|| ImportError::Node {
                        path: path.into(),
                        node: label(i, n),
                        op: n.op_type.clone(),
                        opset,
                        message: "whittle reads Constant nodes with a `value` tensor only".into(),
                    })?;
            if let Some(o) = n.output.first() {
                consts.insert(o.clone(), t);
            }
        }
    }

    // The one image input.
    let inputs: Vec<_> = g
        .input
        .iter()
        .filter(|v| !consts.contains_key(&v.name))
        .collect();
    let [input] = inputs[..] else {
        return Err(signature(format!(
            "{} graph inputs besides the weights; whittle imports models with one image input",
            inputs.len()
        )));
    };
    let tt = match input.type_.as_ref() {
        Some(t) if t.has_tensor_type() => t.tensor_type().clone(),
        _ => return Err(signature(format!("input `{}` is not a tensor", input.name))),
    };
    if tt.elem_type != FLOAT {
        return Err(signature(format!(
            "input `{}` has element type {}; whittle imports float (1) inputs",
            input.name, tt.elem_type
        )));
    }
    let dims = tt.shape.as_ref().map(|s| s.dim.clone()).unwrap_or_default();
    if dims.len() != 4 {
        return Err(signature(format!(
            "input `{}` has rank {}; whittle imports image batches [N, C, H, W] or [N, H, W, C]",
            input.name,
            dims.len()
        )));
    }
    let mut shown = Vec::new();
    let mut fixed = [0usize; 3];
    for (k, d) in dims.iter().enumerate() {
        let text = if d.has_dim_value() {
            d.dim_value().to_string()
        } else if d.has_dim_param() {
            d.dim_param().to_string()
        } else {
            "?".to_string()
        };
        if k > 0 {
            if !d.has_dim_value() || d.dim_value() <= 0 {
                return Err(signature(format!(
                    "input `{}` has a dynamic dimension `{text}` at axis {k}; only the batch \
                     dimension (axis 0) may be dynamic",
                    input.name
                )));
            }
            fixed[k - 1] = d.dim_value() as usize;
        }
        shown.push(text);
    }
    let outputs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    let [graph_output] = outputs[..] else {
        return Err(signature(format!(
            "{} graph outputs; whittle imports models with one output",
            outputs.len()
        )));
    };

    let mut readers: HashMap<String, usize> = HashMap::new();
    for n in &g.node {
        for x in n.input.iter().filter(|s| !s.is_empty()) {
            *readers.entry(x.clone()).or_default() += 1;
        }
    }
    *readers.entry(graph_output.to_string()).or_default() += 1;

    // A leading Transpose NHWC → NCHW makes the model's input NCHW.
    let input_readers: Vec<(usize, &NodeProto)> = g
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.input.iter().any(|x| x == &input.name))
        .collect();
    let nhwc = input_readers
        .iter()
        .find(|(_, n)| n.op_type == "Transpose")
        .copied();
    let chw = match nhwc {
        Some((i, n)) => {
            let perm = attr_ints(n, "perm").unwrap_or_default();
            if perm != [0, 3, 1, 2] || input_readers.len() != 1 {
                return Err(ImportError::Node {
                    path: path.into(),
                    node: label(i, n),
                    op: n.op_type.clone(),
                    opset,
                    message: format!(
                        "perm {perm:?}: whittle imports a Transpose only as NHWC → NCHW \
                         (perm [0, 3, 1, 2]) and the input's only reader"
                    ),
                });
            }
            [fixed[2], fixed[0], fixed[1]]
        }
        None => fixed,
    };

    let mut ctx = Ctx {
        path: path.into(),
        opset,
        consts,
        vals: HashMap::new(),
        pads: HashMap::new(),
        readers,
        matmuls: HashMap::new(),
        used_names: HashSet::from([input.name.clone()]),
        nodes: Vec::new(),
        weights: Vec::new(),
        removed: Vec::new(),
        folded: Vec::new(),
        graph_output: graph_output.to_string(),
    };
    ctx.vals.insert(
        input.name.clone(),
        Val {
            name: input.name.clone(),
            shape: Shape::Chw(chw[0], chw[1], chw[2]),
        },
    );
    let mut op_counts: BTreeMap<String, usize> = BTreeMap::new();
    for (i, n) in g.node.iter().enumerate() {
        *op_counts.entry(n.op_type.clone()).or_default() += 1;
        match n.op_type.as_str() {
            "Conv" => ctx.conv(i, n)?,
            "BatchNormalization" => ctx.batch_norm(i, n)?,
            "Relu" => {
                let x = ctx.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
                ctx.push(i, n, Op::Relu(Relu {}), vec![x], Vec::new())?;
            }
            "Clip" => ctx.clip(i, n)?,
            "Add" => ctx.add(i, n)?,
            "MaxPool" => ctx.pool(i, n, true)?,
            "AveragePool" => ctx.pool(i, n, false)?,
            "GlobalAveragePool" => {
                let x = ctx.act(i, n, &n.input.first().cloned().unwrap_or_default())?;
                ctx.push(
                    i,
                    n,
                    Op::GlobalAvgPool(GlobalAvgPool {}),
                    vec![x],
                    Vec::new(),
                )?;
            }
            "Flatten" => ctx.flatten(i, n)?,
            "Reshape" => ctx.reshape(i, n)?,
            "Gemm" => ctx.gemm(i, n)?,
            "MatMul" => ctx.matmul(i, n)?,
            "Dropout" => {
                ctx.single_output(i, n)?;
                ctx.alias(i, n, "identity at inference")?;
            }
            "Identity" => {
                let src = n.input.first().cloned().unwrap_or_default();
                if let Some(&t) = ctx.consts.get(&src) {
                    if let Some(o) = n.output.first() {
                        ctx.consts.insert(o.clone(), t);
                    }
                } else {
                    ctx.alias(i, n, "identity")?;
                }
            }
            "Softmax" => ctx.softmax(i, n)?,
            "Transpose" => {
                let v = ctx.act(i, n, &input.name)?;
                ctx.define(n, v);
                ctx.folded.push(format!(
                    "Transpose `{}` (NHWC → NCHW): whittle's input is NCHW",
                    label(i, n)
                ));
            }
            "Pad" => ctx.pad(i, n)?,
            "Constant" => {}
            other => {
                return Err(ImportError::Unsupported {
                    path: path.into(),
                    node: label(i, n),
                    op: other.into(),
                    opset,
                    supported: SUPPORTED,
                });
            }
        }
    }
    let out =
        ctx.vals.get(graph_output).cloned().ok_or_else(|| {
            signature(format!("the output `{graph_output}` is not an activation"))
        })?;
    let Shape::Flat(classes) = out.shape else {
        return Err(signature(format!(
            "the output `{graph_output}` has shape {}; whittle imports classifiers with \
             [batch, classes] outputs",
            out.shape
        )));
    };
    let name = if g.name.is_empty() {
        "onnx".to_string()
    } else {
        g.name.clone()
    };
    let def = GraphDef {
        name,
        input_name: input.name.clone(),
        input: chw,
        input_range: range,
        classes,
        nodes: ctx.nodes,
        output: out.name,
        frozen: Vec::new(),
    };
    let provenance = Provenance {
        source: path.into(),
        sha256: String::new(),
        bytes: bytes.len(),
        ir_version: model.ir_version,
        opset,
        producer: format!("{} {}", model.producer_name, model.producer_version)
            .trim()
            .to_string(),
        graph: g.name.clone(),
        input: input.name.clone(),
        input_shape: shown,
        input_layout: if nhwc.is_some() { "NHWC" } else { "NCHW" }.into(),
        input_range: range,
        output: graph_output.into(),
        onnx_nodes: g.node.len(),
        op_counts,
        removed: ctx.removed,
        folded: ctx.folded,
        whittle_nodes: def.nodes.len(),
        parameters: ctx.weights.iter().flatten().map(|t| t.values.len()).sum(),
    };
    Ok(Converted {
        def,
        weights: ctx.weights,
        provenance,
    })
}
