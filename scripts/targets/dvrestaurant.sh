#!/usr/bin/env bash
# Scans the Damn Vulnerable RESTaurant (theowni/Damn-Vulnerable-RESTaurant-
# API-Game, GPL-3.0), a deliberately vulnerable FastAPI service nobody here
# wrote, with portcullis, wapiti and sqlmap in one run, and prints the table
# of docs/scan.md. Not part of CI (it needs the target's source and Debian
# packages).
#
#   scripts/targets/dvrestaurant.sh SRC
#
# SRC is a checkout (or a bare git directory) of the target, fetched by
# whoever runs this (git clone, or the session's fetch tool). Everything runs
# on loopback: PostgreSQL (the target's default database; its in-memory
# SQLite mode stores any role name, which the privilege probes would turn
# into accounts that no longer load) in a private cluster, the target on
# Debian's FastAPI 0.92 with the small shims in dvrestaurant/compat (the
# target is written for FastAPI 0.103 and pydantic 2), two customer
# accounts registered through the API as a user would. Output goes to
# .cache/targets/dvrestaurant/.
set -euo pipefail
# The target runs on Debian's Python and packages, not on another python3 on PATH.
export PATH=/usr/bin:$PATH
src=${1:?usage: dvrestaurant.sh SRC (a checkout or git dir of theowni/Damn-Vulnerable-RESTaurant-API-Game)}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/targets
work=$root/.cache/targets/dvrestaurant
rm -rf "$work" && mkdir -p "$work"

pkgs="python3-fastapi python3-uvicorn python3-sqlalchemy python3-psycopg2 python3-alembic python3-jose python3-passlib
python3-multipart python3-bcrypt python3-dotenv python3-limits python3-httpx python3-psutil python3-pil python3-requests
postgresql-15 wapiti sqlmap"
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

if [ -d "$src/app" ]; then
	cp -r "$src/app" "$work/app"
else
	git --git-dir="$src" archive HEAD app | tar -x -C "$work"
fi
echo "target: $(git --git-dir="$src" rev-parse --short HEAD 2>/dev/null || git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)" | tee "$work/target.txt"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# PostgreSQL, private to this run.
pg=$work/pg
mkdir -p "$pg" && chown postgres "$pg"
pgport=$(freeport)
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$pg/data" -U admin --auth=trust > "$work/initdb.log"
runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D "$pg/data" -p "$pgport" -k "$pg" -c listen_addresses=127.0.0.1 > "$work/postgres.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_isready -h 127.0.0.1 -p "$pgport" -q && break; sleep 0.2; done
runuser -u postgres -- /usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p "$pgport" -U admin restaurant
export POSTGRES_SERVER=127.0.0.1 POSTGRES_PORT=$pgport POSTGRES_USER=admin POSTGRES_PASSWORD=password POSTGRES_DB=restaurant
(cd "$work/app" && /usr/bin/python3 -m alembic upgrade head > "$work/alembic.log" 2>&1)

port=$(freeport)
base=http://127.0.0.1:$port
(cd "$work/app" && exec /usr/bin/python3 "$here/dvrestaurant/compat/run.py" 127.0.0.1 "$port") > "$work/target.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do curl -sf "$base/healthcheck" >/dev/null && break; sleep 0.5; done
curl -sf "$base/openapi.json" > "$work/openapi.json"

# Two customers, registered as a user would.
for u in alice bob; do
	curl -sf -X POST "$base/register" -H 'Content-Type: application/json' \
		-d "{\"username\":\"pc-$u\",\"password\":\"$u-Passw0rd!\",\"phone_number\":\"555-01$RANDOM\",\"first_name\":\"$u\",\"last_name\":\"Test\"}" > /dev/null
done
cat > "$work/scan.yaml" <<EOF
spec: openapi.json
target: $base
identities:
  - name: pc-alice
    login: {operation: POST /token, body: {username: pc-alice, password: alice-Passw0rd!}, token: /access_token}
  - name: pc-bob
    login: {operation: POST /token, body: {username: pc-bob, password: bob-Passw0rd!}, token: /access_token}
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

token=$(curl -sf -X POST "$base/token" -d 'username=pc-alice&password=alice-Passw0rd!' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
start=$(date +%s)
"$here/run-peers.sh" "$work/openapi.json" "$base" "Authorization: Bearer $token" "$work/peers"
echo "wapiti and sqlmap: $(( $(date +%s) - start ))s" | tee -a "$work/target.txt"

python3 "$here/score.py" "$here/dvrestaurant.flaws" "$work/report/report.json" "$work/peers/wapiti.json" "$work/peers/sqlmap.tsv" | tee "$work/table.md"
