"""Our CDS Hooks 2.0 services (diabetic retinopathy screening) on top of the protocol package
`cds_hooks`: discovery as data (services.py), handlers (handlers.py, orders.py), image
identity and grading within the hook's time budget (sources.py, grading.py, background.py),
pure card builders (cards.py), and the wiring to the app's Services (wiring.py).

The app registers the blueprint through the blueprint registry with the factory
`plugin.cds.wiring:create_cds_hooks_blueprint` (a function of Services; None when no CDS
Client is trusted). Import the submodules; importing this package loads nothing else.
"""
