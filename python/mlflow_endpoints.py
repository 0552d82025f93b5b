"""Every REST endpoint one MLflow release serves, with a probe for each that writes nothing.

Run with the Python of a venv holding that release:

    python mlflow_endpoints.py platform/mlflow-endpoints/<release>.json

What it writes, per endpoint of `mlflow.server.handlers.get_endpoints()` (the server's own
route table; the `/ajax-api/` twin of each `/api/` route is implied and left out):

- `method`, `path` (Flask's `<param>` kept), and for the endpoints declared in MLflow's
  protobuf services (`mlflow/protos/*_pb2.py`, compiled with their options) the `service`,
  the `rpc`, `since` (the release line that introduced it) and `required` (the request
  fields marked `validate_required`);
- `writes`: whether the call changes the store. Protos carry no such flag: an endpoint reads
  when it is a GET or its RPC is a search, get, batch-get, query or calculation
  (`searchRuns`, `getLatestVersions`, `batchGetTraceInfos`, ...); everything else writes;
- `probe`: a request the endpoint's own handler answers without writing (`query`, `body`,
  `content_type`; path parameters replaced by an id that does not exist), and `answer`: what
  this release answered it (`status`, MLflow's `error_code` or none; never message text).

The probe, by rule, checked rather than trusted: a POST or PUT with `Content-Type:
text/plain` (MLflow's handlers refuse any body that is not JSON before reading it); any
other method with no query and no body (a missing required field, or an id that does not
exist); an artifact upload to a path outside the artifact root (refused as unsafe). Each
probe is sent to a real `mlflow server` of the release (started here on a loopback port,
over an empty SQLite store and artifact folder seeded with one experiment, run, registered
model and artifact). After every probe the store is read again (each table's rows, the
artifact folder's files and bytes): a probe that changed anything fails the script, naming
it. What the real server answered is recorded as `answer`. Every probe of an `/api/2.0/`
endpoint is sent again under `/ajax-api/2.0/` (the spelling MLflow's UI uses, and the one the
contract's ajax spellings reach): where that answer differs it is recorded as `ajax_answer`
(no release of the three differs), and the store must stay unchanged after it too.

`tests/mlflow_endpoints.rs` regenerates these files in `make test` and fails on a
difference, as the fault matrix and the client recordings do.
"""

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# MLflow 3 fetches a telemetry configuration from the internet on first use: only loopback
# may receive this traffic.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

import importlib  # noqa: E402
import warnings  # noqa: E402

warnings.filterwarnings("ignore")

import mlflow  # noqa: E402
from mlflow.protos import databricks_pb2  # noqa: E402
from mlflow.server import handlers  # noqa: E402

SERVICES = [
    ("service_pb2", "MlflowService"),
    ("model_registry_pb2", "ModelRegistryService"),
    ("mlflow_artifacts_pb2", "MlflowArtifactsService"),
    ("webhooks_pb2", "WebhookService"),
]
READ_PREFIXES = ("search", "get", "batchGet", "query", "calculate", "list")
# An id nothing in the store has.
MISSING = "hokusai-probe-0"


def rpc_reads(rpc, method):
    if method == "GET":
        return True
    if rpc.startswith("getOrCreate"):
        return False
    return rpc.startswith(READ_PREFIXES)


def paths_of(endpoint):
    """The routes the server registers for a proto endpoint (2.9.2's `_get_paths` knows only
    version 2)."""
    try:
        return handlers._get_paths(endpoint.path, version=endpoint.since.major)
    except TypeError:
        return handlers._get_paths(endpoint.path)


def proto_endpoints():
    """(method, /api/ path) -> what the protos say of it."""
    out = {}
    for module, name in SERVICES:
        try:
            service = getattr(importlib.import_module("mlflow.protos." + module), name)
        except (ImportError, AttributeError):
            continue
        for m in service.DESCRIPTOR.methods:
            options = m.GetOptions().Extensions[databricks_pb2.rpc]
            required = sorted(
                f.name
                for f in m.input_type.fields
                if any(
                    d.name == "validate_required" and v
                    for d, v in f.GetOptions().ListFields()
                )
            )
            for e in options.endpoints:
                for path in paths_of(e):
                    if path.startswith("/ajax-api"):
                        continue
                    out[(e.method, path)] = {
                        "service": name,
                        "rpc": m.name,
                        "since": f"{e.since.major}.{e.since.minor}",
                        "required": required,
                    }
    return out


def catalogue():
    protos = proto_endpoints()
    seen = set()
    rows = []
    for path, _handler, methods in handlers.get_endpoints():
        if path.startswith("/ajax-api") or "/ajax-api/" in path:
            continue
        for method in methods:
            if (method, path) in seen:
                continue
            seen.add((method, path))
            row = {"method": method, "path": path}
            p = protos.get((method, path))
            if p:
                row.update(p)
                row["writes"] = not rpc_reads(p["rpc"], method)
            else:
                row.update({"service": None, "rpc": None, "since": None, "required": []})
                row["writes"] = method not in ("GET",)
            row["probe"] = probe_for(row)
            rows.append(row)
    rows.sort(key=lambda r: (r["path"], r["method"]))
    return rows


def probe_for(row):
    """The request, by rule (see the module's docstring)."""
    path = row["path"]
    segments = []
    for s in path.split("/"):
        if s.startswith("<") and s.endswith(">"):
            s = MISSING
        segments.append(s)
    concrete = "/".join(segments)
    if row["rpc"] == "uploadArtifact":
        # Outside the artifact root: refused as an unsafe path before anything is written.
        # One segment (`%2F` inside it): URL libraries that resolve `..` leave it alone.
        concrete = concrete.replace(MISSING, "%2E%2E%2F" + MISSING)
        return {"path": concrete, "query": "", "body": "x", "content_type": "text/plain"}
    if row["method"] in ("POST", "PUT"):
        return {"path": concrete, "query": "", "body": "{}", "content_type": "text/plain"}
    return {"path": concrete, "query": "", "body": None, "content_type": None}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base, method, path, body=None, content_type=None, query=""):
    data = body.encode() if isinstance(body, str) else body
    url = base + path + (("?" + query) if query else "")
    req = urllib.request.Request(url, data=data, method=method)
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def snapshot(db, artifacts):
    """Every table's rows (hashed) and the artifact folder's files and bytes."""
    out = {}
    with sqlite3.connect(db) as c:
        tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in sorted(tables):
            rows = c.execute(f'SELECT * FROM "{t}"').fetchall()
            digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
            out[t] = (len(rows), digest)
    files, size = 0, 0
    for root, _dirs, names in os.walk(artifacts):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(root, n))
    out["<artifacts>"] = (files, size)
    return out


def seed(base):
    """One experiment, run, metric, registered model, version and artifact."""

    def call(method, path, payload):
        status, body = request(base, method, path, json.dumps(payload), "application/json")
        if status != 200:
            raise SystemExit(f"seeding: {method} {path} answered {status}: {body[:300]!r}")
        return json.loads(body or b"{}")

    exp = call("POST", "/api/2.0/mlflow/experiments/create", {"name": "hokusai-probe-seed"})
    run = call(
        "POST",
        "/api/2.0/mlflow/runs/create",
        {"experiment_id": exp["experiment_id"], "start_time": 0},
    )["run"]["info"]
    run_id = run["run_id"]
    call(
        "POST",
        "/api/2.0/mlflow/runs/log-metric",
        {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 0},
    )
    call("POST", "/api/2.0/mlflow/registered-models/create", {"name": "hokusai-probe-seed"})
    call(
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        {"name": "hokusai-probe-seed", "source": run["artifact_uri"] + "/model", "run_id": run_id},
    )
    status, body = request(
        base,
        "PUT",
        f"/api/2.0/mlflow-artifacts/artifacts/{exp['experiment_id']}/{run_id}/artifacts/a.txt",
        "seed",
        "text/plain",
    )
    if status != 200:
        raise SystemExit(f"seeding the artifact: {status} {body[:300]!r}")


def answer_of(status, body):
    try:
        code = json.loads(body).get("error_code")
    except (ValueError, AttributeError):
        code = None
    return {"status": status, "error_code": code}


def probe_all(rows):
    work = tempfile.mkdtemp(prefix="hokusai-endpoints-")
    db = os.path.join(work, "mlflow.db")
    artifacts = os.path.join(work, "artifacts")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(work, "mlflow.log"), "wb")
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{db}",
            "--serve-artifacts",
            "--artifacts-destination",
            artifacts,
        ],
        stdout=log,
        stderr=log,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while True:
            try:
                if request(base, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.time() > deadline:
                raise SystemExit(f"mlflow server did not start; its log: {work}/mlflow.log")
            time.sleep(0.3)
        seed(base)
        before = snapshot(db, artifacts)
        wrote = []
        for row in rows:
            p = row["probe"]
            status, body = request(
                base, row["method"], p["path"], p["body"], p["content_type"], p["query"]
            )
            row["answer"] = answer_of(status, body)
            probes = [(p["path"], status)]
            # The other spelling MLflow serves: the same probe under `/ajax-api/2.0/` must get
            # the same answer (recorded apart only where it does not).
            if p["path"].startswith("/api/2.0/"):
                twin = "/ajax-api/2.0/" + p["path"][len("/api/2.0/") :]
                twin_status, twin_body = request(
                    base, row["method"], twin, p["body"], p["content_type"], p["query"]
                )
                if answer_of(twin_status, twin_body) != row["answer"]:
                    row["ajax_answer"] = answer_of(twin_status, twin_body)
                probes.append((twin, twin_status))
            after = snapshot(db, artifacts)
            if after != before:
                changed = sorted(k for k in after if after.get(k) != before.get(k))
                sent = ", ".join(f"{path} ({s})" for path, s in probes)
                wrote.append(f"{row['method']} {sent}: changed {changed}")
                before = after
        if wrote:
            raise SystemExit("probes that wrote to the store:\n  " + "\n  ".join(wrote))
        return before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    rows = catalogue()
    store = probe_all(rows)
    files, size = store["<artifacts>"]
    out = {
        "release": mlflow.__version__,
        "endpoints": len(rows),
        # What the seeded store held, unchanged by every probe.
        "store": {
            "experiments": store["experiments"][0],
            "runs": store["runs"][0],
            "registered_models": store["registered_models"][0],
            "model_versions": store["model_versions"][0],
            "artifact_files": files,
            "artifact_bytes": size,
        },
        "rows": rows,
    }
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"MLflow {mlflow.__version__}: {len(rows)} endpoints probed; the store is unchanged")


if __name__ == "__main__":
    main()
