"""Application-layer state keywords (``app-layer-protocol``, ``tls.version``,
``ssl_state``...). Recognized, not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import doc
from xdpfw.rules.keywords.raw import raw_parse, unsupported

NAMES = ("app-layer-protocol", "app-layer-event", "tls.version", "ssl_version", "ssl_state",
         "tls.store", "tls.subject", "tls.issuerdn", "tls.fingerprint", "tls_cert_notbefore",
         "tls_cert_notafter", "tls_cert_expired", "tls_cert_valid", "ssh.protoversion",
         "ssh.softwareversion", "ftpbounce", "ftpdata_command", "dns.opcode", "http.request_header",
         "http.response_header")
DESC = "match on application-layer protocol state and fields"
DOC_URL = doc("not-yet-supported")
parse = raw_parse

KEYWORDS = unsupported({
    "app-layer-protocol": "detected application protocol", "app-layer-event": "parser anomaly event",
    "tls.version": "TLS version", "ssl_version": "SSL/TLS version list", "ssl_state": "TLS handshake state",
    "tls.store": "store the TLS certificate", "tls.subject": "TLS certificate subject (legacy)",
    "tls.issuerdn": "TLS certificate issuer (legacy)", "tls.fingerprint": "TLS certificate fingerprint (legacy)",
    "tls_cert_notbefore": "certificate not-before date", "tls_cert_notafter": "certificate not-after date",
    "tls_cert_expired": "certificate has expired", "tls_cert_valid": "certificate is valid",
    "ssh.protoversion": "SSH protocol version",
    "ssh.softwareversion": "SSH software version", "ftpbounce": "FTP PORT bounce attempt",
    "ftpdata_command": "FTP data command", "dns.opcode": "DNS opcode",
    "http.request_header": "one HTTP request header", "http.response_header": "one HTTP response header",
}, DOC_URL, parse)
