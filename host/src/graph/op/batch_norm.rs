//! `BatchNorm`: per-channel normalization with learned γ, β and running statistics; folded
//! into the producing conv at export.

use serde::{Deserialize, Serialize};

use super::{Cost, CostArgs, OpKind, ParamDecl, ParamKind, Role};
use crate::graph::shape::Shape;

fn eps() -> f64 {
    1e-5
}
fn momentum() -> f64 {
    0.1
}

/// Batch normalization over the channel axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNorm {
    /// Added to the variance (default 1e-5; Keras uses 1e-3).
    #[serde(default = "eps")]
    pub epsilon: f64,
    /// Running-statistics update rate (PyTorch convention, default 0.1).
    #[serde(default = "momentum")]
    pub momentum: f64,
}

impl Default for BatchNorm {
    fn default() -> Self {
        BatchNorm {
            epsilon: eps(),
            momentum: momentum(),
        }
    }
}

impl OpKind for BatchNorm {
    fn name(&self) -> &'static str {
        "BatchNorm"
    }

    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        if !(self.epsilon > 0.0 && self.epsilon.is_finite()) {
            return Err(format!("epsilon {} must be > 0", self.epsilon));
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(format!("momentum {} not in [0, 1]", self.momentum));
        }
        Ok(inputs[0])
    }

    fn role(&self) -> Role {
        Role::ChannelWise
    }

    fn params(&self, inputs: &[Shape], _output: Shape) -> Vec<ParamDecl> {
        let c = inputs[0].channels();
        [
            ("gamma", ParamKind::BnScale),
            ("beta", ParamKind::BnShift),
            ("running_mean", ParamKind::BnMean),
            ("running_var", ParamKind::BnVar),
        ]
        .into_iter()
        .map(|(name, kind)| ParamDecl {
            name,
            shape: vec![c],
            out_axis: Some(0),
            in_axis: None,
            kind,
        })
        .collect()
    }

    fn cost(&self, a: &CostArgs) -> Cost {
        Cost {
            params: 2.0 * a.cout,
            ..Cost::default()
        }
    }
}
