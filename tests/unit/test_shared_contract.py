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
