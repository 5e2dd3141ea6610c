# The L2-L4 decoder, for other Cython modules to cimport (the detection engine calls
# xdpfw_decode first for every frame). See decode.pyx and xdpfw_pkt.h for the contract.
from libc.stdint cimport uint8_t, uint32_t

from xdpfw._fast.includes.pkt cimport xdpfw_pkt

# Decode `frame[0:length]` into *pkt (zeroed first). Returns 0, or the XDPFW_LAYER_* at
# which a fatal anomaly stopped decoding (also in pkt.invalid_layer). From another
# module this is one indirect call per frame (Cython's C-API table), no Python.
cdef int xdpfw_decode(const uint8_t *frame, uint32_t length, xdpfw_pkt *pkt) noexcept nogil

# Checksum checks of a decoded frame, for a checksum-validation option (the decoder does
# not verify checksums: an inline device forwards what it gets, the endpoint decides).
# Return 1 valid, 0 invalid, -1 not applicable (layer not decoded, or a fragment).
cdef int xdpfw_ipv4_csum_ok(const uint8_t *frame, const xdpfw_pkt *pkt) noexcept nogil
cdef int xdpfw_l4_csum_ok(const uint8_t *frame, const xdpfw_pkt *pkt) noexcept nogil
