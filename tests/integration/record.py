"""The reliability record: tests that measure something a reader of
docs/reliability.md should see (a fault survived, commits checked, memory held,
executions reached) append one JSON object per line to the file named by
$LP_RECORD. Without LP_RECORD nothing is written, so ordinary test runs are
unaffected. scripts/reliability.sh sets it and renders the tables.
"""

import json
import os
import time


def record(suite, case, **figures):
    """Append {"suite", "case", "at", **figures} to $LP_RECORD if it is set."""
    path = os.environ.get("LP_RECORD")
    if not path:
        return
    entry = {"suite": suite, "case": case,
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    entry.update(figures)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")


def _cell(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if v is None:
        return "-"
    return str(v).replace("|", "\\|").replace("\n", " ")


def render(lines, only=None):
    """Markdown for record lines (JSON strings): one table per suite, in the
    order suites first appear; a row per line, its case first; columns are
    the figures of that suite (sorted; with only, those of its names the
    suite has, in its order), then the time it was written."""
    suites = {}
    for line in lines:
        line = line.strip()
        if line:
            entry = json.loads(line)
            suites.setdefault(entry.get("suite", "?"), []).append(entry)
    out = []
    for suite, entries in suites.items():
        cols = sorted({k for e in entries for k in e} - {"suite", "case", "at"})
        if only:
            cols = [c for c in only if c in cols]
        out.append(f"### {suite}\n")
        out.append("| case | " + " | ".join(cols) + " | at |")
        out.append("|---" * (len(cols) + 2) + "|")
        for e in entries:
            cells = [_cell(e.get("case"))] + [_cell(e.get(c)) for c in cols] + [_cell(e.get("at"))]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys
    if len(sys.argv) not in (3, 4) or sys.argv[1] != "render":
        sys.exit("usage: record.py render RECORD.jsonl [FIGURE,FIGURE...]")
    with open(sys.argv[2], encoding="utf-8") as f:
        print(render(f, sys.argv[3].split(",") if len(sys.argv) == 4 else None))
