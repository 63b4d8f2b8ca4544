#!/usr/bin/env python3
"""Checks the layering of src/: a file may include headers of its own layer or of layers below it,
never above (core -> formats -> backend -> backends -> hw -> tokenizer -> model -> runtime -> hub).
Exits non-zero listing every violation."""
import os
import re
import sys

ORDER = ["core", "formats", "backend", "backends", "hw", "tokenizer", "model", "runtime", "hub"]
RANK = {name: i for i, name in enumerate(ORDER)}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(root):
    src = os.path.join(root, "src")
    bad = []
    for dirpath, _, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        layer = rel.split(os.sep)[0]
        if layer not in RANK:
            continue
        for f in files:
            if not f.endswith((".h", ".cpp", ".inc", ".cu", ".hip")):
                continue
            path = os.path.join(dirpath, f)
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            for inc in INCLUDE.findall(text):
                top = inc.split("/")[0]
                if top in RANK and RANK[top] > RANK[layer]:
                    bad.append(f"{os.path.relpath(path, root)}: includes {inc} ({top} is above {layer})")
    for b in bad:
        print(b)
    print(f"check_layers: {len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
