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

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::format::{ADD_TAG, DataRef, Padding, Unary};

    fn conv(input: u16, output: u16, pad: u8) -> Conv2d {
        Conv2d {
            input,
            output,
            kernel: [3, 3],
            stride: [1, 1],
            padding: Padding::same(pad),
            relu: false,
            weights: DataRef::default(),
            bias: DataRef::default(),
            requant: DataRef::default(),
        }
    }

    fn add(a: u16, b: u16) -> Op {
        Op::Add(Add {
            a,
            b,
            output: 9,
            relu: true,
            quant: Default::default(),
        })
    }

    #[test]
    fn an_adds_record_starts_with_its_tag() {
        let bytes = postcard::to_allocvec(&add(1, 2)).unwrap();
        assert_eq!(bytes[0], ADD_TAG);
        let other = postcard::to_allocvec(&Op::Relu(Unary {
            input: 1,
            output: 2,
        }))
        .unwrap();
        assert_ne!(other[0], ADD_TAG);
    }

    #[test]
    fn fuses_a_conv_with_the_add_of_its_output_and_another_tensor() {
        let c = conv(1, 2, 1);
        let f = conv_add(Precision::Int8, &c, &add(0, 2)).unwrap();
        assert_eq!((f.skip, f.skip_is_a), (0, true));
        let f = conv_add(Precision::Int8, &c, &add(2, 0)).unwrap();
        assert_eq!((f.skip, f.skip_is_a), (0, false));
        // f32, the conv's own input as the skip, an add of something else, x + x, and a
        // padding as large as the kernel do not fuse.
        assert_eq!(conv_add(Precision::F32, &c, &add(0, 2)), None);
        assert_eq!(conv_add(Precision::Int8, &c, &add(1, 2)), None);
        assert_eq!(conv_add(Precision::Int8, &c, &add(0, 3)), None);
        assert_eq!(conv_add(Precision::Int8, &c, &add(2, 2)), None);
        assert_eq!(conv_add(Precision::Int8, &conv(1, 2, 3), &add(0, 2)), None);
    }
}
