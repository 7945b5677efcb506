//! `Softmax` over a flat value's features: kept for evaluating imported models, dropped for
//! int8 deployment (argmax is unchanged).

use serde::{Deserialize, Serialize};

use super::{OpKind, Role};
use crate::graph::shape::Shape;

/// Softmax over features.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Softmax {}

impl OpKind for Softmax {
    fn name(&self) -> &'static str {
        "Softmax"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs[0] {
            s @ Shape::Flat(_) => Ok(s),
            s => Err(format!("needs a flat input, found {s}")),
        }
    }
    fn role(&self) -> Role {
        Role::Barrier
    }
}
