//! Per-node tensor access for export and surgery: a node's parameters (and BatchNorm's
//! running statistics) as `Vec<f32>` with shapes, and replacing one in place. Layouts are
//! burn's, as the graph's [`ParamDecl`](crate::graph::ParamDecl)s describe them.

use burn::module::{Param, RunningState};
use burn::tensor::{Tensor, TensorData};

use super::error::NnError;
use super::module::NodeModule;
use super::net::Net;

/// One tensor of one node, copied to the host.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NamedTensor {
    /// The parameter's name (`weight`, `bias`, `values`, `gamma`, …).
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Row-major values, `shape.iter().product()` of them.
    pub values: Vec<f32>,
}

fn host<const D: usize>(node: usize, name: &str, t: Tensor<D>) -> Result<NamedTensor, NnError> {
    let shape = t.dims().to_vec();
    let values = t
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| NnError::Read {
            index: node,
            name: name.into(),
            message: format!("{e:?}"),
        })?;
    Ok(NamedTensor {
        name: name.into(),
        shape,
        values,
    })
}

fn check<const D: usize>(node: usize, current: &Tensor<D>, t: &NamedTensor) -> Result<(), NnError> {
    let expected = current.dims().to_vec();
    if t.shape != expected || t.values.len() != expected.iter().product::<usize>() {
        return Err(NnError::Shape {
            index: node,
            name: t.name.clone(),
            expected,
            found: t.shape.clone(),
            values: t.values.len(),
        });
    }
    Ok(())
}

fn replace<const D: usize>(
    node: usize,
    p: &mut Param<Tensor<D>>,
    t: &NamedTensor,
) -> Result<(), NnError> {
    let cur = p.val();
    check(node, &cur, t)?;
    let mut fresh = Tensor::<D>::from_data(
        TensorData::new(t.values.clone(), t.shape.clone()),
        &cur.device(),
    );
    // A fresh tensor on an autodiff device does not track gradients: keep the parameter
    // trainable if it was.
    if cur.is_require_grad() {
        fresh = fresh.require_grad();
    }
    *p = Param::initialized(p.id, fresh);
    Ok(())
}

fn replace_state<const D: usize>(
    node: usize,
    s: &mut RunningState<Tensor<D>>,
    t: &NamedTensor,
) -> Result<(), NnError> {
    let cur = s.value();
    check(node, &cur, t)?;
    let fresh = Tensor::<D>::from_data(
        TensorData::new(t.values.clone(), t.shape.clone()),
        &cur.device(),
    );
    *s = RunningState::new(fresh);
    Ok(())
}

impl Net {
    /// Node `node`'s tensors (none for parameterless nodes).
    pub fn node_tensors(&self, node: usize) -> Result<Vec<NamedTensor>, NnError> {
        let mut v = Vec::new();
        match self.nodes.get(node) {
            Some(NodeModule::Conv(c)) => {
                v.push(host(node, "weight", c.weight.val())?);
                if let Some(b) = &c.bias {
                    v.push(host(node, "bias", b.val())?);
                }
            }
            Some(NodeModule::Dense(d)) => {
                v.push(host(node, "weight", d.weight.val())?);
                if let Some(b) = &d.bias {
                    v.push(host(node, "bias", b.val())?);
                }
            }
            Some(NodeModule::BatchNorm(b)) => {
                v.push(host(node, "gamma", b.gamma.val())?);
                v.push(host(node, "beta", b.beta.val())?);
                v.push(host(node, "running_mean", b.running_mean.value())?);
                v.push(host(node, "running_var", b.running_var.value())?);
            }
            Some(NodeModule::Mask(m)) => v.push(host(node, "values", m.values.val())?),
            Some(NodeModule::Gate(g)) => v.push(host(node, "log_alpha", g.log_alpha.val())?),
            Some(
                NodeModule::Dropout(_)
                | NodeModule::MaxPool(_)
                | NodeModule::AvgPool(_)
                | NodeModule::Stateless(_),
            )
            | None => {}
        }
        Ok(v)
    }

    /// Every node's tensors, in node order.
    pub fn tensors(&self) -> Result<Vec<Vec<NamedTensor>>, NnError> {
        (0..self.nodes.len())
            .map(|i| self.node_tensors(i))
            .collect()
    }

    /// Node `node`'s tensor called `name`.
    pub fn tensor(&self, node: usize, name: &str) -> Result<NamedTensor, NnError> {
        self.node_tensors(node)?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| NnError::NoSuchTensor {
                index: node,
                kind: self
                    .graph
                    .nodes
                    .get(node)
                    .map(|n| n.op.name())
                    .unwrap_or("none"),
                name: name.into(),
            })
    }

    /// Replace tensor `t.name` of node `node`; the shape must match the node's.
    /// (To shrink a node, build a net from the smaller graph, then set its tensors.)
    pub fn set_tensor(&mut self, node: usize, t: &NamedTensor) -> Result<(), NnError> {
        let kind = self
            .graph
            .nodes
            .get(node)
            .map(|n| n.op.name())
            .unwrap_or("none");
        let missing = || NnError::NoSuchTensor {
            index: node,
            kind,
            name: t.name.clone(),
        };
        match (self.nodes.get_mut(node), t.name.as_str()) {
            (Some(NodeModule::Conv(c)), "weight") => replace(node, &mut c.weight, t),
            (Some(NodeModule::Conv(c)), "bias") => match &mut c.bias {
                Some(b) => replace(node, b, t),
                None => Err(missing()),
            },
            (Some(NodeModule::Dense(d)), "weight") => replace(node, &mut d.weight, t),
            (Some(NodeModule::Dense(d)), "bias") => match &mut d.bias {
                Some(b) => replace(node, b, t),
                None => Err(missing()),
            },
            (Some(NodeModule::BatchNorm(b)), "gamma") => replace(node, &mut b.gamma, t),
            (Some(NodeModule::BatchNorm(b)), "beta") => replace(node, &mut b.beta, t),
            (Some(NodeModule::BatchNorm(b)), "running_mean") => {
                replace_state(node, &mut b.running_mean, t)
            }
            (Some(NodeModule::BatchNorm(b)), "running_var") => {
                replace_state(node, &mut b.running_var, t)
            }
            (Some(NodeModule::Mask(m)), "values") => replace(node, &mut m.values, t),
            (Some(NodeModule::Gate(g)), "log_alpha") => replace(node, &mut g.log_alpha, t),
            _ => Err(missing()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::presets::{resnet8, seed_c10};
    use burn::tensor::Device;

    #[test]
    fn tensors_have_the_graph_layouts_and_set_round_trips() {
        let dev = Device::flex();
        for g in [seed_c10(), resnet8()] {
            let net = Net::new(&g, &dev);
            for i in 0..g.nodes.len() {
                let have = net.node_tensors(i).unwrap_or_else(|e| panic!("{e}"));
                let decl = g.params(i);
                assert_eq!(have.len(), decl.len(), "node {}", g.nodes[i].name);
                for (t, d) in have.iter().zip(&decl) {
                    assert_eq!((t.name.as_str(), &t.shape), (d.name, &d.shape));
                }
            }
        }
        let g = seed_c10();
        let mut net = Net::new(&g, &dev);
        let mask = g.node_index("mask1").unwrap_or_else(|| panic!("mask1"));
        assert_eq!(
            net.tensor(mask, "values").map(|t| t.values).ok(),
            Some(vec![1.0; 16])
        );
        let new = NamedTensor {
            name: "values".into(),
            shape: vec![16],
            values: (0..16).map(|i| i as f32).collect(),
        };
        net.set_tensor(mask, &new).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(net.tensor(mask, "values").ok(), Some(new.clone()));
        let wrong = NamedTensor {
            shape: vec![15],
            values: vec![0.0; 15],
            ..new
        };
        assert!(matches!(
            net.set_tensor(mask, &wrong),
            Err(NnError::Shape { .. })
        ));
        assert!(matches!(
            net.set_tensor(mask + 1, &wrong),
            Err(NnError::NoSuchTensor { .. })
        ));
    }
}
