//! A trained burn [`Net`] (with its [`ArchSpec`]) → [`FloatNet`]: dropout is dropped, and
//! each mask (m ≥ 0, after a ReLU) is folded into the producing layer's weights and bias.

use crate::arch::{ArchSpec, LayerSpec};
use crate::nn::{LayerWeights, Net};

use super::error::ExportError;
use super::float_net::{FloatLayer, FloatNet};

fn tensor(
    lw: &LayerWeights,
    layer: usize,
    kind: &'static str,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>, ExportError> {
    match lw.get(name) {
        Some(t) if t.shape == shape && t.values.len() == shape.iter().product::<usize>() => {
            Ok(t.values.clone())
        }
        Some(t) => Err(ExportError::Convert {
            layer,
            kind,
            what: format!("{name} has shape {:?}, the spec implies {shape:?}", t.shape),
        }),
        None => Err(ExportError::Convert {
            layer,
            kind,
            what: format!("no {name} tensor"),
        }),
    }
}

/// Converts per-layer weights read with [`Net::layer_weights`] (burn layouts) of a network
/// built from `spec` into a [`FloatNet`]. A mask `m` after a ReLU layer scales that
/// layer's output channel: `relu(z)·m = relu(m·z)` for `m ≥ 0`, so the channel's weights
/// and bias are multiplied by `m`; a negative mask value is an error.
pub fn from_layer_weights(
    spec: &ArchSpec,
    weights: &[LayerWeights],
) -> Result<FloatNet, ExportError> {
    let info = spec.layer_info().map_err(|e| ExportError::Convert {
        layer: usize::MAX,
        kind: "spec",
        what: e.to_string(),
    })?;
    if weights.len() != spec.layers.len() {
        return Err(ExportError::Convert {
            layer: weights.len().min(spec.layers.len()),
            kind: "spec",
            what: format!(
                "{} layers of weights for {} spec layers",
                weights.len(),
                spec.layers.len()
            ),
        });
    }
    let mut layers: Vec<FloatLayer> = Vec::new();
    for (i, ((layer, li), lw)) in spec.layers.iter().zip(&info).zip(weights).enumerate() {
        let kind = layer.kind();
        match *layer {
            LayerSpec::Conv { out, k, relu } => {
                let cin = match li.input {
                    crate::arch::Shape::Chw(c, _, _) => c,
                    crate::arch::Shape::Flat(n) => n,
                };
                let weight = tensor(lw, i, kind, "weight", &[out, cin, k, k])?;
                let bias = match lw.get("bias") {
                    Some(_) => tensor(lw, i, kind, "bias", &[out])?,
                    None => vec![0.0; out],
                };
                layers.push(FloatLayer::Conv2d {
                    out,
                    weight,
                    bias,
                    kernel: [k, k],
                    stride: [1, 1],
                    padding: [(k - 1) / 2; 2],
                    relu,
                });
            }
            LayerSpec::Pool { size } => layers.push(FloatLayer::MaxPool2d {
                kernel: [size, size],
                stride: [size, size],
            }),
            LayerSpec::Dropout { .. } => {}
            LayerSpec::Flatten => layers.push(FloatLayer::Flatten),
            LayerSpec::Dense { out, relu } => {
                let n = li.input.numel();
                let weight = tensor(lw, i, kind, "weight", &[n, out])?;
                let bias = match lw.get("bias") {
                    Some(_) => tensor(lw, i, kind, "bias", &[out])?,
                    None => vec![0.0; out],
                };
                layers.push(FloatLayer::Dense {
                    out,
                    weight,
                    bias,
                    relu,
                });
            }
            LayerSpec::Mask => {
                let c = li.input.channels();
                let m = tensor(lw, i, kind, "values", &[c])?;
                let bad = |what: String| ExportError::Convert {
                    layer: i,
                    kind,
                    what,
                };
                if let Some((j, v)) = m.iter().enumerate().find(|(_, v)| v.is_nan() || **v < 0.0) {
                    return Err(bad(format!(
                        "mask value {v} at channel {j}: only m ≥ 0 folds through a ReLU"
                    )));
                }
                match layers.last_mut() {
                    Some(FloatLayer::Conv2d {
                        out,
                        weight,
                        bias,
                        relu: true,
                        ..
                    }) if *out == c => {
                        let per = weight.len() / c;
                        for (o, &s) in m.iter().enumerate() {
                            weight[o * per..(o + 1) * per]
                                .iter_mut()
                                .for_each(|w| *w *= s);
                            bias[o] *= s;
                        }
                    }
                    Some(FloatLayer::Dense {
                        out,
                        weight,
                        bias,
                        relu: true,
                    }) if *out == c => {
                        for row in weight.chunks_mut(c) {
                            row.iter_mut().zip(&m).for_each(|(w, s)| *w *= s);
                        }
                        bias.iter_mut().zip(&m).for_each(|(b, s)| *b *= s);
                    }
                    other => {
                        return Err(bad(format!(
                            "a mask must follow a conv or dense layer with ReLU and {c} \
                             outputs, found {:?}",
                            other.map(|l| l.kind())
                        )));
                    }
                }
            }
        }
    }
    Ok(FloatNet {
        input: spec.input,
        layers,
    })
}

/// Converts a trained net built from `spec` (reads its weights from the device).
pub fn from_net(spec: &ArchSpec, net: &Net) -> Result<FloatNet, ExportError> {
    let weights = net.layer_weights().map_err(|e| ExportError::Convert {
        layer: usize::MAX,
        kind: "net",
        what: e.to_string(),
    })?;
    from_layer_weights(spec, &weights)
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;
    use crate::arch::seed::seed_c10;
    use crate::nn::NamedTensor;
    use crate::rng::SplitMix64;

    #[test]
    fn folded_float_net_matches_burn_forward() {
        let dev = Device::flex();
        let spec = seed_c10();
        let mut net = Net::new(&spec, &dev).unwrap_or_else(|e| panic!("{e}"));
        let mut rng = SplitMix64::new(42);
        // Give every mask non-trivial values, some zero, so the fold is exercised.
        for idx in spec.mask_layers() {
            let lw = net.layer_weights().unwrap_or_else(|e| panic!("{e}"));
            let t = lw[idx].get("values").unwrap_or_else(|| panic!("mask"));
            let values: Vec<f32> = (0..t.values.len())
                .map(|j| {
                    if j % 5 == 0 {
                        0.0
                    } else {
                        (rng.below(100) as f32) / 50.0
                    }
                })
                .collect();
            let new = NamedTensor {
                name: "values".into(),
                shape: t.shape.clone(),
                values,
            };
            net.set_tensor(idx, &new).unwrap_or_else(|e| panic!("{e}"));
        }
        let float = from_net(&spec, &net).unwrap_or_else(|e| panic!("{e}"));
        assert!(!float.layers.iter().any(|l| matches!(l, FloatLayer::Relu)));

        let n_in: usize = spec.input.iter().product();
        let x: Vec<f32> = (0..n_in)
            .map(|_| rng.below(256) as f32 / 127.5 - 1.0)
            .collect();
        let input = Tensor::<4>::from_data(
            TensorData::new(x.clone(), [1, spec.input[0], spec.input[1], spec.input[2]]),
            &dev,
        );
        let want: Vec<f32> = net
            .forward(input)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"));
        let got = float.forward(&x).unwrap_or_else(|e| panic!("{e}"));
        let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-4 * scale, "{got:?} vs {want:?}");
        }
        // and the f32 blob agrees too
        let blob = super::super::export_f32(&float).unwrap_or_else(|e| panic!("{e}"));
        let y = super::super::with_model(&blob, |m| super::super::BlobRunner::new(m)?.logits(&x))
            .unwrap_or_else(|e| panic!("{e}"));
        for (a, b) in y.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-4 * scale, "{y:?} vs {want:?}");
        }
    }

    #[test]
    fn negative_mask_is_refused() {
        let dev = Device::flex();
        let spec = seed_c10();
        let mut net = Net::new(&spec, &dev).unwrap_or_else(|e| panic!("{e}"));
        let idx = spec.mask_layers()[0];
        let mut values = vec![1.0; 16];
        values[3] = -0.5;
        let new = NamedTensor {
            name: "values".into(),
            shape: vec![16],
            values,
        };
        net.set_tensor(idx, &new).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            from_net(&spec, &net),
            Err(ExportError::Convert { kind: "Mask", .. })
        ));
    }
}
