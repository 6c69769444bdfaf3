"""Readiness checks: is this process able to do its work right now?

    readiness = Readiness([store_check(store), fhir_check(gateway), grader_check(probe)])
    report = readiness.run()      # -> ReadinessReport(ready, checks[...])

A check is a named callable returning a CheckResult (or raising: that is a failure whose
type, not message, is reported). Each check may cache its result for a few seconds, so a
load balancer polling /readyz does not hammer the FHIR server. Details are short and
carry no secrets, URLs with credentials or patient data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from plugin.store.store import Store


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    ok: bool
    detail: str
    duration_ms: float
    cached: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "duration_ms": round(self.duration_ms, 1),
            "cached": self.cached,
        }


@dataclass(frozen=True)
class ReadinessReport:
    checks: tuple[CheckOutcome, ...]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, object]:
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": {c.name: c.to_json() for c in self.checks},
        }


@dataclass
class Check:
    name: str
    probe: Callable[[], CheckResult]
    cache_s: float = 0.0  # how long a result (pass or fail) is reused
    _last: tuple[float, CheckOutcome] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def run(self, now: Callable[[], float] = time.monotonic) -> CheckOutcome:
        with self._lock:
            if self._last is not None and now() - self._last[0] < self.cache_s:
                last = self._last[1]
                return CheckOutcome(last.name, last.ok, last.detail, last.duration_ms, True)
            start = time.perf_counter()
            try:
                result = self.probe()
            except Exception as exc:  # a failing probe is a failed check, not a 500
                result = CheckResult(False, f"check failed ({type(exc).__name__})")
            elapsed = (time.perf_counter() - start) * 1000
            outcome = CheckOutcome(self.name, result.ok, result.detail, elapsed)
            self._last = (now(), outcome)
            return outcome


class Readiness:
    """The set of checks /readyz runs. Others add theirs with `add` (e.g. a remote LLM)."""

    def __init__(self, checks: Sequence[Check] = ()) -> None:
        self._checks: list[Check] = list(checks)
        self._lock = threading.Lock()

    def add(self, check: Check) -> None:
        with self._lock:
            if any(c.name == check.name for c in self._checks):
                raise ValueError(f"readiness check {check.name!r} already registered")
            self._checks.append(check)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self._checks)

    def run(self) -> ReadinessReport:
        with self._lock:
            checks = list(self._checks)
        return ReadinessReport(tuple(c.run() for c in checks))


# --- the standard checks --------------------------------------------------------------------


def store_check(store: Store) -> Check:
    """The store accepts a write: a no-op UPDATE of the newest schema_version row takes
    the write lock (SQLite) or fails on a read-only PostgreSQL (a standby, a full disk)."""

    def probe() -> CheckResult:
        with store.db.transaction() as tx:
            changed = tx.execute(
                "UPDATE schema_version SET applied_ms = applied_ms"
                " WHERE version = (SELECT MAX(version) FROM schema_version)"
            )
        return CheckResult(changed == 1, "writable" if changed == 1 else "schema not migrated")

    return Check("store", probe)


def fhir_check(capabilities: Callable[[], dict[str, object]], cache_s: float = 5.0) -> Check:
    """The FHIR server answers GET [base]/metadata with a CapabilityStatement."""

    def probe() -> CheckResult:
        statement = capabilities()
        version = statement.get("fhirVersion")
        return CheckResult(True, f"reachable (FHIR {version})" if version else "reachable")

    return Check("fhir", probe, cache_s=cache_s)


def grader_check(probe: Callable[[], CheckResult], cache_s: float = 30.0) -> Check:
    return Check("grader", probe, cache_s=cache_s)


def kserve_ready_probe(
    url: str, model_name: str, model_version: str | None, timeout_s: float, headers: dict[str, str]
) -> Callable[[], CheckResult]:
    """KServe v2 / Triton: GET {url}/v2/models/{name}[/versions/{v}]/ready answers 200."""
    path = f"/v2/models/{model_name}" + (f"/versions/{model_version}" if model_version else "")

    def probe() -> CheckResult:
        try:
            response = httpx.get(f"{url}{path}/ready", timeout=timeout_s, headers=headers)
        except httpx.TimeoutException:
            return CheckResult(False, "inference server did not answer in time")
        except httpx.HTTPError:
            return CheckResult(False, "inference server unreachable")
        if response.status_code == 200:
            return CheckResult(True, f"remote model {model_name} ready")
        return CheckResult(
            False, f"remote model {model_name} not ready (HTTP {response.status_code})"
        )

    return probe
