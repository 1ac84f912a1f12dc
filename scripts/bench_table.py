# source: written for opencti-mock; run by scripts/bench.sh.
"""Turns the figures the bench binaries wrote (one JSON object per line, see
benches/support/mod.rs) into BENCHMARKS.md: one table, each figure beside the comparison
measured in the same run, its target and verdict, under the date, commit and machine.

usage: bench_table.py FIGURES.jsonl META.json > BENCHMARKS.md
"""

import json
import sys

BENCHES = {
    "platform": ("Start-up, idle memory, the ~45 MB push", "cargo bench --bench platform"),
    "validation": ("STIX validation", "cargo bench --bench validation"),
    "amqp": ("AMQP ingest against the broker alone", "cargo bench --bench amqp"),
    "broker": ("The embedded AMQP broker beside RabbitMQ, same loopback, same run", "cargo bench --bench broker"),
    "jobs": ("Job dispatch", "cargo bench --bench jobs"),
    "stream": ("Live stream", "cargo bench --bench stream"),
    "load": ("Load, soak and broker drops (`opencti-mock serve` in its own process)", "cargo bench --bench load"),
}


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def main():
    figures_path, meta_path = sys.argv[1], sys.argv[2]
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    figures = []
    with open(figures_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                figures.append(json.loads(line))

    out = []
    out.append("# Benchmarks")
    out.append("")
    out.append(f"Written by `{meta['command']}` — do not edit by hand; run it again.")
    out.append("")
    out.append(f"- date: {meta['date']}")
    out.append(f"- commit: `{meta['commit']}`")
    out.append(f"- machine: {meta['machine']}")
    out.append(f"- load average (1 min) before / after: {meta['load_before']} / {meta['load_after']}")
    out.append(f"- toolchain: {meta['rustc']}; cargo profile `{meta['profile']}`")
    out.append(f"- mode: {meta['mode']}")
    out.append("")
    out.append("MB are 10^6 bytes. A verdict is PASS or FAIL against the target, empty when the")
    out.append("figure is a comparison without a target. Correctness figures (errors, lost, twice,")
    out.append("works) must be 0: the bench fails when they are not.")
    failed = meta.get("failed") or []
    if failed:
        out.append("")
        out.append("**Benches that failed (see their output):** " + ", ".join(f"`{b}`" for b in failed))
    out.append("")
    out.append("| figure | value | measured beside it, same run | target | verdict |")
    out.append("|---|---|---|---|---|")
    seen = []
    for bench in list(BENCHES) + sorted({f["bench"] for f in figures} - set(BENCHES)):
        rows = [f for f in figures if f["bench"] == bench]
        if not rows:
            continue
        seen.append(bench)
        title, command = BENCHES.get(bench, (bench, f"cargo bench --bench {bench}"))
        out.append(f"| **{cell(title)}** (`{command}`) | | | | |")
        for f in rows:
            value = "no figure" if f["value"] is None else f"{f['display']} {f['unit']}".strip()
            verdict = f["verdict"]
            if verdict == "FAIL":
                verdict = "**FAIL**"
            figure = f["figure"]
            if figure.startswith("  "):
                figure = "↳ " + figure.strip()
            out.append(f"| {cell(figure)} | {cell(value)} | {cell(f['comparison'])} | {cell(f['target'])} | {verdict} |")
    summary = {}
    for f in figures:
        if f["verdict"]:
            summary[f["verdict"]] = summary.get(f["verdict"], 0) + 1
    out.append("")
    out.append("Targets met: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.items())) + ".")
    missing = [b for b in BENCHES if b not in seen]
    if missing:
        out.append("")
        out.append("Not run: " + ", ".join(f"`{b}`" for b in missing) + ".")
    print("\n".join(out))


if __name__ == "__main__":
    main()
