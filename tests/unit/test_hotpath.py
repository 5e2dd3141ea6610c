"""The per-packet code creates no Python objects and copies no payload.

Two proofs, both mechanical:
1. the per-packet functions are declared `noexcept nogil`, so the Cython compiler itself
   refuses any Python object operation inside them;
2. the C that Cython generates for them (what `cython -a` colours) contains no call into
   the Python C API and no reference counting, and no memcpy but of a few constant bytes
   (header fields), so no payload copy.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAST = ROOT / "xdpfw" / "_fast"
# module -> functions that run per packet. "Class.method" for cdef methods, "name" for
# module-level cdef functions.
PER_PACKET = {
    "xsk.pyx": ["QueuePair._loop", "QueuePair._rx", "QueuePair._drop", "QueuePair._complete",
                "QueuePair._refill", "QueuePair._kick_tx", "QueuePair._reply", "QueuePair._send_reply", "QueuePair._free_frame"],
    # engine.pyx and its include files (engine_*.pxi): one compilation unit
    "engine.pyx": ["Engine.inspect", "Engine._add", "Engine._match", "Engine._scan_stream", "Engine._header_ok",
                   "Engine._static_ok", "Engine._dynamic_ok", "Engine._policy_drop", "Engine._alert",
                   "_addr_in", "_port_in", "_be64", "_fb_ok", "_fb_apply", "_inspect_entry",
                   # engine_ruleset.pxi
                   "_between", "_between_entry", "_sleep_ms",
                   # engine_frag.pxi
                   "_frag_track", "_frag_slot", "_frag_release", "_frag_bad", "_scan_fragment",
                   # engine_rate.pxi
                   "_thr_hit", "_suppressed", "_rate",
                   # engine_combo.pxi
                   "_combos", "_prog_eval",
                   # engine_alerts.pxi
                   "_alert_push",
                   # engine_reject.pxi
                   "_reject", "_reject_build", "_extra_entry", "_tcp_rst", "_icmp_unreach_in_place",
                   "_put16", "_put32", "_sum16", "_fold",
                   # engine_testapi.pxi (replay_pcap's loop)
                   "_le32", "_rd32",
                   # the application layer (Engine methods) and engine_app.pxi
                   "Engine._app", "Engine._feed", "Engine._app_detect", "Engine._app_reset_slot", "Engine._app_end",
                   "Engine._app_event_count", "Engine._piece", "Engine._vpiece", "Engine._holds", "Engine._tx_reset",
                   "Engine._event_rules", "Engine._event_alerts_unflowed", "Engine._has_len_check",
                   "Engine._len_passes", "_app_data", "_app_event", "_len_ok"],
    "flow.pyx": ["FlowTable.lookup", "FlowTable.tcp_track", "FlowTable._timeout", "FlowTable._reclaim",
                 "FlowTable._init", "FlowTable._count", "FlowTable.restart", "FlowTable._expired", "_mix", "_load64",
                 "FlowTable.admit", "FlowTable._verify", "FlowTable._pressure", "FlowTable._share_cells",
                 "FlowTable._share_full", "FlowTable._share_take", "FlowTable._share_release", "_acks"],
    "decode.pyx": ["xdpfw_decode", "_decode_l4", "_decode_eth", "_decode_ipv4", "_ipv4_options",
                   "_ipv4_opt_check", "_ipv4_opt_bit", "_decode_ipv6", "_ipv6_options", "_ipv6_opt_known",
                   "_decode_tcp", "_tcp_options", "_decode_udp", "_decode_icmpv4", "_icmpv4_max_code",
                   "_decode_icmpv6", "_icmpv6_max_code", "_be16", "_be32", "_event", "_fatal",
                   "_eth_walk", "_ipv6_ext_unknown", "_tunnel_enter", "_enter_ethernet", "_teredo_inner",
                   "_udp_fatal", "_decode_udp_tunnel", "_decode_tunnel", "_decode_ip_tunnel", "_decode_mpls",
                   "xdpfw_ipv4_csum_ok", "xdpfw_l4_csum_ok", "_sum16", "_fold"],
    "match_hs.pyx": ["hsm_on_match", "hsm_open", "hsm_scan", "hsm_finish", "hsm_reset", "hsm_close",
                     "hsm_scan_block"],
    "app_dns.pyx": ["dns_init", "dns_probe", "dns_feed", "dns_end", "_event", "_emitting", "_emit", "_sep",
                    "_close", "_name_done", "_fail", "_next_item", "_after_name", "_header", "_follow",
                    "_name_byte", "_pointer", "_run", "_msg_start", "_msg_end"],
    "app_tls.pyx": ["tls_init", "tls_probe", "tls_feed", "tls_end", "_md5_init", "_rotl", "_md5_block",
                    "_md5_update", "_md5_hex", "_event", "_piece", "_flush", "_text", "_data", "_end",
                    "_abort", "_abort_all", "_num", "_hash_out", "_grease", "_list_item", "_ch_go",
                    "_ch_skip", "_ch_fail", "_ja3_finish", "_ch_ext_next", "_ch_skip_ext", "_ch_mark",
                    "_ch_settle", "_ch_int", "_ch_bytes", "_ch_init", "_ch_end", "_sh_go", "_sh_fail",
                    "_sh_finish", "_sh_ext_next", "_sh_settle", "_sh_int", "_sh_bytes", "_sh_init",
                    "_sh_end", "_ct_namebuf", "_ct_parent", "_ct_fail", "_der_string", "_oid_is",
                    "_oid_dotted", "_u64", "_ct_attr", "_ct_settle", "_ct_elem", "_ct_byte", "_ct_run",
                    "_ct_bytes", "_ct_init", "_ct_end", "_hs_known", "_hs_start", "_hs_end", "_hs_busy",
                    "_hs_abandon", "_hs_bytes", "_die", "_rec_start", "_rec_hdr_byte", "_ctx"],
    "app_http.pyx": ["http_init", "http_probe", "http_feed", "http_end", "_event", "_emit", "_flush_run",
                     "_put", "_putm", "_route", "_sflush", "_sput", "_open", "_close", "_close_mask",
                     "_give_up", "_ws_pending", "_ws_drop", "_ws_note", "_ws_resolve", "_host_push",
                     "_host_end", "_path_out", "_pct_bad", "_path_in", "_path_end", "_scheme_replay",
                     "_auth_open", "_auth_end", "_userinfo", "_uri_start", "_path_byte", "_uri_byte",
                     "_uri_end", "_msg_start", "_msg_done", "_proto_step", "_proto_end", "_fifo_push",
                     "_fifo_pop", "_rl_done", "_status_done", "_code_end", "_idle_byte", "_method_byte",
                     "_vsinks", "_nsinks", "_undefer", "_hdr_invalid", "_name_byte", "_name_end",
                     "_cl_byte", "_te_token_end", "_te_byte", "_value_parse", "_value_byte", "_commit",
                     "_hdr_start_byte", "_headers_end", "_chunk_start", "_body_bufs", "_body",
                     "_chunk_bad", "_chunk_size_byte", "_data_byte", "_code_byte", "_eol_raw", "_eol",
                     "_run", "_ctx_init", "_held_cr_as_data", "_ctx_finish"],
    "match_ac.pyx": ["acm_next", "acm_report", "acm_run", "acm_run2", "acm_feed", "acm_open", "acm_scan",
                     "acm_finish", "acm_reset", "acm_close", "acm_scan_block"],
}
# Copies whose length is a variable, each bounded to header bytes by the code around it
# (checked there, explained here). Anything else must be a small constant.
BOUNDED_COPIES = {
    # the extra reset of rejectboth: at most sizeof(Engine.extra) = 256 bytes of headers
    "QueuePair._send_reply": {"__pyx_v_elen"},
    # the headers of the segment (l4_off + 20 <= sizeof(extra), checked before the copy)
    "_reject_build": {"__pyx_v_p->l4_off + 20"},
    # the ICMP error's quote: the original IP header + 8 bytes (<= 68 v4, 48 v6)
    "_icmp_unreach_in_place": {"__pyx_v_q"},
    # the first bytes of a direction kept for protocol detection: PROBE_MAX (16), a constant
    "Engine._app_detect": {"__pyx_e_5xdpfw_5_fast_6engine_PROBE_MAX"},
}
PY_API = re.compile(r"\b(Py[A-Z]\w*|_Py\w+|__Pyx_(?!Raise|GetRef)\w+|Py_INCREF|Py_DECREF|__Pyx_GOTREF)\s*\(")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("cython")
    sources = {}
    for pyx in PER_PACKET:
        c_file = out / (Path(pyx).stem + ".c")
        subprocess.run([sys.executable, "-m", "cython", "-3", "-a", "-I", str(ROOT), "-I", str(FAST),
                        "-I", str(ROOT / "xdpfw" / "bpf"),
                        "-o", str(c_file), str(FAST / pyx)], check=True, cwd=ROOT)
        sources[pyx] = c_file.read_text()
        assert (out / (Path(pyx).stem + ".html")).exists()
    return sources


def _c_body(c_src: str, func: str) -> str:
    # Cython names cdef methods __pyx_f_<module>_<len><Class>_<name> and module-level
    # cdef functions __pyx_f_<module>_<name>.
    cls, _, name = func.rpartition(".")
    tail = f"{len(cls)}{cls}_{name}" if cls else name
    m = re.search(r"^static [^;\n]*__pyx_f_\w+?_%s\([^;{]*\)\s*\{" % re.escape(tail),
                  c_src, re.M)
    assert m, f"generated C for {func} not found"
    depth, i = 1, m.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(c_src[i], 0)
        i += 1
    return c_src[m.end():i]


@pytest.mark.parametrize("pyx,func", [(p, f) for p, fs in PER_PACKET.items() for f in fs])
def test_per_packet_function_is_nogil(pyx, func):
    src = (FAST / pyx).read_text()
    # a module split into one file per protocol: `include "decode_tcp.pxi"`
    src += "".join((FAST / inc).read_text() for inc in re.findall(r'^include "([^"]+)"', src, re.M))
    name = func.rpartition(".")[2]
    m = re.search(r"cdef [^\n]*\b%s\((?:self)?[^)]*\)\s*([^\n:]*):" % re.escape(name), src)
    assert m, f"{func} not found in {pyx}"
    assert "nogil" in m.group(1) and "noexcept" in m.group(1), m.group(0)


@pytest.mark.parametrize("pyx,func", [(p, f) for p, fs in PER_PACKET.items() for f in fs])
def test_generated_c_has_no_python_api(generated, pyx, func):
    body = _c_body(generated[pyx], func)
    calls = [c for c in PY_API.findall(re.sub(r"/\*.*?\*/", "", body, flags=re.S)) if not c.startswith("__Pyx_Raise")]
    # Cython may emit line-tracing or error-location macros in debug builds; none here.
    assert calls == [], f"{func} calls into Python: {sorted(set(calls))}"
    # Copying a header field (an address into a flow key) is fine; a payload copy has a
    # length that is not a small constant.
    code = re.sub(r"/\*.*?\*/", "", body, flags=re.S)  # Cython quotes the .pyx in comments
    for args in re.findall(r"\bmem(?:cpy|move)\((.*?)\);", code):
        size = args.rsplit(",", 1)[-1].strip().strip("()")
        assert (size.isdigit() and int(size) <= 64) or size in BOUNDED_COPIES.get(func, ()), \
            f"{func} copies {size} bytes"
