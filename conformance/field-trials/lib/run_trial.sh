#!/usr/bin/env bash
# run_trial.sh NAME TRANSPORT [CONFIG [extra conform args...]]
#
# One gate session: connector NAME (lib/connectors.tsv), configured by lib/config.sh (CONFIG:
# default, or misp-event), over TRANSPORT:
#   EXTERNAL_IMPORT: api | amqp (the queue protocol)
#   job connectors:  api | amqp (listen AND queue protocol), listen-api+queue-amqp, listen-amqp+queue-api
# Writes $RESULTS/NAME/<label>/{command.txt,transcript.txt,junit.xml,connector.log,exit.txt}, <label>
# being TRANSPORT, CONFIG-TRANSPORT for a configuration other than default, variant-$VARIANT-TRANSPORT
# for a diagnostic variant ($VARIANT set).
# Needs CONNECTORS, MOCK, VENVS, RESULTS (set by field-trials.sh) and FEEDS.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=$1 TR=$2 CONFIG=${3:-default}
shift $(( $# < 3 ? $# : 3 ))
: "${CONNECTORS:?}" "${MOCK:?}" "${VENVS:?}" "${RESULTS:?}"
# shellcheck source-path=SCRIPTDIR source=config.sh
source "$HERE/config.sh"
line=$(grep -P "^$NAME\t" "$HERE/connectors.tsv") || { echo "unknown connector $NAME" >&2; exit 2; }
IFS=$'\t' read -r _ REL TYPE ENTRY _ <<< "$line"
conn_config "$NAME" "$CONFIG" || exit 2
label=$TR
[ "$CONFIG" != default ] && label=$CONFIG-$TR
[ -n "${VARIANT:-}" ] && label=variant-$VARIANT-$TR
OUT=$RESULTS/$NAME/$label
rm -rf "$OUT"; mkdir -p "$OUT"
args=(conform --type "$TYPE" --junit "$OUT/junit.xml")
[ -n "$SCOPE" ] && args+=(--scope "$SCOPE")
case "$TYPE:$TR" in
  EXTERNAL_IMPORT:api|EXTERNAL_IMPORT:amqp) args+=(--queue-protocol "$TR");;
  EXTERNAL_IMPORT:*) echo "bad transport $TR for $TYPE" >&2; exit 2;;
  *:api|*:amqp) args+=(--listen-protocol "$TR" --queue-protocol "$TR");;
  *:listen-api+queue-amqp) args+=(--listen-protocol api --queue-protocol amqp);;
  *:listen-amqp+queue-api) args+=(--listen-protocol amqp --queue-protocol api);;
  *) echo "bad transport $TR" >&2; exit 2;;
esac
for e in "${ENVS[@]}"; do args+=(--env "$e"); done
args+=("${GATE[@]}")
# The connector's whole output reaches connector.log (Python buffers it when it is not a terminal).
args+=(--env PYTHONUNBUFFERED=1)
args+=("$@")
SRC=$CONNECTORS/$REL/src
# The connector runs unchanged, from its src/ directory (as its Dockerfile does); the wrapper only
# keeps its whole output (stdout and stderr) in connector.log. exec: the gate's SIGTERM reaches Python.
# shellcheck disable=SC2016  # expanded by the inner bash
launch='cd "$1" && echo "=== launch $(date -u +%FT%TZ)" >> "$3" && exec "$2" "$4" > >(tee -a "$3") 2>&1'
args+=(-- bash -c "$launch" field-trial "$SRC" "$VENVS/$NAME/bin/python" "$OUT/connector.log" "$ENTRY")
printf '%q ' "$MOCK" "${args[@]}" > "$OUT/command.txt"; echo >> "$OUT/command.txt"
start=$(date +%s)
timeout "${TRIAL_TIMEOUT:-900}" "$MOCK" "${args[@]}" > "$OUT/transcript.txt" 2>&1
rc=$?
echo "exit=$rc seconds=$(( $(date +%s) - start ))" > "$OUT/exit.txt"
echo "$NAME $label exit=$rc $(( $(date +%s) - start ))s: $(tail -1 "$OUT/transcript.txt")"
