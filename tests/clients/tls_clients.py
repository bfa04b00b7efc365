#!/usr/bin/env python3
"""Clients of a server over TLS (`serve --tls-cert --tls-key`), trusting
only the test's own CA.

`clients`: what Apple's CalendarAgent does as a TLS client (TLS 1.2 at
most here, Apple's ECDHE AES-GCM and ChaCha20 suites, ALPN offering h2
before http/1.1, its User-Agent) through discovery from the bare URL, a
PUT and a GET; then python caldav (TLS 1.3) through principal, calendars,
save and read back; then a client that offers only TLS 1.1 or older must
be refused.

`fingerprint`: prints the certificate a new connection gets.

`reload`: opens a kept-alive connection and asks once, prints "opened"
and the certificate's SHA-256, waits for a line on stdin (the test
replaces the files and sends SIGHUP), asks again on the same connection,
then on a new one, and prints the new connection's certificate.

Exits 0 after printing "tls_clients: PASS"; on a mismatch prints
"tls_clients: FAIL: <what>" and exits 1.
"""

import argparse
import base64
import hashlib
import http.client
import socket
import ssl
import sys
import time
import uuid

sys.dont_write_bytecode = True

NAME = "tls_clients"
APPLE_CIPHERS = ":".join([
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-RSA-CHACHA20-POLY1305",
])
APPLE_AGENT = "macOS/15.1 (24B83) CalendarAgent/1040"


def fail(message):
    print(f"{NAME}: FAIL: {message}", flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def context(ca, tls12_only=False):
    ctx = ssl.create_default_context(cafile=ca)
    if tls12_only:
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(APPLE_CIPHERS)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def wait_ready(host, port, ca):
    deadline = time.time() + 60
    while True:
        try:
            conn = http.client.HTTPSConnection(host, port, context=context(ca), timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        if time.time() > deadline:
            fail("the server never became ready over TLS")
        time.sleep(0.1)


def fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def apple(host, port, ca, user, password):
    conn = http.client.HTTPSConnection(host, port, context=context(ca, tls12_only=True), timeout=30)
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def ask(method, path, body=None, headers=None, authorised=True):
        h = {"User-Agent": APPLE_AGENT, "Accept": "*/*"}
        if authorised:
            h["Authorization"] = auth
        if body is not None:
            h["Content-Type"] = "text/xml" if body.startswith("<") else "text/calendar"
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()

    propfind = ('<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:"><A:prop>'
                '<A:current-user-principal/><A:principal-URL/><A:resourcetype/></A:prop></A:propfind>')
    status, headers, _ = ask("PROPFIND", "/.well-known/caldav", propfind, {"Depth": "0"}, authorised=False)
    check(status in (301, 302, 401), f"well-known: {status}")
    check(conn.sock.version() == "TLSv1.2", f"negotiated {conn.sock.version()}, not TLS 1.2")
    check(conn.sock.selected_alpn_protocol() == "http/1.1",
          f"ALPN chose {conn.sock.selected_alpn_protocol()!r}, not http/1.1")
    check(conn.sock.cipher()[0] in APPLE_CIPHERS.split(":"), f"cipher {conn.sock.cipher()}")
    status, _, body = ask("PROPFIND", "/", propfind, {"Depth": "0"})
    check(status == 207, f"PROPFIND /: {status} {body[:200]}")
    check("current-user-principal" in body and "/dav/principals/" in body,
          f"no principal in {body[:300]}")
    home = ('<?xml version="1.0" encoding="UTF-8"?><A:propfind xmlns:A="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><A:prop><C:calendar-home-set/></A:prop></A:propfind>')
    principal = body.split("/dav/principals/", 1)[1].split("<", 1)[0]
    status, _, body = ask("PROPFIND", f"/dav/principals/{principal}", home, {"Depth": "0"})
    check(status == 207 and "calendar-home-set" in body, f"home set: {status} {body[:300]}")
    status, _, body = ask("PROPFIND", f"/dav/calendars/{principal}", propfind, {"Depth": "1"})
    check(status == 207, f"calendar home: {status}")
    uid = str(uuid.uuid4())
    event = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//macOS 15.1//EN\r\n"
             f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T090000Z\r\n"
             "DTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\nSUMMARY:Over TLS\r\n"
             "END:VEVENT\r\nEND:VCALENDAR\r\n")
    path = f"/dav/calendars/{principal}default/{uid}.ics"
    status, headers, body = ask("PUT", path, event, {"If-None-Match": "*"})
    check(status == 201, f"PUT: {status} {body[:200]}")
    status, _, body = ask("GET", path)
    check(status == 200 and "Over TLS" in body, f"GET: {status}")
    print("ok: Apple-like client over TLS 1.2", flush=True)


def python_caldav(url, ca, user, password):
    import caldav

    client = caldav.DAVClient(url=url, username=user, password=password, ssl_verify_cert=ca,
                              timeout=30)
    principal = client.principal()
    calendars = principal.calendars()
    check(calendars, "python caldav found no calendar")
    uid = str(uuid.uuid4())
    saved = calendars[0].save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//reprise//tls//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261201T090000Z\r\n"
        "DTSTART:20261211T090000Z\r\nSUMMARY:caldav over TLS\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    again = calendars[0].event_by_uid(uid)
    check("caldav over TLS" in again.data, "python caldav read back something else")
    check(saved is not None, "python caldav saved nothing")
    print(f"ok: python caldav {caldav.__version__} over TLS", flush=True)


def old_tls_refused(host, port, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca)
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pass
    try:
        with socket.create_connection((host, port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                fail(f"a TLS 1.1 client was served ({tls.version()})")
    except (ssl.SSLError, ConnectionResetError):
        print("ok: TLS 1.1 and older refused", flush=True)


def reload(host, port, ca):
    conn = http.client.HTTPSConnection(host, port, context=context(ca), timeout=30)
    conn.request("GET", "/healthz")
    check(conn.getresponse().read() == b"ok\n", "healthz")
    print("opened", fingerprint(conn.sock), flush=True)
    sys.stdin.readline()
    conn.request("GET", "/healthz")
    check(conn.getresponse().read() == b"ok\n", "the open connection failed after the reload")
    fresh = http.client.HTTPSConnection(host, port, context=context(ca), timeout=30)
    fresh.request("GET", "/healthz")
    check(fresh.getresponse().read() == b"ok\n", "a new connection failed after the reload")
    print("kept", fingerprint(conn.sock), flush=True)
    print("new", fingerprint(fresh.sock), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["clients", "reload", "fingerprint"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="alice-secret")
    args = p.parse_args()
    host = "localhost"
    wait_ready(host, args.port, args.ca)
    if args.mode == "clients":
        apple(host, args.port, args.ca, args.user, args.password)
        python_caldav(f"https://{host}:{args.port}/", args.ca, args.user, args.password)
        old_tls_refused(host, args.port, args.ca)
    elif args.mode == "reload":
        reload(host, args.port, args.ca)
    else:
        conn = http.client.HTTPSConnection(host, args.port, context=context(args.ca), timeout=30)
        conn.request("GET", "/healthz")
        check(conn.getresponse().read() == b"ok\n", "healthz")
        print("new", fingerprint(conn.sock), flush=True)
    print(f"{NAME}: PASS", flush=True)


if __name__ == "__main__":
    main()
