"""Operator and test tools: doctor, status, the namespace lab and its traffic."""
