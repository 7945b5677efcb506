//! `Gate`: a hard-concrete L0 gate per channel (Louizos et al.), the L0 method's handle on
//! a channel; only present while gates are learned.

use serde::{Deserialize, Serialize};

use super::{OpKind, ParamDecl, ParamKind, Role};
use crate::graph::shape::Shape;

fn init() -> f32 {
    2.5
}

/// Per-channel hard-concrete gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Initial log α.
    #[serde(default = "init")]
    pub log_alpha_init: f32,
}

impl OpKind for Gate {
    fn name(&self) -> &'static str {
        "Gate"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        if !self.log_alpha_init.is_finite() {
            return Err("log_alpha_init is not finite".into());
        }
        Ok(inputs[0])
    }
    fn role(&self) -> Role {
        Role::ChannelWise
    }
    fn params(&self, inputs: &[Shape], _output: Shape) -> Vec<ParamDecl> {
        vec![ParamDecl {
            name: "log_alpha",
            shape: vec![inputs[0].channels()],
            out_axis: Some(0),
            in_axis: None,
            kind: ParamKind::Gate,
        }]
    }
}
