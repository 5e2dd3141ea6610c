"""`xdpfw replay` as an operator runs it: EVE on stdout or a file, threshold and
classification files, refusal of rules it cannot run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from eve_check import assert_eve_valid

SV = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "suricata-verify" / "tests"
SIP = SV / "sip-body-frames" / "public-cloudshark-sip-s0.pcap"   # 10 UDP packets


def replay(*args):
    return subprocess.run([sys.executable, "-m", "xdpfw", "replay", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_threshold_and_classification_files(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text('alert udp any any -> any any (msg:"u"; classtype:bad-unknown; sid:1;)\n')
    thr = tmp_path / "threshold.config"
    thr.write_text("event_filter gen_id 1, sig_id 1, type limit, track by_rule, count 2, seconds 60\n")
    cls = tmp_path / "classification.config"
    cls.write_text("config classification: bad-unknown,Operator Words,1\n")
    plain = replay(SIP, "--rules", rules)
    assert plain.returncode == 0, plain.stderr
    assert len(assert_eve_valid(plain.stdout.splitlines())) == 10
    eve = tmp_path / "eve.json"
    res = replay(SIP, "--rules", rules, "--threshold", thr, "--classification", cls, "--eve", eve)
    assert res.returncode == 0, res.stderr
    events = [json.loads(x) for x in eve.read_text().splitlines()]
    assert len(events) == 2
    assert {e["alert"]["category"] for e in events} == {"Operator Words"}
    assert {e["alert"]["severity"] for e in events} == {1}
    assert [e["pcap_cnt"] for e in events] == [1, 2]


def test_skips_alert_rules_it_cannot_run_and_refuses_drop_rules(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text('alert udp any any -> any any (msg:"ok"; sid:1;)\n'
                     'alert http any any -> any any (msg:"mixed"; content:"x"; http.uri; content:"y"; sid:2;)\n')
    res = replay(SIP, "--rules", rules)
    assert res.returncode == 0, res.stderr
    # the runnable rule ran: one alert per packet
    events = assert_eve_valid(res.stdout.splitlines())
    assert len(events) == 10 and {e["alert"]["signature_id"] for e in events} == {1}
    # the one it cannot run is named, file:line, with the reason, and counted
    assert f"{rules}:2: warning: sid:2" in res.stderr and "mixes packet payload" in res.stderr
    assert "1 rules successfully loaded, 0 rules failed, 1 rules skipped" in res.stderr
    assert "Traceback" not in res.stderr
    # --strict refuses, as does a drop rule it cannot enforce exactly: nothing replayed
    for extra, text in ((["--strict"], rules.read_text()),
                        ([], rules.read_text().replace("alert http", "drop http"))):
        rules.write_text(text)
        res = replay(SIP, "--rules", rules, *extra)
        assert res.returncode == 1, res.stderr
        assert f"{rules}:2: error: sid:2" in res.stderr and "nothing loaded" in res.stderr
        assert res.stdout == ""


def test_every_rule_hyperscan_rejects_is_named_in_one_run(tmp_path):
    # Back-references and over-long patterns: Hyperscan rejects each; one invocation of
    # check and of replay names them all, file:line, and runs the rest (no traceback).
    big = "A" * 1_000_000
    rules = tmp_path / "hs.rules"
    rules.write_text('alert udp any any -> any any (msg:"ok"; content:"SIP"; sid:1;)\n'
                     'alert udp any any -> any any (msg:"br1"; pcre:"/(a)\\1/"; sid:2;)\n'
                     'alert udp any any -> any any (msg:"br2"; pcre:"/(b)x\\1/"; sid:3;)\n'
                     f'alert udp any any -> any any (msg:"long c"; content:"{big}"; sid:4;)\n'
                     f'alert udp any any -> any any (msg:"long p"; pcre:"/{big}/"; sid:5;)\n'
                     'alert tcp any any -> any any (msg:"br3"; pcre:"/(c)y\\1/"; sid:6;)\n')
    chk = subprocess.run([sys.executable, "-m", "xdpfw", "check", str(rules)], capture_output=True,
                         text=True, timeout=120)
    res = replay(SIP, "--rules", rules)
    for r in (chk, res):
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[:3000]
        for line, sid in ((2, 2), (3, 3), (4, 4), (5, 5), (6, 6)):
            assert f"{rules}:{line}: warning: sid:{sid} " in r.stderr, (line, r.stderr[:3000])
    assert "1 rules successfully loaded, 0 rules failed, 5 rules skipped" in chk.stdout
    assert "1 rules successfully loaded, 0 rules failed, 5 rules skipped" in res.stderr
    assert {e["alert"]["signature_id"] for e in assert_eve_valid(res.stdout.splitlines())} == {1}


# -- link types: every framing Suricata reads ------------------------------------------------

def _pcap(linktype: int, frames: list[bytes]) -> bytes:
    import struct

    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, f in enumerate(frames):
        out += struct.pack("<IIII", 1700000000 + i, 0, len(f), len(f)) + f
    return out


def _pcapng(linktype: int, frames: list[bytes]) -> bytes:
    import struct

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", btype, len(body) + 12) + body + struct.pack("<I", len(body) + 12)

    out = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack("<HHI", linktype, 0, 65535))
    for i, f in enumerate(frames):
        ts = (1700000000 + i) * 1_000_000
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(f), len(f)) + f)
    return out


def _framings():
    """(link type, header builder) for each supported framing of an IP packet."""
    import struct

    def ppp(ip, v):
        return b"\xff\x03" + struct.pack("!H", 0x21 if v == 4 else 0x57) + ip

    return {
        101: lambda ip, v: ip,
        12: lambda ip, v: ip,
        14: lambda ip, v: ip,
        228: lambda ip, v: ip,
        229: lambda ip, v: ip,
        113: lambda ip, v: struct.pack("!HHH8sH", 0, 1, 6, b"\x02" * 6 + b"\0\0", 0x800 if v == 4 else 0x86DD) + ip,
        276: lambda ip, v: struct.pack("!HHIHBB8s", 0x800 if v == 4 else 0x86DD, 0, 1, 1, 0, 6, b"\x02" * 8) + ip,
        0: lambda ip, v: struct.pack("=I", 2 if v == 4 else 30) + ip,
        108: lambda ip, v: struct.pack("!I", 2 if v == 4 else 24) + ip,
        9: ppp,
        104: lambda ip, v: struct.pack("!BBH", 0x0F, 0, 0x800 if v == 4 else 0x86DD) + ip,
    }


def test_every_link_type_suricata_reads_is_inspected(tmp_path):
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6

    rules = tmp_path / "t.rules"
    rules.write_text('alert udp any any -> any 7777 (msg:"x"; content:"needle"; sid:1;)\n')
    ip4 = bytes(IP(src="198.18.0.1", dst="198.18.0.2") / UDP(sport=5, dport=7777) / b"a needle b")
    ip6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5, dport=7777) / b"a needle b")
    for lt, frame in sorted(_framings().items()):
        for fmt, writer in (("pcap", _pcap), ("pcapng", _pcapng)):
            ips = [(ip4, 4)] if lt == 228 else [(ip6, 6)] if lt == 229 else [(ip4, 4), (ip6, 6)]
            cap = tmp_path / f"lt{lt}.{fmt}"
            cap.write_bytes(writer(lt, [frame(ip, v) for ip, v in ips]))
            res = replay(cap, "--rules", rules)
            assert res.returncode == 0, (lt, fmt, res.stderr)
            events = assert_eve_valid(res.stdout.splitlines())
            assert [(e["alert"]["signature_id"], e["src_ip"]) for e in events] == \
                [(1, "198.18.0.1" if v == 4 else "2001:0db8:0000:0000:0000:0000:0000:0001") for _, v in ips], \
                (lt, fmt, res.stdout)


def test_unreadable_captures_are_reported_and_the_rest_still_run(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text('alert udp any any -> any any (msg:"u"; sid:1;)\n')
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"this is not a capture at all, not even close" * 3)
    odd = tmp_path / "dlt147.pcap"
    odd.write_bytes(_pcap(147, [b"\x00" * 40]))        # a user link type: nobody can decode it
    eve = tmp_path / "eve.json"
    res = replay(garbage, SIP, odd, "--rules", rules, "--eve", eve)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert f"{garbage}: cannot read: " in res.stderr
    assert f"{odd}: cannot read: link type 147 (unknown) is not supported" in res.stderr
    assert "2 file(s) could not be read" in res.stderr
    assert len(eve.read_text().splitlines()) == 10      # the readable capture's alerts all written


ET_OPEN = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "et-open"


def test_et_open_as_downloaded_replay_starts_and_agrees_with_check(tmp_path):
    """The whole ET Open 2024 directory, unedited: replay starts with the rules that run,
    and check (same decision, detect.ruleset.load_detection) reports the same numbers
    and names the same rules."""
    import re

    if not ET_OPEN.is_dir():
        import pytest

        pytest.skip("no ET Open corpus")
    cmd = [sys.executable, "-m", "xdpfw"]
    procs = {name: subprocess.Popen(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in (("check", ["check", str(ET_OPEN)]),
                                ("replay", ["replay", "--rules", str(ET_OPEN), str(SIP)]))}
    out = {name: p.communicate(timeout=900) for name, p in procs.items()}
    assert procs["check"].returncode == 0, out["check"][1][-3000:]
    assert procs["replay"].returncode == 0, out["replay"][1][-3000:]
    summary = re.compile(r"(\d+) rule files processed\. (\d+) rules successfully loaded, (\d+) rules failed, "
                         r"(\d+) rules skipped")
    chk = summary.search(out["check"][0]).groups()
    rep = summary.search(out["replay"][1]).groups()
    assert chk == rep
    files, loaded, failed, skipped = map(int, chk)
    assert files > 40 and loaded > 10000 and skipped > 100
    named = re.compile(r"(/\S+\.rules:\d+):(?:\d+:)? warning: ")
    chk_named = set(named.findall(out["check"][1]))
    rep_named = set(named.findall(out["replay"][1]))
    assert chk_named == rep_named and len(rep_named) == skipped + failed
    assert "Traceback" not in out["check"][1] + out["replay"][1]
    assert_eve_valid(out["replay"][0].splitlines(), min_lines=0)
