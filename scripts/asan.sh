#!/usr/bin/env bash
# Build the Cython/C hot path with AddressSanitizer + UBSan into a scratch copy of the tree
# and run the fuzz and property tests against it (docs/TESTING.md). Run after touching
# C-level code. Needs ./scripts/setup.sh first (it uses that venv's Python and packages).
#   scripts/asan.sh [pytest args...]      default: the fuzz / property / decoder test files
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || { echo "asan: run ./scripts/setup.sh first" >&2; exit 2; }
TOP=$(mktemp -d /tmp/xdpfw-asan.XXXXXX)
trap 'rm -rf "$TOP"' EXIT
WORK="$TOP/main"          # the tests find the corpus at ../shared, as in the real tree
mkdir "$WORK"
ln -s "$(cd "$ROOT/.." && pwd)/shared" "$TOP/shared"
# the tree as committed plus the working changes, without build products
(cd "$ROOT" && git ls-files -co --exclude-standard -z) | \
    (cd "$ROOT" && xargs -0 cp --parents -t "$WORK" 2>/dev/null || true)
cd "$WORK"
echo "asan: building the extensions with -fsanitize=address,undefined in $WORK" >&2
XDPFW_ASAN=1 "$PY" setup.py -q build_ext --inplace -j 2 > build.log 2>&1 || { tail -40 build.log; exit 1; }
for so in xdpfw/_fast/*.so; do   # every extension really is instrumented
    syms=$(nm -D "$so")
    [[ "$syms" == *" U __asan_init"* ]] || { echo "asan: $so is not instrumented" >&2; exit 1; }
done
if [ $# -eq 0 ]; then
    set -- tests/unit/test_rules_fuzz.py tests/unit/test_decode.py tests/unit/test_decode_corpus.py \
        tests/unit/test_app_contract.py tests/unit/test_app_http.py tests/unit/test_app_tls.py \
        tests/unit/test_app_dns.py tests/unit/test_flow.py tests/unit/test_engine.py \
        tests/unit/test_engine_property.py tests/unit/test_engine_frag.py tests/unit/test_engine_app.py \
        tests/unit/test_match_property.py tests/unit/test_detect_property.py \
        tests/unit/test_engine_encrypted.py tests/unit/test_engine_swap.py tests/unit/test_block_prefilter.py \
        tests/unit/test_stream_groups.py tests/unit/test_match.py tests/unit/test_flow_admission.py
fi
# Python itself is not instrumented: the runtime is preloaded, leak checks are off (the
# interpreter's own allocations at exit are not ours), any report aborts the run.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:print_stacktrace=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONPATH="$WORK"
"$PY" -c 'import xdpfw._fast.engine as e, sys; assert e.__file__.startswith(sys.argv[1]), e.__file__' "$WORK"
"$PY" -m pytest -q -p no:cacheprovider -x "$@"
