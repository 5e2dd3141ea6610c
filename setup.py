"""Build the Cython hot path (xdpfw._fast). Everything else is plain Python."""
import os

from setuptools import Extension, setup

CYTHON_PIN = (3, 1)

try:
    import Cython
    from Cython.Build import cythonize
except ImportError as e:  # pragma: no cover - build-system.requires provides it
    raise SystemExit("xdpfw requires Cython~=3.1 to build") from e

_ver = tuple(int(x) for x in Cython.__version__.split(".")[:2])
if _ver < CYTHON_PIN:
    raise SystemExit(f"xdpfw requires Cython>={CYTHON_PIN[0]}.{CYTHON_PIN[1]}, got Cython=={Cython.__version__}")

HERE = os.path.dirname(os.path.abspath(__file__))
BPF_INC = os.path.join("xdpfw", "bpf")
FAST_INC = os.path.join("xdpfw", "_fast")
DEBUG = os.environ.get("XDPFW_DEBUG") == "1"
# scripts/asan.sh: AddressSanitizer and UBSan in every extension (never for production)
ASAN = os.environ.get("XDPFW_ASAN") == "1"
SAN = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"]

common = dict(
    include_dirs=[BPF_INC, FAST_INC],
    extra_compile_args=(["-O1", "-g"] + SAN if ASAN else ["-O2"]) + ["-Wno-unused-function"]
    + (["-DCYTHON_TRACE_NOGIL=1"] if DEBUG else []),
    extra_link_args=SAN if ASAN else [],
)

extensions = [
    Extension("xdpfw._fast.xsk", ["xdpfw/_fast/xsk.pyx"], libraries=["xdp", "bpf"], **common),
    Extension("xdpfw._fast.flow", ["xdpfw/_fast/flow.pyx"], **common),
    Extension("xdpfw._fast.match", ["xdpfw/_fast/match.pyx"], **common),
    Extension("xdpfw._fast.match_ac", ["xdpfw/_fast/match_ac.pyx"], **common),
    Extension("xdpfw._fast.match_hs", ["xdpfw/_fast/match_hs.pyx"], libraries=["hs"], **common),
    Extension("xdpfw._fast.decode", ["xdpfw/_fast/decode.pyx"], **common),
    Extension("xdpfw._fast.engine", ["xdpfw/_fast/engine.pyx"], **common),
    Extension("xdpfw._fast.app_dns", ["xdpfw/_fast/app_dns.pyx"], **common),
    Extension("xdpfw._fast.app_http", ["xdpfw/_fast/app_http.pyx"], **common),
    Extension("xdpfw._fast.app_tls", ["xdpfw/_fast/app_tls.pyx"], **common),
    Extension("xdpfw._fast.app_registry", ["xdpfw/_fast/app_registry.pyx"], **common),
]

directives = {"language_level": 3, "boundscheck": False, "wraparound": False, "cdivision": True}
if DEBUG:
    directives.update(linetrace=True)

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=DEBUG or os.environ.get("XDPFW_ANNOTATE") == "1",
    ),
)
