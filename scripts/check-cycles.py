#!/usr/bin/env python3
"""No import cycles between the modules of a crate (issue 20): the graph of `crate::MODULE`
references between the top-level modules of control/src and dataplane/src (a module's
submodules count as the module; comments and a `#[cfg(test)]` block's references do not).
Prints every
cycle and exits 1 if there is one.

  scripts/check-cycles.py [CRATE_SRC ...]     (default: control/src dataplane/src daemon/src)
"""
import os
import re
import sys


def module_of(src, path):
    rel = os.path.relpath(path, src)
    top = rel.split(os.sep)[0]
    return top[:-3] if top.endswith(".rs") else top


def graph(src):
    mods = {module_of(src, os.path.join(src, f)) for f in os.listdir(src)} - {"lib", "main"}
    edges = {m: set() for m in mods}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(root, f)
            m = module_of(src, path)
            if m not in edges:
                continue
            text = open(path).read()
            text = text.split("#[cfg(test)]")[0]
            # Code only: doc links and comments that name a module are no dependency.
            text = "\n".join(line.split("//")[0] for line in text.split("\n"))
            for target in re.findall(r"crate::([a-z_]+)", text):
                if target in mods and target != m:
                    edges[m].add(target)
            # `use crate::{a, b::c}` groups
            for group in re.findall(r"use crate::\{([^}]*)\}", text):
                for part in re.split(r"[,\s]+", group):
                    t = part.split("::")[0]
                    if t in mods and t != m:
                        edges[m].add(t)
    return edges


def cycles(edges):
    found, index, low, stack, on, n = [], {}, {}, [], set(), [0]

    def strong(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def main(srcs):
    bad = 0
    for src in srcs:
        for comp in cycles(graph(src)):
            bad = 1
            print(f"{src}: modules in a cycle: {', '.join(comp)}")
    if not bad:
        print(f"check-cycles: no module cycles in {', '.join(srcs)}")
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["control/src", "dataplane/src", "daemon/src"]))
