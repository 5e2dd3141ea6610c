"""The per-packet code (Cython). Imports nothing from the control plane."""
