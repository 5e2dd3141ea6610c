"""``xdpfw check``: output format and exit codes."""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

from xdpfw.rules import check

DATA = Path(__file__).parent / "data" / "rules"
ROOT = Path(__file__).resolve().parents[2]


def run_check(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="xdpfw check")
    check.add_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    rc = check.run(parser.parse_args([str(a) for a in argv]), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def test_clean_file_exits_zero():
    rc, out, err = run_check(DATA / "good.rules")
    assert rc == 0 and err == ""
    assert out == "1 rule files processed. 5 rules successfully loaded, 0 rules failed, 0 rules skipped\n"


def test_failures_exit_one_with_located_messages_and_skip_table():
    rc, out, err = run_check(DATA / "mixed.rules")
    path = DATA / "mixed.rules"
    assert rc == 1
    lines = err.splitlines()
    assert lines[0] == f"{path}:2:62: error: keyword 'depth': value 'x' is not an integer"
    assert lines[1] == ('    alert tcp any any -> any 80 (msg:"bad depth"; content:"abc"; depth:x; sid:2000002;)')
    assert lines[2] == f"{path}:4:11: error: unknown variable $FOO in source address"
    assert f"{path}:5:62: warning: rule sid:2000005 skipped: keyword 'byte_test' is not supported" in lines
    assert sum(1 for line in lines if ": error: " in line) == 3
    assert sum(1 for line in lines if ": warning: " in line) == 3
    assert out.splitlines() == [
        "1 rule files processed. 3 rules successfully loaded, 3 rules failed, 3 rules skipped",
        "rules skipped per unsupported keyword:",
        "  1  byte_test",
        "  1  frobnicate",
        "  1  tls.cert_fingerprint",
    ]


def test_skip_table_sorted_by_count(tmp_path):
    f = tmp_path / "s.rules"
    f.write_text("".join(f'alert tcp any any -> any any (content:"a"; byte_jump:1,0; sid:{i};)\n' for i in (1, 2))
                 + 'alert tcp any any -> any any (content:"a"; byte_test:1,=,1,0; byte_jump:1,0; sid:3;)\n'
                 + 'alert tcp any any -> any any (content:"a"; aaa:1; sid:4;)\n')
    rc, out, _ = run_check(f)
    assert rc == 0
    assert out.splitlines()[1:] == ["rules skipped per unsupported keyword:", "  3  byte_jump", "  1  aaa",
                                    "  1  byte_test"]


def test_quiet_and_strict():
    rc, out, err = run_check(DATA / "mixed.rules", "--quiet")
    assert rc == 1 and ": warning: " not in err and out.count("\n") == 1
    rc, out, err = run_check(DATA / "dir", "--strict")
    assert rc == 0
    rc, out, err = run_check(DATA / "mixed.rules", "--strict", "--quiet")
    assert "6 rules failed, 0 rules skipped" in out
    assert "error: rule sid:2000005 skipped: keyword 'byte_test' is not supported" in err


def test_config_files_among_paths_and_vars():
    rc, out, err = run_check(DATA / "good.rules", DATA / "threshold.config", DATA / "classification.config")
    assert rc == 1  # the fixtures carry deliberate errors
    assert f"{DATA / 'classification.config'}:4:24: error:" in err
    assert f"{DATA / 'threshold.config'}:10:1: error: threshold: type 'sometimes'" in err
    assert f"{DATA / 'threshold.config'}:11:1: error: rate_filter: new_action 'sdrop'" in err
    # the rules use classtypes the custom classification.config lacks
    assert "unknown classtype 'web-application-activity'" in err
    rc, out, err = run_check(DATA / "mixed.rules", "--var", "FOO=[1.2.3.4]", "--quiet")
    assert "unknown variable" not in err and "4 rules successfully loaded" in out


def test_usage_errors_exit_two():
    rc, _, err = run_check(DATA / "good.rules", DATA / "other.config")
    assert rc == 2 and "unknown .config file" in err
    rc, _, err = run_check(DATA / "good.rules", "--var", "NOEQUALS")
    assert rc == 2 and "--var expects NAME=VALUE" in err
    rc, _, err = run_check(DATA / "classification.config")
    assert rc == 2 and "no rule files given" in err


def test_invalid_utf8_is_printed_not_fatal(tmp_path):
    f = tmp_path / "bin.rules"
    f.write_bytes(b'alert tcp any any -> any any (msg:"\xff"; depth:1; sid:1;)\n'
                  b'alert tcp any any -> any any (content:"a"; \xfe\xff:1; sid:2;)\n')
    rc, out, err = run_check(f)
    assert rc == 1
    assert "keyword 'depth': needs a preceding content" in err
    assert '(msg:"\ufffd"; depth:1; sid:1;)' in err
    assert "\ufffd\ufffd" in out and "1 rules skipped" in out


def test_missing_file_exits_one():
    rc, out, err = run_check(DATA / "does-not-exist.rules")
    assert rc == 1 and "no such file or directory" in err
    assert out.startswith("0 rule files processed.")


def test_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "xdpfw.rules.check", str(DATA / "mixed.rules"), "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1
    assert proc.stdout.startswith("1 rule files processed. 3 rules successfully loaded")
