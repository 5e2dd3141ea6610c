# The app-layer registry (app_registry.pyx): the decoders' ops tables (xdpfw_app.h: struct
# xdpfw_app_ops) in probe order, and the per-flow state slab they share. For the engine
# (and the generic test wrapper) to cimport.
from libc.stdint cimport uint32_t

from xdpfw._fast.includes.app cimport xdpfw_app_ops
from xdpfw._fast.app_dns cimport xdpfw_dns_state
from xdpfw._fast.app_http cimport xdpfw_http_state
from xdpfw._fast.app_tls cimport xdpfw_tls_state

# Per-flow decoder state: one slab the size of the largest registered decoder's state
# (each registered decoder has its member here; app_registry.pyx checks at import that
# every ops.state_size fits).
cdef union xdpfw_app_state:
    xdpfw_dns_state dns
    xdpfw_tls_state tls
    xdpfw_http_state http

cdef enum:
    APP_REGISTRY_MAX = 16    # registered decoders at most

# The i-th registered decoder in probe order, NULL past the last (not per packet: the
# engine copies the table at import).
cdef const xdpfw_app_ops *app_registry_at(uint32_t i) noexcept nogil
