"""Run the XDP program on packet fixtures through BPF_PROG_TEST_RUN (no NIC needed).

Katran-style fixtures: {description, input packet, expected XDP action, expected counter}.
libbpf's bpf_prog_test_run_opts (Debian libbpf1, already a dependency of bcc) runs the
loaded program on a buffer with a struct xdp_md context that names the ingress ifindex
and RX queue. Without BPF_F_TEST_XDP_LIVE_FRAMES a redirect is reported, not performed.
"""
from __future__ import annotations

import ctypes as ct
import ctypes.util

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = range(5)
ACTION_NAMES = {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}


class XdpMd(ct.Structure):
    _fields_ = [("data", ct.c_uint32), ("data_end", ct.c_uint32), ("data_meta", ct.c_uint32),
                ("ingress_ifindex", ct.c_uint32), ("rx_queue_index", ct.c_uint32),
                ("egress_ifindex", ct.c_uint32)]


class TestRunOpts(ct.Structure):
    # struct bpf_test_run_opts, /usr/include/bpf/bpf.h (libbpf 1.x)
    _fields_ = [("sz", ct.c_size_t), ("data_in", ct.c_void_p), ("data_out", ct.c_void_p),
                ("data_size_in", ct.c_uint32), ("data_size_out", ct.c_uint32),
                ("ctx_in", ct.c_void_p), ("ctx_out", ct.c_void_p),
                ("ctx_size_in", ct.c_uint32), ("ctx_size_out", ct.c_uint32),
                ("retval", ct.c_uint32), ("repeat", ct.c_int), ("duration", ct.c_uint32),
                ("flags", ct.c_uint32), ("cpu", ct.c_uint32), ("batch_size", ct.c_uint32)]


_libbpf = ct.CDLL(ctypes.util.find_library("bpf") or "libbpf.so.1", use_errno=True)
_libbpf.bpf_prog_test_run_opts.argtypes = [ct.c_int, ct.POINTER(TestRunOpts)]
_libbpf.bpf_prog_test_run_opts.restype = ct.c_int


def run_xdp(prog_fd: int, frame: bytes, ifindex: int, queue: int = 0) -> tuple[int, bytes]:
    """Run the program once on frame; returns (XDP action, frame as the program left it)."""
    buf_in = ct.create_string_buffer(frame, len(frame))
    buf_out = ct.create_string_buffer(len(frame) + 256)
    md = XdpMd(data=0, data_end=len(frame), data_meta=0, ingress_ifindex=ifindex,
               rx_queue_index=queue, egress_ifindex=0)
    opts = TestRunOpts(sz=ct.sizeof(TestRunOpts), data_in=ct.cast(buf_in, ct.c_void_p),
                       data_out=ct.cast(buf_out, ct.c_void_p), data_size_in=len(frame),
                       data_size_out=len(buf_out), ctx_in=ct.cast(ct.pointer(md), ct.c_void_p),
                       ctx_size_in=ct.sizeof(md), repeat=1)
    rc = _libbpf.bpf_prog_test_run_opts(prog_fd, ct.byref(opts))
    if rc != 0:
        err = ct.get_errno() or -rc
        raise OSError(err, f"bpf_prog_test_run_opts failed: {err}")
    return opts.retval, buf_out.raw[:opts.data_size_out]
