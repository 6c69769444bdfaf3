"""Evaluation cases for the advice (cases.jsonl, written from the guidelines by
build_cases.py)."""
