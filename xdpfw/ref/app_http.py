"""Reference HTTP/1.x decoder: the buffers and events of xdpfw/_fast/app_http.pyx (whose
rules docs/APP_HTTP.md states) computed from the whole byte stream of each direction.

Written the plain way, for the differential tests: the stream is in memory, a line is
found with bytes.find, a field is a slice, a normalisation is a function of a string.
Nothing is incremental, so a split cannot matter here. Stdlib only; slow; never on the
data path.

    decode(to_server, to_client) -> Result(instances={0: [...], 1: [...]},
                                           events={0: [...], 1: [...]})

Instances are (buffer name, bytes) per direction in the order they complete; events are
names in stream order of their direction (tests compare them as multisets: the order of
two events raised by one byte is an implementation detail).

The two directions meet in two places, and there the order in which the bytes of the two
directions arrived matters (a decoder that keeps no stream cannot wait): a response is
matched with the oldest request whose request line had arrived before it (for HEAD,
CONNECT and HTTP/0.9), and once a CONNECT is answered 2xx or a 101 arrives the request
side stops at its next message boundary. `server_at(y)` says how many to_server bytes had
arrived when to_client byte y did; by default all of them (requests first).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

LINE_MAX = 8192
MAX_HEADERS = 1024
WS_MAX = 64
CL_DIGITS = 18
CHUNK_DIGITS = 16

KIND_OTHER, KIND_HEAD, KIND_CONNECT, KIND_09 = 0, 1, 2, 3

TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
WS = frozenset(b" \t")
HEX = frozenset(b"0123456789abcdefABCDEF")

# Known header (lower case) -> the buffer of its value, per direction.
REQUEST_HEADERS = {
    b"host": "http.host.raw", b"user-agent": "http.user_agent", b"cookie": "http.cookie",
    b"content-type": "http.content_type", b"content-length": "http.content_len",
    b"referer": "http.referer", b"accept": "http.accept", b"accept-encoding": "http.accept_enc",
    b"accept-language": "http.accept_lang", b"connection": "http.connection",
    b"transfer-encoding": None,
}
RESPONSE_HEADERS = {
    b"set-cookie": "http.cookie", b"content-type": "http.content_type",
    b"content-length": "http.content_len", b"location": "http.location", b"server": "http.server",
    b"transfer-encoding": None,
}


class GiveUp(Exception):
    """The direction cannot be followed: the event was reported, instances are closed."""


@dataclass
class Result:
    instances: dict = field(default_factory=lambda: {0: [], 1: []})
    events: dict = field(default_factory=lambda: {0: [], 1: []})


# ---------------------------------------------------------------------------------------
# Normalisations (functions of whole strings)

def host_norm(value: bytes) -> tuple[bytes, bool]:
    """http.host from a Host value or an authority: lower case, the port cut at the first
    ':' outside [...], trailing dots dropped. Also whether the port is malformed (not
    digits, or a number outside 1..65535)."""
    out, bracket = bytearray(), False
    host = value
    port = None
    for i, ch in enumerate(value):
        if ch == 0x5B:
            bracket = True
        elif ch == 0x5D:
            bracket = False
        elif ch == 0x3A and not bracket:
            host, port = value[:i], value[i + 1:]
            break
    out = bytearray(host.rstrip(b".").lower())
    bad = False
    if port is not None and port:
        bad = not port.isdigit() or int(port) == 0 or int(port) > 65535
    return bytes(out), bad


def pct_decode(path: bytes, keep_slash: bool = False) -> tuple[bytes, bool]:
    """%XX -> byte; a '%' not followed by two hex digits stays as it is; with keep_slash
    (the path: libhtp decodes no path separator by default) %2F stays as sent."""
    out, bad, i = bytearray(), False, 0
    while i < len(path):
        if path[i] == 0x25:
            if i + 2 < len(path) + 0 and path[i + 1] in HEX and path[i + 2] in HEX:
                v = int(path[i + 1:i + 3], 16)
                out += path[i:i + 3] if keep_slash and v == 0x2F else bytes([v])
                i += 3
                continue
            bad = True
        out.append(path[i])
        i += 1
    return bytes(out), bad


def path_norm(path: bytes, relative: bool) -> tuple[bytes, set]:
    """The path part of http.uri: %XX decoded but %2F kept, '\\' and empty segments kept,
    "." segments dropped, ".." dropped while no segment was reported, kept (with an
    event) after."""
    events = set()
    dec, bad = pct_decode(path, keep_slash=True)
    if bad:
        events.add("http.uri_invalid_encoding")
    out = bytearray()
    segs = dec.split(b"/")
    if not relative:
        out += b"/"
        segs = segs[1:]
    reported = 0
    for k, seg in enumerate(segs):
        last = k == len(segs) - 1
        if seg == b".":
            continue
        if seg == b"..":
            if reported == 0:
                continue
            events.add("http.uri_dot_dot_segment")
        elif seg:
            reported += 1
        out += seg
        if not last:
            out += b"/"
    return bytes(out), events


def query_norm(query: bytes) -> tuple[bytes, set]:
    """The query part of http.uri (from the '?'): every %XX decoded, '+' kept."""
    dec, bad = pct_decode(query)
    return dec, {"http.uri_invalid_encoding"} if bad else set()


def uri_norm(raw: bytes, kind: int):
    """(http.uri, [(http.host, http.host.raw, port_bad)], events) of a request target."""
    if kind == KIND_CONNECT:
        norm, bad = host_norm(raw)
        hraw = raw
        bracket = False
        for i, ch in enumerate(raw):
            if ch == 0x5B:
                bracket = True
            elif ch == 0x5D:
                bracket = False
            elif ch == 0x3A and not bracket:
                hraw = raw[:i]
                break
        return raw, [(norm, hraw, bad)], set()
    low = raw.lower()
    start = 7 if low.startswith(b"http://") else 8 if low.startswith(b"https://") else None
    if start is None:
        qpos = raw.find(b"?")
        path, query = (raw, b"") if qpos < 0 else (raw[:qpos], raw[qpos:])
        p, ev = path_norm(path, relative=not raw.startswith(b"/"))
        q, qev = query_norm(query)
        return p + q, [], ev | qev
    rest = raw[start:]
    ends = [i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0]
    aend = min(ends) if ends else len(rest)
    authority, tail = rest[:aend], rest[aend:]
    events = set()
    parts = authority.split(b"@")
    if len(parts) > 1:
        events.add("http.uri_userinfo")
    hosts = []
    for k, part in enumerate(parts):
        norm, bad = host_norm(part)
        hraw = part
        bracket = False
        for i, ch in enumerate(part):
            if ch == 0x5B:
                bracket = True
            elif ch == 0x5D:
                bracket = False
            elif ch == 0x3A and not bracket:
                hraw = part[:i]
                break
        hosts.append((norm, hraw, bad and k == len(parts) - 1))
    if tail.startswith(b"/"):
        qpos = tail.find(b"?")
        path, query = (tail, b"") if qpos < 0 else (tail[:qpos], tail[qpos:])
        p, ev = path_norm(path, relative=False)
        q, qev = query_norm(query)
        return p + q, hosts, events | ev | qev
    q, qev = query_norm(tail)
    return b"/" + q, hosts, events | qev


def ws_norm(value: bytes) -> tuple[bytes, int]:
    """Inner whitespace runs kept up to WS_MAX bytes; returns the number of runs cut."""
    cut = 0

    def one(m):
        nonlocal cut
        if len(m.group(0)) > WS_MAX:
            cut += 1
            return m.group(0)[:WS_MAX]
        return m.group(0)
    return re.sub(rb"[ \t]+", one, value), cut


# ---------------------------------------------------------------------------------------
# One direction

class _Dir:
    def __init__(self, data: bytes, direction: int, pushes=None, server_at=None, stop_at=None):
        self.data = data
        self.dir = direction
        self.pushes = pushes            # response side: (to_server offset, kind) per request line
        self.server_at = server_at      # response side: to_client offset -> to_server bytes seen
        self.stop_at = stop_at          # request side: the tunnel began when this many bytes were read
        self.inst: list = []
        self.ev: list = []
        self.pushes_out: list = []      # request side: (offset after the request line, kind)
        self.pos = 0
        self.popped = 0
        self.tunnel_y = None            # response side: to_client offset where the tunnel began

    # -- helpers -------------------------------------------------------------------
    def event(self, name):
        self.ev.append(name)

    def emit(self, buf, data):
        self.inst.append((buf, bytes(data)))

    def give_up(self, name=None, *closing):
        if name:
            self.event(name)
        for buf, data in closing:
            self.emit(buf, data)
        raise GiveUp

    def line(self, pos):
        """(content, position after the terminator, terminated) of the line at pos. A CR
        right before the LF belongs to the terminator; any other CR is content."""
        lf = self.data.find(b"\n", pos)
        if lf < 0:
            return self.data[pos:], len(self.data), False
        end = lf - 1 if lf > pos and self.data[lf - 1] == 0x0D else lf
        return self.data[pos:end], lf + 1, True

    def line_events(self, content, upto=None, lead=0):
        """Events of a line's bytes processed (the first `upto`): too long, bare CR."""
        n = len(content) if upto is None else upto
        if b"\r" in content[:n]:
            self.event("http.bare_cr")
        if lead + n > LINE_MAX:
            self.event(self._ev("field_too_long"))

    def _ev(self, what):
        return f"http.request_{what}" if self.dir == 0 else f"http.response_{what}"

    # -- driver --------------------------------------------------------------------
    def run(self):
        try:
            while self.pos < len(self.data):
                if self.dir == 0:
                    if self.stopped():
                        return
                    if not self.request():
                        return
                else:
                    if not self.response():
                        return
        except GiveUp:
            return

    def stopped(self):
        """Request side: at a message boundary after the tunnel began."""
        return self.stop_at is not None and self.pos >= self.stop_at

    def available(self, y):
        """Response side: requests whose line had arrived when to_client byte y did."""
        seen = self.server_at(y)
        return sum(1 for off, _ in self.pushes if off <= seen)

    def pop(self, y):
        """The kind of the request a final response at to_client byte y answers."""
        if self.popped < self.available(y):
            self.popped += 1
            return self.pushes[self.popped - 1][1]
        self.event("http.unable_to_match_response_to_request")
        return KIND_OTHER

    # -- requests --------------------------------------------------------------------
    def skip_empty(self, allow_ws):
        """Empty lines (and, before a request, SP/HT) before a message. Returns the
        line start, or None at the end of the data."""
        d, lead_ws = self.data, False
        line_start = self.pos
        while self.pos < len(d):
            if self.dir == 0 and self.stopped():
                return None
            c = d[self.pos]
            if c == 0x0A or (c == 0x0D and self.pos + 1 < len(d) and d[self.pos + 1] == 0x0A):
                if self.pos - line_start > LINE_MAX:        # a line of whitespace
                    self.event(self._ev("field_too_long"))
                self.pos += 1 if c == 0x0A else 2
                line_start = self.pos
            elif allow_ws and c in WS:
                if not lead_ws:
                    lead_ws = True
                    self.event("http.request_line_leading_whitespace")
                self.pos += 1
            else:
                return line_start
        if self.pos - line_start > LINE_MAX:
            self.event(self._ev("field_too_long"))
        return None

    def request(self) -> bool:
        d = self.data
        line_start = self.skip_empty(allow_ws=True)
        if line_start is None:
            return False
        lead = self.pos - line_start
        content, nxt, term = self.line(self.pos)
        if content[0] not in TCHAR:
            self.line_events(content, 1, lead)
            self.give_up("http.request_line_invalid")
        # method
        # the method: visible ASCII up to the whitespace (libhtp's), a non-token byte
        # in it reported
        j = 0
        while j < len(content) and 0x21 <= content[j] <= 0x7E:
            j += 1
        method = content[:j]
        if any(ch not in TCHAR for ch in method):
            self.event("http.request_line_invalid")
        if j == len(content):
            self.line_events(content, None if term else j, lead)
            if not term:
                self.event("http.request_line_incomplete")
                self.close_rl(method, content, end=True)
                return False
            self.give_up("http.request_line_invalid", ("http.method", method),
                         ("http.request_line", content), ("http.start", content))
        if content[j] not in WS:
            self.line_events(content, j + 1, lead)
            self.give_up("http.request_line_invalid", ("http.method", method),
                         ("http.request_line", content[:j]), ("http.start", content[:j]))
        if content[j] == 0x09:
            self.event("http.method_delim_non_compliant")
        kind = KIND_HEAD if method == b"HEAD" else KIND_CONNECT if method == b"CONNECT" else KIND_OTHER
        self.emit("http.method", method)
        k = j
        while k < len(content) and content[k] in WS:
            k += 1
        if k == len(content):       # no URI
            self.line_events(content, None, lead)
            if not term:
                self.event("http.request_line_incomplete")
                self.close_rl(None, content, end=True)
                return False
            self.give_up("http.request_line_invalid", ("http.request_line", content),
                         ("http.start", content))
        # The URI runs to the last whitespace run before a token starting "HTTP/" (a run
        # over WS_MAX bytes ends it anyway), as libhtp-rs (Suricata 8) reads it.
        u = k
        while True:
            while u < len(content) and content[u] not in WS:
                u += 1
            v = u
            while v < len(content) and content[v] in WS:
                v += 1
            if v == len(content) or v - u > WS_MAX or content[v:v + 5] == b"HTTP/":
                break
            u = v
        raw_uri = content[k:u]
        if u < len(content) and content[u] == 0x09:
            self.event("http.uri_delim_non_compliant")
        norm, hosts, uev = uri_norm(raw_uri, kind)
        for e in sorted(uev):
            self.event(e)
        for hn, hr, bad in hosts:
            if bad:
                self.event("http.invalid_authority_port")
            self.emit("http.host", hn)
            self.emit("http.host.raw", hr)
        self.emit("http.uri", norm)
        self.emit("http.uri.raw", raw_uri)
        uri_host = bool(hosts)
        v = u
        while v < len(content) and content[v] in WS:
            v += 1
        if v == len(content):       # HTTP/0.9: no protocol
            self.line_events(content, None, lead)
            if not term:
                self.event("http.request_line_incomplete")
                self.close_rl(None, content, end=True)
                return False
            self.emit("http.request_line", content)
            self.event("http.request_line_missing_protocol")
            self.pushes_out.append((nxt, KIND_09))
            self.emit("http.start", content + b"\r\n")
            self.pos = nxt
            return True
        w = v
        while w < len(content) and content[w] not in WS:
            w += 1
        proto = content[v:w]
        for i in range(min(5, len(proto))):
            if proto[i] != b"HTTP/"[i]:
                self.line_events(content, v + i + 1, lead)
                self.give_up("http.request_line_invalid", ("http.protocol", proto[:i]),
                             ("http.request_line", content[:v + i]), ("http.start", content[:v + i]))
        if len(proto) < 5:
            if w == len(content) and not term:
                self.line_events(content, None, lead)
                self.event("http.request_line_incomplete")
                self.emit("http.protocol", proto)
                self.close_rl(None, content, end=True)
                return False
            self.line_events(content, w + 1 if w < len(content) else None, lead)
            self.give_up("http.request_line_invalid", ("http.protocol", proto),
                         ("http.request_line", content[:w]), ("http.start", content[:w]))
        self.line_events(content, None, lead)
        valid = re.fullmatch(rb"HTTP/[0-9]\.[0-9]", proto) is not None
        tail_bad = content[w:].strip(b" \t") != b""
        proto_done = w < len(content) or term
        if (not valid and proto_done) or tail_bad:
            self.event("http.request_line_invalid")
        self.emit("http.protocol", proto)
        if not term:
            self.event("http.request_line_incomplete")
            self.close_rl(None, content, end=True)
            return False
        version = (proto[5] - 48) << 4 | (proto[7] - 48) if valid else 0
        self.emit("http.request_line", content)
        self.pushes_out.append((nxt, kind))
        self.pos = nxt
        start = bytearray(content + b"\r\n")
        ok = self.headers(start, uri_host=uri_host, version=version)
        if not ok:
            return False
        return self.body(kind=None)

    def close_rl(self, method, content, end):
        """The direction ended inside the request line."""
        if method is not None:
            self.emit("http.method", method)
        self.emit("http.request_line", content)
        self.emit("http.start", content)

    # -- headers ---------------------------------------------------------------------
    def headers(self, start: bytearray, uri_host=False, version=0) -> bool:
        """Header lines up to the empty line: reports the header buffers and sets
        self.msg (the framing facts). False if the direction ended inside them."""
        d = self.data
        table = REQUEST_HEADERS if self.dir == 0 else RESPONSE_HEADERS
        cookie = b"cookie" if self.dir == 0 else b"set-cookie"
        msg = {"cl": None, "cl_bad": False, "te": False, "te_tokens": [], "host_seen": False}
        self.msg = msg
        fields = []             # finished fields: (name, value, known)
        cur = None              # the field being read: [name, [value parts], known]
        raw_start = None
        count = 0
        pos = self.pos
        while True:
            content, nxt, term = self.line(pos)
            if content == b"":
                if cur is not None:
                    fields.append(self.finish(cur, uri_host))
                if not term:        # the data ends at the start of a line
                    self.header_buffers(fields, None, start, raw_start, len(d), uri_host, table,
                                        cookie, complete=False)
                    self.pos = len(d)
                    return False
                self.header_buffers(fields, None, start, raw_start, nxt, uri_host, table, cookie,
                                    complete=True)
                self.pos = nxt
                if self.dir == 0 and version == 0x11 and not msg["host_seen"] and not uri_host:
                    self.event("http.missing_host_header")
                return True
            if raw_start is None:
                raw_start = pos
            self.line_events(content)
            if content[0] in WS:                # a folded line
                if cur is not None:
                    self.event("http.obs_fold")
                    cur[1].append(self.value_of(content.lstrip(b" \t")))
                else:
                    self.event("http.invalid_request_field_folding" if self.dir == 0
                               else "http.invalid_response_field_folding")
            else:
                if cur is not None:
                    fields.append(self.finish(cur, uri_host))
                    cur = None
                count += 1
                if count == MAX_HEADERS + 1:
                    self.event(self._ev("too_many_headers"))
                colon = content.find(b":")
                if colon < 0 and not term:      # the data ends inside a name
                    name, cut, stripped = self.name_parts(content)
                    if any(ch not in TCHAR for ch in stripped):    # inner whitespace too
                        self.event(self._ev("header_invalid"))
                    for _ in range(cut):
                        self.event("http.whitespace_run_too_long")
                    self.header_buffers(fields, (name,), start, raw_start, len(d), uri_host, table,
                                        cookie, complete=False)
                    self.pos = len(d)
                    return False
                rawname = content if colon < 0 else content[:colon]
                name, cut, stripped = self.name_parts(rawname)
                if colon < 0:
                    self.event(self._ev("field_missing_colon"))
                if rawname != stripped or stripped == b"" or any(ch not in TCHAR for ch in stripped):
                    self.event(self._ev("header_invalid"))
                for _ in range(cut):
                    self.event("http.whitespace_run_too_long")
                known = None
                if colon >= 0 and stripped.lower() in table:
                    known = stripped.lower()
                if known == b"host":
                    if msg["host_seen"]:
                        self.event("http.host_header_ambiguous")
                    msg["host_seen"] = True
                value = b"" if colon < 0 else self.value_of(content[colon + 1:].lstrip(b" \t"))
                cur = [name, [value], known]
            if not term:            # the data ends inside this line: the value stays open
                name, parts, known = cur if cur is not None else (None, None, None)
                if cur is not None:
                    value = self.joined(parts)
                    if known == b"host" and not uri_host and host_norm(value)[1]:
                        self.event("http.request_header_host_invalid")
                    last = (name, value, known)
                else:
                    last = None
                self.header_buffers(fields, last, start, raw_start, len(d), uri_host, table, cookie,
                                    complete=False)
                self.pos = len(d)
                return False
            pos = nxt

    @staticmethod
    def joined(parts):
        value = parts[0]
        for p in parts[1:]:
            if p:
                value += b" " + p
        return value

    def finish(self, cur, uri_host):
        """A field whose line was not continued: its value and what it means."""
        name, parts, known = cur
        value = self.joined(parts)
        msg = self.msg
        if known == b"content-length":
            if re.fullmatch(rb"[0-9]{1,%d}" % CL_DIGITS, value):
                n = int(value)
                if msg["cl"] is None:
                    msg["cl"] = n
                elif n != msg["cl"]:
                    msg["cl_bad"] = True
                    self.event(self._ev_cl("duplicate_content_length_field"))
            else:
                msg["cl_bad"] = True
                self.event(self._ev_cl("invalid_content_length_field"))
        elif known == b"transfer-encoding":
            msg["te"] = True
            msg["te_tokens"] += [t for t in (x.strip(b" \t") for x in value.split(b",")) if t]
        elif known == b"host" and not uri_host and host_norm(value)[1]:
            self.event("http.request_header_host_invalid")
        return name, value, known

    def _ev_cl(self, what):
        return f"http.{what}_in_request" if self.dir == 0 else f"http.{what}_in_response"

    def name_parts(self, rawname: bytes):
        """(name as reported, whitespace runs cut, name without trailing whitespace)."""
        stripped = rawname.rstrip(b" \t")
        name, cut = ws_norm(stripped)
        return name, cut, stripped

    def value_of(self, v: bytes) -> bytes:
        out, cut = ws_norm(v.rstrip(b" \t"))
        for _ in range(cut):
            self.event("http.whitespace_run_too_long")
        return out

    def header_buffers(self, fields, last, start, raw_start, raw_end, uri_host, table, cookie,
                       complete):
        """Report the header buffers of a message: `fields` finished, `last` the field
        the data ended in ((name,) for a name without its colon yet, (name, value,
        known) for an unterminated value), `complete` when the empty line was read."""
        header = hnames = None
        singles: dict = {}
        hosts = []

        def value_buffers(value, known):
            if known == b"host":
                if not uri_host:
                    hosts.append(value)
            elif known is not None and table[known]:
                singles.setdefault(table[known], []).append(value)
        for name, value, known in fields:
            hnames = (hnames or bytearray(b"\r\n")) + name + b"\r\n"
            start += name + b": " + value + b"\r\n"
            if known != cookie:
                header = (header or bytearray()) + name + b": " + value + b"\r\n"
            value_buffers(value, known)
        if last is not None and len(last) == 1:
            hnames = (hnames or bytearray(b"\r\n")) + last[0]
            start += last[0]
            header = (header or bytearray()) + last[0]
        elif last is not None:
            name, value, known = last
            hnames = (hnames or bytearray(b"\r\n")) + name + b"\r\n"
            start += name + b": " + value
            if known != cookie:
                header = (header or bytearray()) + name + b": " + value
            value_buffers(value, known)
        if raw_start is not None:
            self.emit("http.header.raw", self.data[raw_start:raw_end])
        self.emit("http.start", start + (b"\r\n" if complete else b""))
        if header is not None:
            self.emit("http.header", header)
        if hnames is not None:
            self.emit("http.header_names", hnames + (b"\r\n" if complete else b""))
        if hosts:
            self.emit("http.host", b", ".join(host_norm(v)[0] for v in hosts))
            self.emit("http.host.raw", b", ".join(hosts))
        for buf, vals in singles.items():
            self.emit(buf, b", ".join(vals))

    # -- bodies ----------------------------------------------------------------------
    def body(self, kind) -> bool:
        """The body after the headers (kind: None for a request, else the kind of the
        request a response answers). False once the direction is over."""
        msg, d = self.msg, self.data
        names = ("http.request_body",) if self.dir == 0 else ("http.response_body", "file.data")
        chunked = msg["te"] and msg["te_tokens"] and msg["te_tokens"][-1].lower() == b"chunked"
        has_cl = msg["cl"] is not None
        if self.dir == 0:
            if msg["te"]:
                if not chunked:
                    self.give_up("http.invalid_transfer_encoding_value_in_request")
                if has_cl or msg["cl_bad"]:
                    self.event("http.content_length_and_chunked_in_request")
                return self.chunked(names)
            if msg["cl_bad"]:
                self.give_up()
            if has_cl and msg["cl"]:
                return self.identity(names, msg["cl"])
            return True
        st = self.status
        if kind == KIND_HEAD or st in (204, 304):
            return True
        if kind == KIND_CONNECT and 200 <= st < 300:
            self.tunnel_y = self.pos - 1
            return False
        if msg["te"]:
            if chunked:
                if has_cl or msg["cl_bad"]:
                    self.event("http.content_length_and_chunked_in_response")
                if self.version and self.version < 0x11:
                    self.event("http.response_chunked_old_proto")
                return self.chunked(names)
            self.event("http.invalid_transfer_encoding_value_in_response")
            return self.to_close(names)
        if msg["cl_bad"]:
            self.give_up()
        if has_cl:
            return self.identity(names, msg["cl"]) if msg["cl"] else True
        return self.to_close(names)

    def to_close(self, names):
        rest = self.data[self.pos:]
        if rest:
            for n in names:
                self.emit(n, rest)
        self.pos = len(self.data)
        return False

    def identity(self, names, n):
        part = self.data[self.pos:self.pos + n]
        if part:
            for b in names:
                self.emit(b, part)
        self.pos += len(part)
        return len(part) == n

    def chunked(self, names) -> bool:
        d = self.data
        body = bytearray()
        bad = "http.invalid_request_chunk_len" if self.dir == 0 else "http.invalid_response_chunk_len"

        def close():
            if body:
                for b in names:
                    self.emit(b, body)

        def fail(name):
            close()
            self.give_up(name)
        while True:
            content, nxt, term = self.line(self.pos)
            # the chunk-size line, byte by byte: hex digits, then SP/HT, then ';' ext
            digits, ws, ext_at = 0, False, None
            for i, ch in enumerate(content):
                if i == LINE_MAX:
                    if b"\r" in content[:i]:
                        self.event("http.bare_cr")
                    fail(self._ev("field_too_long"))
                if ch in HEX and not ws:
                    if digits == CHUNK_DIGITS:
                        if b"\r" in content[:i]:
                            self.event("http.bare_cr")
                        fail(bad)
                    digits += 1
                elif ch in WS and digits:
                    ws = True
                elif ch == 0x3B and digits:
                    ext_at = i
                    break
                else:
                    if ch == 0x0D:
                        self.event("http.bare_cr")
                    fail(bad)
            if ext_at is not None:
                self.event(self._ev("chunk_extension"))
                if b"\r" in content[ext_at:]:
                    self.event("http.bare_cr")
                if len(content) > LINE_MAX:
                    fail(self._ev("field_too_long"))
            if not term:
                close()
                self.pos = len(d)
                return False
            if digits == 0:
                fail(bad)
            size = int(content[:digits], 16)
            self.pos = nxt
            if size == 0:
                close()
                return self.trailer()
            part = d[self.pos:self.pos + size]
            body += part
            self.pos += len(part)
            if len(part) < size:
                close()
                return False
            # CRLF (or LF) right after the data
            if self.pos >= len(d):
                close()
                return False
            if d[self.pos] == 0x0A:
                self.pos += 1
            elif d[self.pos] == 0x0D and self.pos + 1 < len(d) and d[self.pos + 1] == 0x0A:
                self.pos += 2
            else:
                if d[self.pos] == 0x0D:
                    self.event("http.bare_cr")
                fail(bad)

    def trailer(self) -> bool:
        while True:
            content, nxt, term = self.line(self.pos)
            if content == b"" and term:
                self.pos = nxt
                return True
            self.line_events(content)
            self.pos = nxt
            if not term:
                return False

    # -- responses -------------------------------------------------------------------
    def response(self) -> bool:
        d = self.data
        if self.popped < self.available(self.pos) and self.pushes[self.popped][1] == KIND_09 and \
                not d.startswith(b"HTTP/", self.pos):     # else a status line, as libhtp reads it
            self.popped += 1
            return self.to_close(("http.response_body", "file.data"))
        line_start = self.skip_empty(allow_ws=False)
        if line_start is None:
            return False
        content, nxt, term = self.line(self.pos)
        if content[0] != 0x48:
            self.line_events(content, 1)
            self.give_up("http.response_invalid_protocol")
        w = 0
        while w < len(content) and content[w] not in WS:
            w += 1
        proto = content[:w]
        for i in range(min(5, len(proto))):
            if proto[i] != b"HTTP/"[i]:
                self.line_events(content, i + 1)
                self.give_up("http.response_invalid_protocol", ("http.protocol", proto[:i]),
                             ("http.response_line", content[:i]), ("http.start", content[:i]))
        if len(proto) < 5:
            if w == len(content) and not term:
                self.line_events(content)
                self.emit("http.protocol", proto)
                self.emit("http.response_line", content)
                self.emit("http.start", content)
                return False
            self.line_events(content, w + 1 if w < len(content) else None)
            self.give_up("http.response_invalid_protocol", ("http.protocol", proto),
                         ("http.response_line", content[:w]), ("http.start", content[:w]))
        self.line_events(content)
        valid = re.fullmatch(rb"HTTP/[0-9]\.[0-9]", proto) is not None
        self.emit("http.protocol", proto)
        if not valid and (w < len(content) or term):
            self.event("http.response_invalid_protocol")
        self.version = (proto[5] - 48) << 4 | (proto[7] - 48) if valid else 0
        k = w
        while k < len(content) and content[k] in WS:
            k += 1
        c = k
        while c < len(content) and content[c] not in WS:
            c += 1
        code = content[k:c]
        m = c
        while m < len(content) and content[m] in WS:
            m += 1
        msgtext = content[m:]
        if k < len(content):
            self.emit("http.stat_code", code)
        if not term:
            if c < len(content):
                if re.fullmatch(rb"[0-9]{3}", code) is None:
                    self.event("http.response_invalid_status")
            if m < len(content):
                self.emit("http.stat_msg", msgtext)
            self.emit("http.response_line", content)
            self.emit("http.start", content)
            return False
        if k == len(content) or re.fullmatch(rb"[0-9]{3}", code) is None:
            self.event("http.response_invalid_status")
            self.status = 0
        else:
            self.status = int(code)
        if k < len(content):
            self.emit("http.stat_msg", msgtext)
        self.emit("http.response_line", content)
        self.pos = nxt
        kind = KIND_OTHER
        if not 100 <= self.status < 200:
            kind = self.pop(nxt - 1)
        start = bytearray(content + b"\r\n")
        if not self.headers(start):
            return False
        if 100 <= self.status < 200:
            if self.status == 101:
                self.tunnel_y = self.pos - 1
                return False
            return True
        return self.body(kind)


def decode(to_server: bytes, to_client: bytes, server_at=None) -> Result:
    """Buffers and events of a flow whose directions carried these bytes (`server_at`:
    see the module docstring)."""
    if server_at is None:
        def server_at(y):
            return len(to_server)
    req = _Dir(to_server, 0)
    req.run()
    resp = _Dir(to_client, 1, pushes=req.pushes_out, server_at=server_at)
    resp.run()
    if resp.tunnel_y is not None:
        req = _Dir(to_server, 0, stop_at=server_at(resp.tunnel_y))
        req.run()
    res = Result()
    res.instances[0], res.events[0] = req.inst, req.ev
    res.instances[1], res.events[1] = resp.inst, resp.ev
    return res
