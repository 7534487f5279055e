#!/usr/bin/env python3
"""A webhook receiver for the example of docs/automations-as-code.md, Python 3 standard library only.

Usage: CI_SIGNING=<the secret's value> python3 receiver.py PORT   (0: any free port; the port is printed on stderr)

Verifies the Standard Webhooks signature of each POST (docs/webhooks.md): webhook-signature holds
"v1,<base64 HMAC-SHA256 of '{webhook-id}.{webhook-timestamp}.{body}'>"; the key is the base64-decoded part after
"whsec_" when the secret starts so, else the secret's UTF-8 bytes. Prints "<path> signature ok: <body>" or
"<path> signature BAD" and answers 204 (401 when the signature is bad, so the sender retries and it shows).
"""
import base64
import hashlib
import hmac
import http.server
import os
import sys
import time


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()


def verified(secret: str, headers, body: bytes) -> bool:
    msg_id, ts, sig = headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature")
    if not (msg_id and ts and sig) or not ts.isdigit() or abs(time.time() - int(ts)) > 300:  # refuse replays older than 5 minutes
        return False
    mac = hmac.new(signing_key(secret), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    # The header may carry several signatures separated by spaces (one per key during a rotation).
    return any(hmac.compare_digest(expected, s) for s in sig.split(" "))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = verified(os.environ["CI_SIGNING"], self.headers, body)
        print(f"{self.path} signature ok: {body.decode()}" if ok else f"{self.path} signature BAD", flush=True)
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    if len(sys.argv) != 2 or "CI_SIGNING" not in os.environ:
        sys.exit("usage: CI_SIGNING=<secret value> python3 receiver.py PORT")
    server = http.server.ThreadingHTTPServer(("", int(sys.argv[1])), Handler)
    print(f"receiver.py listening on port {server.server_address[1]}", file=sys.stderr, flush=True)
    server.serve_forever()
