"""What MLflow's own Python client sends for every call the suite's MLflow client makes.

Run with a venv's Python against a real `mlflow server` (`--serve-artifacts`):

    python record_client_calls.py http://127.0.0.1:5000 platform/mlflow-client-calls/<release>.json

Each operation is named after the suite's method (`src/mlflow/client.rs`) and done with
MLflow's own client (`MlflowClient`, its artifact repository), on fresh objects. Every HTTP
request the client sends is recorded at `requests.Session.request` (the one place MLflow's
REST and artifact calls go through): method, path with the ids replaced by placeholders
(`{experiment}`, `{run}`, `{model}`, `{name}`), the query's keys and the JSON body's keys.
Values are left out: they are the call's data, and the keys are what a server reads.

`tests/mlflow_client_parity.rs` compares each of the suite's calls with these recordings and
regenerates them from the real servers `make test` starts (a difference fails, as the fault
matrix does).
"""

import json
import os
import sys
import tempfile
import urllib.parse

# MLflow 3 fetches a telemetry configuration from the internet on first use: only loopback
# may receive this traffic.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
# A 5xx (2.9.2 answers a file's DELETE with one) is retried for a minute by default; one
# request is what is recorded.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"

import requests  # noqa: E402

import mlflow  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

RECORDED = []
_request = requests.Session.request


def _recording(self, method, url, *args, **kwargs):
    parts = urllib.parse.urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError(f"MLflow's client sent a request off loopback: {method} {parts.hostname}")
    query = [k for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    params = kwargs.get("params")
    if isinstance(params, dict):
        for k, v in params.items():
            # requests sends one pair per list item.
            query.extend([k] * (len(v) if isinstance(v, (list, tuple)) else 1))
    elif isinstance(params, (list, tuple)):
        query.extend(k for k, _ in params)
    body = kwargs.get("json")
    RECORDED.append(
        {
            "method": method.upper(),
            "path": parts.path,
            "query": sorted(query),
            "body": sorted(body.keys()) if isinstance(body, dict) else [],
        }
    )
    return _request(self, method, url, *args, **kwargs)


requests.Session.request = _recording

MAJOR = int(mlflow.__version__.split(".")[0])


def main(url):
    mlflow.set_tracking_uri(url)
    client = MlflowClient(url)
    token = os.urandom(4).hex()
    ids = {}
    ops = {}

    def op(name, fn, major=None):
        if major is not None and major != MAJOR:
            return
        del RECORDED[:]
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (what was sent is recorded all the same)
            print(f"{name}: {type(e).__name__}: {str(e)[:200]}", file=sys.stderr)
        calls = []
        # Retries of one request (MLflow retries a 5xx) are one request here.
        for c in RECORDED:
            c = dict(c, path=normalise(c["path"], ids))
            if c not in calls:
                calls.append(c)
        ops[name] = calls

    exp_name = f"parity-{token}"
    model = f"parity-model-{token}"
    ids["name"] = model

    def create_experiment():
        ids["experiment"] = client.create_experiment(exp_name, tags={"k": "v"})

    op("create_experiment", create_experiment)
    op("get_experiment_by_name", lambda: client.get_experiment_by_name(exp_name))
    op("search_experiments", lambda: client.search_experiments(filter_string=f"name = '{exp_name}'", max_results=10))

    def create_run():
        ids["run"] = client.create_run(ids["experiment"], run_name="parity", tags={"k": "v"}).info.run_id

    op("create_run", create_run)
    from mlflow.entities import Metric, Param, RunTag

    op(
        "log_batch",
        lambda: client.log_batch(
            ids["run"],
            metrics=[Metric("m", 1.0, 0, 0)],
            params=[Param("p", "v")],
            tags=[RunTag("t", "v")],
        ),
    )
    op("log_metric", lambda: client.log_metric(ids["run"], "accuracy", 0.9, step=0))
    op("log_param", lambda: client.log_param(ids["run"], "alpha", "0.5"))
    op("set_run_tag", lambda: client.set_tag(ids["run"], "k2", "v2"))
    op("get_run", lambda: client.get_run(ids["run"]))
    op("metric_history", lambda: client.get_metric_history(ids["run"], "accuracy"))

    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "parity.txt")
        with open(f, "w") as out:
            out.write("parity")
        op("upload_artifact", lambda: client.log_artifact(ids["run"], f))
    op("list_run_artifacts", lambda: client.list_artifacts(ids["run"]))

    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    def repo():
        return get_artifact_repository(client.get_run(ids["run"]).info.artifact_uri)

    with tempfile.TemporaryDirectory() as tmp:
        op("download_artifact", lambda: repo().download_artifacts("parity.txt", dst_path=tmp))
    op("list_artifact_dir", lambda: repo().list_artifacts(""))

    def logged_model():
        m = client.create_logged_model(ids["experiment"], name="parity", source_run_id=ids["run"])
        ids["model"] = m.model_id

    op("create_logged_model", logged_model, major=3)

    def finalize():
        from mlflow.entities import LoggedModelStatus

        client.finalize_logged_model(ids["model"], LoggedModelStatus.READY)

    op("finalize_logged_model", finalize, major=3)

    def outputs():
        from mlflow.entities import LoggedModelOutput

        client.log_outputs(ids["run"], models=[LoggedModelOutput(ids["model"], 0)])

    op("log_model_output", outputs, major=3)

    op("create_registered_model", lambda: client.create_registered_model(model, tags={"k": "v"}, description="d"))
    op("get_registered_model", lambda: client.get_registered_model(model))
    op("search_registered_models", lambda: client.search_registered_models(filter_string=f"name = '{model}'", max_results=10))
    op("set_registered_model_tag", lambda: client.set_registered_model_tag(model, "k2", "v2"))
    op(
        "create_model_version",
        lambda: client.create_model_version(model, f"mlflow-artifacts:/{ids['experiment']}/{ids['run']}/artifacts/model", ids["run"], description="d"),
    )
    op(
        "create_model_version_from_logged_model",
        lambda: client.create_model_version(model, f"models:/{ids['model']}", model_id=ids["model"]),
        major=3,
    )
    op("get_model_version", lambda: client.get_model_version(model, "1"))
    op("download_uri", lambda: client.get_model_version_download_uri(model, "1"))
    op("latest_versions", lambda: client.get_latest_versions(model))
    op("search_model_versions", lambda: client.search_model_versions(f"name = '{model}'"))
    op("set_model_version_tag", lambda: client.set_model_version_tag(model, "1", "k", "v"))
    op("set_alias", lambda: client.set_registered_model_alias(model, "champion", "1"))
    op("get_by_alias", lambda: client.get_model_version_by_alias(model, "champion"))
    op("delete_alias", lambda: client.delete_registered_model_alias(model, "champion"))
    op("delete_model_version", lambda: client.delete_model_version(model, "1"))
    op("delete_registered_model", lambda: client.delete_registered_model(model))
    op("finish_run", lambda: client.set_terminated(ids["run"]))
    op("delete_artifacts", lambda: repo().delete_artifacts("parity.txt"))
    op("delete_logged_model", lambda: client.delete_logged_model(ids["model"]), major=3)
    op("delete_run", lambda: client.delete_run(ids["run"]))
    op("delete_experiment", lambda: client.delete_experiment(ids["experiment"]))
    return {"release": mlflow.__version__, "calls": ops}


def normalise(path, ids):
    segments = path.split("/")
    names = {v: "{" + k + "}" for k, v in ids.items()}
    return "/".join(names.get(s, s) for s in segments)


if __name__ == "__main__":
    # To a file: MLflow prints links to the runs it ends on stdout.
    recorded = main(sys.argv[1])
    with open(sys.argv[2], "w") as out:
        json.dump(recorded, out, indent=1, sort_keys=True)
        out.write("\n")
