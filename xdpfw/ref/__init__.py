"""Pure-Python reference implementations (stdlib only) of the per-packet decoders.

Each one implements the same contract as its Cython twin in xdpfw/_fast, written
independently from the specification (the shared C headers and the RFCs), so that the
tests can compare the two on tables, fuzzed input and real captures. Slow by design;
never on the data path.
"""
