"""The service around the data plane: `xdpfw run` (daemon), its configuration, control
socket and reload, the EVE outputs, the alert drain, metrics, and `xdpfw replay`."""
