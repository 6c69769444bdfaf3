"""Regenerate the documentation screenshots (docs/screenshots/) with real fundus photographs
graded by the shipped grader bundle.

    .venv/bin/python scripts/make_screenshots.py [--out docs/screenshots] [--bundle DIR]

What it runs, all on 127.0.0.1: the bundled FHIR server; one synthetic demo patient
(plugin.demo generator, scenario type2-ckd) with two IDRiD photographs attached as Media
(right / left eye); the review app behind the test EHR (plugin.smart_app.demo.serve_demo_ui)
with the shipped grader; headless Debian Chromium driven by Playwright through EHR launch ->
consent -> review (lesion map shown) -> edit an advice item -> sign off. Each step saves a PNG.

Why IDRiD: its photographs are CC BY 4.0 (Porwal et al., IEEE Dataport 2018,
doi:10.21227/H25W98), so they may be committed with attribution; the demo's SRahim photographs
and EyePACS may not be redistributed. IDRiD records no laterality: the eye is assigned from
the optic disc's side (right of the image -> right eye). The two photographs come from two
different people; the record around them is synthetic. IDRiD's lesion masks trained the
grader's lesion maps, so these screens show the product, not the model's accuracy.

Not run in CI (the browser tests use a deterministic stub grader); takes about 30 s.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir_mappers import codes  # noqa: E402
from plugin.demo.builders import DEMO_IMAGE_SYSTEM, MEDIA_TYPE  # noqa: E402
from plugin.demo.generate import DEFAULT_SEED, DemoPatient, generate_demo  # noqa: E402
from plugin.demo.photos import data_dir  # noqa: E402
from plugin.demo.run import load_patient  # noqa: E402
from plugin.fhir import HttpFhirGateway  # noqa: E402
from plugin.local_servers.fhir_server import LocalFhirServer  # noqa: E402
from plugin.smart_app.demo import CHROMIUM, CHROMIUM_ARGS, DemoUi, serve_demo_ui  # noqa: E402
from plugin.workflow.grader import load_grader, shipped_bundle  # noqa: E402

IDRID = Path("fundus") / "idrid-seg54"
SCENARIO = "type2-ckd"
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 60_000
# The edit shown in 03: what a clinician typically adds to a drafted item.
ADDED_TEXT = " Discussed today: appointment at the district hospital eye clinic this week."
COMMENT = "Photographs reviewed; agree with the grading. Exudates near the right fovea."

JSON = dict[str, Any]


class ScreenshotError(Exception):
    """A precondition is missing (photo, bundle, browser); the message says which."""


@dataclass(frozen=True)
class EyePhoto:
    eye: str  # right | left
    path: Path

    @property
    def name(self) -> str:
        return f"{IDRID.name}/{self.path.name}"


def photo_media(photo: EyePhoto, subject: JSON, taken: str) -> JSON:
    """A Media with the photograph inline, shaped as the demo's builders shape theirs."""
    data = photo.path.read_bytes()
    side = photo.eye.capitalize()
    site = "18944008" if photo.eye == "right" else "8966001"
    return {
        "resourceType": "Media",
        "identifier": [{"system": DEMO_IMAGE_SYSTEM, "value": photo.name}],
        "status": "completed",
        "type": {"coding": [{"system": MEDIA_TYPE, "code": "image", "display": "Image"}]},
        "modality": {
            "coding": [
                {"system": codes.DICOM_DCM, "code": "OP", "display": "Ophthalmic Photography"}
            ]
        },
        "subject": subject,
        "createdDateTime": taken,
        "bodySite": {
            "coding": [{"system": codes.SNOMED, "code": site, "display": f"{side} eye structure"}]
        },
        "content": {
            "contentType": "image/jpeg",
            "data": base64.b64encode(data).decode("ascii"),
            "size": len(data),
            "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
            "title": f"Fundus photograph, {photo.eye} eye",
        },
    }


def patient_bundle(photos: list[EyePhoto]) -> tuple[DemoPatient, JSON]:
    """The demo generator's synthetic record for SCENARIO (no photographs of its own), plus
    `photos`, as one transaction."""
    demo = next(p for p in generate_demo(DEFAULT_SEED, None, None) if p.scenario.key == SCENARIO)
    bundle = demo.bundle
    patient_url = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    taken = datetime.now(UTC).replace(microsecond=0).isoformat()
    for i, photo in enumerate(photos):
        bundle["entry"].append(
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{i:012d}",
                "resource": photo_media(photo, {"reference": patient_url}, taken),
                "request": {"method": "POST", "url": "Media"},
            }
        )
    return demo, bundle


def drive(ui: DemoUi, patient_id: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []

    def shot(page: Any, name: str, full_page: bool = False) -> None:
        path = out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        saved.append(path)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()

            page.goto(ui.ehr_home_url)
            page.click(f"a.launch[href*='patient={patient_id}']")
            page.wait_for_selector("#consent")
            shot(page, "01-ehr-consent", full_page=True)
            page.click("#consent button[name='ehr_decision'][value='approve']")
            page.wait_for_selector("#signoff-form, .message-card", timeout=120_000)
            if page.locator("#signoff-form").count() == 0:
                raise ScreenshotError("the review failed: " + page.inner_text("main")[:300])
            _check_honest(page)

            for side in ("right", "left"):
                toggle = page.locator(f".overlay-toggle[data-target='overlay-{side}']")
                if toggle.count():
                    toggle.check()
                    _wait_loaded(page, f"overlay-{side}")
                _wait_loaded(page, f"photo-{side}")
            # Tall enough for the whole grading card (photos, findings, lesion tables).
            box = page.locator("section.grading").bounding_box()
            page.set_viewport_size(
                {"width": VIEWPORT["width"], "height": int(box["y"] + box["height"] + 16)}
            )
            page.evaluate("window.scrollTo(0, 0)")
            shot(page, "02-review-grading-overlay")
            page.set_viewport_size(VIEWPORT)

            index = _eye_item(page)
            item = page.locator(f"#text-{index}")
            item.fill(item.input_value() + ADDED_TEXT)
            page.locator(f"#why-{index} summary").click()
            page.fill("#comment", COMMENT)
            page.locator("#advice-title").scroll_into_view_if_needed()
            page.evaluate(
                "() => window.scrollTo(0, document.getElementById('advice-title')"
                ".getBoundingClientRect().top + window.scrollY - 24)"
            )
            shot(page, "03-advice-editing")

            page.click("#sign-button")
            page.wait_for_selector("#done")
            if not page.inner_text("#review-status").startswith("Signed"):
                raise ScreenshotError("sign-off did not show as signed")
            page.evaluate("window.scrollTo(0, 0)")
            shot(page, "04-signed")
        finally:
            browser.close()
    return saved


def _check_honest(page: Any) -> None:
    """The labels the screenshots exist to show; a screen without them is not saved."""
    status = page.inner_text("#review-status")
    if "AI draft — not a diagnosis until signed" not in status:
        raise ScreenshotError(f"unexpected review status: {status!r}")
    if "stub" in page.inner_text("#grading-title + .meta, .grading .meta").lower():
        raise ScreenshotError("the page was graded by a stub grader")


def _wait_loaded(page: Any, element_id: str) -> None:
    page.wait_for_function(
        "id => { const i = document.getElementById(id);"
        " return i && i.complete && i.naturalWidth > 0; }",
        arg=element_id,
    )


def _eye_item(page: Any) -> int:
    """The form index of the advice item about seeing an ophthalmologist (the most urgent
    one); 0 when there is none."""
    items = page.eval_on_selector_all(
        ".item",
        "els => els.map(e => [e.querySelector('textarea').id.slice(5),"
        " e.querySelector('textarea').value, e.querySelector('.urgency').textContent])",
    )
    eye = [(u != "Urgent", int(i)) for i, text, u in items if "ophthalmolog" in text.lower()]
    return min(eye)[1] if eye else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--bundle", type=Path, default=None, help="default: the shipped bundle")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: ../shared/data")
    parser.add_argument("--right", default="IDRiD_13", help="IDRiD image for the right eye")
    parser.add_argument("--left", default="IDRiD_43", help="IDRiD image for the left eye")
    args = parser.parse_args(argv)
    try:
        root = (args.data_dir or data_dir()) / IDRID / "images"
        photos = [EyePhoto("right", root / f"{args.right}.jpg")]
        photos.append(EyePhoto("left", root / f"{args.left}.jpg"))
        for p in photos:
            if not p.path.is_file():
                raise ScreenshotError(f"photograph not found: {p.path}")
        bundle_dir = args.bundle or shipped_bundle()
        if bundle_dir is None:
            raise ScreenshotError("no grader bundle shipped and none given (--bundle)")
        grader = load_grader(bundle_dir, threads=2)
        args.out.mkdir(parents=True, exist_ok=True)
        with LocalFhirServer() as fhir:
            with HttpFhirGateway(fhir.base_url, timeout_s=60) as gateway:
                demo, bundle = patient_bundle(photos)
                patient_id = load_patient(gateway, demo, bundle)
            with serve_demo_ui(fhir.base_url, grader=grader) as ui:
                saved = drive(ui, patient_id, args.out)
    except ScreenshotError as exc:
        print(f"make_screenshots: {exc}", file=sys.stderr)
        return 2
    model = grader.model
    print(f"Graded by {model.name} {model.version}; right eye {args.right}, left eye {args.left}")
    for path in saved:
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
