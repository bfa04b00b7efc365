"""An SMTP server for tests/it/imip.rs: aiosmtpd on 127.0.0.1:PORT that
writes every message it accepts into DIR before answering it, as
NNNN.eml (the bytes received) and NNNN.json (envelope, headers and
parts as Python's email package reads them). Each file appears whole
(written aside, then renamed).

With --stall-first SECONDS it waits that long after storing the first
message before answering 250: a sender killed meanwhile has sent a mail
it could not record as sent.

With --login USER --password PASSWORD it takes mail only from a client
that authenticated as that user (AUTH PLAIN or LOGIN, offered without
TLS: the tests run on 127.0.0.1), and answers any other login 535.

Runs until killed.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import signal
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out, stall_first):
        self.out = out
        self.stall_first = stall_first
        self.count = 0

    def write(self, name, data):
        tmp = os.path.join(self.out, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(self.out, name))

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append(
                {
                    "content_type": str(part.get("Content-Type", "")),
                    "text": part.get_content(),
                }
            )
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg.get("From", "")),
            "to": str(msg.get("To", "")),
            "subject": str(msg.get("Subject", "")),
            "message_id": str(msg.get("Message-ID", "")),
            "content_type": str(msg.get("Content-Type", "")),
            "parts": parts,
        }
        self.write(f"{n:04}.eml", raw)
        self.write(f"{n:04}.json", json.dumps(record).encode())
        if n == 1 and self.stall_first > 0:
            await asyncio.sleep(self.stall_first)
        return "250 OK"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--stall-first", type=float, default=0)
    parser.add_argument("--login")
    parser.add_argument("--password")
    args = parser.parse_args()
    smtp_parameters = {}
    if args.login is not None:

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == args.login.encode()
                and auth_data.password == args.password.encode()
            )
            # Not handled: aiosmtpd answers 535 itself.
            return AuthResult(success=ok, handled=False)

        smtp_parameters = {
            "authenticator": authenticator,
            "auth_required": True,
            "auth_require_tls": False,
        }
    controller = Controller(
        Sink(args.dir, args.stall_first),
        hostname="127.0.0.1",
        port=args.port,
        **smtp_parameters,
    )
    controller.start()
    # Listening: the test waits for this file.
    with open(os.path.join(args.dir, ".ready"), "w") as f:
        f.write("ready\n")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(1):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
