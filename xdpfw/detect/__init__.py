"""Detection: rules -> per-buffer Hyperscan databases, and the reference matcher.

``compile.compile_buffer`` translates the payload conditions of rules on one buffer into
Hyperscan patterns (docs/DETECT.md), ``compile.build_database`` compiles them and maps
Hyperscan's errors back to rules, and ``oracle.buffer_matches`` is the pure-Python
reference of Suricata's semantics the translation is tested against.
"""
from xdpfw.detect.compile import (CompileError, CompiledBuffer, CompiledRule, EngineCheck,
                                  buffer_keys, build_database, compile_buffer, compile_rule)
from xdpfw.detect.oracle import buffer_matches, rule_matches

__all__ = ["CompileError", "CompiledBuffer", "CompiledRule", "EngineCheck", "buffer_keys",
           "build_database", "compile_buffer", "compile_rule", "buffer_matches", "rule_matches"]
