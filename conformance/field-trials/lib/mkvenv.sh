#!/usr/bin/env bash
# mkvenv.sh CONNECTORS_CHECKOUT REL_PATH NAME
#
# Creates $VENVS/NAME for the connector at CONNECTORS_CHECKOUT/REL_PATH: its requirements.txt,
# pycti pinned to 7.261026.0 (the version the mock is tested with), the project's pinned
# environment ($PINS, fixtures/python/requirements.txt) as constraints where they do not
# contradict the connector's own pins, and connectors-sdk from the checkout (without its
# dependencies: it pins another pycti; its own dependencies are added separately).
# The log goes to $VENVS/NAME.install.log.
set -uo pipefail
CONNECTORS=$1 REL=$2 NAME=$3
: "${VENVS:?}" "${PINS:?}"
PY=${PYTHON:-python3.11}
LOG=$VENVS/$NAME.install.log
mkdir -p "$VENVS"
: > "$LOG"
REQ=""
for f in "$CONNECTORS/$REL/src/requirements.txt" "$CONNECTORS/$REL/requirements.txt"; do
  [ -f "$f" ] && { REQ=$f; break; }
done
[ -n "$REQ" ] || { echo "no requirements.txt for $REL" | tee -a "$LOG"; exit 1; }
"$PY" -m venv "$VENVS/$NAME" >>"$LOG" 2>&1 || { echo "venv creation failed" | tee -a "$LOG"; exit 1; }
PIP=$VENVS/$NAME/bin/pip
"$PIP" install -q --upgrade pip >>"$LOG" 2>&1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The connector's requirements without pycti and connectors-sdk (a git URL).
grep -viE '^\s*(pycti|connectors-sdk)\b' "$REQ" | sed -e 's/\r$//' > "$WORK/req.txt"
SDK=0
grep -qiE '^\s*connectors-sdk' "$REQ" && SDK=1
{ echo "requirements ($REQ, sdk=$SDK):"; cat "$WORK/req.txt"; } >>"$LOG"
grep -v '^#' "$PINS" > "$WORK/constraints.txt"
EXTRA=("pycti==7.261026.0")
[ $SDK = 1 ] && EXTRA+=("limits>=5.0,<6" "pydantic_settings>=2.9.1,<3")
if "$PIP" install -r "$WORK/req.txt" "${EXTRA[@]}" -c "$WORK/constraints.txt" >>"$LOG" 2>&1; then
  echo "INSTALL: full constraints" >>"$LOG"
else
  # Relax: drop from the constraints every package the connector names itself (its pin wins).
  names=$(sed -E 's/[[:space:]]*([A-Za-z0-9_.-]+).*/\1/' "$WORK/req.txt" | grep -v '^$' | tr 'A-Z_' 'a-z-')
  cp "$WORK/constraints.txt" "$WORK/constraints.full"
  for n in $names; do
    awk -v n="$n" '{ split($0, a, "=="); k = tolower(a[1]); gsub("_", "-", k); if (k != n) print }' \
      "$WORK/constraints.txt" > "$WORK/c2" && mv "$WORK/c2" "$WORK/constraints.txt"
  done
  echo "RELAXED constraints (dropped: $(diff "$WORK/constraints.full" "$WORK/constraints.txt" | grep '^<' | cut -c3- | tr '\n' ' '))" >>"$LOG"
  if ! "$PIP" install -r "$WORK/req.txt" "${EXTRA[@]}" -c "$WORK/constraints.txt" >>"$LOG" 2>&1; then
    echo "RELAXED-2: the connector's requirements without constraints, pycti pinned" >>"$LOG"
    "$PIP" install -r "$WORK/req.txt" "${EXTRA[@]}" >>"$LOG" 2>&1 || { echo "INSTALL FAILED" | tee -a "$LOG"; exit 1; }
  fi
fi
if [ $SDK = 1 ]; then
  "$PIP" install --no-deps "$CONNECTORS/connectors-sdk" >>"$LOG" 2>&1 || { echo "SDK INSTALL FAILED" | tee -a "$LOG"; exit 1; }
fi
{
  echo "pip check:"
  "$PIP" check 2>&1
  echo "pycti: $("$VENVS/$NAME/bin/python" -c 'import pycti; print(pycti.__version__)' 2>&1)"
} >>"$LOG"
tail -3 "$LOG"
