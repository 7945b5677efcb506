//! `Net`: the burn model of a [`Graph`] — one [`NodeModule`] per node — and the one
//! interpreter over it that training, gated learning, activation tracing and the surgery
//! check all run (hooks: the gate mode, and an observer that sees every value).

use std::path::Path;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::error::NnError;
use super::module::{self, Act, GateMode, NodeModule};
use crate::graph::{Graph, Op, ValueId};

/// A network: the graph and one module per node.
#[derive(Module, Debug)]
pub struct Net {
    /// `nodes[i]` implements `graph.nodes[i]`.
    pub nodes: Vec<NodeModule>,
    /// The structure (not a parameter).
    #[module(skip)]
    pub graph: Graph,
}

/// Sees every value a forward pass computes (activation capture, APoZ, the surgery check).
pub trait Observer {
    /// Value `v` was computed.
    fn value(&mut self, v: ValueId, act: &Act);

    /// Whether every value must be shown; when not, the interpreter may fuse a ReLU and
    /// the Mask after it and skip showing the ReLU's output.
    fn sees_all(&self) -> bool {
        true
    }
}

/// An observer that ignores everything.
pub struct NoObserver;

impl Observer for NoObserver {
    fn value(&mut self, _v: ValueId, _act: &Act) {}

    fn sees_all(&self) -> bool {
        false
    }
}

/// Keeps every value on the host: `values[v]` = (shape with batch, NCHW values).
#[derive(Debug, Default)]
pub struct Capture {
    /// Captured values by value id (`None`: not computed).
    pub values: Vec<Option<(Vec<usize>, Vec<f32>)>>,
}

impl Observer for Capture {
    fn value(&mut self, v: ValueId, act: &Act) {
        if self.values.len() <= v.0 {
            self.values.resize(v.0 + 1, None);
        }
        self.values[v.0] = Some((act.dims(), act.to_vec()));
    }
}

impl Net {
    /// A freshly initialized network for `graph` (weights drawn from the device's RNG:
    /// seed it first).
    pub fn new(graph: &Graph, device: &Device) -> Net {
        let nodes = (0..graph.nodes.len())
            .map(|i| module::build(&graph.nodes[i].op, &graph.input_shapes(i), device))
            .collect();
        Net {
            nodes,
            graph: graph.clone(),
        }
    }

    /// Build for `graph` and load weights saved by [`Net::save`].
    pub fn load(graph: &Graph, path: &Path, device: &Device) -> Result<Net, NnError> {
        Net::new(graph, device)
            .try_load_file(path)
            .map_err(|source| NnError::Load {
                path: path.display().to_string(),
                source,
            })
    }

    /// Save the weights (burnpack). Writes `path` directly; see `train::run_dir` for atomic saves.
    pub fn save(&self, path: &Path) -> Result<(), NnError> {
        self.clone()
            .save_file(path)
            .map_err(|source| NnError::Save {
                path: path.display().to_string(),
                source,
            })
    }

    /// The same net without a Softmax at its output (an imported model's): training and
    /// pruning need logits; the argmax, and so the accuracy, is unchanged.
    pub fn without_softmax(self) -> Result<Net, NnError> {
        let soft = |op: &Op| matches!(op, Op::Softmax(_));
        if !self.graph.nodes.iter().any(|n| soft(&n.op)) {
            return Ok(self);
        }
        let graph = self.graph.without(soft)?;
        let nodes = self
            .nodes
            .into_iter()
            .zip(&self.graph.nodes)
            .filter(|(_, n)| !soft(&n.op))
            .map(|(m, _)| m)
            .collect();
        Ok(Net { nodes, graph })
    }

    /// Logits for a batch of images (gates off).
    ///
    /// # Shapes
    /// - input: `[n, c, h, w]` (the graph's input), output: `[n, classes]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        self.run(input, GateMode::Off, &mut NoObserver)
    }

    /// The interpreter: runs every node in order with gates acting as `gate` says, shows
    /// each value to `observer`, returns the logits.
    ///
    /// # Panics
    /// If the graph's output is not a flat value (a validated graph's always is).
    pub fn run(&self, input: Tensor<4>, gate: GateMode, observer: &mut dyn Observer) -> Tensor<2> {
        let g = &self.graph;
        let last_use = self.last_uses();
        let mut vals: Vec<Option<Act>> = vec![None; g.values.len()];
        let x = Act::Spatial(input);
        observer.value(g.input, &x);
        vals[g.input.0] = Some(x);
        let mut skip = 0;
        for (i, (node, m)) in g.nodes.iter().zip(&self.nodes).enumerate() {
            if skip > 0 {
                skip -= 1; // this node ran inside the fused op before it
                continue;
            }
            if !observer.sees_all()
                && let Some((scale, ran)) = self.relu_mask_at(i, &last_use)
                && let Some(Act::Spatial(_)) = &vals[node.inputs[0].0]
            {
                let v = node.inputs[0];
                let Some(Act::Spatial(t)) = (if last_use[v.0] == i && v != g.output {
                    vals[v.0].take()
                } else {
                    vals[v.0].clone()
                }) else {
                    unreachable!("checked above")
                };
                let y = Act::Spatial(match m {
                    NodeModule::Conv(conv) => module::conv_relu_scale(conv, t, scale, ran == 3),
                    _ => crate::kernels::relu_scale(t, scale),
                });
                let last = &g.nodes[i + ran];
                observer.value(last.output, &y);
                vals[last.output.0] = Some(y);
                skip = ran;
                continue;
            }
            let inputs: Vec<Act> = node
                .inputs
                .iter()
                .map(|v| {
                    let a = vals[v.0].clone().unwrap_or_else(|| {
                        panic!("value `{}` read before it was computed", g.values[v.0].name)
                    });
                    if last_use[v.0] == i && *v != g.output {
                        vals[v.0] = None;
                    }
                    a
                })
                .collect();
            let y = module::forward(&node.op, m, inputs, gate);
            observer.value(node.output, &y);
            vals[node.output.0] = Some(y);
        }
        match vals[g.output.0].take() {
            Some(Act::Flat(t)) => t,
            other => panic!(
                "the graph output is not flat: {:?}",
                other.map(|a| a.dims())
            ),
        }
    }
}

impl Net {
    /// The last node reading each value, so its tensor is dropped as soon as possible.
    fn last_uses(&self) -> Vec<usize> {
        let mut last_use = vec![0usize; self.graph.values.len()];
        for (i, n) in self.graph.nodes.iter().enumerate() {
            for v in &n.inputs {
                last_use[v.0] = i;
            }
        }
        last_use
    }

    /// Whether node `j`'s output is read by node `j + 1` alone (and is not the graph's
    /// output), so the two can run as one op.
    fn read_only_by_next(&self, j: usize, last_use: &[usize]) -> bool {
        let g = &self.graph;
        let (node, Some(next)) = (&g.nodes[j], g.nodes.get(j + 1)) else {
            return false;
        };
        last_use[node.output.0] == j + 1
            && node.output != g.output
            && next.inputs == [node.output]
            && g.nodes
                .iter()
                .filter(|n| n.inputs.contains(&node.output))
                .count()
                == 1
    }

    /// When node `i` starts a chain that runs as one op, each value inside it read only by
    /// the next node: ReLU → Mask (`1` node more), Conv → ReLU → Mask (`2`) or that and a
    /// 2×2 stride-2 MaxPool (`3`); the mask's scales and that count.
    fn relu_mask_at(&self, i: usize, last_use: &[usize]) -> Option<(Tensor<1>, usize)> {
        let g = &self.graph;
        let op = |j: usize| g.nodes.get(j).map(|n| &n.op);
        let mask = |j: usize| match (op(j), op(j + 1), self.nodes.get(j + 1)) {
            (Some(Op::Relu(_)), Some(Op::Mask(_)), Some(NodeModule::Mask(m)))
                if self.read_only_by_next(j, last_use) =>
            {
                Some(m.values.val())
            }
            _ => None,
        };
        let halving = match (op(i + 3), self.nodes.get(i + 3)) {
            (Some(Op::MaxPool(_)), Some(NodeModule::MaxPool(m))) => module::is_halving(m),
            _ => false,
        };
        match op(i) {
            Some(Op::Conv2d(_)) if self.read_only_by_next(i, last_use) => {
                let pooled = halving && self.read_only_by_next(i + 2, last_use);
                mask(i + 1).map(|s| (s, if pooled { 3 } else { 2 }))
            }
            _ => mask(i).map(|s| (s, 1)),
        }
    }
}

/// Touches every parameter so lazily initialized ones draw their values now.
struct InitNow;

impl burn::module::ModuleVisitor for InitNow {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

impl Net {
    /// Draw all lazily initialized parameters now (from the device RNG as seeded), so a
    /// seed fixes the initial weights whatever runs first afterwards.
    pub fn init_now(&self) {
        self.visit(&mut InitNow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Builder;
    use crate::graph::op::{Dense, Flatten, Softmax};
    use burn::tensor::{Device, TensorData};

    #[test]
    fn without_softmax_returns_the_logits_the_softmax_read() {
        let dev = Device::flex();
        dev.seed(7);
        let mut b = Builder::new("soft", [2, 3, 3], 4);
        b.then("flatten", Op::Flatten(Flatten {}));
        b.then("dense", Op::Dense(Dense { out: 4, bias: true }));
        b.then("softmax", Op::Softmax(Softmax {}));
        let g = b.finish().unwrap_or_else(|e| panic!("{e}"));
        let net = Net::new(&g, &dev);
        let x: Vec<f32> = (0..2 * 18).map(|i| (i as f32 * 0.37).sin()).collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [2, 2, 3, 3]), &dev);
        let probs: Vec<f32> = net
            .forward(x.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        assert_eq!(probs.len(), 8);
        let logits = net.without_softmax().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            logits
                .graph
                .nodes
                .iter()
                .all(|n| !matches!(n.op, Op::Softmax(_)))
        );
        assert_eq!(logits.nodes.len(), 2);
        let z: Vec<f32> = logits
            .forward(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        assert_eq!(z.len(), 8);
        for r in 0..2 {
            let row = &z[4 * r..4 * r + 4];
            let m = row.iter().cloned().fold(f32::MIN, f32::max);
            let sum: f32 = row.iter().map(|v| (v - m).exp()).sum();
            for c in 0..4 {
                let p = (row[c] - m).exp() / sum;
                assert!(
                    (p - probs[4 * r + c]).abs() < 1e-6,
                    "{p} vs {}",
                    probs[4 * r + c]
                );
            }
        }
        assert!((probs[0..4].iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn fused_relu_mask_equals_the_node_by_node_run() {
        // `forward` (NoObserver) fuses each Conv + ReLU + Mask + MaxPool (and ReLU + Mask); a Capture sees every value,
        // so the same net runs node by node. Logits and every gradient must agree.
        // The seed nets' pattern without their Dropout (random in training mode).
        use crate::graph::op::{Conv2d, Mask, MaxPool, Relu};
        let mut b = Builder::new("fuse", [3, 8, 8], 5);
        for (i, out) in [4, 6].into_iter().enumerate() {
            b.then(&format!("conv{i}"), Op::Conv2d(Conv2d::same(out, 3)));
            b.then(&format!("relu{i}"), Op::Relu(Relu {}));
            b.then(&format!("mask{i}"), Op::Mask(Mask {}));
            let pool = MaxPool {
                kernel: [2, 2],
                stride: [2, 2],
            };
            b.then(&format!("pool{i}"), Op::MaxPool(pool));
        }
        b.then("flatten", Op::Flatten(Flatten {}));
        b.then("dense", Op::Dense(Dense { out: 5, bias: true }));
        b.then("relu_d", Op::Relu(Relu {}));
        b.then("mask_d", Op::Mask(Mask {}));
        let g = b.finish().unwrap_or_else(|e| panic!("{e}"));
        let dev = Device::flex().autodiff();
        dev.seed(11);
        let net = Net::new(&g, &dev);
        net.init_now();
        let x: Vec<f32> = (0..2 * 3 * 8 * 8)
            .map(|i| ((i * 7919) % 255) as f32 / 127.5 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(x, [2, 3, 8, 8]), &dev);
        let run = |fused: bool| {
            let y = if fused {
                net.forward(x.clone())
            } else {
                net.run(x.clone(), GateMode::Off, &mut Capture::default())
            };
            let grads = (y.clone() * y.clone()).sum().backward();
            let v = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap_or_default();
            let g = |m: &NodeModule| match m {
                NodeModule::Mask(m) => m.values.val().grad(&grads).map(v),
                NodeModule::Conv(c) => c.weight.val().grad(&grads).map(|t| v(t.flatten(0, 3))),
                _ => None,
            };
            let masks: Vec<Vec<f32>> = net.nodes.iter().filter_map(g).collect();
            let logits = y.into_data().try_to_vec::<f32>().unwrap_or_default();
            (logits, masks)
        };
        let last = net.last_uses();
        let chains: Vec<(usize, usize)> = (0..net.nodes.len())
            .filter_map(|i| net.relu_mask_at(i, &last).map(|(_, ran)| (i, ran)))
            .collect();
        // Each Conv + ReLU + Mask + MaxPool (and the ReLU + Mask inside it) is found; the dense pair
        // (flat values) is found too but runs node by node.
        assert_eq!(
            chains,
            vec![(0, 3), (1, 1), (4, 3), (5, 1), (10, 1)],
            "each fusable chain is found"
        );
        let (fused, plain) = (run(true), run(false));
        assert_eq!(fused.0.len(), 10);
        assert_eq!(fused.0, plain.0, "logits");
        assert_eq!(fused.1.len(), 5, "a gradient for each conv and mask");
        for (a, b) in fused.1.iter().zip(&plain.1) {
            assert_eq!(a.len(), b.len());
            for (u, v) in a.iter().zip(b) {
                assert!(
                    (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                    "conv or mask gradient {u} vs {v}"
                );
            }
        }
    }
}
