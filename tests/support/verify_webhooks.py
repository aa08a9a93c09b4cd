"""Verifies alert webhook deliveries with the Standard Webhooks reference library (PyPI
`standardwebhooks`), independently of tollgate's own signing code.

stdin: a JSON list of {"headers": {...}, "body": "<raw body>"}; argv[1]: the `whsec_` secret.
Prints one line per delivery, "ok <type>" or "bad <error>", and exits 1 if any is bad."""
import json
import sys

from standardwebhooks.webhooks import Webhook

hook = Webhook(sys.argv[1])
bad = 0
for d in json.load(sys.stdin):
    try:
        payload = hook.verify(d["body"], d["headers"])
        print("ok", payload["type"])
    except Exception as e:  # noqa: BLE001 - any failure to verify is reported
        bad += 1
        print("bad", repr(e))
sys.exit(1 if bad else 0)
