#!/usr/bin/env python3
"""No function over LIMIT lines in the product (issue 20) without a reason written next to it:
a `// long: WHY` comment on one of the three lines above the `fn`. Test code (`#[cfg(test)]`
blocks, tests/, benches/) is not counted. Prints each long function and exits 1 if there is one.

  scripts/check-fn-length.py [--limit N] [--all] [SRC_DIR ...]
      (default: 150; control/src dataplane/src daemon/src src)
  --all   list every function over the limit, even those with a reason
"""
import os
import re
import sys

FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"C\"\s+)?fn\s+([A-Za-z_0-9]+)")


def strip(line):
    """The line without its string literals, char literals and // comment (enough to count braces)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//")[0]


def functions(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        if line.startswith("#[cfg(test)]"):
            cut = i
            break
    i = 0
    while i < cut:
        m = FN.match(lines[i])
        if not m:
            i += 1
            continue
        depth, start, opened, j = 0, i, False, i
        while j < cut:
            code = strip(lines[j])
            if not opened and ";" in code and "{" not in code:
                break  # a declaration without a body
            depth += code.count("{") - code.count("}")
            opened = opened or "{" in code
            if opened and depth <= 0:
                break
            j += 1
        if opened:
            reason = any("// long:" in lines[k] for k in range(max(0, start - 3), start))
            yield m.group(7), start + 1, j - start + 1, reason
        i = start + 1


def main(argv):
    limit, show_all, dirs = 150, False, []
    args = iter(argv)
    for a in args:
        if a == "--limit":
            limit = int(next(args))
        elif a == "--all":
            show_all = True
        else:
            dirs.append(a)
    dirs = dirs or ["control/src", "dataplane/src", "daemon/src", "src"]
    bad = 0
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if not f.endswith(".rs") or f == "tests.rs":
                    continue
                path = os.path.join(root, f)
                for name, line, length, reason in functions(path):
                    if length > limit and (show_all or not reason):
                        print(f"{path}:{line}: fn {name} is {length} lines" + (" (reason given)" if reason else ""))
                        bad += 0 if reason else 1
    if bad:
        print(f"{bad} function(s) over {limit} lines without a `// long:` reason", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
