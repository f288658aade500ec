#!/usr/bin/env bash
# Runs the peer tools on a running target, in the same run as portcullis:
#
#   run-peers.sh SPEC.json BASE-URL "Header: value" OUTDIR
#
# wapiti (Debian's, 3.0.4: no OpenAPI import, so every GET operation of the
# description is a start URL, with the identity's header), and sqlmap
# (Debian's, 1.7.2) once per operation with its query or JSON body, at
# level 1 and risk 1 (no payloads that could change data), --smart (only
# parameters that look dynamic are tested thoroughly). Destructive-looking
# operations are left out, as portcullis leaves them out. Both are bounded
# in time. Writes OUTDIR/wapiti.json and OUTDIR/sqlmap.tsv.
set -euo pipefail
spec=$1 base=$2 header=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
python3 "$here/openapi_requests.py" "$spec" "$base" > "$out/requests.tsv"

starts=()
while IFS=$'\t' read -r method url body; do
	[ "$method" = GET ] && starts+=(-s "$url")
done < "$out/requests.tsv"
echo "wapiti: ${#starts[@]} start URLs" >&2
timeout 900 wapiti -u "$base/" --scope folder "${starts[@]}" -H "$header" \
	--flush-session --max-scan-time 600 --max-attack-time 120 -t 10 \
	-f json -o "$out/wapiti.json" --no-bugreport > "$out/wapiti.log" 2>&1 || echo "wapiti exited $?" >&2

: > "$out/sqlmap.tsv"
n=0
while IFS=$'\t' read -r method url body; do
	n=$((n + 1))
	args=(-u "$url" --method "$method" -H "$header" --batch --smart --level 1 --risk 1
		--time-sec 2 --timeout 10 --retries 0 --output-dir "$out/sqlmap/$n" --disable-coloring)
	if [ -n "$body" ]; then
		args+=(--data "$body" -H "Content-Type: application/json")
	elif [[ "$url" != *"?"* ]] && [[ "$url" =~ /[0-9]+(/|$) ]]; then
		# A path id as the only input: mark it for sqlmap.
		url=$(echo "$url" | sed -E 's#/([0-9]+)(/|$)#/\1*\2#')
		args[1]=$url
	elif [[ "$url" != *"?"* ]]; then
		echo -e "$method\t$url\tno input" >> "$out/sqlmap.tsv"
		continue
	fi
	log="$out/sqlmap-$n.log"
	timeout 180 sqlmap "${args[@]}" > "$log" 2>&1 || true
	if grep -q "identified the following injection point" "$log"; then
		echo -e "$method\t$url\tfound" >> "$out/sqlmap.tsv"
	else
		echo -e "$method\t$url\tnot found" >> "$out/sqlmap.tsv"
	fi
done < "$out/requests.tsv"
