//! `Dropout`: zeroes activations with probability `p` while training; identity otherwise.

use serde::{Deserialize, Serialize};

use super::{OpKind, Role};
use crate::graph::shape::Shape;

/// Dropout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dropout {
    /// Probability of zeroing an activation, in [0, 1).
    pub p: f64,
}

impl OpKind for Dropout {
    fn name(&self) -> &'static str {
        "Dropout"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        if !(0.0..1.0).contains(&self.p) {
            return Err(format!("p = {} not in [0, 1)", self.p));
        }
        Ok(inputs[0])
    }
    fn role(&self) -> Role {
        Role::PassThrough
    }
}
