//! `Dense`: a fully connected layer on a flat input; weights `[in, out]` (burn's `Linear`
//! layout, PyTorch's transpose) and an optional bias.

use serde::{Deserialize, Serialize};

use super::{Cost, CostArgs, OpKind, ParamDecl, ParamKind, Role, bias_decl, int8_flash};
use crate::graph::shape::Shape;

fn yes() -> bool {
    true
}

/// Fully connected layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dense {
    /// Output features.
    pub out: usize,
    /// Whether a bias is added (default true).
    #[serde(default = "yes")]
    pub bias: bool,
}

impl OpKind for Dense {
    fn name(&self) -> &'static str {
        "Dense"
    }

    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs[0] {
            Shape::Flat(_) if self.out > 0 => Ok(Shape::Flat(self.out)),
            Shape::Flat(_) => Err("out 0".into()),
            s => Err(format!("needs a flat input (add Flatten), found {s}")),
        }
    }

    fn role(&self) -> Role {
        Role::Producer
    }

    fn params(&self, inputs: &[Shape], _output: Shape) -> Vec<ParamDecl> {
        let mut v = vec![ParamDecl {
            name: "weight",
            shape: vec![inputs[0].numel(), self.out],
            out_axis: Some(1),
            in_axis: Some(0),
            kind: ParamKind::Kernel,
        }];
        if self.bias {
            v.push(bias_decl(self.out));
        }
        v
    }

    fn cost(&self, a: &CostArgs) -> Cost {
        let bias = if self.bias { a.cout } else { 0.0 };
        Cost {
            macs: a.cout * a.cin,
            params: a.cout * a.cin + bias,
            flash: int8_flash(a.cout, a.cin),
        }
    }
}
