"""Data-plane runtime: the XDP program and its maps (bpfload), the NIC queue count (nic), the
appliance that runs one worker per queue pair between two interfaces (appliance), and the
stats snapshot read from all of them (stats). A library: usable without the service."""
