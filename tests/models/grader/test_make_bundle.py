"""make_bundle's reproduction command: the recipe and the CLI overrides that rebuild a run."""

from __future__ import annotations

from models.grader.config import RECIPES
from models.grader.make_bundle import train_command


def test_a_recipe_is_named_with_only_the_overrides_it_needs() -> None:
    cpu = RECIPES["cpu"]
    assert train_command(cpu) == "python -m models.grader.train --config cpu"
    renamed = cpu.model_copy(update={"name": "cpu-e10"})
    assert train_command(renamed) == "python -m models.grader.train --config cpu --name cpu-e10"
    longer = cpu.model_copy(update={"epochs": cpu.epochs + 2})
    assert train_command(longer).endswith(f"--config cpu --epochs {cpu.epochs + 2}")


def test_a_changed_recipe_points_to_the_metadata() -> None:
    changed = RECIPES["cpu"].model_copy(update={"lr": RECIPES["cpu"].lr * 2})
    assert "training.recipe" in train_command(changed)
