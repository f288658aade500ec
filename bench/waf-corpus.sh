#!/usr/bin/env bash
# bench/waf-corpus.sh — every case of the WAF corpora (issue 17) through the
# waf stage and through Coraza + CRS alone, in one run, and the OWASP CRS
# regression suite through both; prints the tables per class and place
# (markdown) and writes them to $OUT (default waf-corpus.md).
#
# The corpora: testdata/corpus/ of internal/stage/waf (PayloadsAllTheThings,
# payloadbox, fuzzdb, OWASP WSTG, each with its licence in the README there),
# Debian's wfuzz word lists and sqlmap payload templates, Debian's fortunes
# and realistic API bodies as benign traffic. scripts/test-deps.sh installs
# the Debian packages. make test runs a fixed sample of the same cases.
#
# Env: OUT (the markdown file), TARGETS=1 to fail on the issue's targets
# (97% per class and place, 1% benign) instead of the floors, SAMPLE=N to
# run 1 in N of every case (the same ones through both; the full run of
# Coraza alone took 5 minutes on two idle cores, much longer on busy ones).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${OUT:-waf-corpus.md}
out=$(realpath -m "$out")
: >"$out"
args=(-count=1 -timeout 60m -run 'TestCorpora$|TestCRSRegressionSuite$' -waf.corpus-full -waf.corpus-table "$out" -v)
[[ ${TARGETS:-} == 1 ]] && args+=(-waf.corpus-targets)
[[ -n ${SAMPLE:-} ]] && args+=(-waf.corpus-sample "$SAMPLE")
status=0
go test ./internal/stage/waf "${args[@]}" >"$out.log" 2>&1 || status=$?
cat "$out"
grep -E 'detection .*target|--- (FAIL|PASS)|^(ok|FAIL)' "$out.log" >&2 || true
echo "tables in $out, full log (every miss and false positive) in $out.log" >&2
exit $status
