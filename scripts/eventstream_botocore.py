"""Decodes an AWS event stream (a file of raw response bytes) with botocore's own parser,
EventStreamBuffer, fed in 7-byte pieces so frames straddle the pieces; it checks the prelude and
message CRCs and raises on any mismatch. Prints the messages as JSON: [{headers, payload}]."""
import json
import sys

from botocore.eventstream import EventStreamBuffer


def main():
    data = open(sys.argv[1], "rb").read()
    buffer = EventStreamBuffer()
    out = []
    for i in range(0, len(data), 7):
        buffer.add_data(data[i : i + 7])
        for message in buffer:
            out.append({"headers": dict(message.headers), "payload": message.payload.decode("utf-8")})
    print(json.dumps(out))


main()
