"""Transforms: rewrite the sticky buffer before matching. They need an active sticky
buffer and, as in Suricata, apply to the whole buffer instance: a content written
before the transform keyword inspects the transformed buffer too.

Only ``dotprefix`` (prepend a ``.`` so ``content:".example.com"; endswith;`` matches
the domain and its subdomains) is supported so far.
"""
from __future__ import annotations

from xdpfw.rules.context import ParseContext
from xdpfw.rules.errors import KeywordError
from xdpfw.rules.keywords.base import Kind, KeywordSpec, Value, doc
from xdpfw.rules.model import RawOption

NAMES = ("dotprefix", "to_lowercase", "to_uppercase", "strip_whitespace", "compress_whitespace",
         "url_decode", "to_md5", "to_sha1", "to_sha256", "pcrexform", "xor", "from_base64",
         "header_lowercase", "strip_pseudo_headers")
DESC = "transform the sticky buffer before matching"
DOC_URL = doc("transforms")


def parse(value: str | None, ctx: ParseContext) -> RawOption | None:
    if ctx.sticky_keyword is None:
        raise KeywordError("must follow a sticky buffer")
    ctx.add_transform(ctx.keyword)
    return RawOption(value) if value is not None else None


def _spec(name: str, desc: str, supported: bool, value: Value = Value.OPTIONAL) -> KeywordSpec:
    return KeywordSpec(name, desc, DOC_URL, parse, supported=supported, kind=Kind.TRANSFORM, value=value)


KEYWORDS = (
    _spec("dotprefix", "prepend '.' to the buffer (domain suffix matching)", True, Value.NONE),
    _spec("to_lowercase", "lower-case the buffer", False, Value.NONE),
    _spec("to_uppercase", "upper-case the buffer", False, Value.NONE),
    _spec("strip_whitespace", "remove all whitespace", False, Value.NONE),
    _spec("compress_whitespace", "collapse whitespace runs to one space", False, Value.NONE),
    _spec("url_decode", "URL-decode the buffer", False, Value.NONE),
    _spec("to_md5", "replace the buffer by its MD5", False, Value.NONE),
    _spec("to_sha1", "replace the buffer by its SHA1", False, Value.NONE),
    _spec("to_sha256", "replace the buffer by its SHA256", False, Value.NONE),
    _spec("pcrexform", "replace the buffer by a regex capture", False, Value.REQUIRED),
    _spec("xor", "xor the buffer with a key", False, Value.REQUIRED),
    _spec("from_base64", "base64-decode the buffer", False),
    _spec("header_lowercase", "lower-case header names", False, Value.NONE),
    _spec("strip_pseudo_headers", "remove HTTP/2 pseudo headers", False, Value.NONE),
)
