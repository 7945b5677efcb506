//! MLPerf Tiny's ResNet-8 for CIFAR-10 (12.5 M MACs): a conv stem, three residual stacks
//! (16, 32, 64 channels; stacks 2 and 3 halve the size with a stride-2 3×3 conv padded the
//! TensorFlow 'SAME' way, `[0, 0, 1, 1]`, and a stride-2 1×1 projection shortcut), an 8×8
//! average pool and a dense layer. BatchNorm ε = 1e-3 (Keras).

use super::Builder;
use crate::graph::ir::Graph;
use crate::graph::op::{Add, AvgPool, BatchNorm, Conv2d, Dense, Flatten, Op, Relu};
use crate::graph::shape::Pad;

/// Keras' BatchNorm ε.
pub const KERAS_EPSILON: f64 = 1e-3;

fn bn() -> Op {
    Op::BatchNorm(BatchNorm {
        epsilon: KERAS_EPSILON,
        momentum: 0.01,
    })
}

fn conv(out: usize, k: usize, stride: usize, padding: Pad) -> Op {
    Op::Conv2d(Conv2d {
        out,
        kernel: [k, k],
        stride: [stride, stride],
        padding,
        bias: true,
        groups: 1,
    })
}

/// One residual stack: `shortcut + [conv3×3/s + BN + ReLU, conv3×3 + BN] → ReLU`. The
/// shortcut comes first and the main branch's last conv feeds the Add's second input, the
/// order in which the firmware fuses the Add into that conv and frees the block's input
/// early.
fn stack(b: &mut Builder, s: usize, out: usize, downsample: bool) {
    let x = b.last().to_string();
    let (stride, pad) = if downsample {
        (2, Pad([0, 0, 1, 1]))
    } else {
        (1, Pad::same(1))
    };
    let short = if downsample {
        b.node(&format!("s{s}_short"), conv(out, 1, 2, Pad::same(0)), &[&x])
    } else {
        x.clone()
    };
    b.node(&format!("s{s}_conv1"), conv(out, 3, stride, pad), &[&x]);
    b.then(&format!("s{s}_bn1"), bn());
    b.then(&format!("s{s}_relu1"), Op::Relu(Relu {}));
    b.then(&format!("s{s}_conv2"), conv(out, 3, 1, Pad::same(1)));
    let main = b.then(&format!("s{s}_bn2"), bn());
    b.node(&format!("s{s}_add"), Op::Add(Add {}), &[&short, &main]);
    b.then(&format!("s{s}_relu"), Op::Relu(Relu {}));
}

/// ResNet-8 (MLPerf Tiny image classification).
pub fn resnet8() -> Graph {
    let mut b = Builder::new("resnet8", [3, 32, 32], 10);
    b.then("conv1", conv(16, 3, 1, Pad::same(1)));
    b.then("bn1", bn());
    b.then("relu1", Op::Relu(Relu {}));
    stack(&mut b, 1, 16, false);
    stack(&mut b, 2, 32, true);
    stack(&mut b, 3, 64, true);
    b.then(
        "pool",
        Op::AvgPool(AvgPool {
            kernel: [8, 8],
            stride: [8, 8],
        }),
    );
    b.then("flatten", Op::Flatten(Flatten {}));
    b.then(
        "dense",
        Op::Dense(Dense {
            out: 10,
            bias: true,
        }),
    );
    match b.finish() {
        Ok(g) => g,
        Err(e) => unreachable!("preset graph invalid: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet8_has_mlperf_tiny_macs_and_tied_groups() {
        let g = resnet8();
        assert_eq!(g.macs().unwrap_or_else(|e| panic!("{e}")), 12_501_632);
        // Weights and biases of convs and dense (77,706), plus BatchNorm γ and β of 240
        // channels; Keras' 78,666 also counts the 480 running means and variances.
        assert_eq!(
            g.num_weights().unwrap_or_else(|e| panic!("{e}")),
            77_706 + 480
        );
        let groups = g.groups().unwrap_or_else(|e| panic!("{e}"));
        // conv1's group holds s1_conv2 and the stack-1 Add; stacks 2 and 3 tie the
        // shortcut to the second conv; each stack's first conv is a group of its own.
        let names = groups.names();
        assert_eq!(
            names,
            vec![
                "conv1", "s1_conv1", "s2_short", "s2_conv1", "s3_short", "s3_conv1"
            ]
        );
        let trunk = &groups.all[groups.prunable()[0]];
        let producers: Vec<&str> = trunk
            .producers
            .iter()
            .map(|&p| g.nodes[p].name.as_str())
            .collect();
        assert_eq!(producers, vec!["conv1", "s1_conv2"]);
        let s2 = &groups.all[groups.prunable()[2]];
        let producers: Vec<&str> = s2
            .producers
            .iter()
            .map(|&p| g.nodes[p].name.as_str())
            .collect();
        assert_eq!(producers, vec!["s2_short", "s2_conv2"]);
        assert_eq!(groups.widths(), vec![16, 16, 32, 32, 64, 64]);
    }
}
