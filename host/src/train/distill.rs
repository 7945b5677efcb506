//! Knowledge distillation: a trained teacher's softened predictions as a second target, so a
//! pruned student fine-tunes toward what the unpruned net knew, not only toward the labels.

use std::path::PathBuf;

use burn::tensor::Tensor;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::run_dir::{RunDir, Weights};
use crate::nn::Net;
use burn::tensor::Device;

/// Distillation settings, stored in `train.json` beside the rest of the recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distill {
    /// Run directory of the teacher (its final weights are used).
    pub teacher: PathBuf,
    /// Softmax temperature T of both sides (Hinton et al.: 2–8; 4 is the common CIFAR choice).
    pub temperature: f64,
    /// Weight of the distillation term: loss = (1 − α)·CE + α·T²·KL(teacher ‖ student).
    pub alpha: f64,
}

impl Distill {
    /// Reject settings that cannot train.
    pub fn check(&self) -> Result<(), TrainError> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(TrainError::Config(format!(
                "distillation temperature = {} must be > 0",
                self.temperature
            )));
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(TrainError::Config(format!(
                "distillation alpha = {} must be in [0, 1]",
                self.alpha
            )));
        }
        Ok(())
    }
}

/// A loaded teacher: an inference-only net (no autodiff) that must see the student's inputs
/// and predict the same classes.
pub struct Teacher {
    net: Net,
    settings: Distill,
}

impl Teacher {
    /// Load the teacher of `settings` for a student built from `student` (same input shape,
    /// range and class count, or an error naming the difference).
    pub fn load(settings: &Distill, student: &Net, device: &Device) -> Result<Self, TrainError> {
        settings.check()?;
        let run = RunDir::new(&settings.teacher);
        let (_, net) = run.load_model(Weights::Final, &device.clone().inner())?;
        let net = net.without_softmax()?;
        let (t, s) = (&net.graph, &student.graph);
        let (t_in, s_in) = (t.shape(t.input), s.shape(s.input));
        let (t_out, s_out) = (t.shape(t.output), s.shape(s.output));
        if t_in != s_in || t_out != s_out || t.input_range != s.input_range {
            return Err(TrainError::Config(format!(
                "teacher {} does not match the student: input {t_in:?} {:?} → {t_out:?} \
                 against {s_in:?} {:?} → {s_out:?}",
                settings.teacher.display(),
                t.input_range,
                s.input_range,
            )));
        }
        Ok(Self {
            net,
            settings: settings.clone(),
        })
    }

    /// The training loss for a batch: `ce` (the student's cross-entropy) blended with the
    /// distillation term on the teacher's logits for the same `images`. The teacher's side
    /// carries no gradient.
    pub fn loss(&self, images: Tensor<4>, student: Tensor<2>, ce: Tensor<1>) -> Tensor<1> {
        let teacher = self.net.forward(images.inner());
        blend(student, teacher, ce, &self.settings)
    }
}

/// `(1 − α)·ce + α·T²·KL(softmax(t/T) ‖ softmax(s/T))`, the KL averaged over the batch.
pub fn blend(student: Tensor<2>, teacher: Tensor<2>, ce: Tensor<1>, d: &Distill) -> Tensor<1> {
    let n = student.dims()[0].max(1) as f64;
    let inv_t = 1.0 / d.temperature;
    let log_p_t = log_softmax(teacher.mul_scalar(inv_t), 1);
    let p_t = log_p_t.clone().exp();
    let log_p_s = log_softmax(student.mul_scalar(inv_t), 1);
    let kl = (p_t * (log_p_t - log_p_s)).sum().div_scalar(n);
    let t2 = d.temperature * d.temperature;
    ce.mul_scalar(1.0 - d.alpha) + kl.mul_scalar(d.alpha * t2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn settings(alpha: f64) -> Distill {
        Distill {
            teacher: PathBuf::from("t"),
            temperature: 4.0,
            alpha,
        }
    }

    fn logits(v: &[f32], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [2, 3]), device)
    }

    #[test]
    fn the_blend_is_ce_at_alpha_zero_and_zero_kl_when_the_student_is_the_teacher() {
        let device = crate::device::device("flex").expect("flex");
        let s = logits(&[1.0, 2.0, 3.0, -1.0, 0.5, 0.0], &device);
        let ce = Tensor::<1>::from_data(TensorData::new(vec![0.7f32], [1]), &device);
        let only_ce: f32 = blend(s.clone(), s.clone(), ce.clone(), &settings(0.0)).into_scalar();
        assert!((only_ce - 0.7).abs() < 1e-6, "{only_ce}");
        let same: f32 = blend(s.clone(), s.clone(), ce.clone(), &settings(1.0)).into_scalar();
        assert!(same.abs() < 1e-6, "{same}");
    }

    #[test]
    fn the_kl_term_matches_a_hand_computation() {
        let device = crate::device::device("flex").expect("flex");
        let sv = [1.0f32, 2.0, 3.0, -1.0, 0.5, 0.0];
        let tv = [3.0f32, 0.0, 1.0, 0.0, 0.0, 2.0];
        let ce = Tensor::<1>::from_data(TensorData::new(vec![0.0f32], [1]), &device);
        let got: f32 = blend(
            logits(&sv, &device),
            logits(&tv, &device),
            ce,
            &settings(1.0),
        )
        .into_scalar();
        let soft = |r: &[f32]| {
            let e: Vec<f64> = r.iter().map(|x| (f64::from(*x) / 4.0).exp()).collect();
            let z: f64 = e.iter().sum();
            e.into_iter().map(|x| x / z).collect::<Vec<_>>()
        };
        let mut kl = 0.0;
        for row in 0..2 {
            let (p, q) = (soft(&tv[row * 3..][..3]), soft(&sv[row * 3..][..3]));
            kl += p.iter().zip(&q).map(|(p, q)| p * (p / q).ln()).sum::<f64>();
        }
        let want = 16.0 * kl / 2.0;
        assert!(
            (f64::from(got) - want).abs() < 1e-5 * want.max(1.0),
            "{got} vs {want}"
        );
        assert!(want > 0.1, "the case must exercise the term: {want}");
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let mut d = settings(1.5);
        assert!(d.check().unwrap_err().to_string().contains("alpha"));
        d.alpha = 0.5;
        d.temperature = 0.0;
        assert!(d.check().unwrap_err().to_string().contains("temperature"));
    }
}
