"""Read constants and X-macro tables out of our C headers.

The C headers (xdpfw/bpf/xdpfw_shared.h, xdpfw/_fast/xdpfw_*.h) are the single definition
of every enum and flag shared with C. Python reads them from the header text instead of
keeping a copy: X-macro tables `#define NAME(X) X(C_NAME, "label") ...` and plain
`#define NAME value` / `#define NAME (1U << n)` constants.
"""
from __future__ import annotations

import re
from pathlib import Path


class CHeader:
    def __init__(self, path: Path):
        self.path = path
        self.text = path.read_text()

    def xmacro(self, name: str) -> list[tuple[str, str]]:
        """[(C name, label), ...] of an X-macro table, in declaration (= enum) order."""
        return [(row[0], row[1]) for row in self.xmacro_rows(name)]

    def xmacro_rows(self, name: str) -> list[tuple[str, ...]]:
        """[(C name, label, further columns...), ...] of an X-macro table whose rows may
        carry more columns than the label (`X(C_NAME, "label", OTHER_C_NAME, ...)`)."""
        m = re.search(r"#define\s+%s\(X\)((?:.*\\\n)*.*)" % re.escape(name), self.text)
        if not m:
            raise RuntimeError(f"{self.path}: X-macro table {name} not found")
        body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
        return [(c, label) + tuple(x.strip() for x in rest.split(",") if x.strip())
                for c, label, rest in re.findall(r'X\(\s*(\w+)\s*,\s*"([^"]+)"\s*((?:,\s*\w+\s*)*)\)', body)]

    def define(self, name: str) -> int:
        """Value of `#define NAME 42`, `0x2a`, `42U` or `(1U << 5)`."""
        m = re.search(r"^#define\s+%s\s+\(?([0-9xXa-fA-F]+)U?\s*(?:<<\s*(\d+))?\)?" % re.escape(name),
                      self.text, re.M)
        if not m:
            raise RuntimeError(f"{self.path}: #define {name} not found")
        value = int(m.group(1), 0)
        return value << int(m.group(2)) if m.group(2) else value
