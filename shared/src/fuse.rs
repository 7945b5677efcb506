//! Conv + add fusion: a conv whose output only the next op reads, an add, runs a few output
//! rows at a time into scratch, and the add folds each chunk into its other input in place.
//! The conv's output tensor then never exists, and the add's output shares its input's bytes.
//!
//! The encoder's planner fuses where [`conv_add`] holds and the conv's output and the add's
//! other input are read by nothing later; it then gives the add's output (and the conv's
//! output, which takes no bytes of its own) the other input's arena offset. The validator
//! and the executor recognize a fused pair by [`conv_add`] and that shared offset, so a blob
//! planned without fusion runs unfused.

use crate::format::{Add, Conv2d, Op, Precision};

/// A conv and the add after it, fusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvAdd {
    /// The add.
    pub add: Add,
    /// The add's other input (the skip), which the fused op overwrites with the sum.
    pub skip: u16,
    /// Whether the skip is the add's `a` (else its `b`).
    pub skip_is_a: bool,
}

/// Whether `conv` and `next` can run fused: an int8 model, `next` an add that reads the
/// conv's output once and a tensor other than the conv's input (which the fused op still
/// reads while it overwrites the skip), and a conv whose padding is smaller than its kernel
/// (every chunk of output rows then reads at least one input row).
pub fn conv_add(precision: Precision, conv: &Conv2d, next: &Op) -> Option<ConvAdd> {
    let Op::Add(add) = *next else {
        return None;
    };
    let p = conv.padding;
    let pads_ok = p.top < conv.kernel[0]
        && p.bottom < conv.kernel[0]
        && p.left < conv.kernel[1]
        && p.right < conv.kernel[1];
    if precision != Precision::Int8 || !pads_ok || add.a == add.b {
        return None;
    }
    let (skip, skip_is_a) = if add.b == conv.output {
        (add.a, true)
    } else if add.a == conv.output {
        (add.b, false)
    } else {
        return None;
    };
    (skip != conv.input && skip != conv.output).then_some(ConvAdd {
        add,
        skip,
        skip_is_a,
    })
}
