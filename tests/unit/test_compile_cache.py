"""The compile cache (xdpfw/detect/cache.py): hits, misses, damaged and foreign files,
keys that follow the rules, concurrent writers, unusable directories, pruning, and that a
rule set from the cache behaves as the one built. Every test uses its own temporary
directory (tests/conftest.py also points the default at a fresh per-session one)."""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from xdpfw._fast import match_hs
from xdpfw._fast.match import Pattern, scan_bytes
from xdpfw.detect import cache as C
from xdpfw.detect.ruleset import build_detection, load_detection

RULES = """\
alert tcp any any -> any 80 (msg:"evil"; content:"EVILPAYLOAD"; sid:1;)
alert tcp any any -> any 80 (msg:"pcre"; content:"GET"; pcre:"/\\/x[0-9]{2}\\.php/"; sid:2;)
alert udp any any -> any 53 (msg:"udp"; content:"BADDNS"; nocase; sid:3;)
alert http any any -> any any (msg:"uri"; http.uri; content:"/admin.cgi"; sid:4;)
alert tcp any any -> any 80 (msg:"backref"; pcre:"/(ab)\\1/"; sid:5;)
alert tcp any any -> any 80 (msg:"flowbit set"; content:"LOGIN"; flowbits:set,seen; flowbits:noalert; sid:6;)
alert tcp any any -> any 80 (msg:"flowbit"; content:"SECRET"; flowbits:isset,seen; sid:7;)
"""

ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


@pytest.fixture
def rules(tmp_path):
    p = tmp_path / "test.rules"
    p.write_text(RULES)
    return p


@pytest.fixture
def cdir(tmp_path):
    d = tmp_path / "cache"
    return d


def load(path, cache, **kw):
    return load_detection([str(path)], [], kernel_acl=False, cache=cache, **kw)


def view(det):
    """What the engine and the alert path get from a Detection."""
    t = det.tables
    return (repr(t.sigs), repr(t.addrs), repr(t.ports), t.report, t.block_report, repr(t.stream_combos),
            t.event_rules, t.header_only, t.flowbit_ids, [(r.sid, r.msg, r.text, r.classtype) for r in t.rules],
            list(det.problems), det.skipped, det.failed, det.summary,
            [d.patterns if d is not None else None for d in (det.stream_db, det.block_db, det.frag_db)],
            [(b.buf, b.variant, b.report, b.every, b.db.patterns) for b in det.app.buffers] if det.app else None)


def alerts_of(det) -> list[int]:
    """sids the engine built from det alerts on a fixed set of flows."""
    eng = det.engine_factory(flow_capacity=256, ips=False)()
    now = 10**9

    def tcp(sport, seq, flags, data=b"", d=0):
        nonlocal now
        now += 1000
        src, dst = ("198.18.0.1", "198.18.0.2") if d == 0 else ("198.18.0.2", "198.18.0.1")
        sp, dp = (sport, 80) if d == 0 else (80, sport)
        eng.inspect_frame(bytes(ETH / IP(src=src, dst=dst) / TCP(sport=sp, dport=dp, seq=seq, flags=flags) / data),
                          d, now)

    for sport, payload in ((40000, b"xxEVILPAYLOADyy"), (40001, b"GET /x42.php HTTP/1.0\r\nHost: a\r\n\r\n"),
                           (40002, b"GET /admin.cgi HTTP/1.1\r\nHost: a\r\n\r\n"), (40003, b"LOGIN then SECRET")):
        tcp(sport, 100, "S")
        tcp(sport, 500, "SA", d=1)
        tcp(sport, 101, "A")
        tcp(sport, 101, "PA", payload)
    now += 1000
    eng.inspect_frame(bytes(ETH / IP(src="198.18.0.1", dst="198.18.0.2") / UDP(sport=5000, dport=53) / b"..baddns.."),
                      0, now)
    return sorted(det.tables.rules[a["sig"]].sid for a in eng.drain_alerts())


def test_miss_then_hit_gives_the_same_rule_set_and_alerts(rules, cdir):
    c = C.CompileCache(str(cdir))
    built = load(rules, c)
    assert not built.cached
    assert c.stats["hsdb"]["stores"] >= 4 and c.stats["ruleset"]["stores"] == 1
    assert c.stats["hsdb"]["hits"] == 0 and c.totals()["corrupt"] == 0
    ref = load(rules, None)
    c2 = C.CompileCache(str(cdir))            # a new process: a new cache object, same directory
    hit = load(rules, c2)
    assert hit.cached
    assert c2.stats["ruleset"]["hits"] == 1 and c2.stats["hsdb"]["hits"] >= 4 and c2.totals()["misses"] == 0
    assert view(hit) == view(built) == view(ref)
    assert alerts_of(ref) == alerts_of(hit) == [1, 2, 3, 4, 7]
    # the rule Hyperscan rejects is named the same way from the cache
    assert any("sid:5" in p and "Hyperscan" in p for p in hit.skipped)


def test_database_outcome_cache_without_the_rule_set_entry(rules, cdir):
    """With the rule set entry gone, a build still takes every database and the
    rejections (validation compiles) from the cache, with the same result."""
    c = C.CompileCache(str(cdir))
    ref = load(rules, c)
    for p in cdir.glob("ruleset-*.bin"):
        p.unlink()
    c2 = C.CompileCache(str(cdir))
    again = load(rules, c2)
    assert not again.cached
    assert c2.stats["build"]["hits"] >= 3 and c2.stats["build"]["misses"] == 0
    assert c2.stats["hsdb"]["misses"] == 0
    assert view(again) == view(ref)


def test_one_rule_changed_changes_its_keys_only(rules, cdir, tmp_path):
    c = C.CompileCache(str(cdir))
    load(rules, c)
    rules.write_text(RULES.replace('content:"BADDNS"', 'content:"WORSEDNS"'))
    c2 = C.CompileCache(str(cdir))
    det = load(rules, c2)
    assert not det.cached                                  # the file's content is in the key
    assert c2.stats["ruleset"]["misses"] == 1
    # the UDP rule's block (and fragment) database is new, the TCP and app ones are hits
    assert c2.stats["hsdb"]["misses"] == 2 and c2.stats["hsdb"]["hits"] >= 2
    eng = det.engine_factory(flow_capacity=64, ips=False)()
    eng.inspect_frame(bytes(ETH / IP(src="198.18.0.1", dst="198.18.0.2") / UDP(sport=5, dport=53) / b"worsedns"),
                      0, 10**9)
    assert [det.tables.rules[a["sig"]].sid for a in eng.drain_alerts()] == [3]
    # and any option that changes the build is in the key
    k = dict(kernel_acl=False, threshold=None, classification=None, matcher="hs", strict=False)
    base = C.ruleset_key([str(rules)], [], **k)
    assert C.ruleset_key([str(rules)], ["HOME_NET=[198.18.0.0/15]"], **k) != base
    assert C.ruleset_key([str(rules)], [], **(k | {"kernel_acl": True})) != base
    assert C.ruleset_key([str(rules)], [], **(k | {"strict": True})) != base
    assert C.ruleset_key([str(rules)], [], **k) == base


def test_database_key_is_exactly_the_compile_inputs():
    pats = [Pattern(1, b"abc", literal=True), Pattern(2, b"d.f", literal=False, dotall=True, max_offset=40)]
    k = match_hs.Database.cache_key(pats, "block")
    assert k == match_hs.Database.cache_key(list(pats), "block")
    assert k != match_hs.Database.cache_key(pats, "stream")
    assert k != match_hs.Database.cache_key([pats[0], pats[1]._replace(max_offset=41)], "block")
    assert k != match_hs.Database.cache_key([pats[0], pats[1]._replace(id=3)], "block")
    assert k != match_hs.Database.cache_key([pats[0]._replace(nocase=True), pats[1]], "block")
    assert k != match_hs.Database.cache_key([pats[0], pats[1]._replace(singlematch=True)], "block")


def _entry(cdir) -> tuple[Path, str]:
    pats = [Pattern(1, b"needle", literal=True), Pattern(2, b"hay[0-9]+stack", literal=False)]
    return pats, match_hs.Database.cache_key(pats, "block")


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "foreign", "garbage_image", "other_mode",
                                    "bad_magic"])
def test_a_bad_entry_is_counted_logged_removed_and_recompiled(cdir, damage, caplog):
    c = C.CompileCache(str(cdir))
    pats, key = _entry(cdir)
    c.database(match_hs, pats, "block")
    path = Path(c.path("hsdb", key))
    raw = path.read_bytes()
    if damage == "flip":
        b = bytearray(raw)
        b[-100] ^= 0x40
        path.write_bytes(bytes(b))
    elif damage == "truncate":
        path.write_bytes(raw[:len(raw) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "bad_magic":
        path.write_bytes(b"XDPFWCACHE9\n" + raw[12:])
    elif damage == "foreign":               # another entry's whole, valid file under this name
        other = [Pattern(1, b"other", literal=True)]
        c.database(match_hs, other, "block")
        os.replace(c.path("hsdb", match_hs.Database.cache_key(other, "block")), path)
    elif damage == "garbage_image":         # a well-formed entry whose payload Hyperscan refuses
        c.put("hsdb", key, b"\0" * 4096)
    elif damage == "other_mode":            # a valid image of the wrong mode
        c.put("hsdb", key, match_hs.Database.compile(pats, mode="stream").serialize())
    c2 = C.CompileCache(str(cdir))
    with caplog.at_level(logging.WARNING, logger="xdpfw.cache"):
        db = c2.database(match_hs, pats, "block")
    assert c2.stats["hsdb"]["corrupt"] == 1 and c2.stats["hsdb"]["hits"] == 0
    assert "unusable" in caplog.text
    assert db.mode == "block"
    assert scan_bytes(db, match_hs.Scratch(db), b"..needle..hay42stack") == [(1, 8), (2, 20)]
    c3 = C.CompileCache(str(cdir))           # rewritten whole: the next one hits
    db3 = c3.database(match_hs, pats, "block")
    assert c3.stats["hsdb"]["hits"] == 1 and c3.stats["hsdb"]["corrupt"] == 0
    assert scan_bytes(db3, match_hs.Scratch(db3), b"needle") == [(1, 6)]


def test_a_damaged_rule_set_entry_is_rebuilt(rules, cdir):
    c = C.CompileCache(str(cdir))
    ref = load(rules, c)
    (p,) = cdir.glob("ruleset-*.bin")
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 1
    p.write_bytes(bytes(b))
    c2 = C.CompileCache(str(cdir))
    det = load(rules, c2)
    assert not det.cached and c2.stats["ruleset"]["corrupt"] == 1
    assert view(det) == view(ref)
    # a rule set entry whose databases are gone is a miss too, not a crash
    for q in cdir.glob("hsdb-*.bin"):
        q.unlink()
    c3 = C.CompileCache(str(cdir))
    det3 = load(rules, c3)
    assert not det3.cached and c3.stats["ruleset"]["corrupt"] == 1
    assert view(det3) == view(ref)


def test_flowbit_numbers_of_a_reload(rules, cdir):
    """A reload passes the running set's flowbit numbers: the cached set serves it when
    it was built from them or gave them; other numbers are a miss (the build renumbers)."""
    c = C.CompileCache(str(cdir))
    start = load(rules, c)
    again = load(rules, c, previous=start)
    assert again.cached and again.tables.flowbit_ids == start.tables.flowbit_ids
    other = type(start)(start.acl, type(start.tables)(flowbit_ids={"elsewhere": 0}))
    moved = load(rules, c, previous=other)
    assert not moved.cached
    assert moved.tables.flowbit_ids["elsewhere"] == 0 and moved.tables.flowbit_ids["seen"] == 1


def _writer(directory: str, payload: bytes, n: int) -> None:
    c = C.CompileCache(directory)
    for _ in range(n):
        assert c.put("build", "k" * 64, payload)


def test_concurrent_writers_and_readers_never_see_a_partial_entry(cdir):
    c = C.CompileCache(str(cdir))
    payload = os.urandom(1 << 20)
    procs = [multiprocessing.get_context("fork").Process(target=_writer, args=(str(cdir), payload, 20))
             for _ in range(3)]
    seen, stop = [], threading.Event()

    def reader():
        r = C.CompileCache(str(cdir))
        while not stop.is_set():
            got = r.get("build", "k" * 64)
            if got is not None:
                seen.append(got == payload)
        seen.append(r.stats["build"]["corrupt"] == 0)

    t = threading.Thread(target=reader)
    t.start()
    for p in procs:
        p.start()
    threads = [threading.Thread(target=_writer, args=(str(cdir), payload, 20)) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    stop.set()
    t.join()
    assert seen and all(seen)
    assert c.get("build", "k" * 64) == payload
    assert [p.name for p in cdir.iterdir()] == ["build-" + "k" * 64 + ".bin"]   # no temporary file left


@pytest.mark.parametrize("how", ["not_a_directory", "world_writable", "other_owner"])
def test_an_unusable_directory_builds_without_cache_and_warns(rules, tmp_path, how, caplog):
    if how == "not_a_directory":
        (tmp_path / "file").write_text("x")
        d = tmp_path / "file" / "cache"
    else:
        d = tmp_path / "c"
        d.mkdir()
        if how == "world_writable":
            d.chmod(0o777)
        else:
            os.chown(d, 54321, 54321)
    with caplog.at_level(logging.WARNING, logger="xdpfw.cache"):
        cache = C.open_cache(str(d))
    assert cache is None and "disabled" in caplog.text
    det = load(rules, cache)
    assert det.engine_rules == 6 and not det.cached


def test_write_errors_are_counted_not_raised(rules, cdir, caplog):
    c = C.CompileCache(str(cdir))
    os.rmdir(cdir)                           # gone after it was checked
    (cdir.parent / "cache").write_text("now a file")
    with caplog.at_level(logging.WARNING, logger="xdpfw.cache"):
        det = load(rules, c)
    assert det.engine_rules == 6
    assert c.totals()["store_errors"] >= 4 and "cannot write" in caplog.text


def test_prune_keeps_the_directory_bounded_least_recently_used_first(cdir):
    c = C.CompileCache(str(cdir), max_bytes=3 * (4096 + 200))
    for i in range(3):
        c.put("build", f"{i:064d}", b"x" * 4096)
        os.utime(c.path("build", f"{i:064d}"), (1000 + i, 1000 + i))
    assert c.get("build", f"{0:064d}") is not None          # used: now the most recent
    c.put("build", f"{3:064d}", b"x" * 4096)
    assert len(list(cdir.iterdir())) == 3
    assert not Path(c.path("build", f"{1:064d}")).exists()  # the least recently used went
    assert Path(c.path("build", f"{0:064d}")).exists() and Path(c.path("build", f"{3:064d}")).exists()
    assert c.stats["build"]["pruned"] == 1


def test_serialize_round_trip_scans_the_same():
    pats = [Pattern(7, b"ab.d", literal=False, dotall=True, min_offset=4), Pattern(9, b"XYZ", literal=True,
                                                                                 nocase=True)]
    db = match_hs.Database.compile(pats, mode="block")
    db2 = match_hs.Database.deserialize(db.serialize(), pats, "block")
    data = b"abcd..xyz.abxd"
    assert scan_bytes(db, match_hs.Scratch(db), data) == scan_bytes(db2, match_hs.Scratch(db2), data)
    assert db2.patterns == db.patterns and db2.database_size == db.database_size
    with pytest.raises(ValueError):
        match_hs.Database.deserialize(db.serialize(), pats, "stream")
    with pytest.raises(ValueError):
        match_hs.Database.deserialize(db.serialize()[:-7], pats, "block")


def test_the_test_suite_default_directory_is_its_own():
    d = C.default_dir("run")
    assert d == os.environ["XDPFW_CACHE_DIR"] and "xdpfw-test-cache-" in d
    assert not d.startswith("/var/lib/xdpfw")


def test_parallel_and_serial_builds_are_identical(rules):
    from xdpfw.rules import load_ruleset

    a = build_detection(load_ruleset([str(rules)]).rules, kernel_acl=False, jobs=1)
    b = build_detection(load_ruleset([str(rules)]).rules, kernel_acl=False, jobs=4)
    assert view(a)[:-1] == view(b)[:-1]
    assert [(x.buf, x.report, x.db.patterns) for x in a.app.buffers] == [(x.buf, x.report, x.db.patterns)
                                                                         for x in b.app.buffers]


def test_daemon_load_and_reload_use_the_cache_and_the_metrics_say_so(rules, cdir, caplog):
    """Daemon.load (start and reload) with cache.directory: the first start builds and
    stores, a reload of the unchanged set and a restart load it; the collector exports the
    cache's counters and whether the running set came from it."""
    from metrics_fake import registry
    from xdpfw.service.config import Config
    from xdpfw.service.daemon import Daemon
    from xdpfw.service.metrics import ControlStats

    cfg = Config(rule_files=[str(rules)], cache_dir=str(cdir))
    d = Daemon(cfg)
    with caplog.at_level(logging.INFO, logger="xdpfw"):
        first = d.load()
        assert not first.cached and "rule set built in" in caplog.text
        again = d.load(previous=first)             # a reload of the unchanged set
    assert again.cached and again.tables.flowbit_ids == first.tables.flowbit_ids
    assert "rule set loaded from the compile cache" in caplog.text
    restart = Daemon(cfg).load()
    assert restart.cached and view(restart) == view(first)
    c = ControlStats()
    c.compile_cache = d.cache
    c.set_detection(again)
    get = registry(control=c).get_sample_value
    assert get("xdpfw_compile_cache_events_total", {"kind": "ruleset", "event": "hits"}) == 1
    assert get("xdpfw_compile_cache_events_total", {"kind": "ruleset", "event": "stores"}) == 1
    assert get("xdpfw_compile_cache_events_total", {"kind": "hsdb", "event": "corrupt"}) == 0
    assert get("xdpfw_ruleset_from_cache") == 1 and get("xdpfw_ruleset_load_seconds") > 0
    off = Daemon(Config(rule_files=[str(rules)], cache_enabled=False))
    assert not off.load().cached and off.cache is None
