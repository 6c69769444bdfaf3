"""The SMART on FHIR review app: EHR and standalone launch, the review page (grading with
lesion maps, facts with sources, editable advice with citations, progress while the
screening runs), clinician sign-off, rejection and referral. Server-rendered; works inside
an EHR iframe. `create_smart_app_blueprint(services)` is its blueprint factory;
`review_job_handlers(services)` its background job."""

from plugin.smart_app.blueprint import create_smart_app_blueprint
from plugin.smart_app.review_job import REVIEW_JOB, review_job_handlers
from plugin.smart_app.runtime import GRADER_EXTENSION_KEY, RECOMMENDED_SCOPES

__all__ = [
    "GRADER_EXTENSION_KEY",
    "RECOMMENDED_SCOPES",
    "REVIEW_JOB",
    "create_smart_app_blueprint",
    "review_job_handlers",
]
