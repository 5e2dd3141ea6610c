"""Swapping a new rule set into the running appliance, with no instant where no rules apply.

The daemon's reload thread builds the new Detection aside (the workers keep inspecting
with the running set), then `swap_in` puts it in place, in this order:

  1. kernel ACL: the union of the old and new entries is written in place (add before
     remove), so a rule in both sets, or moving between kernel and engine, is enforced
     at every instant;
  2. engines: the new set is staged into every worker's engine and each worker swaps it
     in between two batches (Engine.stage_rules / finish_swap); no frame waits, none is
     lost;
  3. kernel ACL: entries only the old set had are removed.

So during a reload a packet may meet the old rules, the new rules, or (between 1 and 3)
both: never neither. Both ACL writes go through the data plane's one ACL writer,
XdpProgram.load_acl (live=True).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from xdpfw.dataplane.bpfload import AclTables


@dataclass
class ReloadResult:
    ok: bool
    generation: int
    errors: list[str] = field(default_factory=list)
    summary: str = ""
    rules: int = 0
    rules_in_kernel: int = 0
    rules_in_engine: int = 0
    seconds: float = 0.0
    when: float = 0.0
    counts: dict = field(default_factory=dict)      # rules per state: loaded, skipped, failed
    skipped: list[str] = field(default_factory=list)  # the rules not running (file:line: why; logged)

    def message(self) -> dict:
        d = {"generation": self.generation, "summary": self.summary, "seconds": round(self.seconds, 3),
             "time": self.when}
        if self.ok:
            d.update(rules=self.rules, rules_in_kernel=self.rules_in_kernel, rules_in_engine=self.rules_in_engine,
                     rules_skipped=self.counts.get("skipped", 0), rules_failed=self.counts.get("failed", 0))
        else:
            d["errors"] = self.errors
        return d


def acl_union(a: AclTables, b: AclTables) -> AclTables:
    """Entries of both tables, masks ORed and re-folded (an LPM lookup returns only the
    longest prefix, so each entry must carry the masks of every prefix covering it in
    either set)."""
    from xdpfw.detect.acl import fold_covering

    def merge(x: dict, y: dict) -> dict:
        out = dict(x)
        for k, v in y.items():
            out[k] = out.get(k, 0) | v
        return out

    return AclTables(fold_covering(merge(a.src, b.src)), fold_covering(merge(a.dst, b.dst)),
                     merge(a.sport, b.sport), merge(a.dport, b.dport))


def swap_in(app, new, timeout: float) -> str | None:
    """Steps 1 to 3 above for the Detection `new` on the Appliance `app` (None: no
    appliance, nothing to write). None when `new` is live in the kernel ACL and in every
    engine (and app.acl is `new.acl`); otherwise the error, with the running set left
    enforced (the kernel may hold old and new until the next reload)."""
    engines = app.engines() if app is not None else []
    if new.engine_rules and app is not None and not engines:
        return ("error: the new rules need the inspection engine, which this "
                "daemon started without (no rule files at start); restart it")
    old_acl = app.acl if app is not None else AclTables.empty()
    prog = app.prog if app is not None else None
    if prog is not None:
        prog.load_acl(acl_union(old_acl, new.acl), live=True, add_only=True,
                      flags=old_acl.flags() | new.acl.flags())
    staged = []
    try:
        for eng in engines:
            new.stage(eng)
            staged.append(eng)
    except RuntimeError as e:
        # A previous swap is still pending in that worker: nothing new is staged
        # elsewhere either (those already staged swap in shortly, harmless: the
        # kernel holds the union until the next reload).
        return f"error: {e} (a worker has not taken the previous rule set)"
    late = [q for q, eng in enumerate(staged) if not eng.finish_swap(timeout)]
    if late:
        return (f"error: worker(s) {late} did not swap the new rule set in within "
                f"{timeout:g} s (stuck?); the kernel ACL holds old and new")
    if prog is not None:
        prog.load_acl(new.acl, live=True)
    if app is not None:
        app.acl = new.acl
    return None
