#!/usr/bin/env python3
"""Rewrites the linkpool.ini and userlist.txt blocks of pgbouncer-configmap.yaml
from deploy/linkpool.ini and deploy/userlist.txt, keeping everything else.
CI fails when they differ; run this after editing either template:

    python3 deploy/k8s/sync-configmap.py
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CM = os.path.join(HERE, "pgbouncer-configmap.yaml")


def block(key, path):
    with open(path) as f:
        text = f.read()
    body = "".join("    " + line if line.strip() else "\n" for line in text.splitlines(True))
    return f"  {key}: |\n{body}"


def main():
    with open(CM) as f:
        cm = f.read()
    # the two blocks are the last keys of data:, in this order
    m = re.search(r"^  linkpool\.ini: \|\n", cm, re.M)
    if not m:
        sys.exit(f"{CM}: no 'linkpool.ini: |' block under data:")
    new = (cm[:m.start()] + block("linkpool.ini", os.path.join(HERE, "..", "linkpool.ini"))
           + block("userlist.txt", os.path.join(HERE, "..", "userlist.txt")))
    if new != cm:
        with open(CM, "w") as f:
            f.write(new)
        print(f"updated {CM}")
    else:
        print(f"{CM} already up to date")


if __name__ == "__main__":
    main()
