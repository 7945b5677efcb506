//! Host-side tensor cuts for surgery: keep indices along one axis of a row-major tensor
//! (in blocks, for a dense layer after a flatten), scale along an axis, zero-filled shapes.
//! Which axis to cut comes from the graph's [`ParamDecl`](crate::graph::ParamDecl)s.

use crate::nn::NamedTensor;

/// Keep `indices` (in that order) along `axis`; each index `c` stands for the `block`
/// consecutive positions `c*block..(c+1)*block` of that axis.
pub fn select(t: &NamedTensor, axis: usize, indices: &[usize], block: usize) -> NamedTensor {
    let outer: usize = t.shape[..axis].iter().product();
    let len = t.shape[axis];
    let inner: usize = t.shape[axis + 1..].iter().product();
    let mut values = Vec::with_capacity(outer * indices.len() * block * inner);
    for o in 0..outer {
        for &c in indices {
            for j in c * block..(c + 1) * block {
                let start = (o * len + j) * inner;
                values.extend_from_slice(&t.values[start..start + inner]);
            }
        }
    }
    let mut shape = t.shape.clone();
    shape[axis] = indices.len() * block;
    NamedTensor {
        name: t.name.clone(),
        shape,
        values,
    }
}

/// Multiply every slice `i` along `axis` by `factors[i]`.
pub fn scale(t: &mut NamedTensor, axis: usize, factors: &[f32]) {
    let len = t.shape[axis];
    let inner: usize = t.shape[axis + 1..].iter().product();
    for (k, v) in t.values.iter_mut().enumerate() {
        *v *= factors[(k / inner) % len];
    }
}

/// A tensor of `t`'s rank with `axis` resized to `len`, all zeros.
pub fn zeros_like(t: &NamedTensor, axis: usize, len: usize) -> NamedTensor {
    let mut shape = t.shape.clone();
    shape[axis] = len;
    NamedTensor {
        name: t.name.clone(),
        values: vec![0.0; shape.iter().product()],
        shape,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize]) -> NamedTensor {
        NamedTensor {
            name: "weight".into(),
            shape: shape.to_vec(),
            values: (0..shape.iter().product::<usize>())
                .map(|v| v as f32)
                .collect(),
        }
    }

    #[test]
    fn select_rows_columns_and_blocks() {
        // [3, 2]: rows 0..3 of [2v, 2v+1].
        let a = t(&[3, 2]);
        assert_eq!(select(&a, 0, &[2, 0], 1).values, vec![4.0, 5.0, 0.0, 1.0]);
        assert_eq!(select(&a, 1, &[1], 1).values, vec![1.0, 3.0, 5.0]);
        // [6, 1] seen as 3 channels of 2 rows each: keep channel 1 → rows 2, 3.
        let b = t(&[6, 1]);
        let s = select(&b, 0, &[1], 2);
        assert_eq!((s.shape, s.values), (vec![2, 1], vec![2.0, 3.0]));
        // Conv [2, 3, 1, 1]: keep input channel 2.
        let c = t(&[2, 3, 1, 1]);
        assert_eq!(select(&c, 1, &[2], 1).values, vec![2.0, 5.0]);
    }

    #[test]
    fn scale_along_an_axis() {
        let mut a = t(&[2, 3]);
        scale(&mut a, 1, &[1.0, 0.0, 2.0]);
        assert_eq!(a.values, vec![0.0, 0.0, 4.0, 3.0, 0.0, 10.0]);
        let mut b = t(&[2, 3]);
        scale(&mut b, 0, &[0.5, -1.0]);
        assert_eq!(b.values, vec![0.0, 0.5, 1.0, -3.0, -4.0, -5.0]);
    }
}
