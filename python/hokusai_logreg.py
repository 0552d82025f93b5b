"""The loader of hokusai-verify's sample model, shipped in the model's `code` directory.

The model is a logistic regression that the suite trains in Rust (linfa-logistic); its
coefficients are in the model's `data/model.json`. MLflow's own client loads it with
`mlflow.pyfunc.load_model("models:/<name>/<version>")`: the `python_function` flavor of the
`MLmodel` file names this module as its `loader_module`, MLflow puts the `code` directory on
the path, imports it and calls `_load_pyfunc` with the `data` path.
"""

import json
import os

import numpy as np


class LogisticRegression:
    """Scores rows as the suite does: the probability of class 1."""

    def __init__(self, spec):
        self.features = list(spec["features"])
        self.coefficients = np.asarray(spec["coefficients"], dtype=float)
        self.intercept = float(spec["intercept"])

    def predict(self, model_input, params=None):
        """`model_input`: a pandas DataFrame with the feature columns."""
        x = model_input[self.features].to_numpy(dtype=float)
        return 1.0 / (1.0 + np.exp(-(x @ self.coefficients + self.intercept)))


def _load_pyfunc(data_path):
    path = os.path.join(data_path, "model.json") if os.path.isdir(data_path) else data_path
    with open(path) as f:
        return LogisticRegression(json.load(f))
