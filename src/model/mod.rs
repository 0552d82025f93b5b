//! The sample model a registration check registers: a logistic regression trained with
//! `linfa-logistic` on deterministic synthetic data, with real metrics computed on held-out
//! data, packaged as an MLflow model directory that MLflow's own client loads
//! (`mlflow.pyfunc.load_model`): a `python_function` flavor whose loader ships with the model
//! (`code/hokusai_logreg.py`, from `python/`), the coefficients (`data/model.json`), the
//! environment files, a signature and an input example, written as the profile's MLflow
//! major writes them.
//!
//! ```
//! use hokusai_verify::config::MlflowMajor;
//! let m = hokusai_verify::model::SampleModel::get();
//! assert!(m.accuracy > 0.7 && m.auroc > 0.75, "{m:?}");
//! let files = m.files("0123456789abcdef0123456789abcdef", MlflowMajor::V2);
//! assert!(files.iter().any(|(p, _)| p == "model/code/hokusai_logreg.py"));
//! ```

use crate::config::MlflowMajor;
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
/// Held-out rows in the input example (and scored by MLflow's client in the tests).
const N_EXAMPLES: usize = 5;
/// The feature (column) names.
pub const FEATURES: [&str; 4] = ["f0", "f1", "f2", "f3"];
/// The model's loader, shipped in its `code` directory.
pub const LOADER: &str = include_str!("../../python/hokusai_logreg.py");

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
    /// The first held-out rows: the model's input example.
    pub examples: Vec<Vec<f64>>,
    /// What linfa predicts for them (the probability of class 1).
    pub example_predictions: Vec<f64>,
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
        let examples: Vec<Vec<f64>> = x_test
            .rows()
            .into_iter()
            .take(N_EXAMPLES)
            .map(|r| r.to_vec())
            .collect();
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
            example_predictions: probs.iter().take(N_EXAMPLES).copied().collect(),
            examples,
        }
    }

    /// The probability of class 1 for one row, from the coefficients alone (what the
    /// shipped loader computes).
    pub fn predict(&self, row: &[f64]) -> f64 {
        let z: f64 = self.intercept
            + row
                .iter()
                .zip(&self.coefficients)
                .map(|(x, w)| x * w)
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
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

    /// The serialised model (`data/model.json`), read by the shipped loader.
    pub fn model_json(&self) -> Vec<u8> {
        let v = serde_json::json!({
            "type": "logistic_regression", "library": "linfa-logistic",
            "features": FEATURES, "coefficients": self.coefficients, "intercept": self.intercept,
            "threshold": 0.5, "positive_class": 1,
        });
        serde_json::to_vec_pretty(&v).expect("json")
    }

    /// The input example in pandas' `split` orient, as MLflow writes `input_example.json`.
    pub fn input_example(&self) -> serde_json::Value {
        serde_json::json!({"columns": FEATURES, "data": self.examples})
    }

    /// The signature's columns, as `major` writes them (3.x marks each column required).
    fn signature(major: MlflowMajor) -> (String, String) {
        let required = match major {
            MlflowMajor::V2 => "",
            MlflowMajor::V3 => ", \"required\": true",
        };
        let inputs: Vec<String> = FEATURES
            .iter()
            .map(|f| format!("{{\"type\": \"double\", \"name\": \"{f}\"{required}}}"))
            .collect();
        (
            format!("[{}]", inputs.join(", ")),
            format!("[{{\"type\": \"double\"{required}}}]"),
        )
    }

    /// The `MLmodel` descriptor for a run, in the keys `major` writes (measured from
    /// `mlflow.pyfunc.save_model` of 2.9.2 and 3.17.2 with a `loader_module`).
    pub fn mlmodel(&self, run_id: &str, major: MlflowMajor, size_bytes: usize) -> Vec<u8> {
        let (inputs, outputs) = Self::signature(major);
        let uuid: String = std::iter::repeat_with(|| fastrand::digit(16))
            .take(32)
            .collect();
        let v3 = major == MlflowMajor::V3;
        let mut y = String::from("artifact_path: model\nflavors:\n  python_function:\n");
        y += "    code: code\n    data: data\n    env:\n      conda: conda.yaml\n      virtualenv: python_env.yaml\n";
        y += "    loader_module: hokusai_logreg\n    python_version: '3.11'\n";
        if v3 {
            y += "    streamable: false\nis_signature_from_type_hint: false\n";
        }
        y += &format!("mlflow_version: {}\n", major.release());
        if v3 {
            y += "model_id: null\n";
        }
        y += &format!("model_size_bytes: {size_bytes}\nmodel_uuid: {uuid}\n");
        if v3 {
            y += "prompts: null\n";
        }
        y += &format!("run_id: {run_id}\n");
        y += "saved_input_example_info:\n  artifact_path: input_example.json\n  pandas_orient: split\n";
        if v3 {
            y += "  serving_input_path: serving_input_example.json\n";
        }
        y += "  type: dataframe\n";
        y += &format!("signature:\n  inputs: '{inputs}'\n  outputs: '{outputs}'\n  params: null\n");
        if v3 {
            y += "type_hint_from_example: false\n";
        }
        y += &format!(
            "utc_time_created: '{}'\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f")
        );
        y.into_bytes()
    }

    /// The files of the model directory: (path under the run's artifacts, bytes), as the
    /// profile's MLflow `major` writes a logged model.
    pub fn files(&self, run_id: &str, major: MlflowMajor) -> Vec<(String, Vec<u8>)> {
        let release = major.release();
        let example = self.input_example();
        let mut files: Vec<(String, Vec<u8>)> = vec![
            ("model/code/hokusai_logreg.py".into(), LOADER.as_bytes().to_vec()),
            ("model/data/model.json".into(), self.model_json()),
            (
                "model/requirements.txt".into(),
                format!("mlflow=={release}\nnumpy\n").into_bytes(),
            ),
            (
                "model/python_env.yaml".into(),
                b"python: '3.11'\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n".to_vec(),
            ),
            (
                "model/conda.yaml".into(),
                format!("channels:\n- conda-forge\ndependencies:\n- python=3.11\n- pip\n- pip:\n  - mlflow=={release}\n  - numpy\nname: mlflow-env\n").into_bytes(),
            ),
            (
                "model/input_example.json".into(),
                serde_json::to_vec(&example).expect("json"),
            ),
        ];
        if major == MlflowMajor::V3 {
            files.push((
                "model/serving_input_example.json".into(),
                serde_json::to_vec_pretty(&serde_json::json!({"dataframe_split": example}))
                    .expect("json"),
            ));
        }
        let size = files.iter().map(|(_, b)| b.len()).sum();
        files.insert(
            0,
            ("model/MLmodel".into(), self.mlmodel(run_id, major, size)),
        );
        files
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
    fn the_shipped_loader_computes_what_linfa_predicts() {
        let m = SampleModel::get();
        assert_eq!(m.examples.len(), N_EXAMPLES);
        for (row, want) in m.examples.iter().zip(&m.example_predictions) {
            assert!((m.predict(row) - want).abs() < 1e-12, "{row:?}");
        }
    }

    #[test]
    fn the_mlmodel_names_the_shipped_loader_as_each_major_writes_it() {
        let m = SampleModel::get();
        for major in [MlflowMajor::V2, MlflowMajor::V3] {
            let files = m.files("r1", major);
            let mlmodel = String::from_utf8(files[0].1.clone()).unwrap();
            assert!(
                mlmodel.contains("loader_module: hokusai_logreg\n"),
                "{mlmodel}"
            );
            assert!(mlmodel.contains(&format!("mlflow_version: {}\n", major.release())));
            assert_eq!(
                mlmodel.contains("serving_input_path"),
                major == MlflowMajor::V3
            );
            assert_eq!(
                files
                    .iter()
                    .any(|(p, _)| p == "model/serving_input_example.json"),
                major == MlflowMajor::V3
            );
        }
    }

    #[test]
    fn auroc_of_perfect_and_inverted_scores() {
        assert_eq!(auroc(&[0.9, 0.8, 0.1], &[1, 1, 0]), 1.0);
        assert_eq!(auroc(&[0.1, 0.2, 0.9], &[1, 1, 0]), 0.0);
    }
}
