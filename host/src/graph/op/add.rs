//! `Add`: the residual join — two values of one shape summed; their channels are the same
//! channels, so the producers feeding it are pruned together.

use serde::{Deserialize, Serialize};

use super::{OpKind, Role};
use crate::graph::shape::Shape;

/// Elementwise sum.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Add {}

impl OpKind for Add {
    fn name(&self) -> &'static str {
        "Add"
    }
    fn arity(&self) -> usize {
        2
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        if inputs[0] != inputs[1] {
            return Err(format!(
                "adds values of different shapes {} and {}",
                inputs[0], inputs[1]
            ));
        }
        Ok(inputs[0])
    }
    fn role(&self) -> Role {
        Role::Join
    }
}
