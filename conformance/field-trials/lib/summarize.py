"""Summarises the field trials: python3 summarize.py RESULTS_DIR > SUMMARY.md

Reads every RESULTS_DIR/<connector>/<label>/junit.xml written by `opencti-mock conform --junit`
(label: the transport, <config>-<transport>, or variant-<name>-<transport>) with the gate's
verdict (the last line of transcript.txt) and exit status (exit.txt), and prints a Markdown table
(pass / fail / not applicable / blocked counts, the IDs that did not pass) followed by every check
that did not pass with the gate's message, verbatim."""
import glob
import os
import sys
import xml.etree.ElementTree as ET


def verdicts(junit):
    """(ID, PASS | FAIL | NOT APPLICABLE | BLOCKED, message) per check, as the gate writes them:
    a failure or error of type FAIL; an error of type BLOCKED or a skipped case whose message
    starts with 'blocked:'; a skipped case whose message starts with 'not applicable:'."""
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        cid = case.attrib["name"].split()[0]
        verdict, message = "PASS", ""
        for child in case:
            kind, typ, message = child.tag, child.attrib.get("type", ""), child.attrib.get("message", "")
            if kind in ("failure", "error"):
                verdict = "BLOCKED" if typ == "BLOCKED" else "FAIL"
            elif kind == "skipped":
                verdict = "BLOCKED" if message.startswith("blocked:") else "NOT APPLICABLE"
            else:
                continue
            break
        out.append((cid, verdict, message))
    return out


def main(root):
    rows, details = [], []
    for junit in sorted(glob.glob(os.path.join(root, "*", "*", "junit.xml"))):
        folder = os.path.dirname(junit)
        connector, label = folder.split(os.sep)[-2:]
        checks = verdicts(junit)
        exit_line = open(os.path.join(folder, "exit.txt")).read().split() if os.path.exists(os.path.join(folder, "exit.txt")) else ["?", "?"]
        transcript = open(os.path.join(folder, "transcript.txt"), errors="replace").read().rstrip().splitlines()
        gate = transcript[-1].rsplit("— ", 1)[-1] if transcript else "?"
        count = {v: [c for c, verdict, _ in checks if verdict == v] for v in ("PASS", "FAIL", "NOT APPLICABLE", "BLOCKED")}
        rows.append((connector, label, gate, exit_line[0].split("=")[-1], exit_line[1].split("=")[-1] + " s",
                     len(count["PASS"]), len(count["FAIL"]), len(count["NOT APPLICABLE"]), len(count["BLOCKED"]),
                     " ".join(count["FAIL"]), " ".join(count["BLOCKED"]), " ".join(count["NOT APPLICABLE"])))
        for cid, verdict, message in checks:
            if verdict != "PASS":
                details.append(f"- {connector} {label} — {cid} {verdict}: {message}")
    print("| connector | trial | gate verdict | exit | time | pass | fail | n.a. | blocked | failed | blocked | not applicable |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    print("\n## Checks that did not pass (the gate's messages)\n")
    print("\n".join(details) if details else "None.")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
