"""The suricata-update recipe of docs/RELOAD.md, run for real: Debian's suricata-update
builds the rule set from a LOCAL source (a tarball of the corpus' ET Open files, served
as a file:// URL, plus --local rules; no network), `xdpfw check -c` lists what this build
cannot enforce as a disable.conf, the next update leaves those out, and the output
checks clean for `xdpfw run`/`xdpfw reload`."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ET_OPEN = ROOT.parent / "shared" / "corpus" / "et-open"
SOURCES = ("emerging-scan.rules", "emerging-icmp.rules", "emerging-dos.rules")


def _suricata_update(tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    """Hermetic: nothing of the machine's own Suricata installation takes part. Without
    this, suricata-update reads /etc/suricata/update.yaml and its *.conf filters, asks the
    installed `suricata` binary (found on PATH or beside itself) for its build info, and merges Suricata's
    distribution rules (/usr/share/suricata/rules, /etc/suricata/rules) into the output."""
    exe = shutil.which("suricata-update")
    assert exe, "suricata-update is not installed (scripts/setup.sh installs Debian's package)"
    empty = tmp / "empty"
    empty.mkdir(exist_ok=True)
    # It also looks for `suricata` beside its own argv[0] (/usr/bin): run it from a link.
    link = tmp / "bin" / "suricata-update"
    if not link.exists():
        link.parent.mkdir()
        link.symlink_to(exe)
    conf = tmp / "update.yaml"   # every path suricata-update would look up on the machine
    conf.write_text("".join(f"{key}: {tmp / 'none' / key}\n"
                            for key in ("disable-conf", "enable-conf", "drop-conf", "modify-conf"))
                    + f"dist-rule-directory: {empty}\n")
    argv = [str(link), "-c", str(conf), "--data-dir", str(tmp / "data"), "--suricata-conf", "/dev/null",
            "--suricata-version", "7.0.0",
            "--no-test", "--no-reload", "--url", f"file://{tmp / 'emerging.rules.tar.gz'}",
            "--local", str(tmp / "local.rules"), "--output", str(tmp / "rules"), *extra]
    env = {"PATH": str(empty), "HOME": str(tmp), "LANG": "C.UTF-8"}   # no `suricata` to find
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp, env=env)


def _xdpfw(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xdpfw", *argv], capture_output=True, text=True, timeout=300)


def test_suricata_update_from_a_local_source_then_check(tmp_path):
    with tarfile.open(tmp_path / "emerging.rules.tar.gz", "w:gz") as tar:  # the layout ET ships
        for name in SOURCES:
            tar.add(ET_OPEN / name, arcname=f"rules/{name}")
    (tmp_path / "local.rules").write_text(
        'drop tcp $EXTERNAL_NET any -> $HOME_NET 23 (msg:"LOCAL telnet in"; sid:9100001; rev:1;)\n'
        'drop ip 203.0.113.66 any -> any any (msg:"LOCAL blocked host"; sid:9100002; rev:1;)\n')
    cfg = tmp_path / "xdpfw.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        interfaces: {{inline: [a0, b0]}}
        rules:
          default-rule-path: {tmp_path / 'rules'}
          rule-files: [suricata.rules]
          classification-file: {ET_OPEN / 'classification.config'}
        vars:
          address-groups: {{HOME_NET: "[198.18.0.0/15]"}}
        """))

    # 1. the full candidate: the update works offline, but this build refuses part of it
    r = _suricata_update(tmp_path)
    assert r.returncode == 0, r.stderr
    out = (tmp_path / "rules" / "suricata.rules").read_text()
    assert "sid:9100001" in out and "sid:2001219" in out
    # nothing of an installed Suricata's own rules (its engine events, sids 22xxxxx) merged in
    assert not [m for m in re.findall(r"sid:(\d+)", out) if 2200000 <= int(m) < 2300000]
    # as downloaded, it runs: the alert rules this build cannot run are left out, each named
    disable = tmp_path / "disable.conf"
    c = _xdpfw("check", "-c", str(cfg), "--disable-conf-out", str(disable))
    assert c.returncode == 0, c.stdout + c.stderr
    assert "OK for `xdpfw run`" in c.stdout and "nothing loaded" not in c.stdout
    assert ": warning: sid:" in c.stderr and ": error: sid:" not in c.stderr   # each named
    skipped = int(c.stdout.split(" rules skipped")[0].split()[-1])
    assert skipped > 50
    sids = [ln.split()[0] for ln in disable.read_text().splitlines() if not ln.startswith("#")]
    assert len(sids) > 50 and "9100001" not in sids and all(s.isdigit() for s in sids)

    # 2. optional: update with that disable.conf (the skipped rules commented out), check, (reload)
    r = _suricata_update(tmp_path, "--disable-conf", str(disable))
    assert r.returncode == 0, r.stderr
    c = _xdpfw("check", "-c", str(cfg))
    assert c.returncode == 0, c.stdout + c.stderr
    assert "0 rules failed, 0 rules skipped" in c.stdout
    loaded = int(c.stdout.split(" rules successfully loaded")[0].split()[-1])
    assert loaded > 50
    assert "OK for `xdpfw run`: 1 rule(s) in the kernel ACL" in c.stdout  # the blocked host
    # the disabled rules are still in the file, commented out, as suricata-update writes them
    text = (tmp_path / "rules" / "suricata.rules").read_text()
    assert "# alert" in text and "sid:9100001" in text
