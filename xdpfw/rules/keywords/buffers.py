"""Inspection buffers: sticky buffer keywords, legacy content modifiers, ``pkt_data``.

A sticky buffer (``http.uri;``) sends every following content/pcre to that buffer
until another sticky buffer or ``pkt_data`` (which returns to the payload). A legacy
modifier (``content:"x"; http_uri;``) moves the one content before it; using one while
a sticky buffer is active is an error, as in Suricata. Underscore spellings that
Suricata treats as sticky (``file_data``, ``dns_query``, ``tls_sni``...) are aliases of
the dotted name.

:data:`BUFFERS` is the table; a row's ``supported`` flag is the one line to flip when
the engine learns that buffer. Rules using an unsupported buffer are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

from xdpfw.applayer import BUFFER_PROTO
from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value, doc
from xdpfw.rules.model import PAYLOAD

NAMES: tuple[str, ...]  # filled in below from BUFFERS
DESC = "select the buffer that following contents inspect"
DOC_URL = doc("buffers")

HTTP = frozenset({"ip", "tcp", "http", "http1", "http2"})
TLS = frozenset({"ip", "tcp", "tls"})
DNS = frozenset({"ip", "tcp", "udp", "dns"})
FILES = frozenset({"ip", "tcp", "udp", "http", "http1", "http2", "smtp", "ftp", "ftp-data",
                   "smb", "nfs", "imap", "pop3"})
SSH = frozenset({"ip", "tcp", "ssh"})
ANY_PROTO: frozenset[str] = frozenset()  # empty = no constraint


@dataclass(frozen=True, slots=True)
class Buffer:
    """One inspection buffer.

    ``app`` is the application protocol the buffer belongs to (None: several or
    none); ``protos`` the rule header protocols it is valid with (empty: any);
    ``lowercase`` marks buffers Suricata normalizes to lower case, where a pattern
    with upper-case letters needs ``nocase``.
    """

    name: str
    desc: str
    app: str | None
    protos: frozenset[str]
    supported: bool
    sticky_aliases: tuple[str, ...] = ()
    modifier: str | None = None
    lowercase: bool = False


def _app(name: str) -> str:
    """The protocol whose decoder produces the buffer (xdpfw_app.h XDPFW_APP_BUFFERS). Not
    used for file.data: one decoder (HTTP) produces it, but it belongs to several
    protocols (app None)."""
    return BUFFER_PROTO[name]


def _http(name: str, desc: str, supported: bool, modifier: str | None = None,
          aliases: tuple[str, ...] = (), lowercase: bool = False) -> Buffer:
    return Buffer(name, desc, _app(name), HTTP, supported, aliases, modifier, lowercase)


BUFFERS: tuple[Buffer, ...] = (
    Buffer(PAYLOAD, "packet or stream payload (resets a sticky buffer)", None, ANY_PROTO, True),
    _http("http.uri", "normalized HTTP request URI", True, "http_uri"),
    _http("http.uri.raw", "raw HTTP request URI", True, "http_raw_uri"),
    _http("http.method", "HTTP request method", True, "http_method"),
    _http("http.host", "normalized (lower-case) HTTP Host header", True, "http_host", lowercase=True),
    _http("http.user_agent", "HTTP User-Agent header value", True, "http_user_agent"),
    _http("http.header", "normalized HTTP headers", True, "http_header"),
    Buffer("tls.sni", "TLS client hello server name", _app("tls.sni"), TLS, True, ("tls_sni",)),
    Buffer("dns.query", "DNS query name", _app("dns.query"), DNS, True, ("dns_query",)),
    _http("http.host.raw", "raw HTTP Host header", True, "http_raw_host"),
    _http("http.header.raw", "raw HTTP headers", True, "http_raw_header"),
    _http("http.header_names", "HTTP header names in order", True, aliases=("http_header_names",)),
    _http("http.cookie", "HTTP Cookie header value", True, "http_cookie"),
    _http("http.content_type", "HTTP Content-Type header value", True, aliases=("http_content_type",)),
    _http("http.content_len", "HTTP Content-Length header value", True, aliases=("http_content_len",)),
    _http("http.referer", "HTTP Referer header value", True, aliases=("http_referer",)),
    _http("http.accept", "HTTP Accept header value", True, aliases=("http_accept",)),
    _http("http.accept_enc", "HTTP Accept-Encoding header value", True, aliases=("http_accept_enc",)),
    _http("http.accept_lang", "HTTP Accept-Language header value", True, aliases=("http_accept_lang",)),
    _http("http.connection", "HTTP Connection header value", True, aliases=("http_connection",)),
    _http("http.location", "HTTP Location header value", True),
    _http("http.server", "HTTP Server header value", True),
    _http("http.protocol", "HTTP protocol version field", True, aliases=("http_protocol",)),
    _http("http.request_line", "HTTP request line", True, aliases=("http_request_line",)),
    _http("http.response_line", "HTTP response line", True, aliases=("http_response_line",)),
    _http("http.start", "HTTP start line and headers", True, aliases=("http_start",)),
    _http("http.stat_code", "HTTP response status code", True, "http_stat_code"),
    _http("http.stat_msg", "HTTP response status message", True, "http_stat_msg"),
    _http("http.request_body", "HTTP request body", True, "http_client_body"),
    _http("http.response_body", "HTTP response body", True, "http_server_body"),
    Buffer("file.data", "file contents (HTTP bodies, SMTP attachments, ...)", None, FILES, True,
           ("file_data",)),
    Buffer("tls.cert_subject", "TLS certificate subject", _app("tls.cert_subject"), TLS, True, ("tls_cert_subject",)),
    Buffer("tls.cert_issuer", "TLS certificate issuer", _app("tls.cert_issuer"), TLS, True, ("tls_cert_issuer",)),
    Buffer("tls.cert_serial", "TLS certificate serial", _app("tls.cert_serial"), TLS, True, ("tls_cert_serial",)),
    Buffer("tls.cert_fingerprint", "TLS certificate SHA1 fingerprint", "tls", TLS, False,
           ("tls_cert_fingerprint",)),
    Buffer("tls.certs", "each TLS certificate of the chain (DER, leaf first)", _app("tls.certs"), TLS, True),
    Buffer("ja3.hash", "JA3 hash of the client hello", _app("ja3.hash"), TLS, True, ("ja3_hash",)),
    Buffer("ja3.string", "JA3 string of the client hello", _app("ja3.string"), TLS, True, ("ja3_string",)),
    Buffer("ja3s.hash", "JA3S hash of the server hello", _app("ja3s.hash"), TLS, True, ("ja3s_hash",)),
    Buffer("ja3s.string", "JA3S string of the server hello", _app("ja3s.string"), TLS, True, ("ja3s_string",)),
    Buffer("file.name", "name of a transferred file", None, FILES, False),
    Buffer("file.magic", "libmagic description of a file", None, FILES, False),
    Buffer("ssh.proto", "SSH protocol version string", "ssh", SSH, False, ("ssh_proto",)),
    Buffer("ssh.software", "SSH software version string", "ssh", SSH, False, ("ssh_software",)),
    Buffer("ssh.hassh", "HASSH client fingerprint", "ssh", SSH, False),
    Buffer("ssh.hassh.server", "HASSH server fingerprint", "ssh", SSH, False),
    Buffer("base64_data", "data decoded by base64_decode", None, ANY_PROTO, False),
)

BY_NAME: dict[str, Buffer] = {b.name: b for b in BUFFERS}
_BY_KEYWORD: dict[str, Buffer] = {}
for _b in BUFFERS:
    for _k in (_b.name, *_b.sticky_aliases) + ((_b.modifier,) if _b.modifier else ()):
        _BY_KEYWORD[_k] = _b


def _sticky(value: str | None, ctx: ParseContext) -> str:
    buf = _BY_KEYWORD[ctx.keyword]
    if buf.name == PAYLOAD:
        ctx.reset_to_payload()
    else:
        ctx.enter_sticky(buf.name)
    return buf.name


def _modifier(value: str | None, ctx: ParseContext) -> str:
    buf = _BY_KEYWORD[ctx.keyword]
    c = ctx.require_content()
    if ctx.sticky_keyword is not None:
        raise KeywordError(f"cannot be used while sticky buffer '{ctx.sticky_keyword}' is active "
                           "(reset it with pkt_data first)")
    if c.legacy_modifier is not None:
        raise KeywordError(f"content already moved to '{c.buffer}' by '{c.legacy_modifier}'")
    if c.rawbytes:
        raise KeywordError("cannot be used on a content with 'rawbytes'")
    c.buffer = buf.name
    c.legacy_modifier = ctx.keyword
    ctx.use_buffer(buf.name)
    return buf.name


def buffer_of(keyword: str) -> Buffer | None:
    """The buffer a sticky or modifier keyword (any spelling) selects."""
    return _BY_KEYWORD.get(keyword)


def _specs() -> tuple[KeywordSpec, ...]:
    specs = []
    for b in BUFFERS:
        specs.append(KeywordSpec(b.name, b.desc, DOC_URL, _sticky, supported=b.supported,
                                 aliases=b.sticky_aliases, kind=Kind.BUFFER, value=Value.NONE))
        if b.modifier:
            specs.append(KeywordSpec(b.modifier, f"legacy modifier: preceding content inspects {b.name}",
                                     DOC_URL, _modifier, supported=b.supported, kind=Kind.MODIFIER,
                                     value=Value.NONE))
    return tuple(specs)


def parse(value: str | None, ctx: ParseContext) -> str:
    """Sticky keyword or legacy modifier, whichever ``ctx.keyword`` is."""
    buf = _BY_KEYWORD[ctx.keyword]
    return (_modifier if ctx.keyword == buf.modifier else _sticky)(value, ctx)


KEYWORDS = _specs()
NAMES = tuple(s.name for s in KEYWORDS)
