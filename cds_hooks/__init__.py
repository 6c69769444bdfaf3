"""CDS Hooks 2.0 protocol (https://cds-hooks.hl7.org/2.0/): discovery, request/response
models, CDS Client JWT verification, prefetch templates and resolution, card builders,
feedback, and a Flask blueprint factory. No diabetic-retinopathy knowledge lives here:
services plug in through `CdsService` (data) and `CdsServiceHandler` (a Protocol).

Import from the submodules (`cds_hooks.models`, `cds_hooks.service`, ...); importing this
package pulls in neither Flask nor httpx.
"""
