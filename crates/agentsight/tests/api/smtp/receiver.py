"""A real SMTP receiver for the API tests (aiosmtpd): STARTTLS required, AUTH required (one
user), every accepted message written to OUT_DIR as JSON (envelope, subject, Message-ID, the
decoded text and HTML parts, the inline parts, whether the session was under TLS and who
authenticated) and as the raw message (NNNN.eml).

    python receiver.py PORT CERT KEY USER PASSWORD OUT_DIR [STALL_FIRST_RCPT]

With a last argument `stall`, the first RCPT TO is never answered (the sender hangs mid-send
until it is killed) and OUT_DIR/stalled is written when it arrives.

Prints READY once it accepts connections; runs until killed.
"""
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out = sys.argv[1:7]
stall = sys.argv[7:8] == ["stall"]
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and auth_data.password == password.encode()
    # handled=False: aiosmtpd answers 535 itself on a failure.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Handler:
    def __init__(self):
        self.n = 0
        self.stalled = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if stall and not self.stalled:
            self.stalled = True
            open(os.path.join(out, "stalled"), "w").close()
            await asyncio.sleep(3600)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        inline = [
            {"content_id": p["content-id"], "content_type": p.get_content_type(), "size": len(p.get_content())}
            for p in msg.walk()
            if p["content-id"] is not None
        ]
        self.n += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": msg["subject"],
            "from": msg["from"],
            "to": msg["to"],
            "text": body.get_content() if body is not None else None,
            "html": html.get_content() if html is not None else None,
            "message_id": msg["message-id"],
            "inline": inline,
            "tls": session.ssl is not None,
            "auth_user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
        }
        tmp = os.path.join(out, f".{self.n}.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        with open(os.path.join(out, f"{self.n:04d}.eml"), "wb") as f:
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(out, f"{self.n:04d}.json"))
        return "250 OK"


controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=int(port),
    tls_context=ctx,
    require_starttls=True,
    authenticator=authenticator,
    auth_required=True,
)
controller.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
