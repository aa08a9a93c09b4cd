"""Signs each request of a JSON case file with botocore's own SigV4Auth and compares the
Authorization header with the one tollgate computed (tests/sigv4_botocore.rs writes the file).

botocore's add_auth reads the clock; this runs the same steps with the case's fixed
timestamp: _modify_request_before_signing (X-Amz-Date, X-Amz-Security-Token), canonical_request,
string_to_sign, signature. Prints one line per mismatch; exit status 1 if any.
"""
import json
import sys

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def botocore_authorization(case):
    request = AWSRequest(method=case["method"], url="https://" + case["host"] + case["path"], data=bytes.fromhex(case["body_hex"]))
    credentials = Credentials(case["access_key_id"], case["secret_access_key"], case.get("session_token"))
    auth = SigV4Auth(credentials, case["service"], case["region"])
    request.context["timestamp"] = case["amz_date"]
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    auth._inject_signature_to_request(request, signature)
    return request.headers["Authorization"], canonical


def main():
    cases = json.load(open(sys.argv[1]))
    bad = 0
    for case in cases:
        got, canonical = botocore_authorization(case)
        if got != case["authorization"]:
            bad += 1
            print(f"MISMATCH {case['name']}:\n botocore {got}\n tollgate {case['authorization']}\n canonical (botocore):\n{canonical}")
    print(f"{len(cases) - bad}/{len(cases)} signatures match botocore")
    sys.exit(1 if bad else 0)


main()
