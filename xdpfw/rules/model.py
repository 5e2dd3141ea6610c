"""The typed data model of a parsed rule.

Everything the matcher/compiler needs is here, already validated: header sets, the
ordered option list, and per-keyword typed records (contents, pcres, flow, flowbits,
thresholds, sizes). Nothing in this module parses text.

Buffers are named by their sticky-buffer keyword (``http.uri``, ``dns.query``...);
:data:`PAYLOAD` (``pkt_data``) is the packet/stream payload that content inspects when
no buffer is selected.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Literal, Union

if TYPE_CHECKING:
    from xdpfw.rules.addresses import AddressSet
    from xdpfw.rules.ports import PortSet

PAYLOAD = "pkt_data"
"""Buffer name of the raw packet/stream payload (what ``pkt_data`` resets to)."""

# A value of offset/depth/distance/within/isdataat may name a byte_extract variable.
IntOrVar = Union[int, str]


class Action(enum.StrEnum):
    """Rule action. A StrEnum, so ``rule.action == "drop"`` holds."""

    PASS = "pass"
    DROP = "drop"
    REJECT = "reject"
    REJECTSRC = "rejectsrc"
    REJECTDST = "rejectdst"
    REJECTBOTH = "rejectboth"
    ALERT = "alert"

    @property
    def is_reject(self) -> bool:
        return self in _REJECTS

    @property
    def order(self) -> int:
        """Position in Suricata's default action-order: pass, drop, reject, alert."""
        return _ACTION_ORDER[self]


_REJECTS = frozenset({Action.REJECT, Action.REJECTSRC, Action.REJECTDST, Action.REJECTBOTH})
_ACTION_ORDER = {Action.PASS: 0, Action.DROP: 1, Action.REJECT: 2, Action.REJECTSRC: 2,
                 Action.REJECTDST: 2, Action.REJECTBOTH: 2, Action.ALERT: 3}


def action_sort_key(rule: "Rule") -> tuple[int, int, int]:
    """Sort key putting rules in Suricata's default evaluation order.

    Actions first (pass, drop, reject, alert), then priority (1 is most important),
    then sid, which is how Suricata orders signatures with equal action and priority.
    """
    return (rule.action.order, rule.priority, rule.sid)


@dataclass(frozen=True, slots=True)
class FastPattern:
    """``fast_pattern``; ``only`` for ``fast_pattern:only``; offset/length for ``x,y``."""

    only: bool = False
    offset: int | None = None
    length: int | None = None


@dataclass(slots=True, eq=False)
class Content:
    """One ``content`` (or ``uricontent``) with its modifiers applied.

    ``buffer`` is where it inspects: the sticky buffer in force when it was written,
    the buffer named by a legacy modifier that followed it (``legacy_modifier`` then
    holds that keyword), or :data:`PAYLOAD`. ``offset``/``depth`` are as written
    (depth counts from offset, not from the buffer start). ``distance``/``within`` are
    relative to the previous content/pcre *in the same buffer*, or to the buffer start
    when there is none.
    """

    pattern: bytes
    negated: bool = False
    buffer: str = PAYLOAD
    legacy_modifier: str | None = None
    transforms: tuple[str, ...] = ()
    nocase: bool = False
    offset: IntOrVar | None = None
    depth: IntOrVar | None = None
    distance: IntOrVar | None = None
    within: IntOrVar | None = None
    startswith: bool = False
    endswith: bool = False
    fast_pattern: FastPattern | None = None
    rawbytes: bool = False
    col: int = 0

    @property
    def relative(self) -> bool:
        """True when anchored to the previous match (distance or within given)."""
        return self.distance is not None or self.within is not None


@dataclass(slots=True, eq=False)
class Pcre:
    """One ``pcre``. ``regex`` is the text between the delimiters, exactly as written.

    The regex is not compiled here: the matcher's compiler does that (see
    :func:`xdpfw.rules.keywords.pcre.set_pcre_validator` for the hook that lets it
    reject patterns at load time).
    """

    regex: str
    flags: str = ""
    negated: bool = False
    caseless: bool = False        # i
    dotall: bool = False          # s
    multiline: bool = False       # m
    extended: bool = False        # x
    anchored: bool = False        # A
    dollar_endonly: bool = False  # E
    ungreedy: bool = False        # G
    relative: bool = False        # R
    rawbytes: bool = False        # B (Snort compatibility, no effect)
    match_limit_override: bool = False  # O
    buffer: str = PAYLOAD
    buffer_flag: str | None = None      # the flag letter that chose the buffer, if any
    transforms: tuple[str, ...] = ()
    captures: tuple[tuple[str, str], ...] = ()  # (scope, name): pkt/flow/alert variables
    col: int = 0


@dataclass(frozen=True, slots=True)
class IntMatch:
    """A numeric comparison as used by dsize, bsize and urilen.

    ``op`` is one of ``= != < <= > >= <>``; for ``<>`` the range is exclusive
    (``6<>15`` matches 7..14), as in Suricata.
    """

    op: Literal["=", "!=", "<", "<=", ">", ">=", "<>"]
    value: int
    high: int | None = None

    def matches(self, n: int) -> bool:
        op, v = self.op, self.value
        if op == "=":
            return n == v
        if op == "!=":
            return n != v
        if op == "<":
            return n < v
        if op == "<=":
            return n <= v
        if op == ">":
            return n > v
        if op == ">=":
            return n >= v
        assert self.high is not None
        return v < n < self.high

    def max_value(self, limit: int) -> int:
        """Largest n <= ``limit`` that can match; -1 when none can."""
        op, v = self.op, self.value
        if op == "=":
            return v if v <= limit else -1
        if op == "<":
            best = v - 1
        elif op == "<=":
            best = v
        elif op == "<>":
            assert self.high is not None
            best = self.high - 1
        else:
            best = limit
        return min(best, limit)


@dataclass(frozen=True, slots=True)
class Bsize:
    """``bsize`` on ``buffer``."""

    match: IntMatch
    buffer: str


@dataclass(frozen=True, slots=True)
class UriLen:
    """``urilen``; ``raw`` selects the raw URI, else the normalized one."""

    match: IntMatch
    raw: bool = False


@dataclass(frozen=True, slots=True)
class IsDataAt:
    """``isdataat:[!]n[,relative][,rawbytes]`` on ``buffer``."""

    offset: IntOrVar
    negated: bool = False
    relative: bool = False
    rawbytes: bool = False
    buffer: str = PAYLOAD


FlowState = Literal["established", "not_established", "stateless"]


@dataclass(frozen=True, slots=True)
class Flow:
    """``flow``; each field is one mutually exclusive group (None = not constrained).

    ``from_client``/``from_server`` are stored as ``to_server``/``to_client``.
    """

    state: FlowState | None = None
    direction: Literal["to_server", "to_client"] | None = None
    stream: Literal["only_stream", "no_stream"] | None = None
    frag: Literal["only_frag", "no_frag"] | None = None

    @property
    def established(self) -> bool:
        return self.state == "established"

    @property
    def to_server(self) -> bool:
        return self.direction == "to_server"

    @property
    def to_client(self) -> bool:
        return self.direction == "to_client"


FlowbitCommand = Literal["set", "isset", "isnotset", "unset", "toggle"]


@dataclass(frozen=True, slots=True)
class Flowbit:
    """One ``flowbits`` command on one or more names.

    ``group`` is ``"any"`` for ``a|b`` (Suricata: isset/isnotset true if any name is
    set / unset), ``"all"`` for ``a&b`` (Snort: every name), ``None`` for one name.
    """

    command: FlowbitCommand
    names: tuple[str, ...]
    group: Literal["any", "all"] | None = None

    @property
    def is_check(self) -> bool:
        """isset/isnotset are conditions; the others act after the rule matched."""
        return self.command in ("isset", "isnotset")


ThresholdTrack = Literal["by_src", "by_dst", "by_rule", "by_both", "by_flow"]


@dataclass(frozen=True, slots=True)
class Threshold:
    """Alert rate control from ``threshold``/``detection_filter`` or threshold.config.

    ``keyword`` says where it came from: ``threshold``, ``detection_filter`` (no
    ``type``; alerts only after ``count`` hits) or ``event_filter``. ``source`` is
    ``"rule"`` or ``path:line`` of the threshold.config entry that set it.
    """

    keyword: Literal["threshold", "detection_filter", "event_filter"]
    type: Literal["limit", "threshold", "both"] | None
    track: ThresholdTrack
    count: int
    seconds: int
    source: str = "rule"


@dataclass(frozen=True, slots=True)
class RateFilter:
    """A threshold.config ``rate_filter``: once the rule has matched ``count`` times within
    ``seconds`` (per ``track`` key), its action becomes ``new_action`` for ``timeout``
    seconds (the activating match included)."""

    track: ThresholdTrack
    count: int
    seconds: int
    new_action: Literal["alert", "drop", "pass", "reject"]
    timeout: int
    source: str


@dataclass(frozen=True, slots=True)
class Suppression:
    """A threshold.config ``suppress``: no alert (for ``ip`` when ``track`` is given).

    Without ``track``/``ip`` the rule never alerts, but its other effects (flowbits)
    still happen.
    """

    track: Literal["by_src", "by_dst", "by_either"] | None
    ip: "AddressSet | None"
    source: str


@dataclass(frozen=True, slots=True)
class Reference:
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class RawOption:
    """Value of a keyword that is recognized but not (yet) interpreted."""

    value: str | None


@dataclass(frozen=True, slots=True)
class Option:
    """One option as written, in rule order, with its parsed value.

    ``parsed`` is the typed object the keyword produced (a :class:`Content`, a
    :class:`Flow`, an int for sid, ...), or ``None`` for flag keywords and modifiers
    whose effect is recorded on another object (``nocase`` sets ``Content.nocase``).
    """

    keyword: str
    value: str | None
    col: int
    parsed: object = None


#: Keywords that carry no matching semantics (Rule.is_ip_only).
METADATA_KEYWORDS = frozenset({"msg", "sid", "rev", "gid", "classtype", "priority",
                               "metadata", "reference", "target"})

Match = Union[Content, Pcre, IsDataAt]


@dataclass(slots=True, eq=False)
class Rule:
    """A parsed, validated rule. Treat as read-only once loaded.

    ``file``/``line`` locate it (first physical line), ``text`` is the rule as one
    logical line (continuation lines joined). ``unsupported`` names what the engine
    cannot honour yet; it is empty for every rule in ``RuleSet.rules``.
    """

    action: Action
    proto: str
    src: "AddressSet"
    src_ports: "PortSet"
    bidirectional: bool
    dst: "AddressSet"
    dst_ports: "PortSet"
    sid: int = 0
    gid: int = 1
    rev: int = 1
    msg: str | None = None
    classtype: str | None = None
    priority: int = 3
    metadata: list[tuple[str, str]] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    target: Literal["src_ip", "dest_ip"] | None = None
    options: list[Option] = field(default_factory=list)
    contents: list[Content] = field(default_factory=list)
    pcres: list[Pcre] = field(default_factory=list)
    isdataat: list[IsDataAt] = field(default_factory=list)
    bsize: list[Bsize] = field(default_factory=list)
    urilen: UriLen | None = None
    dsize: IntMatch | None = None
    flow: Flow | None = None
    flowbits: list[Flowbit] = field(default_factory=list)
    noalert: bool = False
    threshold: Threshold | None = None
    suppressions: list[Suppression] = field(default_factory=list)
    rate_filter: RateFilter | None = None
    events: list[tuple[str, str]] = field(default_factory=list)  # (decode | http | tls | dns, event label)
    app_proto: str | None = None
    unsupported: tuple[str, ...] = ()
    file: str = "<string>"
    line: int = 1
    text: str = ""

    @property
    def action_order(self) -> int:
        return self.action.order

    def is_ip_only(self, allow: Iterable[str] = ()) -> bool:
        """True when the rule matches on header fields only.

        That is: protocol ip/tcp/udp/icmp and no option other than pure metadata
        (:data:`METADATA_KEYWORDS`). ``allow`` names further keywords to tolerate, e.g.
        ``("threshold",)`` for a caller that applies thresholds itself.
        """
        if self.proto not in ("ip", "tcp", "udp", "icmp"):
            return False
        permitted = METADATA_KEYWORDS.union(allow)
        return all(o.keyword in permitted for o in self.options)

    def matches(self) -> list[Match]:
        """Contents, pcres and isdataat checks in rule order (all buffers)."""
        return [o.parsed for o in self.options if isinstance(o.parsed, (Content, Pcre, IsDataAt))]

    def buffers(self) -> dict[str, list[Match]]:
        """Matches grouped by buffer, each list in rule order.

        Relative matches (distance/within, pcre ``R``, relative isdataat) refer to the
        entry before them in their buffer's list.
        """
        out: dict[str, list[Match]] = {}
        for m in self.matches():
            out.setdefault(m.buffer, []).append(m)
        return out
