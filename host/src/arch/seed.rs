//! The seed article's networks as specs: `seed-c10` (5 masks, 118,962 weights) and
//! `seed-c100` (8 masks).

use super::error::ArchError;
use super::spec::{ArchSpec, LayerSpec};

/// Names of the built-in architectures.
pub const PRESETS: &[&str] = &["seed-c10", "seed-c100"];

/// Dropout after the CIFAR-100 net's conv pools (the article gives no rate; our choice).
pub const C100_CONV_DROPOUT: f64 = 0.25;
/// Dropout before the dense layers (both nets).
pub const DENSE_DROPOUT: f64 = 0.5;

fn conv(out: usize) -> [LayerSpec; 2] {
    [
        LayerSpec::Conv {
            out,
            k: 3,
            relu: true,
        },
        LayerSpec::Mask,
    ]
}

fn dense(out: usize) -> [LayerSpec; 2] {
    [LayerSpec::Dense { out, relu: true }, LayerSpec::Mask]
}

/// A built-in architecture by name.
pub fn preset(name: &str) -> Result<ArchSpec, ArchError> {
    match name {
        "seed-c10" => Ok(seed_c10()),
        "seed-c100" => Ok(seed_c100()),
        _ => Err(ArchError::UnknownPreset {
            name: name.into(),
            known: PRESETS.join(", "),
        }),
    }
}

/// CIFAR-10: Conv16-Conv24-Pool-Conv32-Conv32-Pool-Flatten-Dropout(0.5)-Dense48-Dense10,
/// 3x3 'same', ReLU, a mask after each ReLU (5 masks).
pub fn seed_c10() -> ArchSpec {
    let mut layers = Vec::new();
    layers.extend(conv(16));
    layers.extend(conv(24));
    layers.push(LayerSpec::Pool { size: 2 });
    layers.extend(conv(32));
    layers.extend(conv(32));
    layers.push(LayerSpec::Pool { size: 2 });
    layers.push(LayerSpec::Flatten);
    layers.push(LayerSpec::Dropout { p: DENSE_DROPOUT });
    layers.extend(dense(48));
    layers.push(LayerSpec::Dense {
        out: 10,
        relu: false,
    });
    ArchSpec {
        name: "seed-c10".into(),
        input: [3, 32, 32],
        num_classes: 10,
        layers,
    }
}

/// CIFAR-100: Conv32-32-48-Pool-Drop-48-48-Pool-Drop-64-64-Pool-Flatten-Drop-Dense48-Dense48-
/// Dense100 (8 masks); conv drops 0.25, the drop before the dense layers 0.5.
///
/// Nine layers could carry a mask; the article has eight: we leave the first conv (which
/// reads the 3-channel image and feeds every later layer) unmasked.
pub fn seed_c100() -> ArchSpec {
    let mut layers = vec![LayerSpec::Conv {
        out: 32,
        k: 3,
        relu: true,
    }];
    for w in [32, 48] {
        layers.extend(conv(w));
    }
    layers.push(LayerSpec::Pool { size: 2 });
    layers.push(LayerSpec::Dropout {
        p: C100_CONV_DROPOUT,
    });
    for w in [48, 48] {
        layers.extend(conv(w));
    }
    layers.push(LayerSpec::Pool { size: 2 });
    layers.push(LayerSpec::Dropout {
        p: C100_CONV_DROPOUT,
    });
    for w in [64, 64] {
        layers.extend(conv(w));
    }
    layers.push(LayerSpec::Pool { size: 2 });
    layers.push(LayerSpec::Flatten);
    layers.push(LayerSpec::Dropout { p: DENSE_DROPOUT });
    layers.extend(dense(48));
    layers.extend(dense(48));
    layers.push(LayerSpec::Dense {
        out: 100,
        relu: false,
    });
    ArchSpec {
        name: "seed-c100".into(),
        input: [3, 32, 32],
        num_classes: 100,
        layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_c10_counts() {
        let s = seed_c10();
        assert_eq!(s.num_weights().unwrap_or_else(|e| panic!("{e}")), 118_962);
        assert_eq!(s.mask_layers().len(), 5);
        assert_eq!(s.widths(), vec![16, 24, 32, 32, 48]);
        let macs = s.macs().unwrap_or_else(|e| panic!("{e}"));
        assert!((8_000_000..8_400_000).contains(&macs), "{macs}");
    }

    #[test]
    fn seed_c100_has_8_masks_and_valid_shapes() {
        let s = seed_c100();
        assert_eq!(s.mask_layers().len(), 8);
        assert_eq!(s.widths(), vec![32, 32, 48, 48, 48, 64, 64, 48, 48]);
        assert!(s.layer_info().is_ok());
    }

    #[test]
    fn spec_round_trips_json_and_with_widths_shrinks() {
        let s = seed_c10();
        let back: ArchSpec = serde_json::from_str(&s.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, s);
        let small = s
            .with_widths(&[8, 12, 16, 16, 24])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(small.widths(), vec![8, 12, 16, 16, 24]);
        // conv 3->8, 8->12, 12->16, 16->16, dense 1024->24, 24->10
        let expect = (8 * 27 + 8)
            + (12 * 72 + 12)
            + (16 * 108 + 16)
            + (16 * 144 + 16)
            + (1024 * 24 + 24)
            + (24 * 10 + 10);
        assert_eq!(
            small.num_weights().unwrap_or_else(|e| panic!("{e}")),
            expect
        );
        assert!(s.with_widths(&[1, 2]).is_err());
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let mut s = seed_c10();
        s.layers.insert(0, LayerSpec::Mask);
        assert!(matches!(
            s.layer_info(),
            Err(ArchError::MaskPlacement { index: 0 })
        ));
        let mut s = seed_c10();
        s.layers.retain(|l| *l != LayerSpec::Flatten);
        assert!(matches!(s.layer_info(), Err(ArchError::Rank { .. })));
        let mut s = seed_c10();
        s.num_classes = 100;
        assert!(matches!(s.layer_info(), Err(ArchError::Output { .. })));
        assert!(preset("nope").is_err());
    }
}
