"""classification.config: ``config classification: shortname,short description,priority``.

:data:`DEFAULT_CLASSIFICATIONS` is the table of the classification.config Suricata
ships (etc/classification.config), used when no file is given.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from xdpfw.rules.errors import RuleError


@dataclass(frozen=True, slots=True)
class Classification:
    name: str
    description: str
    priority: int


def _table(rows: tuple[tuple[str, str, int], ...]) -> dict[str, Classification]:
    return {n: Classification(n, d, p) for n, d, p in rows}


DEFAULT_CLASSIFICATIONS: dict[str, Classification] = _table((
    ("not-suspicious", "Not Suspicious Traffic", 3),
    ("unknown", "Unknown Traffic", 3),
    ("bad-unknown", "Potentially Bad Traffic", 2),
    ("attempted-recon", "Attempted Information Leak", 2),
    ("successful-recon-limited", "Information Leak", 2),
    ("successful-recon-largescale", "Large Scale Information Leak", 2),
    ("attempted-dos", "Attempted Denial of Service", 2),
    ("successful-dos", "Denial of Service", 2),
    ("attempted-user", "Attempted User Privilege Gain", 1),
    ("unsuccessful-user", "Unsuccessful User Privilege Gain", 1),
    ("successful-user", "Successful User Privilege Gain", 1),
    ("attempted-admin", "Attempted Administrator Privilege Gain", 1),
    ("successful-admin", "Successful Administrator Privilege Gain", 1),
    ("rpc-portmap-decode", "Decode of an RPC Query", 2),
    ("shellcode-detect", "Executable code was detected", 1),
    ("string-detect", "A suspicious string was detected", 3),
    ("suspicious-filename-detect", "A suspicious filename was detected", 2),
    ("suspicious-login", "An attempted login using a suspicious username was detected", 2),
    ("system-call-detect", "A system call was detected", 2),
    ("tcp-connection", "A TCP connection was detected", 4),
    ("trojan-activity", "A Network Trojan was detected", 1),
    ("unusual-client-port-connection", "A client was using an unusual port", 2),
    ("network-scan", "Detection of a Network Scan", 3),
    ("denial-of-service", "Detection of a Denial of Service Attack", 2),
    ("non-standard-protocol", "Detection of a non-standard protocol or event", 2),
    ("protocol-command-decode", "Generic Protocol Command Decode", 3),
    ("web-application-activity", "access to a potentially vulnerable web application", 2),
    ("web-application-attack", "Web Application Attack", 1),
    ("misc-activity", "Misc activity", 3),
    ("misc-attack", "Misc Attack", 2),
    ("icmp-event", "Generic ICMP event", 3),
    ("inappropriate-content", "Inappropriate Content was Detected", 1),
    ("policy-violation", "Potential Corporate Privacy Violation", 1),
    ("default-login-attempt", "Attempt to login by a default username and password", 2),
    ("targeted-activity", "Targeted Malicious Activity was Detected", 1),
    ("exploit-kit", "Exploit Kit Activity Detected", 1),
    ("external-ip-check", "Device Retrieving External IP Address Detected", 2),
    ("domain-c2", "Domain Observed Used for C2 Detected", 1),
    ("pup-activity", "Possibly Unwanted Program Detected", 2),
    ("credential-theft", "Successful Credential Theft Detected", 1),
    ("social-engineering", "Possible Social Engineering Attempted", 2),
    ("coin-mining", "Crypto Currency Mining Activity Detected", 2),
    ("command-and-control", "Malware Command and Control Activity Detected", 1),
))

_LINE = re.compile(r"^config\s+classification\s*:\s*(.*)$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_classification_text(text: str, path: str = "<string>") -> tuple[dict[str, Classification], list[RuleError]]:
    """Parse classification.config text; bad lines become errors and are skipped.

    A later entry for the same name replaces the earlier one (as Suricata does).
    """
    table: dict[str, Classification] = {}
    errors: list[RuleError] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            errors.append(RuleError(f"not a classification line: {line!r} "
                                    "(expected 'config classification: name,description,priority')",
                                    path=path, line=lineno, col=1))
            continue
        body = m.group(1)
        col = raw.index(body) + 1 if body else 1
        name, sep1, rest = body.partition(",")
        desc, sep2, prio = rest.rpartition(",")
        name, desc, prio = name.strip(), desc.strip(), prio.strip()
        if not (sep1 and sep2) or not name or not desc:
            errors.append(RuleError("classification needs 'name,description,priority'",
                                    path=path, line=lineno, col=col))
            continue
        if not _NAME.match(name):
            errors.append(RuleError(f"invalid classification name {name!r}", path=path, line=lineno, col=col))
            continue
        if not prio.isdigit():
            errors.append(RuleError(f"classification {name!r}: priority {prio!r} is not an integer",
                                    path=path, line=lineno, col=col))
            continue
        table[name] = Classification(name, desc, int(prio))
    return table, errors


def load_classification(path: str | os.PathLike[str]) -> tuple[dict[str, Classification], list[RuleError]]:
    """Read a classification.config; an unreadable file is one error and an empty table."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        return {}, [RuleError(f"cannot read classification file: {e.strerror}", path=str(path), line=0, col=0)]
    return parse_classification_text(text, str(path))
