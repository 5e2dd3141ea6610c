"""The contract of every registered application-layer decoder (xdpfw_app.h), and the
agreement of the app layer's C header, Cython registry and Python control plane.

Parametrised over the registry itself (xdpfw._fast.app_registry.NAMES): a decoder is in
this suite by being registered. Each runs, through the generic wrapper AppDecoder:
its protocol's samples fed whole, one byte at a time and split at every position, all
equal to its pure-Python reference (tests/unit/appcheck.py: CONTRACTS, which a new
decoder must join); random bytes, which never break the piece protocol, never report a
buffer the decoder does not own or in a direction the buffer does not exist in, nor an
event outside its table; and its ops table against the header.
"""
from __future__ import annotations

from pathlib import Path

import appcheck
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xdpfw import applayer
from xdpfw._fast import app_registry as reg
from xdpfw._fast import engine
from xdpfw.cheader import CHeader
from xdpfw.detect import apprules
from xdpfw.ref.app_pieces import END, START, PieceProtocolError, assemble
from xdpfw.rules.keywords import buffers as kw_buffers
from xdpfw.rules.keywords import events as kw_events

FAST = Path(__file__).resolve().parents[2] / "xdpfw" / "_fast"
APP_H = CHeader(FAST / "xdpfw_app.h")
NAMES = reg.NAMES
OPS = {d["name"]: d for d in reg.DECODERS}
PROBE_RESULTS = (0, 1, 2)   # XDPFW_PROBE_NO, _YES, _MORE


# ---- the contract, per registered decoder --------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_registered_decoder_has_a_contract_entry(name):
    assert name in appcheck.CONTRACTS, f"{name}: add its reference to tests/unit/appcheck.py CONTRACTS"
    assert appcheck.CONTRACTS[name].samples(), f"{name}: no CONTRACT_SAMPLES"


@pytest.mark.parametrize("name", NAMES)
def test_samples_whole_bytewise_every_split_match_the_reference(name):
    for conv, flags in appcheck.CONTRACTS[name].samples():
        inst, _ = appcheck.check(name, conv, flags)
        for d in (0, 1):
            assert all(buf in OPS[name]["buffers"] for buf, _ in inst[d])
    # the samples are not empty-handed: together they produce instances
    assert any(appcheck.decode(name, conv, flags)[0][d] for conv, flags in appcheck.CONTRACTS[name].samples()
               for d in (0, 1))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), flags=st.integers(0, 3), step=st.integers(1, 13))
def test_random_bytes_never_break_the_piece_protocol(name, data, flags, step):
    conv = [((i // step) & 1, data[i:i + step]) for i in range(0, len(data), step)]
    pieces, events = appcheck.run(name, conv, flags)
    dirs = dict(zip(reg.BUFFER_NAMES, reg.BUFFER_DIRS))
    for d in (0, 1):
        try:
            assemble(pieces[d])
        except PieceProtocolError as exc:
            pytest.fail(f"{exc}: {pieces[d]}")
        for buf, _, fl in pieces[d]:
            assert buf in OPS[name]["buffers"], f"{name} reported {buf}, not its own"
            assert dirs[buf] >> d & 1, f"{name} reported {buf} in direction {d}"
            assert fl & ~(START | END) == 0
        assert set(events[d]) <= set(OPS[name]["events"])
    for d in (0, 1):
        assert reg.probe(name, data, d, flags) in PROBE_RESULTS


@pytest.mark.parametrize("name", NAMES)
def test_probe_of_a_short_or_empty_start_answers(name):
    for d in (0, 1):
        for flags in (0, appcheck.DGRAM):
            assert reg.probe(name, b"", d, flags) in PROBE_RESULTS
            assert reg.probe(name, b"\0", d, flags) in PROBE_RESULTS


@pytest.mark.parametrize("name", NAMES)
def test_ops_table_agrees_with_the_header(name):
    ops = OPS[name]
    assert applayer.PROTOS[ops["proto"]] == name
    assert ops["buffers"] == tuple(b for b in applayer.BUFFERS if applayer.BUFFER_PROTO[b] == name)
    assert list(ops["events"]) == list(appcheck.CONTRACTS[name].events)
    assert 0 < ops["state_size"] <= reg.STATE_BYTES
    with pytest.raises(ValueError):
        reg.AppDecoder(name).feed(2, b"x")
    assert len(reg.AppDecoder(name).state) == ops["state_size"]


# ---- the registry ------------------------------------------------------------------------

def test_registry_probe_order_and_port_policy():
    # today's order and policy: DNS on port 53 (TCP and UDP), then TLS and HTTP on any TCP port
    assert NAMES == ("dns", "tls", "http")
    tcp, udp = APP_H.define("XDPFW_APP_L4_TCP"), APP_H.define("XDPFW_APP_L4_UDP")
    assert (OPS["dns"]["port"], OPS["dns"]["l4"]) == (53, tcp | udp)
    assert (OPS["tls"]["port"], OPS["tls"]["l4"]) == (0, tcp)
    assert (OPS["http"]["port"], OPS["http"]["l4"]) == (0, tcp)
    assert OPS["dns"]["flags"] == APP_H.define("XDPFW_APP_O_TX_PER_FEED")
    assert OPS["tls"]["flags"] == OPS["http"]["flags"] == 0
    assert OPS["http"]["tx_start"] == ("http.method", "http.protocol")
    assert OPS["dns"]["tx_start"] == OPS["tls"]["tx_start"] == (None, None)


def test_state_slab_is_the_largest_decoder_state():
    largest = max(d["state_size"] for d in reg.DECODERS)
    assert largest <= reg.STATE_BYTES < largest + 8   # the union: the largest, aligned
    assert reg.STATE_BYTES == 352                      # as before the registry (TLS: 348)


def test_unknown_decoder_is_refused():
    with pytest.raises(KeyError):
        reg.AppDecoder("smtp")
    with pytest.raises(KeyError):
        reg.probe("smtp", b"HELO x\r\n", 0)


# ---- C, Cython and Python agree ----------------------------------------------------------

def test_c_cython_and_python_agree_on_protocols_and_buffers():
    # the decoders: one registered per XDPFW_APP_* between unknown and failed
    assert sorted(NAMES) == sorted(applayer.DECODERS) == sorted(apprules.DECODERS) == sorted(apprules.APP_PROTOS)
    assert list(reg.PROTO_NAMES) == applayer.PROTOS == apprules.PROTOS == list(engine.APP_PROTO_NAMES)
    # buffers, their owner and directions: the C tables (compiled), the header text (Python)
    assert list(reg.BUFFER_NAMES) == applayer.BUFFERS == apprules.BUFFERS
    assert list(reg.BUFFER_OWNER) == [applayer.BUFFER_PROTO[b] for b in applayer.BUFFERS]
    assert {b: apprules.proto_of_buffer(b) for b in applayer.BUFFERS} == applayer.BUFFER_PROTO
    ts, tc = APP_H.define("XDPFW_APP_D_TOSERVER"), APP_H.define("XDPFW_APP_D_TOCLIENT")
    assert {b for b, d in zip(reg.BUFFER_NAMES, reg.BUFFER_DIRS) if d == ts} == apprules.TO_SERVER
    assert {b for b, d in zip(reg.BUFFER_NAMES, reg.BUFFER_DIRS) if d == tc} == apprules.TO_CLIENT
    assert not apprules.TO_SERVER & apprules.TO_CLIENT
    # every buffer is owned by a registered decoder, and the ops tables cover them once
    owned = [b for n in NAMES for b in OPS[n]["buffers"]]
    assert sorted(owned) == sorted(applayer.BUFFERS)


def test_rule_keywords_take_the_buffer_protocol_from_the_header():
    for b in applayer.BUFFERS:
        row = kw_buffers.BY_NAME[b]
        assert row.supported
        # file.data is produced by the HTTP decoder but belongs to several protocols
        assert row.app == (None if b == "file.data" else applayer.BUFFER_PROTO[b]), b


@pytest.mark.parametrize("name", NAMES)
def test_app_layer_event_keyword_knows_the_decoder_events(name):
    # app-layer-event:<proto>.<event> takes the names of the registered decoder's table
    assert kw_events.app_events(name) == OPS[name]["events"]
