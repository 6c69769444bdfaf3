"""Run the test EHR by hand: `python -m plugin.local_servers.test_ehr --fhir-upstream URL
--client-id deepdr --launch-uri http://127.0.0.1:8000/smart/launch --redirect-uri ...`.
Prints the EHR home page (patients with a launch button) and the `iss`; Ctrl-C stops it."""

from __future__ import annotations

import argparse
import sys
import threading

from pydantic import ValidationError

from plugin.local_servers.test_ehr.config import RegisteredClient, TestEhrSettings
from plugin.local_servers.test_ehr.server import LocalTestEhr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plugin.local_servers.test_ehr")
    parser.add_argument("--fhir-upstream", required=True, help="FHIR base URL behind the EHR")
    parser.add_argument("--client-id", default="deepdr-fhir")
    parser.add_argument("--launch-uri", required=True, help="the app's SMART launch URL")
    parser.add_argument("--redirect-uri", required=True, help="the app's redirect URI")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="access token seconds")
    args = parser.parse_args(argv)
    try:
        settings = TestEhrSettings(
            fhir_upstream=args.fhir_upstream,
            access_token_lifetime_s=args.token_lifetime,
            clients=(
                RegisteredClient(
                    client_id=args.client_id,
                    name="DeepDR-FHIR",
                    redirect_uris=(args.redirect_uri,),
                    launch_uri=args.launch_uri,
                ),
            ),
        )
    except ValidationError as exc:
        reason = "; ".join(str(e["msg"]) for e in exc.errors())
        print(f"test EHR: invalid settings: {reason}", file=sys.stderr)
        return 2
    with LocalTestEhr(settings) as ehr:
        print(f"Test EHR:  {ehr.base_url}/  (open it, pick a patient, press the app's button)")
        print(f"FHIR iss:  {ehr.fhir_base_url}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
