"""State shared by keyword parsers while one rule's options are read in order."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from xdpfw.rules.errors import KeywordError
from xdpfw.rules.model import PAYLOAD, Content, Pcre, Rule

if TYPE_CHECKING:
    from xdpfw.rules.classification import Classification


class ParseContext:
    """What keyword ``parse`` functions read and update.

    ``keyword`` is the keyword being parsed as written in the rule (an alias or a
    legacy spelling), ``col`` its 1-based column. ``buffer`` is the sticky buffer in
    force (:data:`PAYLOAD` when none), ``transforms`` the transforms applied to it.
    """

    def __init__(self, rule: Rule, classifications: Mapping[str, "Classification"]) -> None:
        self.rule = rule
        self.classifications = classifications
        self.keyword = ""
        self.col = 0
        self.buffer = PAYLOAD
        self.sticky_keyword: str | None = None
        self.sticky_col = 0
        self.sticky_matches = 0
        self.transforms: tuple[str, ...] = ()
        # contents/pcres of the current sticky buffer instance: transforms apply to all
        self.sticky_items: list[Content | Pcre] = []
        self.last_content: Content | None = None
        self.last_match: Content | Pcre | None = None
        self.seen: set[str] = set()
        self.byte_vars: set[str] = set()
        # buffer -> (keyword as written, column) of its first use, for protocol checks
        self.buffer_uses: dict[str, tuple[str, int]] = {}
        self.explicit_priority = False
        self.unsupported: list[str] = []

    def once(self, name: str | None = None) -> None:
        """Reject a second occurrence of a single-valued keyword."""
        key = name or self.keyword
        if key in self.seen:
            raise KeywordError(f"'{key}' given more than once")
        self.seen.add(key)

    def use_buffer(self, buffer: str) -> None:
        if buffer not in self.buffer_uses:
            self.buffer_uses[buffer] = (self.keyword, self.col)

    def close_sticky(self) -> None:
        """Leave the current sticky buffer; it must have been given something to match."""
        if self.sticky_keyword is not None and self.sticky_matches == 0:
            raise KeywordError(f"sticky buffer '{self.sticky_keyword}' (column {self.sticky_col}) "
                               f"is not followed by any content or match keyword")
        self.sticky_keyword = None
        self.sticky_matches = 0
        self.transforms = ()
        self.sticky_items = []

    def enter_sticky(self, buffer: str) -> None:
        if self.sticky_keyword is not None and buffer == self.buffer and not self.sticky_matches:
            return  # the same buffer named twice in a row ("file_data; file_data;")
        self.close_sticky()
        self.buffer = buffer
        self.sticky_keyword = self.keyword
        self.sticky_col = self.col
        self.use_buffer(buffer)

    def reset_to_payload(self) -> None:
        self.close_sticky()
        self.buffer = PAYLOAD

    def matched(self) -> None:
        """A match keyword was added to the current sticky buffer."""
        self.sticky_matches += 1

    def add_transform(self, name: str) -> None:
        """Suricata applies a sticky buffer's transforms to the whole buffer instance,
        including contents written before the transform keyword."""
        self.transforms = self.transforms + (name,)
        for item in self.sticky_items:
            item.transforms = self.transforms

    def require_content(self) -> Content:
        """The content a modifier applies to: the last one, whatever its buffer."""
        if self.last_content is None:
            raise KeywordError("needs a preceding content")
        return self.last_content
