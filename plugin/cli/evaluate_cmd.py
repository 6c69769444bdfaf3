"""`deepdr-fhir evaluate --labels CSV --images DIR [--split S] [--json] [--bundle DIR]`.

labels.csv columns: image, dr_grade; optional referable_dr, maculopathy, patient_id, eye,
split. Prints referable-DR AUC with a 95% bootstrap CI, quadratic-weighted kappa,
accuracy, sensitivity/specificity at the bundle's threshold, the 5x5 confusion matrix,
patient-level figures when patient_id is given, and how many images were rejected.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from plugin.cli.common import CliError, print_json
from plugin.cli.grade_cmd import open_predictor


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate the grader on labelled fundus photographs")
    p.add_argument("--labels", type=Path, required=True, metavar="CSV")
    p.add_argument("--images", type=Path, required=True, metavar="DIR")
    p.add_argument("--split", help="only rows whose split column has this value")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--per-image", action="store_true", help="include per-image rows in JSON")
    p.add_argument("--bundle", type=Path, help="model bundle folder (default: the shipped one)")
    p.add_argument("--threads", type=int, help="onnxruntime threads (default: all cores)")
    p.set_defaults(func=run)


def _f(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _binary(title: str, b: dict[str, Any]) -> list[str]:
    lo, hi = b["auc_ci95"]
    return [
        f"{title}: n={b['n']} positives={b['positives']}",
        f"  AUC {_f(b['auc'])} (95% CI {_f(lo)}-{_f(hi)})",
        f"  at threshold {b['threshold']}: sensitivity {_f(b['sensitivity'])} "
        f"({b['tp']}/{b['tp'] + b['fn']}), specificity {_f(b['specificity'])} "
        f"({b['tn']}/{b['tn'] + b['fp']})",
    ]


def render(report: dict[str, Any], model: str) -> str:
    g = report["grade"]
    lines = [
        f"model {model}: {report['n_images']} images, {report['n_rejected']} rejected "
        "by the quality gate or unreadable"
        + (
            f" ({', '.join(f'{k}: {v}' for k, v in report['rejected_reasons'].items())})"
            if report["rejected_reasons"]
            else ""
        ),
        "rejected images count as misses for referable cases and as grade 0 below",
        *_binary("referable DR", report["referable"]),
        f"ICDR grade: quadratic kappa {_f(g['quadratic_kappa'])}, accuracy {_f(g['accuracy'])}",
        "confusion (rows true 0-4, columns predicted 0-4, last column rejected):",
    ]
    for k, row in enumerate(g["confusion_gradable"]):
        cells = " ".join(f"{v:5d}" for v in row)
        lines.append(f"  {k}: {cells} | {g['rejected_by_true_grade'][k]:5d}")
    if report.get("dme"):
        lines += _binary("maculopathy/DME", report["dme"])
    if report.get("patient"):
        p = report["patient"]
        lines += _binary(f"patient level ({p['n_patients']} patients, worst eye)", p)
    go = report["gradable_only"]
    lines.append(
        f"gradable images only (n={go['n']}): referable AUC {_f(go['referable_auc'])}, "
        f"kappa {_f(go['quadratic_kappa'])}"
    )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from models.grader.errors import ModelUnavailable
    from models.grader.evaluate import LabelsError, evaluate
    from models.grader.predict import Predictor

    if not args.labels.is_file():
        raise CliError(f"{args.labels}: no such file")
    if not args.images.is_dir():
        raise CliError(f"{args.images}: no such folder")
    predictor = open_predictor(args.bundle, args.threads)
    assert isinstance(predictor, Predictor)
    try:
        result = evaluate(predictor, args.labels, args.images, split=args.split)
    except LabelsError as exc:
        raise CliError(str(exc)) from None
    except ModelUnavailable as exc:
        raise CliError(str(exc)) from None
    report = result.as_dict(with_images=args.per_image)
    model = f"{predictor.model.name} {predictor.model.version}"
    if args.json:
        print_json(
            {"model": predictor.model.model_dump(), "provider": predictor.provider, **report}
        )
    else:
        print(render(report, model))
    return 0
