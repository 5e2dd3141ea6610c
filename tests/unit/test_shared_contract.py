"""xdpfw_shared.h is the single definition: Python and Cython views agree with it."""
from __future__ import annotations

import re

from xdpfw.dataplane import shared


def test_labels_are_unique_and_prometheus_safe():
    for labels in (shared.XDP_ACTION_LABELS, shared.DROP_REASON_LABELS):
        assert len(labels) == len(set(labels))
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", label) for label in labels)


def test_enums_follow_header_order():
    text = shared.SHARED_H.read_text()
    body = text[text.index("#define XDPFW_DROP_REASONS(X)"):text.index("#define XDPFW__ENUM_ENTRY")]
    names = re.findall(r"X\((XDPFW_DROP_\w+),", body)
    assert [f"XDPFW_DROP_{m.name}" for m in shared.DropReason] == names
    assert shared.DropReason.RING_FULL == names.index("XDPFW_DROP_RING_FULL")


def test_cython_sees_the_same_constants():
    from xdpfw._fast import xsk

    assert xsk.DROP_REASON_MAX == len(shared.DROP_REASONS)
    assert xsk.NSIDES == shared.NSIDES == 2
    assert xsk.MAX_QUEUES == shared.MAX_QUEUES


def test_xsk_key_layout():
    assert shared.xsk_key(shared.SIDE_A, 0) == 0
    assert shared.xsk_key(shared.SIDE_B, 3) == shared.MAX_QUEUES + 3
    try:
        shared.xsk_key(0, shared.MAX_QUEUES)
    except ValueError:
        pass
    else:
        raise AssertionError("queue beyond XDPFW_MAX_QUEUES accepted")


def test_proto_masks_are_disjoint_bits():
    bits = [shared.PROTO_TCP, shared.PROTO_UDP, shared.PROTO_ICMP, shared.PROTO_OTHER]
    assert all(b and b & (b - 1) == 0 for b in bits)
    assert sum(bits) == shared.PROTO_ANY


def test_flow_label_tables_match_the_compiled_enums():
    from xdpfw._fast import flow
    from xdpfw.service.metrics import FLOW_EVENT_LABELS, TCP_RESULT_LABELS

    assert len(TCP_RESULT_LABELS) == flow.TCP_RESULT_MAX
    assert len(FLOW_EVENT_LABELS) == flow.FLOW_EVENT_MAX
    assert TCP_RESULT_LABELS[:4] == ["in_order", "partial_overlap", "retransmit", "gap"]


def test_engine_counters_are_the_header_table():
    """XDPFW_ENGINE_COUNTERS (xdpfw_engine.h) is the one definition: the C enum indexes
    Engine.cnt[], includes/engine.pxd declares its ids for Cython, and the engine module's
    COUNTER_NAMES (what the metrics use) are the labels the C compiler saw."""
    from pathlib import Path

    from xdpfw._fast import engine as E
    from xdpfw.cheader import CHeader

    fast = Path(E.__file__).resolve().parent
    table = CHeader(fast / "xdpfw_engine.h").xmacro("XDPFW_ENGINE_COUNTERS")
    assert E.COUNTERS == table                     # as the C compiler and the Python reader see it
    assert E.COUNTER_NAMES == tuple(label for _, label in table)
    assert E.COUNTER_MAX == len(table)
    labels = [label for _, label in table]
    assert len(labels) == len(set(labels))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", label) for label in labels)
    assert all(name.startswith("XDPFW_CNT_") for name, _ in table)
    # Cython names each id C_<id without XDPFW_CNT_>, every one of the table, in its order
    pxd = (fast / "includes" / "engine.pxd").read_text()
    declared = re.findall(r'^\s+(C_\w+) "(XDPFW_CNT_\w+)"\s*$', pxd, re.M)
    assert [cname for _, cname in declared] == [name for name, _ in table] + ["XDPFW_CNT_MAX"]
    assert all(py == "C_" + cname[len("XDPFW_CNT_"):] for py, cname in declared)
    # no second, hand-written list of labels left in the engine's sources
    for src in [fast / "engine.pyx", *sorted(fast.glob("engine_*.pxi"))]:
        text = src.read_text()
        assert '"rate_filter_activations"' not in text and '"ids_would_drop"' not in text, src.name
    # Engine.counters() reports them by these labels, in this order
    from types import SimpleNamespace
    empty = SimpleNamespace(sigs=[], addrs=[], ports=[], report={}, block_report={}, header_only=[])
    eng = E.Engine(empty, flow_capacity=64)
    eng.inspect_frame(b"\x00" * 10)                # too short to decode: packets, decode_errors
    c = eng.counters()
    assert list(c)[:len(labels)] == labels
    assert (c["packets"], c["decode_errors"]) == (1, 1)


def test_engine_app_proto_names_are_the_header_table():
    from pathlib import Path

    from xdpfw._fast import engine as E
    from xdpfw.cheader import CHeader

    fast = Path(E.__file__).resolve().parent
    table = CHeader(fast / "xdpfw_app.h").xmacro("XDPFW_APP_PROTOS")
    assert list(E.APP_PROTO_NAMES) == [label for _, label in table]
