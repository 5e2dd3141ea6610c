"""Detection: rules -> per-buffer matcher databases, and the reference matcher.

``compile.compile_buffer`` translates the payload conditions of rules on one buffer into
Hyperscan patterns (docs/DETECT.md), ``compile.compile_literals`` into Aho-Corasick
literals, ``compile.build_database`` compiles them and maps Hyperscan's errors back to
rules, and ``oracle.buffer_matches`` is the pure-Python reference of Suricata's semantics
the translation is tested against. compile.py's docstring lists the pipeline's modules.
"""
from xdpfw.detect.compile import (CompileError, CompiledBuffer, CompiledRule, EngineCheck,
                                  buffer_keys, build_database, compile_buffer, compile_literals,
                                  compile_rule, evaluate)
from xdpfw.detect.oracle import buffer_matches, rule_matches

__all__ = ["CompileError", "CompiledBuffer", "CompiledRule", "EngineCheck", "buffer_keys",
           "build_database", "compile_buffer", "compile_literals", "compile_rule", "evaluate",
           "buffer_matches", "rule_matches"]
