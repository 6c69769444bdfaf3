"""The SMART on FHIR review app: EHR and standalone launch, the review page (grading with
lesion maps, facts with sources, editable advice with citations, progress while the
screening runs), clinician sign-off, rejection and referral. Server-rendered; works inside
an EHR iframe. See README.md.

Entry points (by module, so a job worker does not import the web layer):
`plugin.smart_app.blueprint:create_smart_app_blueprint` (blueprint registry),
`plugin.smart_app.review_job:review_job_handlers` (job handlers),
`plugin.smart_app.demo:serve_demo_ui` (the demo and the browser tests)."""
