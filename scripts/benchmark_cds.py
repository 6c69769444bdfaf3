"""CDS Hooks patient-view latency and throughput: our app under gunicorn (gthread) on
127.0.0.1, called by the local CDS Client over real HTTP with signed ES384 JWTs, the
bundled FHIR server (Medplum) behind. Prints figures; asserts nothing.

    .venv/bin/python scripts/benchmark_cds.py [--requests 200] [--cold 30]
        [--clients 1,4,8] [--workers 2] [--threads 4] [--bundle DIR] [--json]

Scenarios (prefetch sent whole by the client, as EHRs do; each request a fresh JWT signed
before the clock starts):
- cached: the same patient, two photographs already graded: JWT check (with the store's
  replay cache), prefetch -> facts, image index + grading cache lookups, cards;
- cold: a new patient per request with two new photographs (Media -> Binary on the FHIR
  server, real fundus JPEGs from the shared data): both Binaries fetched with the hook's
  token, decoded, hashed, indexed, graded in the request, cached;
- throughput: N concurrent clients sending cached requests.
The grader: --bundle, else the shipped bundle, else a stand-in tiny ONNX model (then "cold"
measures everything but real model inference: add the grader's own per-image figure).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

SERVICE = "deepdr-patient-view"
TOKEN = "benchmark-fhir-token"
SNOMED = "http://snomed.info/sct"


# --- the grader --------------------------------------------------------------------------


class StandInGrader:
    """A tiny real ONNX model (mean colour of a 16x16 thumbnail -> grade, referable,
    quality), for when no grader bundle exists; implements the workflow's Grader."""

    def __init__(self) -> None:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        from models.grader.result import ModelInfo

        k = np.arange(5, dtype=np.float32)
        w = np.zeros((3, 5), np.float32)
        w[0] = 24 * k
        weights = {"W": w, "b": (-3 * k**2).astype(np.float32)}
        nodes = [
            helper.make_node("ReduceMean", ["image"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["mean", "W"], ["l0"]),
            helper.make_node("Add", ["l0", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["dr_probs"], axis=1),
        ]
        graph = helper.make_graph(
            nodes,
            "stand-in-grader",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 16, 16])],
            [helper.make_tensor_value_info("dr_probs", TensorProto.FLOAT, ["N", 5])],
            [numpy_helper.from_array(v, n) for n, v in weights.items()],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.model = ModelInfo(name="stand-in-tiny-onnx", version="0.0.1")

    def grade(self, images: Sequence[Any]) -> list[Any]:
        from models.grader.result import BinaryFinding, DrGrade, ImageGrading, Quality

        if not images:
            return []
        batch = np.stack(
            [
                (
                    np.asarray(Image.fromarray(img.rgb).resize((16, 16)), np.float32) / 255.0
                ).transpose(2, 0, 1)
                for img in images
            ]
        )
        (probs,) = self._session.run(None, {"image": batch})
        out = []
        for img, p in zip(images, probs, strict=True):
            p = np.clip(p.astype(np.float64), 0, 1)
            p = p / p.sum()
            grade = int(p.argmax())
            out.append(
                ImageGrading(
                    image_id=img.image_id,
                    quality=Quality(gradable=True, score=0.9),
                    dr_grade=DrGrade(probabilities=tuple(float(x) for x in p), grade=grade),
                    referable=BinaryFinding(probability=float(p[2:].sum()), positive=grade >= 2),
                    model=self.model,
                )
            )
        return out


def reference_architecture_bundle(folder: Path) -> Path:
    """An untrained bundle of the reference architecture (EfficientNet-Lite0 at 256 px,
    fp32 ONNX, every head): the real predictor and the real network's cost, meaningless
    answers. Needs torch (the `train` extra)."""
    from models.grader.export import INPUT_NAME, export_onnx
    from models.grader.network import GraderNet

    side, stride = 256, 16
    out = folder / "untrained-effnet-lite0-256"
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(GraderNet("efficientnet-lite0", side, pretrained=False).eval(), out / "model.onnx")
    shapes: dict[str, list[Any]] = {
        "grade_probs": ["batch", 5],
        "referable_prob": ["batch"],
        "dme_prob": ["batch"],
        "quality_prob": ["batch"],
        "lesion_probs": ["batch", 4],
        "lesion_maps": ["batch", 4, side // stride, side // stride],
    }
    meta = {
        "name": "untrained-effnet-lite0-256",
        "version": "0.0.0",
        "input": {"name": INPUT_NAME, "shape": ["batch", 3, side, side]},
        "outputs": [{"name": k, "kind": k, "shape": v} for k, v in shapes.items()],
        "thresholds": {"referable": 0.5, "dme": 0.5, "quality": 0.5},
        "intended_use": "benchmarking only: untrained weights",
    }
    (out / "metadata.json").write_text(json.dumps(meta))
    return out


def make_grader(bundle: str | None) -> tuple[Any, str]:
    from plugin.workflow.grader import load_grader, shipped_bundle

    folder = Path(bundle) if bundle else shipped_bundle()
    if folder is not None:
        grader = load_grader(folder)
        return grader, f"bundle {folder} ({grader.model.name} {grader.model.version})"
    stand_in = StandInGrader()
    return stand_in, "stand-in tiny ONNX model (no grader bundle: inference cost not included)"


# --- the server (a child process running gunicorn) --------------------------------------


def serve(config_file: str) -> int:
    """Child process: gunicorn with our app, the grader injected into each worker."""
    from plugin.app import create_app
    from plugin.config_loader import settings_from_mapping
    from plugin.observability.logging import configure_logging
    from plugin.services import build_services
    from plugin.web.gunicorn_app import GunicornServer
    from plugin.workflow.grader import GRADER_EXTENSION

    config = json.loads(Path(config_file).read_text())
    bundle = config.pop("_bundle")
    settings = settings_from_mapping(config)
    configure_logging(settings.logging)
    build_services(settings).close()  # migrate once before the workers start

    def factory() -> Any:
        services = build_services(settings)
        services.extensions[GRADER_EXTENSION] = make_grader(bundle)[0]
        return create_app(services=services)

    def ready(urls: list[str]) -> None:
        print("serving on " + ", ".join(urls), flush=True)

    try:
        GunicornServer(settings, factory, ready).run()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def start_server(config: dict[str, Any], port: int, folder: Path) -> subprocess.Popen[bytes]:
    path = folder / "server.json"
    path.write_text(json.dumps(config))
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (lives as long as the server)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(path)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"the server did not start; see {folder / 'server.log'}")


# --- the EHR side --------------------------------------------------------------------------


def photos() -> list[bytes]:
    from plugin.local_servers.dicom_testdata import fundus_images_dir

    folder = fundus_images_dir()
    found = sorted(folder.glob("Patient0*_*.jpg"))[:20]
    if not found:
        raise SystemExit(f"no fundus photographs under {folder}")
    return [p.read_bytes() for p in found]


def unique(jpeg: bytes, n: int) -> bytes:
    """The photograph re-encoded with one pixel changed: new bytes, same picture."""
    image = np.array(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    image[0, 0] = [(n >> 16) & 255, (n >> 8) & 255, n & 255]
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


class Ehr:
    def __init__(self, fhir_base: str, client: Any, library: list[bytes]) -> None:
        from plugin.cds.services import PATIENT_VIEW_PREFETCH

        self.fhir_base = fhir_base
        self.http = httpx.Client(base_url=fhir_base, timeout=30, trust_env=False)
        self.client = client
        self.library = library
        self.templates = PATIENT_VIEW_PREFETCH
        self.count = 0

    def create(self, resource: dict[str, Any]) -> str:
        r = self.http.post(f"/{resource['resourceType']}", json=resource)
        r.raise_for_status()
        return f"{resource['resourceType']}/{r.json()['id']}"

    def patient(self) -> str:
        ref = self.create({"resourceType": "Patient", "gender": "male", "birthDate": "1961-02-03"})
        self.create(
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": SNOMED, "code": "44054006"}]},
                "subject": {"reference": ref},
                "onsetDateTime": "2014-05-01",
            }
        )
        for eye, site in (("right", "18944008"), ("left", "8966001")):
            self.count += 1
            data = unique(self.library[self.count % len(self.library)], self.count)
            binary = self.create(
                {
                    "resourceType": "Binary",
                    "contentType": "image/jpeg",
                    "data": base64.b64encode(data).decode(),
                }
            )
            self.create(
                {
                    "resourceType": "Media",
                    "status": "completed",
                    "modality": {
                        "coding": [
                            {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "OP"}
                        ]
                    },
                    "subject": {"reference": ref},
                    "createdDateTime": (date.today() - timedelta(days=30)).isoformat(),
                    "bodySite": {"coding": [{"system": SNOMED, "code": site}]},
                    "content": {"contentType": "image/jpeg", "url": binary, "title": eye},
                }
            )
        return ref

    def body(self, patient: str) -> bytes:
        from plugin.local_servers.cds_client import PrefetchMode

        context = {"userId": "Practitioner/bench", "patientId": patient.split("/")[1]}
        prefetch = self.client.build_prefetch(
            self.templates, context, PrefetchMode.PRESENT, fhir_server=self.fhir_base
        )
        request = self.client.hook_request(
            "patient-view",
            context,
            fhir_server=self.fhir_base,
            access_token=TOKEN,
            prefetch=prefetch,
        )
        return json.dumps(request).encode()


def timed_call(client: Any, http: httpx.Client, body: bytes) -> float:
    url = client.url(f"/cds-services/{SERVICE}")
    request = json.loads(body)
    request["hookInstance"] = str(uuid.uuid4())
    content = json.dumps(request).encode()
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {client.sign(url)}",
    }
    started = time.perf_counter()
    r = http.post(url, content=content, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if r.status_code != 200 or not r.json()["cards"]:
        raise SystemExit(f"unexpected answer {r.status_code}: {r.text[:300]}")
    return elapsed


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p95": round(at(0.95), 1),
        "p99": round(at(0.99), 1),
        "max": round(max(values), 1),
    }


def throughput(client: Any, body: bytes, clients: int, per_client: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        with httpx.Client(timeout=60, trust_env=False) as http:
            mine = [timed_call(client, http, body) for _ in range(per_client)]
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for f in [pool.submit(run) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": clients * per_client,
        "req_per_s": round(clients * per_client / wall, 1),
        **percentiles(latencies),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="cached requests")
    parser.add_argument("--cold", type=int, default=30, help="cold requests (new patients)")
    parser.add_argument("--clients", default="1,4,8", help="concurrent clients, comma list")
    parser.add_argument("--per-client", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--bundle", help="grader bundle folder")
    parser.add_argument(
        "--reference-architecture",
        action="store_true",
        help="grade with an untrained EfficientNet-Lite0 256 px bundle (real cost, no bundle "
        "needed; requires torch)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)

    from plugin.local_servers.cds_client import LocalCdsClient
    from plugin.local_servers.fhir_server import LocalFhirServer

    folder = Path(tempfile.mkdtemp(prefix="deepdr-cds-bench-"))
    if args.reference_architecture:
        args.bundle = str(reference_architecture_bundle(folder))
    grader_text = make_grader(args.bundle)[1]
    with LocalFhirServer() as fhir, LocalCdsClient() as client:
        port = _free_port()
        config = {
            "_bundle": args.bundle,
            "server": {
                "host": "127.0.0.1",
                "port": port,
                "workers": args.workers,
                "threads": args.threads,
            },
            "store": {"url": f"sqlite:///{folder}/store.sqlite3"},
            "fhir": {"base_url": fhir.base_url},
            "cds": {
                "issuers": [{"iss": client.issuer, "jwks_url": client.jwks_url}],
                "grading_budget_ms": 30_000,  # cold requests grade in the request
            },
            "metrics": {"enabled": False},
            "logging": {"level": "WARNING"},
        }
        server = start_server(config, port, folder)
        try:
            client.cds_base_url = f"http://127.0.0.1:{port}"
            ehr = Ehr(fhir.base_url, client, photos())
            results = run_scenarios(args, client, ehr)
        finally:
            server.terminate()
            server.wait(timeout=30)
    results["grader"] = grader_text
    results["server"] = f"gunicorn gthread, {args.workers} workers x {args.threads} threads"
    results["cpus"] = os.cpu_count() or 0
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)
    return 0


def run_scenarios(args: argparse.Namespace, client: Any, ehr: Ehr) -> dict[str, Any]:
    cached_patient = ehr.patient()
    cached_body = ehr.body(cached_patient)
    with httpx.Client(timeout=60, trust_env=False) as http:
        for _ in range(5):  # warm-up: grade once, load every worker's model and caches
            timed_call(client, http, cached_body)
        cached = [timed_call(client, http, cached_body) for _ in range(args.requests)]
        cold = []
        for _ in range(args.cold):
            body = ehr.body(ehr.patient())  # setup, not timed
            cold.append(timed_call(client, http, body))
    loads = [
        throughput(client, cached_body, int(n), args.per_client) for n in args.clients.split(",")
    ]
    return {
        "cached": percentiles(cached),
        "cold_2_images": percentiles(cold),
        "throughput": loads,
    }


def print_table(results: dict[str, Any]) -> None:
    print(f"server: {results['server']}; grader: {results['grader']}; cpus: {results['cpus']}")
    print(f"{'scenario':<22} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name in ("cached", "cold_2_images"):
        r = results[name]
        print(f"{name:<22} {r['n']:>5} {r['p50']:>8} {r['p95']:>8} {r['p99']:>8} {r['max']:>8}")
    print(
        f"\n{'clients':>7} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    )
    for r in results["throughput"]:
        print(
            f"{r['clients']:>7} {r['requests']:>9} {r['req_per_s']:>7} {r['p50']:>8} "
            f"{r['p95']:>8} {r['p99']:>8}"
        )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
