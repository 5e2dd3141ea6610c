"""Application-layer state keywords (``app-layer-protocol``, ``tls.version``,
``ssl_state``...). Recognized, not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import doc
from xdpfw.rules.keywords.raw import raw_parse, raw_row

NAMES = ("app-layer-protocol", "tls.version", "ssl_version", "ssl_state",
         "tls.store", "tls.subject", "tls.issuerdn", "tls.fingerprint", "tls_cert_notbefore",
         "tls_cert_notafter", "tls_cert_expired", "tls_cert_valid", "ssh.protoversion",
         "ssh.softwareversion", "ftpbounce", "ftpdata_command", "dns.opcode", "http.request_header",
         "http.response_header")
DESC = "match on application-layer protocol state and fields"
DOC_URL = doc("not-yet-supported")
parse = raw_parse

KEYWORDS = (
    raw_row("app-layer-protocol", "detected application protocol", DOC_URL, supported=False),
    raw_row("tls.version", "TLS version", DOC_URL, supported=False),
    raw_row("ssl_version", "SSL/TLS version list", DOC_URL, supported=False),
    raw_row("ssl_state", "TLS handshake state", DOC_URL, supported=False),
    raw_row("tls.store", "store the TLS certificate", DOC_URL, supported=False),
    raw_row("tls.subject", "TLS certificate subject (legacy)", DOC_URL, supported=False),
    raw_row("tls.issuerdn", "TLS certificate issuer (legacy)", DOC_URL, supported=False),
    raw_row("tls.fingerprint", "TLS certificate fingerprint (legacy)", DOC_URL, supported=False),
    raw_row("tls_cert_notbefore", "certificate not-before date", DOC_URL, supported=False),
    raw_row("tls_cert_notafter", "certificate not-after date", DOC_URL, supported=False),
    raw_row("tls_cert_expired", "certificate has expired", DOC_URL, supported=False),
    raw_row("tls_cert_valid", "certificate is valid", DOC_URL, supported=False),
    raw_row("ssh.protoversion", "SSH protocol version", DOC_URL, supported=False),
    raw_row("ssh.softwareversion", "SSH software version", DOC_URL, supported=False),
    raw_row("ftpbounce", "FTP PORT bounce attempt", DOC_URL, supported=False),
    raw_row("ftpdata_command", "FTP data command", DOC_URL, supported=False),
    raw_row("dns.opcode", "DNS opcode", DOC_URL, supported=False),
    raw_row("http.request_header", "one HTTP request header", DOC_URL, supported=False),
    raw_row("http.response_header", "one HTTP response header", DOC_URL, supported=False),
)
