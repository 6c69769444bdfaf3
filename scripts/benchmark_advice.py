"""Benchmark the advice rules engine: milliseconds per draft over the evaluation cases
(facts + grading -> AdviceDraft), both languages. Prints figures; asserts nothing.

    .venv/bin/python scripts/benchmark_advice.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from models.advice import Lang, build_draft, load_knowledge_base, parse_advise_input
from models.advice.evaluate import load_cases

CASES = Path(__file__).resolve().parents[1] / "models" / "advice" / "eval" / "cases.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    t0 = time.perf_counter()
    kb = load_knowledge_base()
    load_ms = (time.perf_counter() - t0) * 1000
    inputs = [
        parse_advise_input({"facts": c.facts, "grading": c.grading, "context": c.context})
        for c in load_cases(CASES)
    ]
    timings: list[float] = []
    for _ in range(args.repeat):
        for inp in inputs:
            for lang in Lang:
                t = time.perf_counter()
                build_draft(inp.facts, inp.grading, inp.context, lang=lang, kb=kb)
                timings.append((time.perf_counter() - t) * 1000)
    timings.sort()
    p95 = timings[int(0.95 * (len(timings) - 1))]
    print(f"knowledge base: {len(kb.rules)} rules, loaded and validated in {load_ms:.1f} ms")
    print(
        f"drafts: {len(timings)} ({len(inputs)} cases x 2 languages x {args.repeat}); "
        f"ms per draft: median {statistics.median(timings):.2f}, p95 {p95:.2f}, "
        f"max {timings[-1]:.2f}"
    )


if __name__ == "__main__":
    main()
