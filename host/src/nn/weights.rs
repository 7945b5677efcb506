//! Per-layer weight access for export and surgery: every layer's tensors as `Vec<f32>` with
//! shapes, and replacing a tensor in place. Layouts are burn's (see `NamedTensor`).

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};

use super::error::NnError;
use super::layer::Layer;
use super::net::Net;

/// One tensor of one layer, copied to the host.
///
/// Layouts: Conv `weight` `[out, in, kh, kw]`, `bias` `[out]`; Dense `weight` `[in, out]`
/// (the transpose of PyTorch's), `bias` `[out]`; Mask `values` `[channels]`. Row-major.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NamedTensor {
    /// `weight`, `bias` or `values`.
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Row-major values, `shape.iter().product()` of them.
    pub values: Vec<f32>,
}

/// All tensors of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    /// Index in the spec / net.
    pub index: usize,
    /// `Conv`, `Pool`, `Dropout`, `Flatten`, `Dense` or `Mask`.
    pub kind: &'static str,
    /// The layer's tensors (empty for parameterless layers).
    pub tensors: Vec<NamedTensor>,
}

impl LayerWeights {
    /// The tensor called `name`, if the layer has it.
    pub fn get(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

fn kind(layer: &Layer) -> &'static str {
    match layer {
        Layer::Conv(_) => "Conv",
        Layer::Pool(_) => "Pool",
        Layer::Dropout(_) => "Dropout",
        Layer::Flatten(_) => "Flatten",
        Layer::Dense(_) => "Dense",
        Layer::Mask(_) => "Mask",
    }
}

fn read<const D: usize>(
    index: usize,
    name: &str,
    p: &Param<Tensor<D>>,
) -> Result<NamedTensor, NnError> {
    let t = p.val();
    let shape = t.dims().to_vec();
    let values = t
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| NnError::Read {
            index,
            name: name.into(),
            message: format!("{e:?}"),
        })?;
    Ok(NamedTensor {
        name: name.into(),
        shape,
        values,
    })
}

fn replace<const D: usize>(
    index: usize,
    p: &mut Param<Tensor<D>>,
    t: &NamedTensor,
) -> Result<(), NnError> {
    let t_dev = p.val();
    let expected = t_dev.dims().to_vec();
    if t.shape != expected || t.values.len() != expected.iter().product::<usize>() {
        return Err(NnError::Shape {
            index,
            name: t.name.clone(),
            expected,
            found: t.shape.clone(),
            values: t.values.len(),
        });
    }
    let device = t_dev.device();
    let data = TensorData::new(t.values.clone(), expected);
    let id = p.id;
    let fresh: Param<Tensor<D>> = Param::from_data(data, &device);
    *p = Param::initialized(id, fresh.val());
    Ok(())
}

impl Net {
    /// Every layer's tensors, in layer order (parameterless layers have none).
    pub fn layer_weights(&self) -> Result<Vec<LayerWeights>, NnError> {
        self.layers
            .iter()
            .enumerate()
            .map(|(index, layer)| {
                let mut tensors = Vec::new();
                match layer {
                    Layer::Conv(c) => {
                        tensors.push(read(index, "weight", &c.weight)?);
                        if let Some(b) = &c.bias {
                            tensors.push(read(index, "bias", b)?);
                        }
                    }
                    Layer::Dense(d) => {
                        tensors.push(read(index, "weight", &d.weight)?);
                        if let Some(b) = &d.bias {
                            tensors.push(read(index, "bias", b)?);
                        }
                    }
                    Layer::Mask(m) => tensors.push(read(index, "values", &m.values)?),
                    Layer::Pool(_) | Layer::Dropout(_) | Layer::Flatten(_) => {}
                }
                Ok(LayerWeights {
                    index,
                    kind: kind(layer),
                    tensors,
                })
            })
            .collect()
    }

    /// Replace tensor `t.name` of layer `index`; the shape must match the layer's.
    /// (To shrink a layer, build a net from the smaller spec, then set its tensors.)
    pub fn set_tensor(&mut self, index: usize, t: &NamedTensor) -> Result<(), NnError> {
        let missing = |layer: &Layer| NnError::NoSuchTensor {
            index,
            kind: kind(layer),
            name: t.name.clone(),
        };
        let layer = self
            .layers
            .get_mut(index)
            .ok_or_else(|| NnError::NoSuchTensor {
                index,
                kind: "none",
                name: t.name.clone(),
            })?;
        match (&mut *layer, t.name.as_str()) {
            (Layer::Conv(c), "weight") => replace(index, &mut c.weight, t),
            (Layer::Conv(c), "bias") => match &mut c.bias {
                Some(b) => replace(index, b, t),
                None => Err(missing(layer)),
            },
            (Layer::Dense(d), "weight") => replace(index, &mut d.weight, t),
            (Layer::Dense(d), "bias") => match &mut d.bias {
                Some(b) => replace(index, b, t),
                None => Err(missing(layer)),
            },
            (Layer::Mask(m), "values") => replace(index, &mut m.values, t),
            _ => Err(missing(layer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::seed::seed_c10;
    use burn::tensor::Device;

    #[test]
    fn layer_weights_have_burn_layouts_and_set_round_trips() {
        let dev = Device::flex();
        let mut net = Net::new(&seed_c10(), &dev).unwrap_or_else(|e| panic!("{e}"));
        let lw = net.layer_weights().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lw.len(), seed_c10().layers.len());
        let conv0 = lw[0].get("weight").unwrap_or_else(|| panic!("conv weight"));
        assert_eq!(conv0.shape, vec![16, 3, 3, 3]);
        assert_eq!(lw[1].kind, "Mask");
        assert_eq!(
            lw[1].get("values").map(|t| t.values.clone()),
            Some(vec![1.0; 16])
        );
        let dense = lw
            .iter()
            .rev()
            .find(|l| l.kind == "Dense")
            .unwrap_or_else(|| panic!("dense"));
        assert_eq!(
            dense.get("weight").map(|t| t.shape.clone()),
            Some(vec![48, 10])
        );

        let new = NamedTensor {
            name: "values".into(),
            shape: vec![16],
            values: (0..16).map(|i| i as f32).collect(),
        };
        net.set_tensor(1, &new).unwrap_or_else(|e| panic!("{e}"));
        let back = net.layer_weights().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back[1].get("values"), Some(&new));
        let wrong = NamedTensor {
            shape: vec![15],
            values: vec![0.0; 15],
            ..new
        };
        assert!(matches!(
            net.set_tensor(1, &wrong),
            Err(NnError::Shape { .. })
        ));
        assert!(matches!(
            net.set_tensor(2, &wrong),
            Err(NnError::NoSuchTensor { .. })
        ));
    }
}
