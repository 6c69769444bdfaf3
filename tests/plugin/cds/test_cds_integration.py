"""Our CDS services end to end over real HTTP: the app (create_app, SQLite store, the
tiny ONNX grader) under a real WSGI server on 127.0.0.1, the local CDS Client signing
ES384/RS384 JWTs with its JWKS on loopback, and the real FHIR server (Medplum) behind,
holding the patients and their fundus photographs as Media.

Covered: discovery; prefetch present / missing / null / OperationOutcome; 412; JWT
negatives through our wiring with the store-backed replay cache; cards valid under the
CDS Hooks 2.0 rules; referral suggestion, override reasons and the SMART link; cold ->
cached; over budget -> screening job -> result on the next call; order hooks; feedback
stored once; images that cannot be read; no token in the logs."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from cds_hooks.cards import validate_response
from plugin.cds.services import ORDER_SELECT_ID, ORDER_SIGN_ID, PATIENT_VIEW_ID
from plugin.cds.services import PATIENT_VIEW_PREFETCH as TEMPLATES
from plugin.fhir.http_gateway import HttpFhirGateway
from plugin.local_servers.cds_client import JwtFlaw, LocalCdsClient, PrefetchMode
from plugin.store.jobs import JobStatus
from plugin.workflow.jobs import SCREENING_JOB

pytestmark = pytest.mark.integration

PRACTITIONER = "Practitioner/dr-cds"
EHR_ORIGIN = "https://ehr.example.org"


@pytest.fixture(scope="module")
def client() -> Iterator[LocalCdsClient]:
    with LocalCdsClient() as c:
        yield c


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory,
    fhir_base_url: str,
    client: LocalCdsClient,
    kit: Any,
) -> Iterator[Any]:
    with kit.running_app(
        tmp_path_factory.mktemp("cds"),
        fhir_base_url,
        client,
        budget_ms=20_000,
        extra={"cds": {"cors_origins": [EHR_ORIGIN]}},
    ) as running:
        client.cds_base_url = running.base
        yield running


@pytest.fixture
def fhir(fhir_base_url: str) -> Iterator[HttpFhirGateway]:
    with HttpFhirGateway(fhir_base_url) as gw:
        yield gw


class Ehr:
    """Seeds patients on the real FHIR server and builds hook requests as an EHR would."""

    def __init__(self, fhir: HttpFhirGateway, client: LocalCdsClient, kit: Any) -> None:
        self.fhir = fhir
        self.client = client
        self.kit = kit

    def patient(self, *photos: tuple[str, int], diabetic: bool = True) -> str:
        ref = self.fhir.create(
            {"resourceType": "Patient", "gender": "female", "birthDate": "1960-04-02"}
        ).reference
        if diabetic:
            self.fhir.create(self.kit.diabetes(ref))
        self.fhir.create(self.kit.hba1c(ref))
        for eye, red in photos:
            self.add_media(ref, eye, self.kit.photo(red, seed=uuid.uuid4().int % 1000))
        return ref

    def add_media(self, patient: str, eye: str, data: bytes, **changes: Any) -> str:
        resource = {**self.kit.media(patient, eye, data), **changes}
        return self.fhir.create(resource).reference

    def context(self, patient: str, **extra: Any) -> dict[str, Any]:
        return {"userId": PRACTITIONER, "patientId": patient.split("/")[1], **extra}

    def body(
        self,
        patient: str,
        mode: PrefetchMode | dict[str, PrefetchMode] = PrefetchMode.PRESENT,
        *,
        hook: str = "patient-view",
        templates: dict[str, str] = TEMPLATES,
        fhir_access: bool = True,
        **context: Any,
    ) -> dict[str, Any]:
        ctx = self.context(patient, **context)
        prefetch = self.client.build_prefetch(
            templates, ctx, mode, fhir_server=self.fhir.base_url, access_token=self.kit.TOKEN
        )
        return self.client.hook_request(
            hook,
            ctx,
            fhir_server=self.fhir.base_url if fhir_access else None,
            access_token=self.kit.TOKEN if fhir_access else None,
            prefetch=prefetch,
        )


@pytest.fixture
def ehr(fhir: HttpFhirGateway, client: LocalCdsClient, kit: Any) -> Ehr:
    return Ehr(fhir, client, kit)


def cards_of(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    document = response.json()
    assert validate_response(document, require_uuids=True) == []
    cards: list[dict[str, Any]] = document["cards"]
    return cards


# --- discovery and security --------------------------------------------------------------


def test_discovery_lists_our_services_behind_the_jwt(app: Any, client: LocalCdsClient) -> None:
    response = client.discover()
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json()["services"]}
    assert set(services) == {PATIENT_VIEW_ID, ORDER_SELECT_ID, ORDER_SIGN_ID}
    view = services[PATIENT_VIEW_ID]
    assert view["hook"] == "patient-view" and view["prefetch"] == TEMPLATES
    assert "code=http://loinc.org|4548-4," in view["prefetch"]["observations"]
    assert services[ORDER_SELECT_ID]["hook"] == "order-select"
    assert client.discover(authenticate=False).status_code == 401


def test_browser_clients_get_cors_for_the_configured_origin_only(
    app: Any, client: LocalCdsClient
) -> None:
    url = client.url(f"/cds-services/{PATIENT_VIEW_ID}")
    headers = {"Access-Control-Request-Method": "POST"}
    allowed = client.http.options(url, headers={**headers, "Origin": EHR_ORIGIN})
    other = client.http.options(url, headers={**headers, "Origin": "https://evil.example"})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == EHR_ORIGIN
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in other.headers
    discovery = client.http.get(
        client.url("/cds-services"),
        headers={
            "Origin": EHR_ORIGIN,
            "Authorization": f"Bearer {client.sign(client.url('/cds-services'))}",
        },
    )
    assert discovery.status_code == 200
    assert discovery.headers["Access-Control-Allow-Origin"] == EHR_ORIGIN


@pytest.mark.parametrize(
    "flaw",
    [
        JwtFlaw.ALG_NONE,
        JwtFlaw.HS256,
        JwtFlaw.WRONG_AUD,
        JwtFlaw.EXPIRED,
        JwtFlaw.IAT_IN_FUTURE,
        JwtFlaw.UNKNOWN_ISS,
        JwtFlaw.UNKNOWN_KID,
        JwtFlaw.BAD_SIGNATURE,
        JwtFlaw.MISSING_KID,
    ],
)
def test_a_flawed_jwt_is_refused_before_any_work(
    app: Any, client: LocalCdsClient, ehr: Ehr, flaw: JwtFlaw
) -> None:
    patient = ehr.patient(("right", 160))
    graded = app.grader.graded_count
    response = client.call(PATIENT_VIEW_ID, ehr.body(patient), flaw=flaw)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="cds-services"')
    assert response.json()["resourceType"] == "OperationOutcome"
    assert app.grader.graded_count == graded


def test_missing_header_and_replayed_jti_are_refused_rs384_is_accepted(
    app: Any, client: LocalCdsClient, ehr: Ehr
) -> None:
    patient = ehr.patient()
    body = ehr.body(patient)
    assert client.call(PATIENT_VIEW_ID, body, authenticate=False).status_code == 401
    assert client.call(PATIENT_VIEW_ID, body, alg="RS384").status_code == 200
    token = client.sign(client.url(f"/cds-services/{PATIENT_VIEW_ID}"))
    assert client.call(PATIENT_VIEW_ID, body, token=token).status_code == 200
    replayed = client.call(PATIENT_VIEW_ID, body, token=token)
    assert replayed.status_code == 401
    assert "token replayed" in replayed.headers["WWW-Authenticate"]
    with app.services.store.db.read() as tx:  # the replay cache lives in the shared store
        row = tx.fetchone("SELECT COUNT(*) AS n FROM jwt_replay WHERE iss = ?", (client.issuer,))
    assert row is not None and row["n"] >= 2


# --- patient-view ------------------------------------------------------------------------


def test_cold_then_cached_with_a_referral_suggestion(
    app: Any, client: LocalCdsClient, ehr: Ehr
) -> None:
    patient = ehr.patient(("right", 160), ("left", 20))
    graded = app.grader.graded_count

    (card,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))

    assert app.grader.graded_count == graded + 2  # graded in the request
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("AI retinal screening: referable DR suspected (right eye")
    assert "tiny-cds-grader 0.0.1" in card["source"]["label"]
    assert card["source"]["topic"]["code"] == "dr-result"
    (suggestion,) = card["suggestions"]
    assert suggestion["isRecommended"] is True and card["selectionBehavior"] == "at-most-one"
    request = suggestion["actions"][0]["resource"]
    assert request["resourceType"] == "ServiceRequest"
    assert (request["status"], request["intent"], request["priority"]) == (
        "draft",
        "order",
        "urgent",
    )
    assert request["subject"] == {"reference": patient}
    assert {r["code"] for r in card["overrideReasons"]} >= {
        "indication-order-exists",
        "patient-refuses",
    }
    assert "links" not in card  # no SMART app configured in this app

    (again,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))

    assert again == card  # same images, same model: the same card, uuid included
    assert app.grader.graded_count == graded + 2  # from the cache


def test_every_prefetch_form_gives_the_same_answer(
    app: Any, client: LocalCdsClient, ehr: Ehr
) -> None:
    patient = ehr.patient(("right", 110), ("left", 60))
    present = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient, PrefetchMode.PRESENT)))
    graded = app.grader.graded_count
    # The service fetches what is missing, or what the client reports it could not fetch,
    # itself: with the hook's token, through the gateway.
    missing = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient, PrefetchMode.MISSING)))
    outcome = cards_of(
        client.call(PATIENT_VIEW_ID, ehr.body(patient, PrefetchMode.OPERATION_OUTCOME))
    )
    mixed = {k: PrefetchMode.PRESENT for k in TEMPLATES} | {"media": PrefetchMode.MISSING}
    partly = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient, mixed)))
    assert present == missing == outcome == partly
    assert present[0]["indicator"] == "warning"  # moderate NPDR: referable, not urgent
    assert app.grader.graded_count == graded


def test_null_prefetch_means_no_data(app: Any, client: LocalCdsClient, ehr: Ehr) -> None:
    patient = ehr.patient(("right", 160))
    modes = {k: PrefetchMode.PRESENT for k in TEMPLATES}
    modes |= {"media": PrefetchMode.NULL}
    (due,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient, modes)))
    # The client says there are no photographs: nothing to grade, and (diabetic, no exam
    # evidence in any key) screening is due.
    assert due["summary"] == "Diabetic retinopathy screening due: no retinal exam on record"
    assert [s["isRecommended"] for s in due["suggestions"]] == [True, False]
    everything_null = {k: PrefetchMode.NULL for k in TEMPLATES if k != "patient"}
    everything_null["patient"] = PrefetchMode.PRESENT
    cards = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient, everything_null)))
    assert cards == []  # no diabetes on record: nothing due, nothing to say


@pytest.mark.parametrize("mode", [PrefetchMode.PRESENT, PrefetchMode.MISSING])
def test_a_retinal_exam_procedure_on_the_server_settles_screening_due(
    app: Any, client: LocalCdsClient, ehr: Ehr, kit: Any, mode: PrefetchMode
) -> None:
    """The Procedure prefetch template (patient + exam codes) on the real server, sent by
    the client or fetched by us: a recent exam means nothing is due; an old one is named."""

    def exam(patient: str, days_ago: int) -> None:
        ehr.fhir.create(
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "722161008"}]},
                "subject": {"reference": patient},
                "performedDateTime": kit.recent(days_ago),
            }
        )

    recent = ehr.patient()
    exam(recent, 60)
    assert cards_of(client.call(PATIENT_VIEW_ID, ehr.body(recent, mode))) == []
    old = ehr.patient()
    exam(old, 400)
    (due,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(old, mode)))
    assert due["summary"] == (
        f"Diabetic retinopathy screening due: last retinal exam on record {kit.recent(400)}"
    )


def test_a_missing_patient_that_cannot_be_fetched_is_412(
    app: Any, client: LocalCdsClient, ehr: Ehr
) -> None:
    patient = ehr.patient()
    for mode in (PrefetchMode.MISSING, PrefetchMode.OPERATION_OUTCOME):
        body = ehr.body(patient, {"patient": mode}, fhir_access=False)
        response = client.call(PATIENT_VIEW_ID, body)
        assert response.status_code == 412
        assert "patient" in response.json()["issue"][0]["details"]["text"]
    unknown = ehr.body(patient, PrefetchMode.MISSING)
    unknown["context"]["patientId"] = "no-such-patient"
    assert cards_of(client.call(PATIENT_VIEW_ID, unknown)) == []  # 404 on the server: no data


def test_photographs_that_cannot_be_read_get_a_card_not_an_error(
    app: Any, client: LocalCdsClient, ehr: Ehr, kit: Any
) -> None:
    patient = ehr.patient(("right", 20))
    broken = ehr.add_media(patient, "left", b"\x89PNG\r\n\x1a\n not really")
    gone = ehr.add_media(
        patient,
        "left",
        b"",
        content={"contentType": "image/png", "url": "Binary/not-there"},
    )
    cards = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))
    assert [c["indicator"] for c in cards] == ["info", "info"]
    result, unusable = cards
    assert result["summary"] == "AI retinal screening: no referable DR (right eye: no DR)"
    assert unusable["summary"] == (
        "2 fundus photos could not be used for AI grading: corrupt (1), not-found (1)"
    )
    assert broken in unusable["detail"] and gone in unusable["detail"]


def test_the_hooks_token_stays_out_of_the_logs(
    app: Any, client: LocalCdsClient, ehr: Ehr, caplog: pytest.LogCaptureFixture
) -> None:
    patient = ehr.patient(("right", 60))
    with caplog.at_level(logging.DEBUG):
        cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient, PrefetchMode.MISSING)))
    assert caplog.records and ehr.kit.TOKEN not in caplog.text


# --- the budget: grade in the background --------------------------------------------------


def test_over_budget_queues_a_screening_job_then_answers_from_its_result(
    tmp_path: Path, fhir_base_url: str, kit: Any, fhir: HttpFhirGateway
) -> None:
    with (
        LocalCdsClient() as client,
        kit.running_app(tmp_path, fhir_base_url, client, budget_ms=0, smart=True) as running,
    ):
        client.cds_base_url = running.base
        ehr = Ehr(fhir, client, kit)
        patient = ehr.patient(("right", 230), ("left", 20))

        (pending,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))
        (still,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))

        assert pending["summary"] == "AI grading of 2 new fundus photos in progress"
        assert still == pending and running.grader.graded_count == 0
        (job,) = running.jobs()
        assert job.kind == SCREENING_JOB and job.status == JobStatus.QUEUED
        assert job.payload["patient_ref"] == patient and job.payload["write"] is False
        assert kit.TOKEN not in json.dumps(job.payload)
        (link,) = pending["links"]
        assert link["type"] == "smart" and link["url"] == running.base + "/smart/launch"
        context = json.loads(link["appContext"])
        assert context["patient"] == patient and len(context["images"]) == 2

        assert running.run_jobs() == 1

        (result,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))
        assert result["indicator"] == "critical" and "proliferative" not in result["summary"]
        assert result["summary"].startswith("AI retinal screening: referable DR suspected")
        assert running.grader.graded_count == 2  # by the job, once
        assert running.services.store.jobs.get(job.id).status == JobStatus.SUCCEEDED  # type: ignore[union-attr]
        context = json.loads(result["links"][0]["appContext"])
        assert context["screening"]  # the job's screening record, for the app


# --- order hooks ----------------------------------------------------------------------------


def _draft(code_system: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": f"draft-{uuid.uuid4().hex[:8]}",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": code_system, "code": code}]},
        **extra,
    }


def test_order_hooks_show_the_result_already_on_record(
    app: Any, client: LocalCdsClient, ehr: Ehr
) -> None:
    patient = ehr.patient(("right", 110))
    (viewed,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))  # graded here
    photo = _draft("http://snomed.info/sct", "20067007", subject={"reference": patient})
    other = _draft("http://loinc.org", "4548-4", subject={"reference": patient})
    drafts = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": photo}, {"resource": other}],
    }
    from plugin.cds.services import ORDER_PREFETCH

    select = ehr.body(
        patient,
        hook="order-select",
        templates=ORDER_PREFETCH,
        selections=[f"ServiceRequest/{photo['id']}"],
        draftOrders=drafts,
    )
    graded = app.grader.graded_count
    (card,) = cards_of(client.call(ORDER_SELECT_ID, select))
    assert card["indicator"] == "warning"
    assert card["summary"].startswith("Referable DR already suspected")
    assert (
        card["suggestions"][0]["actions"][0]["resource"]["performerType"]["coding"][0]["code"]
        == "394594003"
    )

    not_selected = dict(
        select, context={**select["context"], "selections": [f"ServiceRequest/{other['id']}"]}
    )
    assert cards_of(client.call(ORDER_SELECT_ID, not_selected)) == []

    referral = _draft(
        "http://snomed.info/sct",
        "3457005",
        performerType={"coding": [{"system": "http://snomed.info/sct", "code": "394594003"}]},
    )
    sign = ehr.body(
        patient,
        hook="order-sign",
        templates=ORDER_PREFETCH,
        draftOrders={
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": referral}],
        },
    )
    (info,) = cards_of(client.call(ORDER_SIGN_ID, sign))
    assert info["indicator"] == "info" and "suggestions" not in info
    assert info["summary"] == viewed["summary"] and info["uuid"] != viewed["uuid"]
    assert card["uuid"] != viewed["uuid"]
    assert app.grader.graded_count == graded  # order hooks never grade


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_is_stored_once_however_often_it_is_sent(
    app: Any, client: LocalCdsClient, ehr: Ehr
) -> None:
    patient = ehr.patient(("right", 160))
    (card,) = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))
    accepted = {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": datetime.now(UTC).isoformat(),
    }
    overridden = {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {
            "reason": card["overrideReasons"][0],
            "userComment": "seen by eye clinic",
        },
        "outcomeTimestamp": "2026-03-02T10:15:00+01:00",
    }
    first = client.feedback(PATIENT_VIEW_ID, {"feedback": [accepted, overridden]})
    again = client.feedback(PATIENT_VIEW_ID, {"feedback": [accepted, overridden]})
    assert first.status_code == 200 and first.json() == {"received": 2, "stored": 2}
    assert again.status_code == 200 and again.json() == {"received": 2, "stored": 0}
    rows = app.services.store.feedback.for_card(card["uuid"])
    assert sorted(r.outcome for r in rows) == ["accepted", "overridden"]
    assert all(r.issuer == client.issuer for r in rows)
    bad = client.feedback(PATIENT_VIEW_ID, {"feedback": [{**accepted, "outcome": "maybe"}]})
    assert bad.status_code == 400


# --- a real grader bundle ---------------------------------------------------------------------


def test_the_configured_grader_bundle_grades_in_the_hook(
    tmp_path: Path, fhir_base_url: str, kit: Any, fhir: HttpFhirGateway, tiny_grader_bundle: Path
) -> None:
    """No grader injected: the app loads `grader.bundle` (the grader's own predictor, via
    the workflow's adapter) and grades real fundus photographs with it."""
    from plugin.local_servers.dicom_testdata import fundus_images_dir

    folder = fundus_images_dir()
    if not (folder / "Patient003_R.jpg").is_file():
        pytest.skip(f"shared fundus images not found at {folder}")
    bundle = {"grader": {"bundle": str(tiny_grader_bundle)}}
    with (
        LocalCdsClient() as client,
        kit.running_app(
            tmp_path, fhir_base_url, client, budget_ms=20_000, extra=bundle, inject_grader=False
        ) as running,
    ):
        client.cds_base_url = running.base
        ehr = Ehr(fhir, client, kit)
        patient = ehr.patient()
        for eye, name in (("right", "Patient003_R.jpg"), ("left", "Patient003_L.jpg")):
            data = (folder / name).read_bytes()
            media = kit.media(patient, eye, data)
            media["content"]["contentType"] = "image/jpeg"
            fhir.create(media)

        first = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))
        second = cards_of(client.call(PATIENT_VIEW_ID, ehr.body(patient)))

        assert first == second and first
        result = first[0]
        assert result["source"]["topic"]["code"] == "dr-result"
        meta = json.loads((tiny_grader_bundle / "metadata.json").read_text())
        assert meta["name"] in result["source"]["label"]
        assert "Right eye" in result["detail"] and "Left eye" in result["detail"]
