"""The grader as the workflow sees it: a small Protocol, and loading the bundle's predictor
behind it.

    grader = load_grader(bundle_dir)          # GraderUnavailable when it cannot be loaded
    grader = load_configured_grader(settings.grader)   # local, or remote (grader.remote)
    grader.model                              # ModelInfo(name, version): the cache key
    grader.grade(images)                      # one ImageGrading per image, same order

With `remote` (config `grader.remote.kind = "kserve-v2"`) the network runs on a KServe v2 /
Triton inference server (plugin.inference); the bundle folder still supplies
metadata.json (preprocessing, outputs, thresholds, name and version) and must match the
remote model.

Any object with `model` and `grade` fits (a remote KServe client, a test fake). A grader
reports an image it cannot read as an ImageGrading with `error` set, or raises BadImage
for a single-image call; the workflow turns both into per-image problems.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from models.grader.errors import GraderError, ModelUnavailable
from models.grader.result import ImageGrading, ModelInfo
from plugin.config import GraderSettings, KServeV2Grader, RemoteGrader
from plugin.imaging.results import RetrievedImage
from plugin.workflow.errors import GraderUnavailable

PREDICTOR_MODULE = "models.grader.predict"
# services.extensions key under which a process may inject its Grader (a test's tiny model,
# a remote-inference client); the CDS service and the SMART app use the same key.
GRADER_EXTENSION = "grader"


class Grader(Protocol):
    @property
    def model(self) -> ModelInfo: ...

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]: ...


def shipped_bundles_dir() -> Path:
    spec = importlib.util.find_spec("models.grader")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) / "bundles" if locations else Path("models/grader/bundles")


def shipped_bundle() -> Path | None:
    """The newest (by folder name) bundle shipped under models/grader/bundles/, if any."""
    found = sorted(p.parent for p in shipped_bundles_dir().glob("*/metadata.json"))
    return found[-1] if found else None


def load_grader(
    bundle: Path | None = None,
    *,
    threads: int | None = None,
    providers: Sequence[str] = (),
    remote: RemoteGrader | None = None,
    batch_size: int | None = None,
) -> Grader:
    """The predictor of `bundle` (default: the shipped one) behind the Grader protocol;
    with a KServe v2 `remote`, its network runs on that inference server."""
    folder = bundle or shipped_bundle()
    if folder is None:
        raise GraderUnavailable(
            "no grader bundle: none is shipped under models/grader/bundles/ and none configured"
        )
    if not (folder / "metadata.json").is_file():
        raise GraderUnavailable(f"{folder}: not a grader bundle (no metadata.json)")
    if isinstance(remote, KServeV2Grader):
        return _remote_grader(folder, remote, batch_size)
    try:
        predict: Any = importlib.import_module(PREDICTOR_MODULE)
    except ModuleNotFoundError:
        raise GraderUnavailable(
            "this build has no grader predictor (models/grader/predict.py)"
        ) from None
    try:
        predictor = _open_predictor(predict, folder, threads, providers, batch_size)
    except GraderError as exc:
        raise GraderUnavailable(f"grader bundle cannot be used: {exc}") from None
    return PredictorGrader(predictor)


def load_configured_grader(settings: GraderSettings) -> Grader:
    """The grader the `[grader]` settings describe: bundle, threads, providers, batch size
    and, when set, the remote inference server."""
    return load_grader(
        settings.bundle,
        threads=settings.intra_op_threads,
        providers=settings.providers,
        remote=settings.remote,
        batch_size=settings.batch_size,
    )


def _remote_grader(folder: Path, remote: KServeV2Grader, batch_size: int | None) -> Grader:
    from plugin.inference.grader import open_remote_predictor

    try:
        predictor = open_remote_predictor(folder, remote, batch_size=batch_size or 8)
    except GraderError as exc:
        raise GraderUnavailable(f"remote grader cannot be used: {exc}") from None
    return PredictorGrader(predictor)


def _open_predictor(
    predict: Any,
    folder: Path,
    threads: int | None,
    providers: Sequence[str],
    batch_size: int | None = None,
) -> Any:
    opener = getattr(predict, "load_predictor", None) or getattr(predict, "Predictor", None)
    if opener is None:
        raise GraderUnavailable("the grader predictor module has no load_predictor/Predictor")
    kwargs: dict[str, Any] = {}
    if threads is not None:
        kwargs["threads"] = threads
    if providers:
        kwargs["providers"] = tuple(providers)
    if batch_size is not None:
        kwargs["batch_size"] = batch_size
    return opener(folder, **kwargs)


class PredictorGrader:
    """Adapts the bundle's predictor: RGB arrays in, ImageGradings out, per-image errors
    kept per image (a batch with one bad image is retried image by image)."""

    def __init__(self, predictor: Any) -> None:
        self._predictor = predictor
        info = getattr(predictor, "model", None) or getattr(predictor, "model_info", None)
        if not isinstance(info, ModelInfo):
            raise GraderUnavailable("the grader predictor does not say which model it runs")
        self._model = info

    @property
    def model(self) -> ModelInfo:
        return self._model

    def grade(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        if not images:
            return []
        try:
            return self._call(images)
        except ModelUnavailable as exc:
            raise GraderUnavailable(f"grader failed: {exc}") from None
        except GraderError:
            if len(images) == 1:
                raise
        out: list[ImageGrading] = []
        for img in images:
            try:
                out += self._call([img])
            except ModelUnavailable as exc:
                raise GraderUnavailable(f"grader failed: {exc}") from None
            except GraderError as exc:
                out.append(ImageGrading(image_id=img.image_id, model=self._model, error=str(exc)))
        return out

    def _call(self, images: Sequence[RetrievedImage]) -> list[ImageGrading]:
        results = self._predictor.grade(
            [img.rgb for img in images],
            image_ids=[img.image_id for img in images],
            lateralities=[img.laterality for img in images],
            sha256s=[img.sha256 for img in images],
        )
        graded = list(results)
        if len(graded) != len(images):
            raise GraderUnavailable("the grader returned a different number of results")
        return graded
