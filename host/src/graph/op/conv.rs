//! `Conv2d`: 2-D convolution with explicit (possibly asymmetric) padding, stride and an
//! optional bias; weights `[out, in, kh, kw]` (burn/PyTorch layout).

use serde::{Deserialize, Serialize};

use super::{Cost, CostArgs, OpKind, ParamDecl, ParamKind, Role, bias_decl, int8_flash};
use crate::graph::shape::{Pad, Shape, window};

fn one() -> [usize; 2] {
    [1, 1]
}
fn yes() -> bool {
    true
}
fn groups_one() -> usize {
    1
}

/// 2-D convolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2d {
    /// Output channels.
    pub out: usize,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    /// `[sh, sw]` (default 1, 1).
    #[serde(default = "one")]
    pub stride: [usize; 2],
    /// Zero padding `[top, left, bottom, right]` (default none).
    #[serde(default)]
    pub padding: Pad,
    /// Whether a bias is added (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Channel groups; only 1 is supported today.
    #[serde(default = "groups_one")]
    pub groups: usize,
}

impl Conv2d {
    /// A `k`×`k` stride-1 conv with 'same' padding (odd `k`) and a bias.
    pub fn same(out: usize, k: usize) -> Conv2d {
        Conv2d {
            out,
            kernel: [k, k],
            stride: [1, 1],
            padding: Pad::same(k / 2),
            bias: true,
            groups: 1,
        }
    }
}

impl OpKind for Conv2d {
    fn name(&self) -> &'static str {
        "Conv2d"
    }

    fn infer(&self, inputs: &[Shape]) -> Result<Shape, String> {
        let Shape::Chw(_, h, w) = inputs[0] else {
            return Err(format!("needs a [C, H, W] input, found {}", inputs[0]));
        };
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        if self.out == 0 || kh == 0 || kw == 0 || sh == 0 || sw == 0 {
            return Err(format!(
                "out {}, kernel {:?}, stride {:?}: all must be > 0",
                self.out, self.kernel, self.stride
            ));
        }
        if self.groups != 1 {
            return Err(format!("groups = {}: only 1 is supported", self.groups));
        }
        let p = self.padding;
        if p.top() >= kh || p.bottom() >= kh || p.left() >= kw || p.right() >= kw {
            return Err(format!(
                "padding {:?} is not smaller than the kernel {:?}",
                p.0, self.kernel
            ));
        }
        match (
            window(h, kh, sh, p.top(), p.bottom()),
            window(w, kw, sw, p.left(), p.right()),
        ) {
            (Some(oh), Some(ow)) => Ok(Shape::Chw(self.out, oh, ow)),
            _ => Err(format!(
                "kernel {:?} does not fit the padded {h}x{w} input",
                self.kernel
            )),
        }
    }

    fn role(&self) -> Role {
        Role::Producer
    }

    fn params(&self, inputs: &[Shape], _output: Shape) -> Vec<ParamDecl> {
        let cin = inputs[0].channels();
        let mut v = vec![ParamDecl {
            name: "weight",
            shape: vec![self.out, cin, self.kernel[0], self.kernel[1]],
            out_axis: Some(0),
            in_axis: Some(1),
            kind: ParamKind::Kernel,
        }];
        if self.bias {
            v.push(bias_decl(self.out));
        }
        v
    }

    fn cost(&self, a: &CostArgs) -> Cost {
        let k = (self.kernel[0] * self.kernel[1]) as f64;
        let positions = a.output.positions() as f64;
        let bias = if self.bias { a.cout } else { 0.0 };
        Cost {
            macs: a.cout * a.cin * k * positions,
            params: a.cout * a.cin * k + bias,
            flash: int8_flash(a.cout, a.cin * k),
        }
    }
}
