"""The YAML configuration (xdpfw/service/config.py), `xdpfw check -c`, flags over the file,
and the control socket protocol (xdpfw/service/ctl.py)."""
from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from xdpfw.cli import build_parser
from xdpfw.service import ctl
from xdpfw.service.config import (DEFAULT_CONTROL_SOCKET, Config, ConfigError, EveOutput, cmd_check, load_config,
                                  merge_flags, parse_config)

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "CONFIG.md"


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        parse_config(textwrap.dedent(text), "x.yaml")
    return ei.value.problems


def test_empty_file_is_all_defaults():
    assert parse_config("", "x.yaml") == Config(path="x.yaml", default_rule_path=os.getcwd())
    c = Config()
    assert (c.fail_mode, c.watchdog_ms, c.metrics_listen, c.control_socket, c.flow_capacity, c.eve) == \
        ("open", 1000, "127.0.0.1:9640", DEFAULT_CONTROL_SOCKET, 65536, [])


def test_encryption_handling_in_suricatas_shape():
    assert Config().tls_encryption_handling == "default"
    c = parse_config("app-layer:\n  protocols:\n    tls:\n      encryption-handling: bypass\n", "x.yaml")
    assert c.tls_encryption_handling == "bypass"


def test_full_config_and_relative_paths(tmp_path):
    p = tmp_path / "etc" / "xdpfw.yaml"
    p.parent.mkdir()
    p.write_text(textwrap.dedent("""\
        interfaces:
          inline: [ens1f0, ens1f1]
          xdp-mode: generic
          xsk-mode: copy
          busy-poll: true
        queues: 4
        rules:
          default-rule-path: ../rules
          rule-files: [suricata.rules, /abs/local.rules]
          classification-file: classification.config
          threshold-file: /etc/xdpfw/threshold.config
          matcher: ac
        vars:
          address-groups:
            HOME_NET: "[198.18.0.0/15]"
            DMZ: [198.18.1.1, 198.18.1.2]
          port-groups:
            HTTP_PORTS: 8080
        fail-mode: closed
        watchdog-ms: 250
        policies: {decode-error: drop, no-flow: pass, tcp-midstream: drop}
        flows: {capacity: 4096}
        metrics: {listen: "[::1]:9641"}
        control: {socket: run/x.sock}
        outputs:
          eve:
            - filename: eve.json
              types: [alert, stats]
              stats-interval: 2
            - filetype: unix_stream
              filename: /run/vector.sock
        """))
    c = load_config(p)
    base = str(tmp_path / "etc")
    assert c.inline == ("ens1f0", "ens1f1") and c.queues == 4 and c.busy_poll
    assert (c.xdp_mode, c.xsk_mode, c.matcher, c.fail_mode, c.watchdog_ms) == ("generic", "copy", "ac", "closed", 250)
    assert c.rule_paths() == [str(tmp_path / "rules" / "suricata.rules"), "/abs/local.rules"]
    assert c.classification_file == os.path.join(base, "classification.config")
    assert c.address_groups == {"HOME_NET": "[198.18.0.0/15]", "DMZ": "[198.18.1.1,198.18.1.2]"}
    assert c.port_groups == {"HTTP_PORTS": "8080"}
    assert sorted(c.var_items()) == ["DMZ=[198.18.1.1,198.18.1.2]", "HOME_NET=[198.18.0.0/15]", "HTTP_PORTS=8080"]
    assert (c.decode_error_policy, c.no_flow_policy, c.tcp_midstream) == ("drop", "pass", "drop")
    assert c.flow_capacity == 4096 and c.metrics_listen == "[::1]:9641"
    assert c.control_socket == os.path.join(base, "run/x.sock")
    assert c.eve == [EveOutput("regular", os.path.join(base, "eve.json"), ("alert", "stats"), 2.0),
                     EveOutput("unix_stream", "/run/vector.sock", ("alert", "drop"), 8.0)]


def test_every_problem_is_reported_with_its_line_and_column():
    probs = problems_of("""\
        interfaces:
          inline: [eth0, eth0]
          xpd-mode: native
        queues: 0
        fail-mode: shut
        watchdog-ms: yes
        vars:
          address-groups:
            HOME_NET: "[10.0.0.0/8"
        outputs:
          eve:
            - filetype: unix_dgram
              types: [alert, flow]
        bogus: 1
        """)
    text = "\n".join(probs)
    assert len(probs) == 9, text
    assert "x.yaml:2:11: error: interfaces.inline: the two sides must be different interfaces" in probs
    assert any(p.startswith("x.yaml:3:3: error: unknown key 'interfaces.xpd-mode'") for p in probs)
    assert any(p.startswith("x.yaml:4:9: error: queues: 0 is out of range") for p in probs)
    assert "x.yaml:5:12: error: fail-mode: expected one of open, closed, got 'shut'" in probs
    assert "x.yaml:6:14: error: watchdog-ms: expected an integer, got True" in probs
    assert any(p.startswith("x.yaml:9:15: error: variable $HOME_NET:") for p in probs)
    assert any(p.startswith("x.yaml:13:14: error: outputs.eve[].types: unknown event type(s) 'flow'") for p in probs)
    assert "x.yaml:12:7: error: a unix_dgram output needs filename: the socket's path" in probs
    assert any(p.startswith("x.yaml:14:1: error: unknown key 'bogus' (known here: app-layer, cache, control, fail-mode") for p in probs)


@pytest.mark.parametrize("text, expected", [
    ("a: [1", r"x.yaml:1:6: error: YAML syntax"),
    ("- 1\n- 2\n", r"x.yaml:1:1: error: the file: expected a mapping"),
    ("rules: {rule-files: {a: 1}}", r"rules.rule-files: expected a list"),
    ("fail-mode: open\nfail-mode: closed\n", r"x.yaml:2:1: error: duplicate key 'fail-mode'"),
    ("metrics: {listen: localhost}", r"metrics.listen: expected ADDRESS:PORT"),
    ("flows: {capacity: 10}", r"flows.capacity: 10 is out of range"),
    ("outputs: {eve: {filename: x}}", r"outputs.eve: expected a list"),
    ("interfaces: {inline: eth0}", r"interfaces.inline: expected a list of two"),
    ("policies: {no-flow: reject}", r"policies.no-flow: expected one of pass, drop"),
    ("app-layer: {protocols: {tls: {encryption-handling: sometimes}}}",
     r"app-layer.protocols.tls.encryption-handling: expected one of default, bypass, full"),
    ("vars: {port-groups: {HTTP_PORTS: null}}", r"variable \$HTTP_PORTS: None is not"),
])
def test_bad_values(text, expected):
    assert any(re.search(expected, p) for p in problems_of(text)), problems_of(text)


def test_disabled_endpoints():
    c = parse_config("metrics: {listen: false}\ncontrol: {socket: ''}\n")
    assert c.metrics_listen == "" and c.control_socket == ""


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the configuration"):
        load_config(tmp_path / "nope.yaml")


def _run_args(argv):
    return build_parser().parse_args(["run", *argv])


def test_flags_override_the_file_only_when_given(tmp_path):
    cfg = parse_config("interfaces: {inline: [a, b]}\nfail-mode: closed\nwatchdog-ms: 300\n"
                       "metrics: {listen: '127.0.0.1:1'}\nflows: {capacity: 128}\n", str(tmp_path / "c.yaml"))
    # not given: the file's values stay, although argparse filled in defaults
    m = merge_flags(cfg, _run_args(["-c", "c.yaml"]))
    assert (m.fail_mode, m.watchdog_ms, m.metrics_listen, m.flow_capacity, m.inline) == \
        ("closed", 300, "127.0.0.1:1", 128, ("a", "b"))
    # given, even with the built-in default's value: the flag wins
    m = merge_flags(cfg, _run_args(["-c", "c.yaml", "--fail-mode", "open", "--watchdog-ms", "1000",
                                    "--inline", "x", "y", "--rules", "r.rules", "--var", "HOME_NET=[1.2.3.0/24]",
                                    "--eve", "e.json", "--control-socket", ""]))
    assert (m.fail_mode, m.watchdog_ms, m.inline) == ("open", 1000, ("x", "y"))
    assert m.rule_paths() == [os.path.abspath("r.rules")] and m.address_groups["HOME_NET"] == "[1.2.3.0/24]"
    assert m.eve == [EveOutput("regular", os.path.abspath("e.json"), ("alert", "drop"))] and m.control_socket == ""
    assert cfg.fail_mode == "closed"  # the file's config is not modified


def test_rules_strict_key_and_flag(tmp_path):
    assert parse_config("rules: {strict: true}\n", str(tmp_path / "c.yaml")).rules_strict is True
    cfg = parse_config("interfaces: {inline: [a, b]}\n", str(tmp_path / "c.yaml"))
    assert cfg.rules_strict is False
    assert merge_flags(cfg, _run_args(["-c", "c.yaml"])).rules_strict is False
    assert merge_flags(cfg, _run_args(["-c", "c.yaml", "--strict"])).rules_strict is True
    on = parse_config("rules: {strict: true}\n", str(tmp_path / "c.yaml"))
    assert merge_flags(on, _run_args(["-c", "c.yaml"])).rules_strict is True
    with pytest.raises(ConfigError, match="rules.strict"):
        parse_config("rules: {strict: maybe}\n", str(tmp_path / "c.yaml"))


def test_no_file_takes_every_flag():
    m = merge_flags(Config(), _run_args(["--inline", "a", "b"]), all_flags=True)
    assert m.inline == ("a", "b") and m.fail_mode == "open" and m.metrics_listen == "127.0.0.1:9640"
    assert m.control_socket == DEFAULT_CONTROL_SOCKET and m.rule_files == [] and m.eve == []


def test_run_without_interfaces_is_refused(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("fail-mode: open\n")
    r = subprocess.run([sys.executable, "-m", "xdpfw", "run", "-c", str(p)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "interfaces.inline is required" in r.stderr


# -- xdpfw check -c ----------------------------------------------------------------------------

def _check(tmp_path, rules: str, extra: str = "", paths=(), rules_keys: str = "",
           flags=()) -> tuple[int, str, str]:
    (tmp_path / "local.rules").write_text(textwrap.dedent(rules))
    cfg = tmp_path / "xdpfw.yaml"
    cfg.write_text(f"interfaces: {{inline: [a0, b0]}}\nrules: {{rule-files: [local.rules]{rules_keys}}}\n" + extra)
    args = build_parser().parse_args(["check", "-c", str(cfg), *flags, *paths])
    out, err = io.StringIO(), io.StringIO()
    rc = cmd_check(args, out, err)
    return rc, out.getvalue(), err.getvalue()


def test_check_config_builds_the_rules_as_run_would(tmp_path):
    rc, out, err = _check(tmp_path, """\
        drop ip 198.18.0.66 any -> any any (msg:"host"; sid:1;)
        drop tcp any any -> $HOME_NET 80 (msg:"x"; content:"evil"; sid:2;)
        """, "vars: {address-groups: {HOME_NET: '[198.18.0.0/24]'}}\n")
    assert rc == 0, out + err
    assert "2 rules successfully loaded, 0 rules failed" in out
    assert "OK for `xdpfw run`: 1 rule(s) in the kernel ACL, 1 in the inspection engine" in out


def test_check_config_reports_rule_errors_with_file_line_and_keyword(tmp_path):
    # Alert rules that cannot run are named file:line (warning) and left out: run starts.
    text = """\
        drop tcp any any -> any 80 (msg:"x"; content:"evil"; sid:2;)
        alert http any any -> any any (msg:"h"; content:"x"; http.uri; content:"/a"; sid:3;)
        alert tcp any any -> any any (msg:"t"; conten:"b"; sid:4;)
        """
    rc, out, err = _check(tmp_path, text)
    assert rc == 0, out + err
    rules = tmp_path / "local.rules"
    assert re.search(rf"^{re.escape(str(rules))}:2: warning: sid:3 mixes packet payload", err, re.M), err
    assert re.search(rf"^{re.escape(str(rules))}:3:\d+: warning: .*'conten'", err, re.M), err
    assert "1 rules successfully loaded, 0 rules failed, 2 rules skipped" in out
    assert "OK for `xdpfw run`" in out
    # rules.strict: the same rules refuse the start.
    for how in ({"rules_keys": ", strict: true"}, {"flags": ["--strict"]}):
        rc, out, err = _check(tmp_path, text, **how)
        assert rc == 1 and "--strict: 2 rule(s) cannot run: nothing loaded" in out, out + err
        assert re.search(rf"^{re.escape(str(rules))}:2: error: sid:3 mixes packet payload", err, re.M), err
    # A drop rule that cannot run exactly refuses the start, named file:line.
    rc, out, err = _check(tmp_path, text.replace("alert http", "drop http"))
    assert rc == 1 and "problem(s)" not in out and "cannot: nothing loaded" in out, out + err
    assert re.search(rf"^{re.escape(str(rules))}:2: error: sid:3 mixes packet payload", err, re.M), err


def test_check_config_names_a_rule_hyperscan_rejects_by_file_line(tmp_path):
    # A 1 MB content passes the parser; Hyperscan rejects it: named FILE:line, no
    # FILE:0:0, no traceback, and the rest of the set builds.
    big = "A" * 1_000_000
    rc, out, err = _check(tmp_path, f"""\
        alert udp any any -> any any (msg:"big"; content:"{big}"; sid:1;)
        alert udp any any -> any any (msg:"ok"; content:"fine"; sid:2;)
        """)
    rules = tmp_path / "local.rules"
    assert rc == 0 and "Traceback" not in err and ":0:0:" not in err, err[:2000]
    assert re.search(rf"^{re.escape(str(rules))}:1: warning: sid:1 keyword 'content': Hyperscan", err, re.M)
    assert "1 rules successfully loaded, 0 rules failed, 1 rules skipped" in out


def test_check_config_paths_replace_the_rule_files_and_vars_apply(tmp_path):
    other = tmp_path / "other.rules"
    other.write_text('drop tcp any any -> $WEB 80 (msg:"x"; content:"a"; sid:9;)\n')
    rc, out, err = _check(tmp_path, "garbage\n", "vars: {address-groups: {WEB: '198.18.0.5'}}\n", [str(other)])
    assert rc == 0, out + err and "1 rules successfully loaded" in out


def test_check_config_with_a_bad_file(tmp_path):
    rc, out, err = _check(tmp_path, "", "fail-mode: maybe\n")
    assert rc == 1 and "fail-mode: expected one of open, closed" in err and "1 problem(s)" in out


def test_check_cli_dispatch(tmp_path):
    r = subprocess.run([sys.executable, "-m", "xdpfw", "check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "give rule files (PATH...) or a configuration (-c FILE)" in r.stderr
    (tmp_path / "a.rules").write_text('alert tcp any any -> any any (msg:"x"; content:"a"; sid:1;)\n')
    r = subprocess.run([sys.executable, "-m", "xdpfw", "check", str(tmp_path / "a.rules")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "1 rules successfully loaded" in r.stdout


def test_docs_example_config_is_valid():
    text = DOC.read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert blocks, "docs/CONFIG.md has no yaml example"
    for b in blocks:
        parse_config(b, "docs/CONFIG.md")
    # every key of the schema is documented
    from xdpfw.service import config as C

    def keys(schema, prefix=""):
        for k, v in schema.items():
            name = f"{prefix}{k}"
            yield name
            if isinstance(v, dict):
                yield from keys(v, name + ".")
    for k in list(keys(C._SCHEMA)) + [f"outputs.eve[].{k}" for k in C._EVE_SCHEMA]:
        assert f"`{k}`" in text, f"docs/CONFIG.md does not document `{k}`"


# -- the control socket ------------------------------------------------------------------------

@pytest.fixture
def server(tmp_path):
    calls = []

    def reload_(req):
        calls.append(req)
        time.sleep(0.2)  # a reload blocks its client until done
        return True, {"generation": 1}

    s = ctl.ControlServer(str(tmp_path / "d" / "xdpfw.sock"),
                          {"reload": reload_, "boom": lambda req: 1 / 0})
    s.start()
    yield s, calls
    s.stop()


def test_control_socket_round_trip_and_permissions(server):
    s, calls = server
    assert oct(os.stat(s.path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(s.path)).st_mode & 0o777) == "0o700"
    assert ctl.request(s.path, "reload") == (True, {"generation": 1})
    assert calls == [{"command": "reload"}]
    ok, msg = ctl.request(s.path, "nope")
    assert not ok and "unknown command 'nope'" in msg and "reload" in msg
    ok, msg = ctl.request(s.path, "boom")
    assert not ok and "ZeroDivisionError" in msg  # a failing handler answers, the server lives on
    assert ctl.request(s.path, "reload")[0]


def test_control_socket_bad_requests(server):
    s, _ = server
    for payload in (b"not json\n", b"[1,2]\n", b'{"cmd": 1}\n'):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(s.path)
        c.sendall(payload)
        resp = c.makefile().readline()
        c.close()
        assert '"return":"NOK"' in resp and "bad request" in resp
    assert ctl.request(s.path, "reload")[0]


def test_control_socket_slow_client_does_not_delay_others(server, monkeypatch):
    """A client trickling a byte at a time holds its own connection only: another client's
    request is answered at once, and the trickler is answered (NOK) at its deadline."""
    s, _ = server
    monkeypatch.setattr(ctl, "REQUEST_SECONDS", 1.5)
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.connect(s.path)
    slow.sendall(b'{"comm')
    t0 = time.monotonic()
    assert ctl.request(s.path, "reload") == (True, {"generation": 1})   # the handler takes 0.2 s
    assert time.monotonic() - t0 < 1.0, "a slow client delayed another one"
    for _ in range(3):          # still trickling, inside its deadline
        time.sleep(0.3)
        slow.sendall(b"x")
    slow.settimeout(5)
    resp = slow.makefile().readline()
    slow.close()
    assert '"return":"NOK"' in resp and "no complete request line within 1.5 s" in resp, resp
    assert time.monotonic() - t0 < 3.0


def test_control_socket_answers_every_request(server, monkeypatch):
    s, _ = server
    monkeypatch.setattr(ctl, "REQUEST_SECONDS", 1.0)
    cases = {
        b'{"command": "reload"}': '"return":"OK"',                 # no newline, client waits
        b"[" * 100000 + b"]" * 100000 + b"\n": "bad request",       # over the size limit
        b"[" * 30000 + b"]" * 30000 + b"\n": "bad request: JSON nested too deeply",   # under the limit
        b"\xff\xfe\n": "bad request",
    }
    for payload, expect in cases.items():
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(s.path)
        c.settimeout(10)
        try:
            c.sendall(payload)
        except BrokenPipeError:
            pass
        resp = c.makefile(errors="replace").readline()
        c.close()
        if expect == '"return":"OK"':   # the line ends at the deadline: answered NOK, not silence
            assert '"return":"NOK"' in resp and "no complete request line" in resp, resp
        else:
            assert '"return":"NOK"' in resp and expect in resp, (payload[:20], resp)
    # the same request with shutdown(SHUT_WR) instead of a newline is a whole request
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(s.path)
    c.sendall(b'{"command": "reload"}')
    c.shutdown(socket.SHUT_WR)
    assert '"return":"OK"' in c.makefile().readline()
    c.close()


def test_control_socket_busy_beyond_max_clients(server, monkeypatch):
    s, _ = server
    held = []
    try:
        for _ in range(ctl.MAX_CLIENTS):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(s.path)
            held.append(c)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:   # the accept thread takes them one by one
            ok, msg = ctl.request(s.path, "reload", timeout=10)
            if not ok:
                break
            time.sleep(0.05)
        assert not ok and msg.startswith("busy:"), msg
        assert s.busy >= 1
    finally:
        for c in held:
            c.close()
    deadline = time.monotonic() + 10        # freed once the held ones time out or close
    while not ctl.request(s.path, "reload", timeout=10)[0]:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _as_nobody(path: str) -> subprocess.CompletedProcess:
    if os.geteuid() != 0:
        pytest.fail("this test needs root (to become another user)")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, sys
        os.setgid(65534); os.setuid(65534)
        sys.path.insert(0, {str(ROOT)!r})
        from xdpfw.service import ctl
        try:
            print(ctl.request({path!r}, "reload"))
        except ctl.ControlError as e:
            print("ControlError:", e)
        """)], capture_output=True, text=True, timeout=30)


def test_control_socket_refuses_other_users():
    import shutil
    import tempfile

    d = tempfile.mkdtemp(prefix="xdpfw-ctl-")  # under /tmp, reachable by other users
    try:
        os.chmod(d, 0o755)
        path = os.path.join(d, "xdpfw.sock")
        s = ctl.ControlServer(path, {"reload": lambda r: (True, "done")})
        s.start()
        try:
            r = _as_nobody(path)  # the file mode (0600) stops them at connect()
            assert "ControlError: " in r.stdout and "permission denied" in r.stdout, r.stdout + r.stderr
            os.chmod(path, 0o666)  # loosened by someone: the peer credentials still decide
            r = _as_nobody(path)
            assert "(False, 'permission denied: uid 65534 is not root')" in r.stdout, r.stdout + r.stderr
            assert s.refused == 1
            assert ctl.request(path, "reload") == (True, "done")
        finally:
            s.stop()
    finally:
        shutil.rmtree(d)


def test_second_server_on_a_live_socket_is_refused_and_stale_one_replaced(tmp_path, server):
    s, _ = server
    with pytest.raises(ctl.ControlError, match="another xdpfw answers"):
        ctl.ControlServer(s.path, {}).start()
    stale = tmp_path / "stale.sock"
    x = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    x.bind(str(stale))
    x.close()  # the file stays, nobody listens: a daemon that died
    t = ctl.ControlServer(str(stale), {"version": lambda r: (True, "v")})
    t.start()
    try:
        assert ctl.request(str(stale), "version") == (True, "v")
    finally:
        t.stop()
    assert not stale.exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ctl.ControlError, match="not a socket"):
        ctl.ControlServer(str(tmp_path / "file"), {}).start()


def test_stop_leaves_a_replaced_socket_alone(tmp_path):
    p = str(tmp_path / "s.sock")
    a = ctl.ControlServer(p, {})
    a.start()
    a._stop.set()
    a._thread.join()
    a._sock.close()
    a._sock = None
    os.unlink(p)
    b = ctl.ControlServer(p, {"version": lambda r: (True, "b")})
    b.start()
    try:
        a.stop()  # must not unlink b's socket
        assert ctl.request(p, "version") == (True, "b")
    finally:
        b.stop()


def test_reload_command_output_and_exit_codes(tmp_path, capsys):
    def answer(ok, msg):
        s = ctl.ControlServer(str(tmp_path / "r.sock"), {"reload": lambda r: (ok, msg)})
        s.start()
        return s

    args = build_parser().parse_args(["reload", "--socket", str(tmp_path / "r.sock")])
    assert ctl.cmd_reload(args) == 2
    assert "no such control socket" in capsys.readouterr().err
    s = answer(True, {"generation": 3, "rules": 5, "rules_in_kernel": 1, "rules_in_engine": 4, "seconds": 0.2,
                      "summary": "1 rule files processed. 5 rules successfully loaded, 0 rules failed, 0 rules skipped"})
    try:
        assert ctl.cmd_reload(args) == 0
        out = capsys.readouterr().out
        assert "reload OK: generation 3, 5 rules (1 in the kernel ACL, 4 in the engine)" in out
    finally:
        s.stop()
    s = answer(False, {"generation": 3, "errors": ["/r/local.rules:7:10: error: keyword 'conten' is not supported"]})
    try:
        assert ctl.cmd_reload(args) == 1
        err = capsys.readouterr().err
        assert "/r/local.rules:7:10: error: keyword 'conten'" in err
        assert "reload FAILED: 1 problem(s); the running rule set (generation 3) is kept" in err
    finally:
        s.stop()


def test_reload_finds_the_socket_in_the_config(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("control: {socket: ctl.sock}\n")
    args = build_parser().parse_args(["reload", "-c", str(cfg)])
    assert ctl.socket_path(args) == str(tmp_path / "ctl.sock")
    assert ctl.socket_path(build_parser().parse_args(["reload"])) == DEFAULT_CONTROL_SOCKET
    cfg.write_text("control: {socket: ''}\n")
    with pytest.raises(ctl.ControlError, match="disabled"):
        ctl.socket_path(args)


def test_concurrent_clients_are_all_answered(server):
    s, calls = server
    results = []
    ts = [threading.Thread(target=lambda: results.append(ctl.request(s.path, "reload"))) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == [(True, {"generation": 1})] * 4 and len(calls) == 4
