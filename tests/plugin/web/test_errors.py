"""Grader errors at the edge: BadImage -> 422 with its (safe) reason, ModelUnavailable and
GraderUnavailable -> 503 with a fixed text (the bundle's path and mismatch stay in /readyz
and the logs); register_error_mapping replaces a type's mapping instead of stacking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Blueprint, Flask

from models.grader.errors import BadImage, ModelUnavailable
from plugin.app import create_app, services_of
from plugin.services import Services
from plugin.web import errors
from plugin.workflow.errors import GraderUnavailable


def grading_views(services: Services) -> Blueprint:
    bp = Blueprint("grading", __name__)

    @bp.post("/grade/<what>")
    def grade(what: str) -> dict[str, str]:
        if what == "cat":
            raise BadImage("not a fundus photograph")
        if what == "bundle":
            raise ModelUnavailable("bundle /srv/models/dr-1.2: output 'x' is not in the model")
        if what == "workflow":
            raise GraderUnavailable("grader bundle cannot be used: /srv/models/dr-1.2 ...")
        return {"grade": what}

    return bp


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    built = create_app(
        {"store": {"url": f"sqlite:///{tmp_path}/e.sqlite3"}}, blueprints=[grading_views]
    )
    yield built
    services_of(built).close()


def test_an_image_the_grader_refuses_is_422_with_its_reason(app: Flask) -> None:
    response = app.test_client().post("/grade/cat", headers={"X-Request-ID": "r-9"})
    assert response.status_code == 422
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Image cannot be graded",
        "status": 422,
        "detail": "the image cannot be graded: not a fundus photograph",
        "request_id": "r-9",
    }


@pytest.mark.parametrize("what", ["bundle", "workflow"])
def test_a_grader_that_cannot_run_is_503_without_its_internals(app: Flask, what: str) -> None:
    response = app.test_client().post(f"/grade/{what}")
    assert response.status_code == 503
    body = response.get_json()
    assert (body["title"], body["detail"]) == ("Grader unavailable", errors.GRADER_DOWN)
    assert b"/srv/models" not in response.data


def test_registering_a_type_again_replaces_its_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "ERROR_MAPPINGS", list(errors.ERROR_MAPPINGS))
    before = len(errors.ERROR_MAPPINGS)
    for status in (418, 422):
        errors.register_error_mapping(BadImage, status, "Unprocessable", lambda exc: "no")
    mapped = [m.status for t, m in errors.ERROR_MAPPINGS if t is BadImage]
    assert mapped == [422] and len(errors.ERROR_MAPPINGS) == before
