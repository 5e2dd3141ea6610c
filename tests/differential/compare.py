"""Detection differential: the same captures and rules through Suricata 7 and xdpfw.

Each capture runs with a fresh flow table on both sides (Suricata: one unix-socket
`pcap-file` each; xdpfw: one engine each, as `xdpfw replay` builds it), IDS mode, the same
variables (Suricata's default vars, which are also xdpfw's), checksums not checked.
Alerts are compared as sets of keys (signature id, protocol, addresses, ports) per
capture, on the rules xdpfw runs (Suricata runs the whole set, so the alerts of the rules
xdpfw does not run are counted apart: what those rules cost).

`python -m tests.differential.compare [--pcaps GLOB]... [--rules PATH]... [--json OUT]`
prints the report (the full-corpus figures in docs/TESTING.md come from it).
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.differential import oracle  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
ET_OPEN = CORPUS / "et-open"
PCAPS = CORPUS / "pcaps"

Key = tuple  # (sid, proto, src_ip, src_port, dest_ip, dest_port)


def alert_key(rec: dict) -> Key:
    a = rec.get("alert", {})
    return (int(a.get("signature_id", 0)), str(rec.get("proto", "")).upper(), rec.get("src_ip"),
            rec.get("src_port"), rec.get("dest_ip"), rec.get("dest_port"))


def corpus_pcaps() -> list[Path]:
    """Every capture of the public corpus (not the benchmark capture), by the inventory."""
    inv = (PCAPS / "pcap-inventory.tsv").read_text().splitlines()[1:]
    return [PCAPS / ln.split("\t")[0] for ln in inv if ln and not ln.startswith("bench/")]


VAR_OVERRIDES = {"HOME_NET": "any", "EXTERNAL_NET": "any"}


def oracle_vars() -> dict:
    """Suricata's default vars with HOME_NET and EXTERNAL_NET both `any`: the public
    captures use every kind of address, and rules written `$EXTERNAL_NET -> $HOME_NET`
    should see all of them (the same dict goes to both sides)."""
    from xdpfw.rules.variables import DEFAULT_ADDRESS_GROUPS, DEFAULT_PORT_GROUPS

    groups = dict(DEFAULT_ADDRESS_GROUPS, **VAR_OVERRIDES)
    return {"address-groups": groups, "port-groups": dict(DEFAULT_PORT_GROUPS)}


@dataclass
class XdpfwSide:
    """xdpfw's engine built once from a rule set; each capture gets a fresh engine."""

    rule_paths: list[str]
    classification: str | None = None
    runs: set = field(default_factory=set)       # sids xdpfw runs
    refused: dict = field(default_factory=dict)  # sid -> reason (loader skip or engine refusal)
    build_seconds: float = 0.0

    def build(self) -> "XdpfwSide":
        """The rule set exactly as `xdpfw replay` decides it (detect.ruleset.load_detection)."""
        from xdpfw.detect.ruleset import load_detection

        t0 = time.perf_counter()
        self.det = load_detection(self.rule_paths, [f"{k}={v}" for k, v in VAR_OVERRIDES.items()],
                                  kernel_acl=False, classification=self.classification)
        for line in self.det.skipped + self.det.failed:
            sid = _sid_of_problem(line)
            if sid is not None:
                self.refused.setdefault(sid, line.split("error: ", 1)[-1])
        self.runs = {r.sid for r in self.det.tables.rules}
        self.build_seconds = time.perf_counter() - t0
        return self

    def run(self, pcap: Path) -> tuple[list[dict], str | None]:
        """Alert records of one capture, and an error text if it could not be read."""
        from xdpfw.service.alerts import AlertSink
        from xdpfw.service.replay import _replay_one

        engine = self.det.engine_factory(flow_capacity=1 << 14, gap_resync=4, ips=False)()
        out: list[dict] = []
        if getattr(self, "_sink", None) is None:   # one sink: its per-rule EVE infos cost seconds
            self._sink = AlertSink(self.det.tables.rules, None, ips=False, replay=True,
                                   classifications=self.det.classifications)
        self._sink.write = lambda line: out.append(json.loads(line))
        try:
            _replay_one(engine, self._sink, pcap)
        except Exception as e:  # noqa: BLE001 - reported per capture, the run goes on
            return [r for r in out if r.get("event_type") == "alert"], f"{type(e).__name__}: {e}"
        return [r for r in out if r.get("event_type") == "alert"], None


def _sid_of_problem(text: str) -> int | None:
    i = text.find("sid:")
    if i < 0:
        return None
    digits = "".join(ch for ch in text[i + 4:i + 16] if ch.isdigit() or ch == " ").split()
    return int(digits[0]) if digits else None


@dataclass
class Report:
    captures: int = 0
    common: int = 0              # keys both raised (rules xdpfw runs)
    suricata_only: list = field(default_factory=list)   # (capture, key)
    xdpfw_only: list = field(default_factory=list)
    not_run: collections.Counter = field(default_factory=collections.Counter)  # sid -> alerts (keys)
    unreadable: dict = field(default_factory=dict)       # capture -> error
    seconds: dict = field(default_factory=dict)

    @property
    def recall(self) -> float:
        n = self.common + len(self.suricata_only)
        return self.common / n if n else 1.0

    @property
    def precision(self) -> float:
        n = self.common + len(self.xdpfw_only)
        return self.common / n if n else 1.0

    def summary(self) -> str:
        lines = [f"{self.captures} captures: recall {self.recall:.4f}, precision {self.precision:.4f} "
                 f"({self.common} alert keys in common, {len(self.suricata_only)} Suricata only, "
                 f"{len(self.xdpfw_only)} xdpfw only, on the rules xdpfw runs)",
                 f"rules xdpfw does not run: {sum(self.not_run.values())} Suricata alert keys "
                 f"from {len(self.not_run)} signatures",
                 f"captures xdpfw could not read: {len(self.unreadable)}",
                 "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.seconds.items())]
        by_sid = collections.Counter(k[0] for _, k in self.suricata_only)
        if by_sid:
            lines.append("missed, by signature: " + ", ".join(f"{s}x{n}" for s, n in by_sid.most_common(15)))
        by_sid = collections.Counter(k[0] for _, k in self.xdpfw_only)
        if by_sid:
            lines.append("extra, by signature: " + ", ".join(f"{s}x{n}" for s, n in by_sid.most_common(15)))
        return "\n".join(lines)

    def differences(self) -> list[dict]:
        return ([{"capture": c, "key": list(k), "side": "suricata"} for c, k in self.suricata_only]
                + [{"capture": c, "key": list(k), "side": "xdpfw"} for c, k in self.xdpfw_only])


def compare(pcaps: list[Path], rule_paths: list[str], *, classification: str | None = None,
            workdir: Path) -> Report:
    rep = Report()
    t0 = time.perf_counter()
    x = XdpfwSide([str(p) for p in rule_paths], classification).build()
    rep.seconds["xdpfw build"] = time.perf_counter() - t0
    t_sur = t_x = 0.0
    t0 = time.perf_counter()
    with oracle.Suricata(rule_paths, vars_=oracle_vars(), classification=classification) as s:
        rep.seconds["suricata start"] = time.perf_counter() - t0
        for i, pcap in enumerate(pcaps):
            name = str(pcap.relative_to(PCAPS)) if pcap.is_relative_to(PCAPS) else str(pcap)
            t = time.perf_counter()
            sur = oracle.read_eve(s.run(pcap, workdir / f"{i:04d}"))
            t_sur += time.perf_counter() - t
            t = time.perf_counter()
            mine, err = x.run(pcap)
            t_x += time.perf_counter() - t
            if err:
                rep.unreadable[name] = err
            rep.captures += 1
            skeys = {alert_key(r) for r in sur}
            xkeys = {alert_key(r) for r in mine}
            # Suricata inspects the transactions still open at a capture's end from its
            # flow manager thread, which races the end of the file in unix-socket mode: a
            # capture whose alerts differ runs twice more, and Suricata's alerts are the
            # union of its runs (xdpfw's are deterministic: the same input, the same keys).
            for again in range(2 if skeys != xkeys else 0):
                t = time.perf_counter()
                skeys |= {alert_key(r) for r in oracle.read_eve(s.run(pcap, workdir / f"{i:04d}-{again}"))}
                t_sur += time.perf_counter() - t
            for k in skeys:
                if k[0] not in x.runs:
                    rep.not_run[k[0]] += 1
            skeys = {k for k in skeys if k[0] in x.runs}
            rep.common += len(skeys & xkeys)
            rep.suricata_only += [(name, k) for k in sorted(skeys - xkeys, key=str)]
            rep.xdpfw_only += [(name, k) for k in sorted(xkeys - skeys, key=str)]
    rep.seconds["suricata captures"] = t_sur
    rep.seconds["xdpfw captures"] = t_x
    return rep


def main(argv=None) -> int:
    import tempfile

    p = argparse.ArgumentParser(prog="python -m tests.differential.compare")
    p.add_argument("--pcaps", action="append", metavar="GLOB", help="captures (default: the whole corpus)")
    p.add_argument("--rules", action="append", metavar="PATH", help="rule files (default: ET Open 2024)")
    p.add_argument("--json", metavar="OUT", help="write every difference here")
    a = p.parse_args(argv)
    pcaps = ([Path(f) for g in a.pcaps for f in sorted(glob.glob(g))] if a.pcaps else corpus_pcaps())
    rules = a.rules or [str(f) for f in sorted(ET_OPEN.glob("*.rules"))]
    with tempfile.TemporaryDirectory(prefix="xdpfw-diff-") as d:
        rep = compare(pcaps, rules, classification=str(ET_OPEN / "classification.config"), workdir=Path(d))
    print(rep.summary())
    if a.json:
        Path(a.json).write_text(json.dumps({"differences": rep.differences(), "unreadable": rep.unreadable,
                                            "not_run": dict(rep.not_run)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
