"""Prints image-retrieval figures: a local FHIR server and Orthanc, N fundus photos per
transfer syntax stored over STOW-RS, then fetched back through ImageFetcher in both
retrieval modes. Figures only, no assertions.

    python -m plugin.imaging.bench [--patients 4] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Literal, get_args

from plugin.fhir import HttpFhirGateway
from plugin.imaging.config import BasicAuth, ImagingSettings, OriginCredentials
from plugin.imaging.fetcher import ImageFetcher
from plugin.local_servers.dicom_testdata import (
    FundusSource,
    TransferSyntaxName,
    fundus_images_dir,
    load_fundus_study,
)
from plugin.local_servers.fhir_server import LocalFhirServer
from plugin.local_servers.orthanc import LocalOrthanc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=4, help="patients (2 photos each)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    folder = fundus_images_dir()
    photos = sorted(folder.glob("Patient*_L.jpg"))[: args.patients]
    if len(photos) < args.patients:
        print(f"not enough photos in {folder}")
        return 2
    with (
        LocalFhirServer() as fhir,
        LocalOrthanc(users={"bench": "bench"}) as pacs,
        HttpFhirGateway(fhir.base_url) as gateway,
    ):
        patients: dict[TransferSyntaxName, list[str]] = {}
        syntaxes: tuple[TransferSyntaxName, ...] = get_args(TransferSyntaxName)
        for ts in syntaxes:
            for left in photos:
                right = Path(str(left).replace("_L.jpg", "_R.jpg"))
                patient = gateway.create({"resourceType": "Patient"}).reference
                load_fundus_study(
                    gateway,
                    pacs.dicomweb_url,
                    patient,
                    [FundusSource(right, "R"), FundusSource(left, "L")],
                    transfer_syntax=ts,
                    pacs_auth=pacs.auth,
                )
                patients.setdefault(ts, []).append(patient)
        creds = OriginCredentials(
            base_url=pacs.dicomweb_url, auth=BasicAuth(username="bench", password="bench")
        )
        print(
            f"{'transfer syntax':<20} {'mode':<9} {'images':>6} {'ms/image':>9} {'MB/s (RGB)':>11}"
        )
        for ts, refs in patients.items():
            modes: tuple[Literal["instance", "frames"], ...] = ("instance", "frames")
            for mode in modes:
                settings = ImagingSettings(credentials=(creds,), retrieve=mode)
                timings = []
                n = nbytes = 0
                for _ in range(args.repeat):
                    with ImageFetcher(gateway, settings, fhir_base_url=fhir.base_url) as fetcher:
                        start = time.perf_counter()
                        results = [fetcher.fetch_for_patient(p) for p in refs]
                        timings.append(time.perf_counter() - start)
                    n = sum(len(r.images) for r in results)
                    nbytes = sum(i.rgb.nbytes for r in results for i in r.images)
                    errors = sum(len(r.errors) for r in results)
                best = min(timings)
                median_ms = 1000 * statistics.median(timings) / max(n, 1)
                print(
                    f"{ts:<20} {mode:<9} {n:>6} {1000 * best / max(n, 1):>9.1f} "
                    f"{nbytes / best / 1e6:>11.1f}   (median {median_ms:.1f} ms; errors {errors})"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
