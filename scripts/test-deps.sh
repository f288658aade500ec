#!/usr/bin/env bash
# Installs what the test suite needs when it is missing. As root it uses
# apt-get (Debian); otherwise it only reports what is missing.
set -euo pipefail

# command → Debian package
declare -A need=(
  [curl]=curl              # the demo test runs the printed curl commands
  [redis-server]=redis-server  # store, multi-node and Redis fault tests
  [chromium]=chromium      # the HTML scan report is loaded in headless Chromium (internal/scan/report)
  [systemd-analyze]=systemd    # deploy: systemd-analyze verify and security on the unit
  [logrotate]=logrotate        # deploy: the logrotate config parses
  [dockerd]=docker.io          # deploy: Dockerfile.scratch is built and run by a daemon the test starts
  [wfuzz]=wfuzz            # waf corpora: wfuzz's injection word lists (internal/stage/waf)
  [sqlmap]=sqlmap          # waf corpora: sqlmap's payload templates
  [pg_ctlcluster]=postgresql   # events: the PostgreSQL fleet sink against a real postgres (initdb on a free port)
  [promtool]=prometheus        # deploy/monitoring: promtool check/test rules on the alert rules and the Grafana queries
)
# Files (not commands) the tests read, and their Debian package.
declare -A need_files=(
  [/usr/share/games/fortunes/fortunes]=fortunes  # waf corpora: benign English prose
)

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${need[$cmd]}")
done
for f in "${!need_files[@]}"; do
  [ -e "$f" ] || missing+=("${need_files[$f]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing test dependencies: ${missing[*]} (install them: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "installing test dependencies: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # apt-get's exit status also reports packages that were already broken on
  # the machine (a failed post-install script of something else); what
  # counts is whether the commands are there afterwards.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" || true
  still=()
  for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || still+=("$cmd")
  done
  if [ ${#still[@]} -gt 0 ]; then
    echo "test dependencies still missing after apt-get: ${still[*]}" >&2
    exit 1
  fi
fi

root="$(cd "$(dirname "$0")/.." && pwd)"

# kubectl-validate checks the Kubernetes manifests against the API's own
# schemas (built into it for each Kubernetes version) with no cluster. It is
# a Go program, installed from the Go module proxy into .cache/bin.
kv_version=v0.0.4
if [ ! -x "$root/.cache/bin/kubectl-validate" ]; then
  echo "installing kubectl-validate $kv_version into .cache/bin (a few minutes, once)"
  GOBIN="$root/.cache/bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kubectl-validate@$kv_version"
fi

# Debian's crowdsec, for the CrowdSec bouncer and agent tests. Installing the
# package runs a post-install script that registers with CrowdSec's Central
# API (unreachable here) and starts a service, so the package is unpacked
# into .cache/crowdsec instead (binaries, grok patterns); the tests run it
# with their own config in a temporary directory (internal/crowdsec/crowdsectest).
crowdsec_dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/crowdsec"
if ! { command -v crowdsec >/dev/null 2>&1 && command -v cscli >/dev/null 2>&1; } && [ ! -x "$crowdsec_dir/usr/bin/crowdsec" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "crowdsec is needed (run this script as root: it unpacks Debian's crowdsec into $crowdsec_dir)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends libsqlite3-0 ca-certificates
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download crowdsec >/dev/null)
  mkdir -p "$crowdsec_dir"
  dpkg -x "$tmp"/crowdsec_*.deb "$crowdsec_dir"
  rm -rf "$tmp"
  echo "unpacked Debian's crowdsec into $crowdsec_dir"
fi

# The published SARIF 2.1.0 JSON Schema, for the scan report test. It ships
# inside an npm package; it is fetched into .cache/ (not committed).
sarif_schema="$root/.cache/sarif/sarif-2.1.0-rtm.5.json"
if [ ! -s "$sarif_schema" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "npm is needed to fetch the SARIF schema (sudo apt-get install -y npm)" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$(dirname "$sarif_schema")"
  cp "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$sarif_schema"
  rm -rf "$tmp"
  echo "fetched the SARIF 2.1.0 schema into $sarif_schema"
fi

# An independent RFC 9421 implementation (Node.js http-message-signatures)
# signs requests that the authn tests verify (internal/stage/authn,
# TestRFC9421Interop). From the npm registry into .cache/npm.
hms_version=1.0.6
if [ ! -f "$root/.cache/npm/node_modules/http-message-signatures/package.json" ] ||
   ! grep -q "\"version\": \"$hms_version\"" "$root/.cache/npm/node_modules/http-message-signatures/package.json"; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "npm is needed for the RFC 9421 interop test (sudo apt-get install -y npm)" >&2
      exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
  fi
  mkdir -p "$root/.cache/npm"
  npm install --silent --no-audit --no-fund --prefix "$root/.cache/npm" "http-message-signatures@$hms_version" >/dev/null
  echo "installed http-message-signatures $hms_version into .cache/npm"
fi

# Test data for the sensitive-data detectors (internal/dlp): hashes made by
# real password-hashing tools, keys made by OpenSSL and ssh-keygen,
# python-stdnum as an independent IBAN/Luhn/SSN validator, and benign
# corpora (fortunes, iso-codes) for false positives.
dlp_cmds=(mkpasswd htpasswd argon2 openssl ssh-keygen)
dlp_pkgs=(whois apache2-utils argon2 openssl openssh-client python3-passlib python3-bcrypt python3-argon2 python3-stdnum fortunes iso-codes)
dlp_missing=0
for cmd in "${dlp_cmds[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || dlp_missing=1
done
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import passlib, stdnum, argon2, bcrypt' 2>/dev/null || dlp_missing=1
[ -d /usr/share/games/fortunes ] && [ -d /usr/share/iso-codes/json ] || dlp_missing=1
if [ "$dlp_missing" = 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing dlp test data tools (sudo apt-get install -y ${dlp_pkgs[*]})" >&2
    exit 1
  fi
  echo "installing dlp test data tools: ${dlp_pkgs[*]}"
  apt-get update -qq
  # As above: what counts is whether the tools are there afterwards.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${dlp_pkgs[@]}" || true
  for cmd in "${dlp_cmds[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || { echo "dlp test data tool still missing: $cmd" >&2; exit 1; }
  done
  /usr/bin/python3 -c 'import passlib, stdnum, argon2, bcrypt' || { echo "python3-passlib/stdnum/argon2/bcrypt still missing" >&2; exit 1; }
fi
