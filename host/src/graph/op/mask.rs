//! `Mask`: a learnable per-channel scale (init 1), the L1 group-lasso method's handle on a
//! channel; folds into the producer (or BatchNorm) before it at export.

use serde::{Deserialize, Serialize};

use super::{OpKind, ParamDecl, ParamKind, Role};
use crate::graph::shape::Shape;

/// Per-channel learnable scale.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mask {}

impl OpKind for Mask {
    fn name(&self) -> &'static str {
        "Mask"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        Ok(inputs[0])
    }
    fn role(&self) -> Role {
        Role::ChannelWise
    }
    fn params(&self, inputs: &[Shape], _output: Shape) -> Vec<ParamDecl> {
        vec![ParamDecl {
            name: "values",
            shape: vec![inputs[0].channels()],
            out_axis: Some(0),
            in_axis: None,
            kind: ParamKind::Mask,
        }]
    }
}
