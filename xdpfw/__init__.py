"""xdpfw: an inline firewall/IPS for Linux (XDP steering, AF_XDP forwarding, Cython inspection)."""

__version__ = "0.1.0"
