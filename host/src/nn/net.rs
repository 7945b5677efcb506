//! `Net`: a sequential network built at run time from an [`ArchSpec`]; forward pass,
//! weights save/load (burnpack files, rebuilt from the spec first).

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{DropoutConfig, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

use super::error::NnError;
use super::flatten::Flatten;
use super::layer::{Activation, Layer};
use super::mask::MaskConfig;
use crate::arch::{ArchSpec, LayerSpec, Shape};

/// A network: one [`Layer`] per spec layer, ReLUs applied where the spec says.
#[derive(Module, Debug)]
pub struct Net {
    /// The layers; `layers[i]` implements `spec.layers[i]`.
    pub layers: Vec<Layer>,
    /// ReLU after layer `i` (structure from the spec, not a parameter).
    #[module(skip)]
    pub relu_after: Vec<bool>,
}

impl Net {
    /// Build a freshly initialized network (weights drawn from the device's RNG: seed it first).
    pub fn new(spec: &ArchSpec, device: &Device) -> Result<Net, NnError> {
        let info = spec.layer_info()?;
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut relu_after = Vec::with_capacity(spec.layers.len());
        for (layer, li) in spec.layers.iter().zip(&info) {
            let built = match (layer, li.input) {
                (LayerSpec::Conv { out, k, .. }, Shape::Chw(c, _, _)) => Layer::Conv(
                    Conv2dConfig::new([c, *out], [*k, *k])
                        .with_padding(PaddingConfig2d::Same)
                        .init(device),
                ),
                (LayerSpec::Pool { size }, _) => Layer::Pool(
                    MaxPool2dConfig::new([*size, *size])
                        .with_strides([*size, *size])
                        .init(),
                ),
                (LayerSpec::Dropout { p }, _) => Layer::Dropout(DropoutConfig::new(*p).init()),
                (LayerSpec::Flatten, _) => Layer::Flatten(Flatten),
                (LayerSpec::Dense { out, .. }, Shape::Flat(n)) => {
                    Layer::Dense(LinearConfig::new(n, *out).init(device))
                }
                (LayerSpec::Mask, s) => Layer::Mask(MaskConfig::new(s.channels()).init(device)),
                // layer_info() has already rejected every other combination.
                (l, s) => {
                    return Err(NnError::Arch(crate::arch::ArchError::Rank {
                        index: layers.len(),
                        layer: l.kind(),
                        expected: "a valid input",
                        found: format!("{s:?}"),
                    }));
                }
            };
            layers.push(built);
            relu_after.push(matches!(
                layer,
                LayerSpec::Conv { relu: true, .. } | LayerSpec::Dense { relu: true, .. }
            ));
        }
        Ok(Net { layers, relu_after })
    }

    /// Build from the spec and load weights saved by [`Net::save`].
    pub fn load(spec: &ArchSpec, path: &Path, device: &Device) -> Result<Net, NnError> {
        Net::new(spec, device)?
            .try_load_file(path)
            .map_err(|source| NnError::Load {
                path: path.display().to_string(),
                source,
            })
    }

    /// Save the weights (burnpack). Writes `path` directly; see `train::run_dir` for atomic saves.
    pub fn save(&self, path: &Path) -> Result<(), NnError> {
        self.clone()
            .save_file(path)
            .map_err(|source| NnError::Save {
                path: path.display().to_string(),
                source,
            })
    }

    /// Logits for a batch of images.
    ///
    /// # Shapes
    /// - input: `[n, 3, 32, 32]` (the spec's input)
    /// - output: `[n, num_classes]`
    ///
    /// # Panics
    /// If the net was not built from a valid spec (ranks mismatch).
    pub fn forward(&self, input: Tensor<4>) -> Tensor<2> {
        let mut x = Activation::Spatial(input);
        for (layer, &relu) in self.layers.iter().zip(&self.relu_after) {
            x = match (layer, x) {
                (Layer::Conv(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
                (Layer::Pool(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
                (Layer::Dropout(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
                (Layer::Dropout(l), Activation::Flat(t)) => Activation::Flat(l.forward(t)),
                (Layer::Flatten(l), Activation::Spatial(t)) => Activation::Flat(l.forward(t)),
                (Layer::Dense(l), Activation::Flat(t)) => Activation::Flat(l.forward(t)),
                (Layer::Mask(l), Activation::Spatial(t)) => Activation::Spatial(l.forward(t)),
                (Layer::Mask(l), Activation::Flat(t)) => Activation::Flat(l.forward(t)),
                (l, _) => panic!("layer {l:?} got an activation of the wrong rank"),
            };
            if relu {
                x = x.relu();
            }
        }
        match x {
            Activation::Flat(t) => t,
            Activation::Spatial(_) => panic!("network does not end in a flat layer"),
        }
    }
}

/// Touches every parameter so lazily initialized ones draw their values now.
struct InitNow;

impl burn::module::ModuleVisitor for InitNow {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

impl Net {
    /// Draw all lazily initialized parameters now (from the device RNG as seeded), so a
    /// seed fixes the initial weights whatever runs first afterwards.
    pub fn init_now(&self) {
        self.visit(&mut InitNow);
    }
}
