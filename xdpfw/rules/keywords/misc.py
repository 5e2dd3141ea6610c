"""Other Suricata keywords (decoding, files, datasets, tagging, requirements...).
Recognized, not supported yet."""
from __future__ import annotations

from xdpfw.rules.keywords.base import doc
from xdpfw.rules.keywords.raw import raw_parse, unsupported

NAMES = ("base64_decode", "asn1", "replace", "stream_size", "tag", "requires", "lua", "luajit",
         "dataset", "datarep", "iprep", "geoip", "filestore", "filename", "fileext", "filemagic",
         "filesize", "filemd5", "filesha1", "filesha256", "prefilter",
         "absent", "decode-event", "stream-event", "engine-event", "bypass", "config", "rpc",
         "flow.age", "flow.pkts", "flow.bytes", "entropy")
DESC = "decoding, file, reputation, tagging and engine keywords"
DOC_URL = doc("not-yet-supported")
parse = raw_parse

KEYWORDS = unsupported({
    "base64_decode": "decode base64 data from the buffer", "asn1": "ASN.1 checks", "replace": "rewrite content (IPS)",
    "stream_size": "bytes seen on the stream", "tag": "log further packets of the flow",
    "requires": "rule requirements (Suricata version, features)", "lua": "Lua script", "luajit": "Lua script",
    "dataset": "membership in a dataset", "datarep": "dataset reputation", "iprep": "IP reputation",
    "geoip": "country of an address", "filestore": "store the file", "filename": "file name (legacy)",
    "fileext": "file extension", "filemagic": "file magic (legacy)", "filesize": "file size",
    "filemd5": "file MD5 list", "filesha1": "file SHA1 list", "filesha256": "file SHA256 list",
    "prefilter": "force prefilter keyword",
    "absent": "buffer is absent", "decode-event": "decoder anomaly", "stream-event": "stream anomaly",
    "engine-event": "engine anomaly", "bypass": "bypass the flow", "config": "per-flow configuration",
    "rpc": "SunRPC call", "flow.age": "flow age", "flow.pkts": "flow packet count",
    "flow.bytes": "flow byte count", "entropy": "Shannon entropy of the buffer",
}, DOC_URL, parse)
