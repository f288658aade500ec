#!/usr/bin/env bash
# Scans Tiredful-API (payatu/Tiredful-API, GPL-3.0, in its Python 3 / Django
# 3.2 port siddharthbezalwar/Tiredful-API-py3-beta), a deliberately
# vulnerable Django REST Framework service nobody here wrote, with
# portcullis, wapiti and sqlmap in one run, and prints the table of
# docs/scan.md. Not part of CI.
#
#   scripts/targets/tiredful.sh SRC
#
# SRC is a checkout (or a bare git directory) of the py3 port. The target
# ships no OpenAPI description; the one scanned is what its own framework
# generates (manage.py generateschema), as a user without one would do.
# Its users log in through django-oauth-toolkit's /o/token/ (not in that
# description), so the two identities' bearer tokens are fetched with curl
# and given as headers. Everything runs on loopback with Debian's Django
# 3.2 and DRF 3.14, on a copy of the target's own SQLite database. Output
# goes to .cache/targets/tiredful/.
set -euo pipefail
export PATH=/usr/bin:$PATH
src=${1:?usage: tiredful.sh SRC (a checkout or git dir of the Tiredful-API py3 port)}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/targets
work=$root/.cache/targets/tiredful
rm -rf "$work" && mkdir -p "$work"

pkgs="python3-django python3-djangorestframework python3-django-oauth-toolkit python3-jwcrypto python3-jwt
python3-requests python3-uritemplate python3-yaml wapiti sqlmap"
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi
if [ -d "$src/Tiredful_API" ]; then
	cp -r "$src/Tiredful_API" "$work/app"
else
	git --git-dir="$src" archive HEAD Tiredful_API | tar -x -C "$work" && mv "$work/Tiredful_API" "$work/app"
fi
find "$work/app" -name __pycache__ -prune -exec rm -rf {} +
echo "target: $(git --git-dir="$src" rev-parse --short HEAD 2>/dev/null || git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)" | tee "$work/target.txt"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

port=$(freeport)
base=http://127.0.0.1:$port
(cd "$work/app" && /usr/bin/python3 manage.py generateschema --format openapi-json > "$work/openapi.generated.json" 2> "$work/generateschema.log")
# DRF names the operations of the views mounted twice (/api/v1/... and
# /library/...) alike, which OpenAPI forbids (generateschema warns); the
# second of each name gets a suffix, nothing else changes.
python3 - "$work/openapi.generated.json" "$work/openapi.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
seen = {}
for item in doc["paths"].values():
    for op in item.values():
        if isinstance(op, dict) and "operationId" in op:
            n = seen.get(op["operationId"], 0) + 1
            seen[op["operationId"]] = n
            if n > 1:
                op["operationId"] += "_%d" % n
json.dump(doc, open(sys.argv[2], "w"), indent=1)
PY
(cd "$work/app" && exec /usr/bin/python3 manage.py runserver --noreload --insecure "127.0.0.1:$port") > "$work/target.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do curl -sf "$base/" >/dev/null && break; sleep 0.5; done

# The OAuth2 client and users the target's own token page shows.
client_id=5cI2vLy5RYR5cphK1KQbEG8xpTpjFbq3agcfQMkH
client_secret=aFUbytyk91ihiyeOb0mBhsArZs6HYZxj5c8AlN8GmBLEjAa7lLPlL4VDDUvCQDfaFjQj1LWSHe3dmfUAVnlA7Znx8Gau5S2UW3pAQMwQBeK0c2NB89PbSYCZp1JnJ6u7
token() {
	curl -sf -X POST "$base/o/token/" -d "grant_type=password&username=$1&password=$2&client_id=$client_id&client_secret=$client_secret" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
t1=$(token batman 'Batman@123')
t2=$(token superman 'Superman@123')
cat > "$work/scan.yaml" <<EOF
spec: openapi.json
target: $base
identities:
  - name: batman
    headers: {Authorization: "Bearer $t1"}
  - name: superman
    headers: {Authorization: "Bearer $t2"}
allow_destructive: true
rate: 50
max_requests: 8000
out: report
formats: [json, sarif, junit, html]
fail_on: none
EOF

go build -o "$work/portcullis" "$root/cmd/portcullis"
start=$(date +%s)
"$work/portcullis" scan -c "$work/scan.yaml" -q > "$work/portcullis.txt" 2>&1 || true
echo "portcullis: $(( $(date +%s) - start ))s" | tee -a "$work/target.txt"

start=$(date +%s)
"$here/run-peers.sh" "$work/openapi.json" "$base" "Authorization: Bearer $(token flash 'Flash@123')" "$work/peers"
echo "wapiti and sqlmap: $(( $(date +%s) - start ))s" | tee -a "$work/target.txt"

python3 "$here/score.py" "$here/tiredful.flaws" "$work/report/report.json" "$work/peers/wapiti.json" "$work/peers/sqlmap.tsv" | tee "$work/table.md"
