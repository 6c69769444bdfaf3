"""`deepdr-fhir grade IMAGE... [--json] [--bundle DIR]`: grade fundus photographs.

Every image gets a result; images that cannot be read or show no fundus are reported
and make the exit code 2 (bad input), after the other results are printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plugin.cli.common import CliError, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grade", help="grade fundus photographs for diabetic retinopathy")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG/PNG/TIFF fundus photographs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--bundle", type=Path, help="model bundle folder (default: the shipped one)")
    p.add_argument("--threads", type=int, help="onnxruntime threads (default: all cores)")
    p.add_argument("--maps", action="store_true", help="include lesion maps in the JSON")
    p.set_defaults(func=run)


def open_predictor(bundle: Path | None, threads: int | None) -> object:
    """The bundle's predictor, or CliError with a one-line reason."""
    from models.grader.bundle import default_bundle
    from models.grader.errors import ModelUnavailable
    from models.grader.predict import load_predictor

    folder = bundle or default_bundle()
    if folder is None:
        raise CliError("no grader bundle shipped under models/grader/bundles/; use --bundle")
    if not folder.is_dir():
        raise CliError(f"{folder}: no such bundle folder")
    if threads is not None and threads < 1:
        raise CliError("--threads must be 1 or more")
    try:
        return load_predictor(folder, threads=threads)
    except ModelUnavailable as exc:
        raise CliError(str(exc)) from None


def _describe(g: object) -> str:
    from models.grader.result import ICDR_LABELS, ImageGrading

    assert isinstance(g, ImageGrading)
    if g.error:
        return f"{g.image_id}: error: {g.error}"
    if not g.gradable:
        reasons = "; ".join(g.quality.reasons) if g.quality else "ungradable"
        return f"{g.image_id}: ungradable ({reasons})"
    parts = []
    if g.dr_grade:
        p = g.dr_grade.probabilities[g.dr_grade.grade]
        parts.append(f"grade {g.dr_grade.grade} {ICDR_LABELS[g.dr_grade.grade]} ({p:.2f})")
    if g.referable:
        flag = "REFERABLE" if g.referable.positive else "not referable"
        parts.append(f"{flag} (p={g.referable.probability:.2f}, threshold {g.referable.threshold})")
    if g.dme:
        parts.append(f"DME {'yes' if g.dme.positive else 'no'} (p={g.dme.probability:.2f})")
    present = [k for k, v in g.lesions.items() if v.present]
    if g.lesions:
        parts.append("lesions: " + (", ".join(present) if present else "none"))
    if g.quality:
        parts.append(f"quality {g.quality.score:.2f}")
    return f"{g.image_id}: " + "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    from models.grader.errors import BadImage, ModelUnavailable
    from models.grader.images import load_image
    from models.grader.predict import NO_FUNDUS, Predictor
    from models.grader.result import ImageGrading

    paths = [Path(p) for p in args.images]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise CliError(f"{missing[0]}: no such file")
    predictor = open_predictor(args.bundle, args.threads)
    assert isinstance(predictor, Predictor)
    results: list[ImageGrading] = []
    for path in paths:
        try:
            rgb = load_image(path, draft_side=predictor.side)
        except BadImage as exc:
            results.append(ImageGrading(image_id=str(path), model=predictor.model, error=str(exc)))
            continue
        try:
            results += predictor.grade([rgb], image_ids=[str(path)])
        except ModelUnavailable as exc:
            raise CliError(str(exc)) from None
    if args.json:
        exclude = None if args.maps else {"lesions": {"__all__": {"map"}}}
        print_json(
            {
                "model": predictor.model.model_dump(),
                "provider": predictor.provider,
                "images": [g.model_dump(mode="json", exclude=exclude) for g in results],
            }
        )
    else:
        for g in results:
            print(_describe(g))
    bad = [
        g
        for g in results
        if g.error or (g.quality and any(r.startswith(NO_FUNDUS) for r in g.quality.reasons))
    ]
    if bad:
        first = bad[0]
        reason = first.error or (first.quality.reasons[0] if first.quality else "")
        sys.stdout.flush()
        raise CliError(
            f"{len(bad)} of {len(results)} image(s) not graded; {first.image_id}: {reason}"
        )
    return 0
