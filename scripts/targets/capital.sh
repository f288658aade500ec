#!/usr/bin/env bash
# Scans c{api}tal (Checkmarx/capital, AGPL-3.0), a deliberately vulnerable
# FastAPI blogging API nobody here wrote (ten challenges, one per OWASP API
# Top 10 risk), with portcullis, wapiti and sqlmap in one run, and prints
# the table of docs/scan.md. Not part of CI (it needs the sources and
# Debian packages).
#
#   scripts/targets/capital.sh SRC AIOSQL PYPIKA
#
# SRC is a checkout (or a bare git directory) of Checkmarx/capital; AIOSQL
# and PYPIKA are checkouts (or git dirs) of nackjicholson/aiosql and
# kayak/pypika, the two pure-Python libraries the target needs that Debian
# does not package (the tags its requirements.txt pins, 5.0 and v0.48.9,
# are used). Everything else is Debian's: FastAPI 0.92 and pydantic 1.10
# (the target pins 0.79 and 1.9), databases, asyncpg, PostgreSQL 15 in a
# private cluster on loopback. Two users are registered through the API
# as a user would. Output goes to .cache/targets/capital/.
set -euo pipefail
export PATH=/usr/bin:$PATH
src=${1:?usage: capital.sh SRC AIOSQL PYPIKA}
aiosql=${2:?usage: capital.sh SRC AIOSQL PYPIKA}
pypika=${3:?usage: capital.sh SRC AIOSQL PYPIKA}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/targets
work=$root/.cache/targets/capital
rm -rf "$work" && mkdir -p "$work/lib"

pkgs="python3-fastapi python3-uvicorn python3-databases python3-asyncpg python3-loguru python3-slugify python3-unidecode
python3-passlib python3-bcrypt python3-jwt python3-alembic python3-pydantic python3-email-validator python3-dotenv
python3-psycopg2 postgresql-15 wapiti sqlmap"
missing=$(for p in $pkgs; do dpkg -s "$p" 2>/dev/null | grep -q 'Status: install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

# extract SRC REF PATH... DEST: the paths of a checkout or a git dir at REF.
extract() {
	local from=$1 ref=$2 dest=${*: -1}
	local paths=("${@:3:$#-3}")
	if [ -d "$from/.git" ] || [ ! -d "$from/objects" ]; then
		for p in "${paths[@]}"; do cp -r "$from/$p" "$dest/"; done
	else
		git --git-dir="$from" archive "$ref" "${paths[@]}" | tar -x -C "$dest"
	fi
}
extract "$src" HEAD app alembic.ini "$work"
extract "$aiosql" 5.0 aiosql "$work/lib"
extract "$pypika" v0.48.9 pypika "$work/lib"
cp "$here/capital/contextlib2.py" "$work/lib/"
# aiosql reads its own version from its installed metadata.
mkdir -p "$work/lib/aiosql-5.0.dist-info" && printf 'Metadata-Version: 2.1\nName: aiosql\nVersion: 5.0\n' > "$work/lib/aiosql-5.0.dist-info/METADATA"
echo "target: $(git --git-dir="$src" rev-parse --short HEAD 2>/dev/null || git -C "$src" rev-parse --short HEAD)" | tee "$work/target.txt"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

pg=$work/pg
mkdir -p "$pg" && chown postgres "$pg"
pgport=$(freeport)
runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$pg/data" -U postgres --auth=trust > "$work/initdb.log"
runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D "$pg/data" -p "$pgport" -k "$pg" -c listen_addresses=127.0.0.1 > "$work/postgres.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_isready -h 127.0.0.1 -p "$pgport" -q && break; sleep 0.2; done
runuser -u postgres -- /usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p "$pgport" -U postgres rwdb
export APP_ENV=prod DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:$pgport/rwdb PYTHONPATH=$work/lib
(cd "$work" && /usr/bin/python3 -m alembic upgrade head > "$work/alembic.log" 2>&1)

port=$(freeport)
base=http://127.0.0.1:$port
(cd "$work" && exec /usr/bin/python3 -m uvicorn --host 127.0.0.1 --port "$port" --factory app.main:get_application) > "$work/target.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do curl -sf "$base/openapi.json" > "$work/openapi.json" && break; sleep 0.5; done

for u in alice bob; do
	curl -sf -X POST "$base/api/users" -H 'Content-Type: application/json' \
		-d "{\"user\":{\"username\":\"pc-$u\",\"email\":\"pc-$u@example.com\",\"password\":\"$u-Passw0rd!\"}}" > /dev/null
done
cat > "$work/scan.yaml" <<EOT
spec: openapi.json
target: $base
identities:
  - name: pc-alice
    login: {operation: POST /api/v2/users/login, body: {user: {email: pc-alice@example.com, password: alice-Passw0rd!}}, token: /user/token, prefix: "Token "}
  - name: pc-bob
    login: {operation: POST /api/v2/users/login, body: {user: {email: pc-bob@example.com, password: bob-Passw0rd!}}, token: /user/token, prefix: "Token "}
allow_destructive: true
rate: 50
max_requests: 8000
out: report
formats: [json, sarif, junit, html]
fail_on: none
EOT

go build -o "$work/portcullis" "$root/cmd/portcullis"
start=$(date +%s)
"$work/portcullis" scan -c "$work/scan.yaml" -q > "$work/portcullis.txt" 2>&1 || true
echo "portcullis: $(( $(date +%s) - start ))s" | tee -a "$work/target.txt"

token=$(curl -sf -X POST "$base/api/v2/users/login" -H 'Content-Type: application/json' \
	-d '{"user":{"email":"pc-alice@example.com","password":"alice-Passw0rd!"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["token"])')
if [ "${PEERS:-1}" = 1 ]; then # PEERS=0: portcullis only
	start=$(date +%s)
	"$here/run-peers.sh" "$work/openapi.json" "$base" "Authorization: Token $token" "$work/peers"
	echo "wapiti and sqlmap: $(( $(date +%s) - start ))s" | tee -a "$work/target.txt"
fi

python3 "$here/score.py" "$here/capital.flaws" "$work/report/report.json" "$work/peers/wapiti.json" "$work/peers/sqlmap.tsv" | tee "$work/table.md"
