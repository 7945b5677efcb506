//! `HardConcrete`: the L0 gate (Louizos et al. 2017) — one learnable log α per channel, a
//! stretched, clipped concrete sample while training, a deterministic gate at test time.
//!
//! With Louizos et al.'s γ = −0.1, ζ = 1.1 and temperature β:
//! - train: u ~ U(0, 1), s = sigmoid((ln u − ln(1−u) + log α)/β), z = clamp(s(ζ−γ)+γ, 0, 1);
//! - P(z ≠ 0) = sigmoid(log α − β ln(−γ/ζ)), the expected-L0 penalty (summed over channels,
//!   log α clamped to [−4, 4] there so it cannot run away or overflow);
//! - test: clamp(sigmoid(log α)(ζ−γ)+γ, 0, 1); final keep: log α ≥ 0.
//!
//! β is no parameter: [`Temperature`] either fixes the paper's 2/3 or decays the seed's
//! small value (0.05) linearly over the epochs.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::error::NnError;

/// Louizos et al.'s stretch interval lower end.
pub const GAMMA: f64 = -0.1;
/// Louizos et al.'s stretch interval upper end.
pub const ZETA: f64 = 1.1;
/// The paper's temperature.
pub const PAPER_BETA: f64 = 2.0 / 3.0;
/// Range of log α inside the penalty.
pub const PENALTY_CLAMP: f64 = 4.0;
/// Noise is drawn from [EPS, 1 − EPS] so ln u and ln(1 − u) stay finite.
const EPS: f64 = 1e-6;

/// How the temperature β evolves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Temperature {
    /// A constant β (the paper: 2/3).
    Fixed {
        /// β.
        beta: f64,
    },
    /// β decays linearly from `start` (epoch 0) to `end` (epoch `epochs`), then stays.
    Linear {
        /// β at the first epoch.
        start: f64,
        /// β from epoch `epochs` on.
        end: f64,
        /// Length of the decay.
        epochs: usize,
    },
}

impl Temperature {
    /// The paper's fixed 2/3.
    pub fn paper() -> Self {
        Self::Fixed { beta: PAPER_BETA }
    }

    /// The seed's practice: a small β (0.05) decayed linearly to a fifth of it.
    pub fn seed(epochs: usize) -> Self {
        Self::Linear {
            start: 0.05,
            end: 0.01,
            epochs: epochs.max(1),
        }
    }

    /// β during `epoch` (0-based).
    pub fn at(&self, epoch: usize) -> f64 {
        match *self {
            Self::Fixed { beta } => beta,
            Self::Linear { start, end, epochs } => {
                let t = (epoch as f64 / epochs.max(1) as f64).min(1.0);
                start + (end - start) * t
            }
        }
    }
}

/// Configuration of a [`HardConcrete`] gate.
#[derive(Config, Debug)]
pub struct HardConcreteConfig {
    /// Number of channels gated.
    pub channels: usize,
    /// Initial log α (2.5: mostly kept, sigmoid not saturated).
    #[config(default = 2.5)]
    pub log_alpha_init: f32,
}

impl HardConcreteConfig {
    /// A gate with every log α at `log_alpha_init`.
    ///
    /// # Panics
    /// If `channels` is 0.
    pub fn init(&self, device: &Device) -> HardConcrete {
        assert!(self.channels > 0, "a gate needs at least one channel");
        HardConcrete {
            log_alpha: Param::from_data(
                TensorData::new(vec![self.log_alpha_init; self.channels], [self.channels]),
                device,
            ),
        }
    }
}

/// Per-channel hard-concrete gate; the temperature is passed in (it is a schedule, not a
/// parameter).
#[derive(Module, Debug)]
pub struct HardConcrete {
    /// log α per channel: `[channels]`.
    pub log_alpha: Param<Tensor<1>>,
}

impl HardConcrete {
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.log_alpha.dims()[0]
    }

    /// A training sample z ∈ [0, 1] per channel (one per batch), from the device RNG.
    ///
    /// # Shapes
    /// - output: `[channels]`
    pub fn sample(&self, beta: f64) -> Tensor<1> {
        let la = self.log_alpha.val();
        let u = Tensor::<1>::random(
            [self.channels()],
            Distribution::Uniform(EPS, 1.0 - EPS),
            &la.device(),
        );
        self.sample_with(u, beta)
    }

    /// The training sample for given uniform noise `u` (values in (0, 1)).
    pub fn sample_with(&self, u: Tensor<1>, beta: f64) -> Tensor<1> {
        let logit = u.clone().log() - u.neg().add_scalar(1.0).log();
        let s = sigmoid((logit + self.log_alpha.val()).div_scalar(beta));
        s.mul_scalar(ZETA - GAMMA).add_scalar(GAMMA).clamp(0.0, 1.0)
    }

    /// The deterministic test-time gate per channel.
    pub fn test_gate(&self) -> Tensor<1> {
        sigmoid(self.log_alpha.val())
            .mul_scalar(ZETA - GAMMA)
            .add_scalar(GAMMA)
            .clamp(0.0, 1.0)
    }

    /// P(z ≠ 0) per channel, with log α clamped to [−4, 4].
    pub fn prob_nonzero(&self, beta: f64) -> Tensor<1> {
        let shift = beta * (-GAMMA / ZETA).ln();
        sigmoid(
            self.log_alpha
                .val()
                .clamp(-PENALTY_CLAMP, PENALTY_CLAMP)
                .sub_scalar(shift),
        )
    }

    /// The expected number of non-zero gates (the L0 penalty of this layer).
    pub fn expected_l0(&self, beta: f64) -> Tensor<1> {
        self.prob_nonzero(beta).sum()
    }

    /// log α on the host, refusing NaN or infinite values.
    pub fn log_alpha_values(&self, index: usize) -> Result<Vec<f32>, NnError> {
        let v = self
            .log_alpha
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| NnError::Read {
                index,
                name: "log_alpha".into(),
                message: format!("{e:?}"),
            })?;
        if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
            return Err(NnError::Read {
                index,
                name: "log_alpha".into(),
                message: format!("value {bad} is not finite (lower the learning rate or λ)"),
            });
        }
        Ok(v)
    }

    /// The final keep decision per channel: log α ≥ 0.
    pub fn keep(&self, index: usize) -> Result<Vec<bool>, NnError> {
        Ok(self
            .log_alpha_values(index)?
            .iter()
            .map(|&a| a >= 0.0)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(t: Tensor<1>) -> Vec<f32> {
        t.into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn gate(values: &[f32], dev: &Device) -> HardConcrete {
        HardConcrete {
            log_alpha: Param::from_data(TensorData::new(values.to_vec(), [values.len()]), dev),
        }
    }

    fn sigmoid64(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn sample_nonzero_rate_matches_the_closed_form() {
        let dev = Device::flex();
        dev.seed(17);
        let n = 40_000;
        for (la, beta) in [
            (-1.0f32, PAPER_BETA),
            (0.0, PAPER_BETA),
            (2.5, PAPER_BETA),
            (-0.2, 0.05),
            (0.7, 0.3),
        ] {
            let g = HardConcreteConfig::new(n)
                .with_log_alpha_init(la)
                .init(&dev);
            let z = host(g.sample(beta));
            assert!(z.iter().all(|v| (0.0..=1.0).contains(v)));
            let rate = z.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
            let p = sigmoid64(f64::from(la) - beta * (-GAMMA / ZETA).ln());
            let p_code = f64::from(host(g.prob_nonzero(beta))[0]);
            assert!((p - p_code).abs() < 1e-6, "prob_nonzero {p_code} vs {p}");
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (rate - p).abs() < 4.0 * se + 1e-4,
                "log α {la} β {beta}: rate {rate}, P {p}"
            );
        }
    }

    #[test]
    fn sample_by_hand_and_test_gate_formula() {
        let dev = Device::flex();
        let g = gate(&[0.0, 1.0, -3.0], &dev);
        // u = 0.5: logit 0, s = sigmoid(log α / β).
        let u = Tensor::<1>::from_data([0.5, 0.5, 0.5], &dev);
        let z = host(g.sample_with(u, 0.5));
        for (zi, la) in z.iter().zip([0.0f64, 1.0, -3.0]) {
            let expect = (sigmoid64(la / 0.5) * (ZETA - GAMMA) + GAMMA).clamp(0.0, 1.0);
            assert!((f64::from(*zi) - expect).abs() < 1e-6, "{zi} vs {expect}");
        }
        let t = host(g.test_gate());
        assert!((t[0] - 0.5).abs() < 1e-6); // sigmoid(0)·1.2 − 0.1
        assert!((f64::from(t[1]) - (sigmoid64(1.0) * 1.2 - 0.1)).abs() < 1e-6);
        assert_eq!(t[2], 0.0); // sigmoid(−3)·1.2 − 0.1 < 0 → clipped
        assert_eq!(g.keep(0).unwrap_or_default(), vec![true, true, false]);
    }

    #[test]
    fn penalty_is_clamped_and_has_no_gradient_outside() {
        let dev = Device::flex().autodiff();
        let g = gate(&[10.0, 4.0, -10.0, 0.0], &dev);
        let p = host(g.prob_nonzero(PAPER_BETA));
        assert_eq!(p[0], p[1], "log α 10 counts like 4");
        let grads = g.expected_l0(PAPER_BETA).backward();
        let d = host(
            g.log_alpha
                .val()
                .grad(&grads)
                .unwrap_or_else(|| panic!("no grad")),
        );
        assert_eq!(d[0], 0.0);
        assert_eq!(d[2], 0.0);
        assert!(d[3] > 0.0);
    }

    #[test]
    fn non_finite_log_alpha_fails_clearly() {
        let dev = Device::flex();
        let g = gate(&[0.0, f32::NAN], &dev);
        let e = g.keep(3).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("log_alpha") && e.contains("NaN"), "{e}");
    }

    #[test]
    fn temperature_schedules() {
        assert_eq!(Temperature::paper().at(7), PAPER_BETA);
        let t = Temperature::seed(10);
        assert!((t.at(0) - 0.05).abs() < 1e-12);
        assert!((t.at(5) - 0.03).abs() < 1e-12);
        assert!((t.at(50) - 0.01).abs() < 1e-12);
    }
}
