//! `Flatten`: `[c, h, w]` → `[c·h·w]`, channel-major, so channel c becomes the block of
//! `h·w` consecutive features `c·h·w..(c+1)·h·w` of the next dense layer.

use serde::{Deserialize, Serialize};

use super::{OpKind, Role};
use crate::graph::shape::Shape;

/// NCHW flatten.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flatten {}

impl OpKind for Flatten {
    fn name(&self) -> &'static str {
        "Flatten"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs[0] {
            s @ Shape::Chw(..) => Ok(Shape::Flat(s.numel())),
            s => Err(format!("needs a [C, H, W] input, found {s}")),
        }
    }
    fn role(&self) -> Role {
        Role::Flatten
    }
}
