//! Elementwise activations: `Relu` and `Clip` (ReLU6 and friends).

use serde::{Deserialize, Serialize};

use super::{OpKind, Role};
use crate::graph::shape::Shape;

/// max(x, 0).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relu {}

impl OpKind for Relu {
    fn name(&self) -> &'static str {
        "Relu"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        Ok(inputs[0])
    }
    fn role(&self) -> Role {
        Role::PassThrough
    }
}

/// min(max(x, min), max); ReLU6 is `min = 0, max = 6`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clip {
    /// Lower bound.
    pub min: f32,
    /// Upper bound.
    pub max: f32,
}

impl OpKind for Clip {
    fn name(&self) -> &'static str {
        "Clip"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        if self.min.is_nan() || self.max.is_nan() || self.min > self.max {
            return Err(format!("bounds {}..{} are not a range", self.min, self.max));
        }
        Ok(inputs[0])
    }
    fn role(&self) -> Role {
        Role::PassThrough
    }
}
