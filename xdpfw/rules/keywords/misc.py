"""Other Suricata keywords (decoding, files, datasets, tagging, requirements...).
Recognized, not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import doc
from xdpfw.rules.keywords.raw import raw_parse, raw_row

NAMES = ("base64_decode", "asn1", "replace", "stream_size", "tag", "requires", "lua", "luajit",
         "dataset", "datarep", "iprep", "geoip", "filestore", "filename", "fileext", "filemagic",
         "filesize", "filemd5", "filesha1", "filesha256", "prefilter",
         "absent", "stream-event", "engine-event", "bypass", "config", "rpc",
         "flow.age", "flow.pkts", "flow.bytes", "entropy")
DESC = "decoding, file, reputation, tagging and engine keywords"
DOC_URL = doc("not-yet-supported")
parse = raw_parse

KEYWORDS = (
    raw_row("base64_decode", "decode base64 data from the buffer", DOC_URL, supported=False),
    raw_row("asn1", "ASN.1 checks", DOC_URL, supported=False),
    raw_row("replace", "rewrite content (IPS)", DOC_URL, supported=False),
    raw_row("stream_size", "bytes seen on the stream", DOC_URL, supported=False),
    raw_row("tag", "log further packets of the flow", DOC_URL, supported=False),
    raw_row("requires", "rule requirements (Suricata version, features)", DOC_URL, supported=False),
    raw_row("lua", "Lua script", DOC_URL, supported=False),
    raw_row("luajit", "Lua script", DOC_URL, supported=False),
    raw_row("dataset", "membership in a dataset", DOC_URL, supported=False),
    raw_row("datarep", "dataset reputation", DOC_URL, supported=False),
    raw_row("iprep", "IP reputation", DOC_URL, supported=False),
    raw_row("geoip", "country of an address", DOC_URL, supported=False),
    raw_row("filestore", "store the file", DOC_URL, supported=False),
    raw_row("filename", "file name (legacy)", DOC_URL, supported=False),
    raw_row("fileext", "file extension", DOC_URL, supported=False),
    raw_row("filemagic", "file magic (legacy)", DOC_URL, supported=False),
    raw_row("filesize", "file size", DOC_URL, supported=False),
    raw_row("filemd5", "file MD5 list", DOC_URL, supported=False),
    raw_row("filesha1", "file SHA1 list", DOC_URL, supported=False),
    raw_row("filesha256", "file SHA256 list", DOC_URL, supported=False),
    raw_row("prefilter", "force prefilter keyword", DOC_URL, supported=False),
    raw_row("absent", "buffer is absent", DOC_URL, supported=False),
    raw_row("stream-event", "stream anomaly", DOC_URL, supported=False),
    raw_row("engine-event", "engine anomaly", DOC_URL, supported=False),
    raw_row("bypass", "bypass the flow", DOC_URL, supported=False),
    raw_row("config", "per-flow configuration", DOC_URL, supported=False),
    raw_row("rpc", "SunRPC call", DOC_URL, supported=False),
    raw_row("flow.age", "flow age", DOC_URL, supported=False),
    raw_row("flow.pkts", "flow packet count", DOC_URL, supported=False),
    raw_row("flow.bytes", "flow byte count", DOC_URL, supported=False),
    raw_row("entropy", "Shannon entropy of the buffer", DOC_URL, supported=False),
)
