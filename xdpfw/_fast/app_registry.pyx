# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The app-layer registry: every application-protocol decoder, as its ops table.

A decoder module (xdpfw/_fast/app_<proto>.pyx) exports one struct xdpfw_app_ops
(xdpfw_app.h: name, XDPFW_APP_* id, state size, probe policy, buffers, events, and
probe/init/feed/end). REGISTRY below lists them once, in probe order: protocol detection
asks them in this order (the first YES wins; a MORE keeps the bytes and asks again). The
engine (engine_app.pxi) runs detection, feed and end through these tables only, so
registering a decoder here is all the engine needs.

AppDecoder is the generic test wrapper over any registered decoder: the only code here
that creates Python objects (never per packet).
"""
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memset

from xdpfw._fast.includes.app cimport (XDPFW_APP_BUFFER_MAX, XDPFW_APP_CTL_ENCRYPTED, XDPFW_APP_PROTO_MAX,
                                       xdpfw_app_buffer_dirs,
                                       xdpfw_app_buffer_names, xdpfw_app_buffer_owner, xdpfw_app_ops,
                                       xdpfw_app_proto_names, xdpfw_app_sink)
from xdpfw._fast.app_dns cimport dns_app_ops
from xdpfw._fast.app_http cimport http_app_ops
from xdpfw._fast.app_tls cimport tls_app_ops

cdef const xdpfw_app_ops *REGISTRY[APP_REGISTRY_MAX + 1]
cdef uint32_t NREG = 0


cdef void _register(const xdpfw_app_ops *ops) except *:
    global NREG
    if NREG >= APP_REGISTRY_MAX:
        raise ImportError("app_registry: more than APP_REGISTRY_MAX decoders")
    if ops.state_size > sizeof(xdpfw_app_state):
        raise ImportError(f"app_registry: {ops.name.decode()} state ({ops.state_size} bytes) is not in "
                          "xdpfw_app_state (app_registry.pxd)")
    REGISTRY[NREG] = ops
    NREG += 1
    REGISTRY[NREG] = NULL


# ---- the registry: one line per decoder, in probe order -------------------------------
_register(dns_app_ops())     # port 53 only, so it is asked first
_register(tls_app_ops())
_register(http_app_ops())
# -----------------------------------------------------------------------------------------


cdef const xdpfw_app_ops *app_registry_at(uint32_t i) noexcept nogil:
    return REGISTRY[i] if i < NREG else NULL


# ---- Python side (tests, introspection; not per packet) ----------------------------------

STATE_BYTES = sizeof(xdpfw_app_state)
"""Bytes of the per-flow state slab (the largest registered decoder's state)."""
BUFFER_NAMES = tuple(xdpfw_app_buffer_names[i].decode() for i in range(XDPFW_APP_BUFFER_MAX))
"""Buffer names by id (xdpfw_app.h XDPFW_APP_BUFFERS)."""
BUFFER_OWNER = tuple(xdpfw_app_proto_names[xdpfw_app_buffer_owner[i]].decode() for i in range(XDPFW_APP_BUFFER_MAX))
"""The protocol owning each buffer, by id (as the C table has it)."""
BUFFER_DIRS = tuple(xdpfw_app_buffer_dirs[i] for i in range(XDPFW_APP_BUFFER_MAX))
"""XDPFW_APP_D_* of each buffer, by id (as the C table has it)."""
PROTO_NAMES = tuple(xdpfw_app_proto_names[i].decode() for i in range(XDPFW_APP_PROTO_MAX))


cdef dict _info(const xdpfw_app_ops *o):
    return {
        "name": o.name.decode(), "proto": o.proto, "state_size": o.state_size, "port": o.port,
        "l4": o.l4, "flags": o.flags,
        "buffers": tuple(BUFFER_NAMES[b] for b in range(XDPFW_APP_BUFFER_MAX) if (o.buffers >> b) & 1),
        "tx_start": tuple(BUFFER_NAMES[o.tx_start[d]] if o.tx_start[d] < XDPFW_APP_BUFFER_MAX else None
                          for d in range(2)),
        "events": tuple(o.events[e].decode() for e in range(o.nevents)),
    }


DECODERS = tuple(_info(REGISTRY[i]) for i in range(NREG))
"""The registered decoders in probe order, as dicts of their ops table."""
NAMES = tuple(d["name"] for d in DECODERS)
"""Their names (the EVE app_proto), in probe order."""


cdef const xdpfw_app_ops *_ops(name) except NULL:
    cdef uint32_t i
    for i in range(NREG):
        if REGISTRY[i].name.decode() == name:
            return REGISTRY[i]
    raise KeyError(f"no registered decoder {name!r} (registered: {', '.join(NAMES)})")


def probe(name, data, int direction, unsigned int flags=0):
    """The decoder's probe on bytes: XDPFW_PROBE_NO/YES/MORE (0/1/2)."""
    cdef const xdpfw_app_ops *o = _ops(name)
    cdef bytes b = bytes(data)
    return o.probe(<const uint8_t *>(<const char *>b), <uint32_t>len(b), direction, flags)


cdef void _w_data(void *ctx, uint32_t buf, const uint8_t *p, uint32_t n, uint32_t flags) noexcept nogil:
    with gil:
        (<AppDecoder>ctx)._out.append((BUFFER_NAMES[buf] if buf < XDPFW_APP_BUFFER_MAX else buf,
                                       (<const char *>p)[:n], flags))


cdef void _w_event(void *ctx, uint32_t proto, uint32_t ev) noexcept nogil:
    cdef const xdpfw_app_ops *o = (<AppDecoder>ctx).ops
    with gil:
        (<AppDecoder>ctx)._ev.append(o.events[ev].decode() if proto == o.proto and ev < o.nevents
                                     else f"bad event {proto}/{ev}")


cdef void _w_control(void *ctx, uint32_t what) noexcept nogil:
    with gil:
        (<AppDecoder>ctx)._ctl.append(CONTROL_NAMES.get(what, what))


CONTROL_NAMES = {XDPFW_APP_CTL_ENCRYPTED: "encrypted"}
"""sink->control values by name (xdpfw_app.h XDPFW_APP_CTL_*)."""


cdef class AppDecoder:
    """One flow's decoder of a registered protocol, through its ops table. feed()/end()
    return (pieces, events): pieces as (buffer name, bytes, flags) in the order reported,
    events as names (the protocol's event table). `controls`: the sink->control calls so
    far, by name (CONTROL_NAMES)."""
    cdef const xdpfw_app_ops *ops
    cdef xdpfw_app_state st
    cdef xdpfw_app_sink sink
    cdef list _out
    cdef list _ev
    cdef list _ctl

    def __cinit__(self, name):
        self.ops = _ops(name)
        memset(&self.st, 0, sizeof(self.st))   # as the engine's slot: zeroed, then init
        self.ops.init(&self.st)
        self._out = []
        self._ev = []
        self._ctl = []
        self.sink.ctx = <void *>self
        self.sink.data = _w_data
        self.sink.event = _w_event
        self.sink.control = _w_control

    @property
    def name(self):
        return self.ops.name.decode()

    def feed(self, int direction, data, unsigned int flags=0):
        if direction not in (0, 1):
            raise ValueError("direction is 0 (to_server) or 1 (to_client)")
        cdef bytes b = bytes(data)
        self.ops.feed(&self.st, direction, <const uint8_t *>(<const char *>b), <uint32_t>len(b), flags,
                      &self.sink)
        return self._take()

    def end(self, int direction):
        if direction not in (0, 1):
            raise ValueError("direction is 0 (to_server) or 1 (to_client)")
        self.ops.end(&self.st, direction, &self.sink)
        return self._take()

    @property
    def controls(self):
        return list(self._ctl)

    @property
    def state(self):
        """The decoder's state, its state_size bytes (for protocol-specific checks)."""
        return (<const char *>&self.st)[:self.ops.state_size]

    def _take(self):
        out, ev = self._out, self._ev
        self._out, self._ev = [], []
        return out, ev
