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
