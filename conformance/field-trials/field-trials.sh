#!/usr/bin/env bash
# field-trials.sh — runs real OpenCTI connectors, unchanged, through `opencti-mock conform`
# (issues 12 and 13; results recorded in conformance/FIELD-TRIALS.md). See README.md beside this script.
#
#   field-trials.sh CONNECTORS_CHECKOUT OPENCTI_MOCK_BIN [OUT_DIR]
#
# CONNECTORS_CHECKOUT  a local checkout of github.com/OpenCTI-Platform/connectors (trials made at
#                      a2681ba88eb06bdaa4e78e0227716e9c12a7031f); its code is run, never copied.
# OPENCTI_MOCK_BIN     the opencti-mock binary (a release build).
# OUT_DIR              where the venvs, the feed data and the results go (default ./field-trials-out).
#
# Environment:
#   ONLY="ioc-extractor tagger"   only these connectors (names in lib/connectors.tsv)
#   TRANSPORTS_EXT="api amqp"     transports of EXTERNAL_IMPORT connectors (the queue protocol)
#   TRANSPORTS_JOB="api amqp listen-api+queue-amqp listen-amqp+queue-api"   of job connectors
#   VARIANTS=0                    skip the diagnostic variants (lib/variants.sh)
#   VENVS=DIR                     where the venvs are (default OUT_DIR/venvs; reused when present)
#   REBUILD_VENVS=1               recreate the venvs even if they exist
#   PYTHON=python3.11             interpreter for the venvs (lib/connectors.tsv may name another, column 6)
#   FEED_PORT=8765                loopback port of the feed and API stub server
#   CONNECTORS_COMMIT=<sha>       recorded when the checkout is not a git work tree
#   TRIAL_TIMEOUT=900             seconds before one gate session is killed
#   OPENCTI_MOCK_AMQP_URL         broker of the amqp transports (default 127.0.0.1:5672, guest/guest)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ $# -lt 2 ]; then sed -n 2,24p "$0"; exit 2; fi
CONNECTORS=$(cd "$1" && pwd) || exit 2
MOCK=$(readlink -f "$2")
[ -x "$MOCK" ] || { echo "not an executable: $2" >&2; exit 2; }
[ -d "$CONNECTORS/external-import" ] || { echo "not a checkout of OpenCTI-Platform/connectors: $1" >&2; exit 2; }
mkdir -p "${3:-./field-trials-out}" || exit 2
OUT=$(cd "${3:-./field-trials-out}" && pwd)
VENVS=${VENVS:-$OUT/venvs}
RESULTS=$OUT/results
PINS=$(cd "$HERE/../.." && pwd)/fixtures/python/requirements.txt
FEED_PORT=${FEED_PORT:-8765}
FEEDS=http://127.0.0.1:$FEED_PORT
export CONNECTORS MOCK VENVS RESULTS PINS FEEDS
mkdir -p "$VENVS" "$RESULTS"
began=$(date +%s)

# 0. What is tried, with what.
{
  echo "date: $(date -u +%FT%TZ)"
  echo "connectors: $CONNECTORS"
  echo "connectors commit: $(git -C "$CONNECTORS" rev-parse HEAD 2>/dev/null || echo "${CONNECTORS_COMMIT:-unknown (not a git checkout; set CONNECTORS_COMMIT)}")"
  echo "opencti-mock: $MOCK ($("$MOCK" --version 2>/dev/null), sha256 $(sha256sum "$MOCK" | cut -c1-16))"
  echo "python: $(${PYTHON:-python3.11} --version 2>&1)"
} | tee "$RESULTS/ENVIRONMENT.txt"
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && [ -z "${OPENCTI_MOCK_AMQP_URL:-}" ]; then
  echo "WARNING: no RabbitMQ on 127.0.0.1:5672 (scripts/broker.sh: source it, then ensure_broker); amqp trials will fail"
fi

names=$(grep -v '^#' "$HERE/lib/connectors.tsv" | cut -f1)
[ -n "${ONLY:-}" ] && names=$ONLY

# 1. One venv per connector (lib/mkvenv.sh).
for n in $names; do
  rel=$(grep -P "^$n\t" "$HERE/lib/connectors.tsv" | cut -f2)
  [ -n "$rel" ] || { echo "unknown connector $n" >&2; exit 2; }
  if [ -x "$VENVS/$n/bin/python" ] && [ "${REBUILD_VENVS:-0}" != 1 ]; then continue; fi
  rm -rf "${VENVS:?}/$n"
  echo "== venv $n"
  # The interpreter: the connector's own when lib/connectors.tsv names one (column 6), else $PYTHON.
  own_py=$(grep -P "^$n\t" "$HERE/lib/connectors.tsv" | cut -f6)
  PYTHON=${own_py:-${PYTHON:-python3.11}} "$HERE/lib/mkvenv.sh" "$CONNECTORS" "$rel" "$n" || echo "venv $n FAILED (see $VENVS/$n.install.log)"
done

# 2. The feed data (written at each run, with pycti's ids) and the loopback server.
DATA=$OUT/feeds/data
mkdir -p "$DATA"
py=$(find "$VENVS" -maxdepth 3 -path '*/bin/python' | sort | head -1)
"$py" "$HERE/feeds/make_data.py" "$DATA" || { echo "feed data could not be written" >&2; exit 1; }
python3 "$HERE/feeds/server.py" "$FEED_PORT" "$DATA" "$OUT/feeds/requests.log" > "$OUT/feeds/server.out" 2>&1 &
FEED_PID=$!
trap 'kill "$FEED_PID" 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "$FEEDS/abusessl/sslipblacklist.csv" >/dev/null && break; sleep 0.1; done
curl -sf "$FEEDS/abusessl/sslipblacklist.csv" >/dev/null || { echo "the feed server did not start (port $FEED_PORT)" >&2; exit 1; }

# 3. The trials: every connector, unchanged, in every transport its type supports; then
#    import-file-misp with a MISP event of its own format.
: > "$RESULTS/trials.out"
trial() { "$HERE/lib/run_trial.sh" "$@" | tee -a "$RESULTS/trials.out"; }
for n in $names; do
  type=$(grep -P "^$n\t" "$HERE/lib/connectors.tsv" | cut -f3)
  if [ "$type" = EXTERNAL_IMPORT ]; then trs=${TRANSPORTS_EXT:-api amqp}; else trs=${TRANSPORTS_JOB:-api amqp listen-api+queue-amqp listen-amqp+queue-api}; fi
  for t in $trs; do trial "$n" "$t"; done
  if [ "$n" = import-file-misp ]; then
    for t in $trs; do trial "$n" "$t" misp-event; done
  fi
done

# 4. Diagnostic variants (not the trials: each changes one setting to show what a check depends on).
if [ "${VARIANTS:-1}" = 1 ]; then
  # shellcheck source-path=SCRIPTDIR source=lib/variants.sh
  source "$HERE/lib/variants.sh"
  for v in "${VARIANT_RUNS[@]}"; do
    IFS='|' read -r n variant t config extra <<< "$v"
    # shellcheck disable=SC2086  # names and the extra arguments are words
    printf '%s\n' $names | grep -qx "$n" || continue
    # shellcheck disable=SC2086
    VARIANT=$variant "$HERE/lib/run_trial.sh" "$n" "$t" "$config" $extra | tee -a "$RESULTS/trials.out"
  done
fi

# 5. The summary.
python3 "$HERE/lib/summarize.py" "$RESULTS" > "$RESULTS/SUMMARY.md"
echo "wall time: $(( $(date +%s) - began )) s" | tee -a "$RESULTS/ENVIRONMENT.txt"
echo "results: $RESULTS (SUMMARY.md, one folder per connector and trial)"
