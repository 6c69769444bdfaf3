"""End-to-end tests in headless Chromium. A package, so the browser and app fixtures
(scope="package") stop when these tests end instead of leaving threads and processes
running under the rest of the suite."""
