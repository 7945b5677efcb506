//! `whittle fit`'s assessment: does a blob fit a chip (flash, RAM, and time at its clock when
//! instructions are known), by how much, and where each layer's instructions, flash and RAM go.

use whittle_shared::encode::AlignedBytes;
use whittle_shared::{Model, cost};

use super::builder::{CODE_FLASH_ESTIMATE, RAM_OVERHEAD_ESTIMATE};
use super::pipeline::RunReport;
use super::target::Target;

/// Where a predicted instruction count plugs in: a per-op instruction model for a machine's
/// kernels ([`CostModel`]: `shared`'s, calibrated in QEMU).
pub trait InstructionPredictor {
    /// Predicted instructions of one inference of each op of `model` on `target`'s core, in
    /// op order; `None` if the model does not cover the blob.
    fn per_op(&self, target: &Target, model: &Model) -> Option<Vec<u64>>;
}

/// `shared::cost::instructions`: the kernel paths' trip counts times their costs measured
/// under QEMU `-icount` (the same on every DSP core whittle targets: M4F, M7, M33).
pub struct CostModel;

impl InstructionPredictor for CostModel {
    fn per_op(&self, _: &Target, model: &Model) -> Option<Vec<u64>> {
        if model.precision() != whittle_shared::Precision::Int8 {
            return None;
        }
        let ops = cost::instructions::per_op(model).ok()?;
        Some(ops.iter().map(|o| o.instructions).collect())
    }
}

/// Why a blob could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("invalid blob: {0}")]
    Format(#[from] whittle_shared::Error),
}

/// One resource: what the model needs and what the chip has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Budget {
    pub need: u64,
    pub have: u64,
    /// `need` comes from the built ELF and the run (true) or from estimates (false).
    pub measured: bool,
}

impl Budget {
    pub fn fits(&self) -> bool {
        self.need <= self.have
    }
    /// have − need: free when positive, short when negative.
    pub fn margin(&self) -> i64 {
        self.have as i64 - self.need as i64
    }
}

/// One op's share.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitLayer {
    pub index: u64,
    pub op: String,
    pub macs: u64,
    /// Flash: weights, biases and requantization constants in the blob.
    pub weight_bytes: u64,
    /// RAM: the op's output tensor (it lives in the arena while later ops read it).
    pub output_bytes: u64,
    /// Per inference, measured or predicted; `None` when neither.
    pub instructions: Option<u64>,
    /// Per inference as the instruction model predicts it (also when measured).
    pub predicted_instructions: Option<u64>,
}

/// The whole assessment (what `whittle fit --json` writes).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    /// "STM32F405RG (Cortex-M4F, 1 MiB flash, 128 KiB RAM, 168 MHz)".
    pub chip: String,
    pub chip_name: String,
    /// The QEMU machine that emulates its core (and measures with `--measure`).
    pub machine: String,
    pub clock_hz: u64,
    pub flash: Budget,
    pub ram: Budget,
    pub macs: u64,
    /// The model's share of RAM: activation arena and kernel scratch (the rest of `ram` is
    /// the firmware's statics and stack).
    pub arena_bytes: u64,
    pub scratch_bytes: u64,
    /// Per inference; `None` when neither measured nor predicted.
    pub instructions: Option<u64>,
    /// "measured on QEMU mps2-an386 (10 images)", "predicted", or "unknown".
    pub instructions_source: String,
    /// At the chip's clock and its core's assumed cycles per instruction.
    pub ms: Option<f64>,
    /// The cycles per instruction `ms` assumes.
    pub cycles_per_instruction: f64,
    /// The latency budget asked for.
    pub max_ms: Option<f64>,
    pub layers: Vec<FitLayer>,
    /// Flash and RAM fit, and the time too when a budget was given and the time is known.
    pub fits: bool,
}

/// Assesses `blob` for `target`'s chip: from a run's report when given (its ELF sizes,
/// stack peak and per-layer instructions), else from the cost model and the firmware
/// builder's estimates, with instructions from `predictor` when it covers every op.
pub fn assess(
    blob: &[u8],
    target: &Target,
    measured: Option<&RunReport>,
    predictor: Option<&dyn InstructionPredictor>,
    max_ms: Option<f64>,
) -> Result<FitReport, FitError> {
    let bytes = AlignedBytes::new(blob);
    let model = Model::from_bytes(&bytes)?;
    let totals = cost::totals(&model)?;
    let chip = target.chip;
    let mut layers = Vec::new();
    let predicted = predictor.and_then(|p| p.per_op(target, &model));
    for (i, op) in model.ops().enumerate() {
        let op = op?;
        let c = cost::layer_cost(&model, &op)?;
        let instructions = match (measured, &predicted) {
            (Some(r), _) => r.per_layer.get(i).map(|l| l.instructions),
            (None, Some(p)) => p.get(i).copied(),
            (None, None) => None,
        };
        layers.push(FitLayer {
            index: i as u64,
            op: op.name().to_string(),
            macs: c.macs,
            weight_bytes: c.weight_bytes,
            output_bytes: c.output_bytes,
            instructions,
            predicted_instructions: predicted.as_ref().and_then(|p| p.get(i).copied()),
        });
    }
    let (flash_need, ram_need) = match measured {
        Some(r) => (r.flash_bytes, r.static_ram_bytes + r.stack_peak_bytes),
        None => (
            blob.len() as u64 + CODE_FLASH_ESTIMATE,
            model.ram_bytes() as u64 + RAM_OVERHEAD_ESTIMATE,
        ),
    };
    let (instructions, instructions_source) = match measured {
        Some(r) => (
            Some(r.instructions_per_inference),
            format!("measured on QEMU {} ({} images)", r.machine, r.images),
        ),
        None => {
            let per_op: Option<u64> = layers.iter().map(|l| l.instructions).sum();
            match per_op {
                Some(n) if predicted.is_some() => (Some(n), "predicted".to_string()),
                _ => (None, "unknown (run with --measure)".to_string()),
            }
        }
    };
    let ms = instructions.map(|n| chip.ms(n));
    let flash = Budget {
        need: flash_need,
        have: chip.flash_bytes,
        measured: measured.is_some(),
    };
    let ram = Budget {
        need: ram_need,
        have: chip.ram_bytes,
        measured: measured.is_some(),
    };
    let in_time = match (ms, max_ms) {
        (Some(t), Some(max)) => t <= max,
        _ => true,
    };
    Ok(FitReport {
        chip: chip.describe(),
        chip_name: chip.name.to_string(),
        machine: target.machine.to_string(),
        clock_hz: chip.clock_hz,
        flash,
        ram,
        macs: totals.macs,
        arena_bytes: totals.arena_bytes,
        scratch_bytes: totals.scratch_bytes,
        instructions,
        instructions_source,
        ms,
        cycles_per_instruction: chip.core.cycles_per_instruction(),
        max_ms,
        layers,
        fits: flash.fits() && ram.fits() && in_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firmware::chips;
    use crate::synth::{self, Arch};

    /// Every op costs its MACs plus 100: enough to check that predictions are summed.
    struct MacsPlus100;
    impl InstructionPredictor for MacsPlus100 {
        fn per_op(&self, _: &Target, model: &Model) -> Option<Vec<u64>> {
            model
                .ops()
                .map(|op| Some(cost::layer_cost(model, &op.ok()?).ok()?.macs + 100))
                .collect()
        }
    }

    #[test]
    fn estimates_name_the_shortfall_and_predictions_add_up() {
        let blob = synth::build_arch(Arch::SeedC10, 1.0, 42).unwrap();
        let t = Target::of(&chips::STM32F446, None).unwrap();
        let r = assess(&blob, &t, None, None, None).unwrap();
        assert_eq!(r.flash.need, blob.len() as u64 + CODE_FLASH_ESTIMATE);
        assert!(r.fits && r.flash.margin() > 0 && !r.flash.measured);
        assert_eq!(r.instructions, None);
        let weights: u64 = r.layers.iter().map(|l| l.weight_bytes).sum();
        assert!(weights < blob.len() as u64 && weights * 10 > blob.len() as u64 * 9);

        let p = assess(&blob, &t, None, Some(&MacsPlus100), Some(1.0)).unwrap();
        assert_eq!(p.instructions, Some(p.macs + 100 * p.layers.len() as u64));
        assert_eq!(p.instructions_source, "predicted");
        // 8.2 M instructions at 180 MHz is 45 ms: over a 1 ms budget
        assert!(!p.fits && p.ms.is_some_and(|ms| ms > 40.0));

        let wide = synth::build_arch(Arch::SeedC10, 2.0, 42).unwrap();
        let r = assess(&wide, &t, None, None, None).unwrap();
        assert!(!r.fits && r.flash.margin() < 0, "{:?}", r.flash);
    }
}
