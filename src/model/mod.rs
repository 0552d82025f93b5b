//! The sample model a registration check registers: a logistic regression trained with
//! `linfa-logistic` on deterministic synthetic data, with real metrics computed on held-out
//! data, packaged as an MLflow model directory (`MLmodel` + the serialised model).
//!
//! ```
//! let m = hokusai_verify::model::SampleModel::get();
//! assert!(m.accuracy > 0.7 && m.auroc > 0.75, "{m:?}");
//! ```

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use std::sync::OnceLock;

/// The seed of the synthetic data set (the same model every run).
pub const SEED: u64 = 20250801;
const N_TRAIN: usize = 300;
const N_TEST: usize = 200;
/// The generating weights (the last feature is noise).
const TRUE_WEIGHTS: [f64; 4] = [1.5, -2.0, 0.8, 0.0];
const TRUE_BIAS: f64 = 0.3;
const MAX_ITERATIONS: u64 = 200;

/// A trained model and its held-out metrics.
#[derive(Debug, Clone)]
pub struct SampleModel {
    pub coefficients: Vec<f64>,
    pub intercept: f64,
    /// Share of held-out samples classified correctly.
    pub accuracy: f64,
    /// Area under the ROC curve on the held-out samples.
    pub auroc: f64,
    pub n_train: usize,
    pub n_test: usize,
}

fn normal(rng: &mut fastrand::Rng) -> f64 {
    // Box-Muller.
    let (u1, u2) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn data(rng: &mut fastrand::Rng, n: usize) -> (Array2<f64>, Array1<usize>) {
    let mut x = Array2::<f64>::zeros((n, TRUE_WEIGHTS.len()));
    let mut y = Array1::<usize>::zeros(n);
    for i in 0..n {
        let mut z = TRUE_BIAS;
        for (j, w) in TRUE_WEIGHTS.iter().enumerate() {
            let v = normal(rng);
            x[[i, j]] = v;
            z += w * v;
        }
        let p = 1.0 / (1.0 + (-z).exp());
        y[i] = usize::from(rng.f64() < p);
    }
    (x, y)
}

/// AUROC by the rank statistic: the chance a positive scores above a negative.
pub fn auroc(scores: &[f64], labels: &[usize]) -> f64 {
    let pos: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l == 1)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l == 0)
        .map(|(s, _)| *s)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

impl SampleModel {
    /// Trains on the fixed seed (once per process).
    pub fn get() -> &'static SampleModel {
        static MODEL: OnceLock<SampleModel> = OnceLock::new();
        MODEL.get_or_init(|| Self::train(SEED))
    }

    pub fn train(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let (x_train, y_train) = data(&mut rng, N_TRAIN);
        let (x_test, y_test) = data(&mut rng, N_TEST);
        let fitted = LogisticRegression::default()
            .max_iterations(MAX_ITERATIONS)
            .fit(&Dataset::new(x_train, y_train))
            .expect("logistic regression fits the synthetic data");
        let probs = fitted.predict_probabilities(&x_test);
        // Probabilities are for the larger class label (1).
        let predicted: Vec<usize> = probs.iter().map(|p| usize::from(*p >= 0.5)).collect();
        let correct = predicted
            .iter()
            .zip(y_test.iter())
            .filter(|(a, b)| a == b)
            .count();
        Self {
            coefficients: fitted.params().to_vec(),
            intercept: fitted.intercept(),
            accuracy: correct as f64 / N_TEST as f64,
            auroc: auroc(
                probs.as_slice().expect("contiguous"),
                y_test.as_slice().expect("contiguous"),
            ),
            n_train: N_TRAIN,
            n_test: N_TEST,
        }
    }

    /// The metrics to log, as computed.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        vec![("accuracy", self.accuracy), ("auroc", self.auroc)]
    }

    /// The training parameters to log.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("model_type", "logistic_regression".into()),
            ("seed", SEED.to_string()),
            ("n_train", self.n_train.to_string()),
            ("n_test", self.n_test.to_string()),
            ("max_iterations", MAX_ITERATIONS.to_string()),
            ("alpha", "1.0".into()),
        ]
    }

    /// The serialised model (`model.json`).
    pub fn model_json(&self) -> Vec<u8> {
        let v = serde_json::json!({
            "type": "logistic_regression", "library": "linfa-logistic",
            "features": ["f0", "f1", "f2", "f3"], "coefficients": self.coefficients, "intercept": self.intercept,
            "threshold": 0.5, "positive_class": 1,
        });
        serde_json::to_vec_pretty(&v).expect("json")
    }

    /// The `MLmodel` descriptor for a run.
    pub fn mlmodel(&self, run_id: &str) -> Vec<u8> {
        format!(
            "artifact_path: model\nflavors:\n  hokusai_logreg:\n    data: model.json\n    loader_module: hokusai_verify.model\n    model_type: logistic_regression\nmodel_size_bytes: {}\nrun_id: {run_id}\nutc_time_created: '{}'\n",
            self.model_json().len(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f")
        )
        .into_bytes()
    }

    /// The files of the model directory: (path under the run's artifacts, bytes).
    pub fn files(&self, run_id: &str) -> Vec<(String, Vec<u8>)> {
        vec![
            ("model/MLmodel".into(), self.mlmodel(run_id)),
            ("model/model.json".into(), self.model_json()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_is_deterministic_and_learns() {
        let (a, b) = (SampleModel::train(SEED), SampleModel::train(SEED));
        assert_eq!(a.coefficients, b.coefficients);
        assert!(a.accuracy > 0.7, "{a:?}");
        // The noise feature gets the smallest weight.
        let w = &a.coefficients;
        assert!(w[3].abs() < w[0].abs() && w[3].abs() < w[1].abs(), "{w:?}");
    }

    #[test]
    fn auroc_of_perfect_and_inverted_scores() {
        assert_eq!(auroc(&[0.9, 0.8, 0.1], &[1, 1, 0]), 1.0);
        assert_eq!(auroc(&[0.1, 0.2, 0.9], &[1, 1, 0]), 0.0);
    }
}
