//! The seed article's networks: `seed-c10` (5 masks, 118,962 weights, 8.2 M MACs) and
//! `seed-c100` (8 masks); 3×3 'same' convs, ReLU, a mask after each ReLU.

use super::Builder;
use crate::graph::ir::Graph;
use crate::graph::op::{Conv2d, Dense, Dropout, Flatten, Mask, MaxPool, Op, Relu};

/// Dropout after the CIFAR-100 net's conv pools (the article gives no rate; our choice).
pub const C100_CONV_DROPOUT: f64 = 0.25;
/// Dropout before the dense layers (both nets).
pub const DENSE_DROPOUT: f64 = 0.5;

/// Node counters, so names match what version-1 specs convert to (conv1, relu1, mask1, …).
#[derive(Default)]
struct Names {
    conv: usize,
    dense: usize,
    pool: usize,
    drop: usize,
    mask: usize,
}

impl Names {
    fn conv(&mut self, b: &mut Builder, out: usize, mask: bool) {
        self.conv += 1;
        b.then(
            &format!("conv{}", self.conv),
            Op::Conv2d(Conv2d::same(out, 3)),
        );
        b.then(&format!("relu{}", self.conv), Op::Relu(Relu {}));
        if mask {
            self.mask(b);
        }
    }
    fn dense(&mut self, b: &mut Builder, out: usize, relu_mask: bool) {
        self.dense += 1;
        b.then(
            &format!("dense{}", self.dense),
            Op::Dense(Dense { out, bias: true }),
        );
        if relu_mask {
            b.then(&format!("dense{}_relu", self.dense), Op::Relu(Relu {}));
            self.mask(b);
        }
    }
    fn mask(&mut self, b: &mut Builder) {
        self.mask += 1;
        b.then(&format!("mask{}", self.mask), Op::Mask(Mask {}));
    }
    fn pool(&mut self, b: &mut Builder) {
        self.pool += 1;
        b.then(
            &format!("pool{}", self.pool),
            Op::MaxPool(MaxPool {
                kernel: [2, 2],
                stride: [2, 2],
            }),
        );
    }
    fn drop(&mut self, b: &mut Builder, p: f64) {
        self.drop += 1;
        b.then(&format!("drop{}", self.drop), Op::Dropout(Dropout { p }));
    }
}

fn built(b: Builder) -> Graph {
    // The presets are fixed, valid graphs (tested below).
    match b.finish() {
        Ok(g) => g,
        Err(e) => unreachable!("preset graph invalid: {e}"),
    }
}

/// CIFAR-10: Conv16-Conv24-Pool-Conv32-Conv32-Pool-Flatten-Dropout(0.5)-Dense48-Dense10.
pub fn seed_c10() -> Graph {
    let mut b = Builder::new("seed-c10", [3, 32, 32], 10);
    let mut n = Names::default();
    n.conv(&mut b, 16, true);
    n.conv(&mut b, 24, true);
    n.pool(&mut b);
    n.conv(&mut b, 32, true);
    n.conv(&mut b, 32, true);
    n.pool(&mut b);
    b.then("flatten", Op::Flatten(Flatten {}));
    n.drop(&mut b, DENSE_DROPOUT);
    n.dense(&mut b, 48, true);
    n.dense(&mut b, 10, false);
    built(b)
}

/// CIFAR-100: Conv32-32-48-Pool-Drop-48-48-Pool-Drop-64-64-Pool-Flatten-Drop-Dense48-
/// Dense48-Dense100 (8 masks; the first conv, which reads the image, has none).
pub fn seed_c100() -> Graph {
    let mut b = Builder::new("seed-c100", [3, 32, 32], 100);
    let mut n = Names::default();
    n.conv(&mut b, 32, false);
    n.conv(&mut b, 32, true);
    n.conv(&mut b, 48, true);
    n.pool(&mut b);
    n.drop(&mut b, C100_CONV_DROPOUT);
    n.conv(&mut b, 48, true);
    n.conv(&mut b, 48, true);
    n.pool(&mut b);
    n.drop(&mut b, C100_CONV_DROPOUT);
    n.conv(&mut b, 64, true);
    n.conv(&mut b, 64, true);
    n.pool(&mut b);
    b.then("flatten", Op::Flatten(Flatten {}));
    n.drop(&mut b, DENSE_DROPOUT);
    n.dense(&mut b, 48, true);
    n.dense(&mut b, 48, true);
    n.dense(&mut b, 100, false);
    built(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::op::Op;

    #[test]
    fn seed_c10_counts() {
        let g = seed_c10();
        assert_eq!(g.num_weights().unwrap_or_else(|e| panic!("{e}")), 118_962);
        assert_eq!(g.nodes_where(|o| matches!(o, Op::Mask(_))).len(), 5);
        let groups = g.groups().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(groups.widths(), vec![16, 24, 32, 32, 48]);
        assert_eq!(g.macs().unwrap_or_else(|e| panic!("{e}")), 8_208_864);
    }

    #[test]
    fn seed_c100_has_8_masks_and_9_groups() {
        let g = seed_c100();
        assert_eq!(g.nodes_where(|o| matches!(o, Op::Mask(_))).len(), 8);
        let groups = g.groups().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(groups.widths(), vec![32, 32, 48, 48, 48, 64, 64, 48, 48]);
    }
}
