"""Control plane: loading BPF, attaching, workers' lifecycle, metrics, lab. Never per packet."""
