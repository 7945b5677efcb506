//! Pooling: `MaxPool`, `AvgPool` (windows, no padding, floor) and `GlobalAvgPool`.

use serde::{Deserialize, Serialize};

use super::{OpKind, Role};
use crate::graph::shape::{Shape, window};

fn pooled(kind: &str, kernel: [usize; 2], stride: [usize; 2], s: Shape) -> Result<Shape, String> {
    let Shape::Chw(c, h, w) = s else {
        return Err(format!("{kind} needs a [C, H, W] input, found {s}"));
    };
    match (
        window(h, kernel[0], stride[0], 0, 0),
        window(w, kernel[1], stride[1], 0, 0),
    ) {
        (Some(oh), Some(ow)) => Ok(Shape::Chw(c, oh, ow)),
        _ => Err(format!(
            "window {kernel:?} stride {stride:?} does not fit {h}x{w}"
        )),
    }
}

/// Max pooling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPool {
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
}

impl OpKind for MaxPool {
    fn name(&self) -> &'static str {
        "MaxPool"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        pooled("MaxPool", self.kernel, self.stride, inputs[0])
    }
    fn role(&self) -> Role {
        Role::PassThrough
    }
}

/// Average pooling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvgPool {
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]`.
    pub stride: [usize; 2],
}

impl OpKind for AvgPool {
    fn name(&self) -> &'static str {
        "AvgPool"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        pooled("AvgPool", self.kernel, self.stride, inputs[0])
    }
    fn role(&self) -> Role {
        Role::PassThrough
    }
}

/// Mean over height and width: `[c, h, w]` → `[c, 1, 1]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalAvgPool {}

impl OpKind for GlobalAvgPool {
    fn name(&self) -> &'static str {
        "GlobalAvgPool"
    }
    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        match inputs[0] {
            Shape::Chw(c, _, _) => Ok(Shape::Chw(c, 1, 1)),
            s => Err(format!("needs a [C, H, W] input, found {s}")),
        }
    }
    fn role(&self) -> Role {
        Role::PassThrough
    }
}
