"""Raw WebDAV over the standard library, shared by the client scripts.

The client libraries under test do their own discovery; this module is the
independent view of the server the scripts check them against: discovery
from the bare server URL (current-user-principal, then the home sets), raw
PUT/GET/DELETE with preconditions, and listing a collection's items.
Nothing here knows reprise's URL layout.
"""

import argparse
import base64
import http.client
import shutil
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"


class Mismatch(AssertionError):
    """What the server did differs from what the script expected."""


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def fail_main(name, body):
    """Runs body(); on an expected-outcome mismatch prints one clear line
    and exits 1, on anything else lets the traceback show."""
    try:
        body()
    except Mismatch as e:
        print(f"{name}: FAIL: {e}", flush=True)
        sys.exit(1)


def client_arguments(doc):
    """The arguments every client script takes (the server and the account,
    and the seconds per HTTP request); a script adds its own, then parses."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="bare server URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--timeout", type=int, default=30, help="seconds per HTTP request")
    return p


def main_in_temp_dir(name, prefix, keep, body):
    """fail_main(name, body(tmp)) in a new temporary directory, removed on
    success unless `keep`, kept (and said) otherwise."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    ok = False
    try:
        fail_main(name, lambda: body(tmp))
        ok = True
    finally:
        if ok and not keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"(kept {tmp})", flush=True)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<{self.status} {self.text[:300]!r}>"


class Dav:
    def __init__(self, url, user, password, timeout=30):
        parsed = urllib.parse.urlsplit(url)
        check(parsed.scheme == "http", f"only http:// URLs are supported, got {url}")
        self.base = url.rstrip("/")
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.timeout = timeout
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth = f"Basic {token}"

    def absolute(self, href):
        """A full URL for an href (absolute path or URL)."""
        return urllib.parse.urljoin(self.base + "/", str(href))

    def path(self, href):
        return urllib.parse.urlsplit(self.absolute(href)).path or "/"

    def request(self, method, href, body=None, headers=None, follow=True):
        headers = dict(headers or {})
        headers.setdefault("Authorization", self.auth)
        if isinstance(body, str):
            body = body.encode("utf-8")
        path = self.path(href)
        for _ in range(5):
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                conn.request(method, urllib.parse.quote(path, safe="/@%:+,;=!$&'()*~"), body=body, headers=headers)
                r = conn.getresponse()
                resp = Response(r.status, r.getheaders(), r.read())
            finally:
                conn.close()
            if follow and resp.status in (301, 302, 307, 308) and resp.header("Location"):
                path = self.path(resp.header("Location"))
                continue
            return resp
        raise Mismatch(f"{method} {href}: too many redirects")

    def propfind(self, href, props, depth="0"):
        """{href path: {prop tag: element}} for the props found (200)."""
        body = '<?xml version="1.0" encoding="utf-8"?>\n<d:propfind xmlns:d="DAV:" ' \
               'xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="urn:ietf:params:xml:ns:carddav">' \
               "<d:prop>" + "".join(props) + "</d:prop></d:propfind>"
        r = self.request("PROPFIND", href, body,
                         {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"})
        check(r.status == 207, f"PROPFIND {href} (Depth {depth}): expected 207, got {r}")
        out = {}
        for response in ET.fromstring(r.body).iter(DAV + "response"):
            h = response.find(DAV + "href")
            check(h is not None and h.text, f"PROPFIND {href}: a response without href")
            found = {}
            for propstat in response.iter(DAV + "propstat"):
                status = propstat.findtext(DAV + "status") or ""
                if " 200 " not in status + " ":
                    continue
                for prop in propstat.iter(DAV + "prop"):
                    for child in prop:
                        found[child.tag] = child
            out[urllib.parse.unquote(self.path(h.text.strip()))] = found
        return out

    def one_href(self, href, prop_xml, tag):
        """The href inside property `tag` of `href` (Depth 0)."""
        props = self.propfind(href, [prop_xml])
        for found in props.values():
            el = found.get(tag)
            if el is not None:
                inner = el.find(DAV + "href")
                if inner is not None and inner.text:
                    return self.path(inner.text.strip())
        raise Mismatch(f"PROPFIND {href}: no {tag} in {props}")

    def principal(self):
        return self.one_href("/", "<d:current-user-principal/>", DAV + "current-user-principal")

    def collections(self, kind):
        """{last path segment: path} of the calendars ("caldav") or
        address books ("carddav") in the principal's home set."""
        if kind == "caldav":
            home_prop, home_tag, rtype = "<c:calendar-home-set/>", CALDAV + "calendar-home-set", CALDAV + "calendar"
        else:
            home_prop, home_tag, rtype = "<a:addressbook-home-set/>", CARDDAV + "addressbook-home-set", CARDDAV + "addressbook"
        home = self.one_href(self.principal(), home_prop, home_tag)
        out = {}
        for href, props in self.propfind(home, ["<d:resourcetype/>"], depth="1").items():
            rt = props.get(DAV + "resourcetype")
            if rt is not None and rt.find(rtype) is not None:
                out[href.rstrip("/").rsplit("/", 1)[-1]] = href if href.endswith("/") else href + "/"
        return out

    def collection(self, kind, name):
        found = self.collections(kind)
        check(name in found, f"no {kind} collection named {name!r} in the home set: {sorted(found)}")
        return found[name]

    def items(self, collection):
        """{href path: etag} of the non-collection members of a collection."""
        listing = self.propfind(collection, ["<d:getetag/>", "<d:resourcetype/>"], depth="1")
        out = {}
        for href, props in listing.items():
            rt = props.get(DAV + "resourcetype")
            if href.rstrip("/") == collection.rstrip("/") or (rt is not None and rt.find(DAV + "collection") is not None):
                continue
            etag = props.get(DAV + "getetag")
            check(etag is not None and etag.text, f"{href}: PROPFIND gave no getetag")
            out[href] = etag.text.strip()
        return out

    def put(self, href, body, content_type, if_match=None, if_none_match=None):
        headers = {"Content-Type": content_type}
        if if_match:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        return self.request("PUT", href, body, headers)

    def get(self, href):
        return self.request("GET", href)

    def delete(self, href, if_match=None):
        return self.request("DELETE", href, headers={"If-Match": if_match} if if_match else None)


def unfold(text):
    """Content lines of an iCalendar or vCard text, unfolded."""
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def prop(text, name):
    """The value of the first property `name` (ignoring parameters), with
    the TEXT backslash escapes undone."""
    for line in unfold(text):
        key, _, value = line.partition(":")
        if key.split(";", 1)[0].upper() == name.upper():
            out, i = [], 0
            while i < len(value):
                if value[i] == "\\" and i + 1 < len(value):
                    out.append("\n" if value[i + 1] in "nN" else value[i + 1])
                    i += 2
                else:
                    out.append(value[i])
                    i += 1
            return "".join(out)
    return None
