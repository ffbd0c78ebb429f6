#!/usr/bin/env python3
"""Seed 000 (examples/s3-endpoints.toml) grown to a full BGP table: the scale checks of
issue 19 (RELIABILITY.md, "attacks"; tests/scale.rs).

  gen-scale-config.py N OUT.toml [--prefix-list] [--routes] [--inline-routes] [--ris=FILE]

N prefixes of RIPE RIS's IPv4 table (../shared/data, or --ris=FILE) go into a prefix list
(pl-0bada55bada55bada) that
  --prefix-list    a rule of the instance's security group names (TCP 443 from the list);
  --routes         the public route table routes to the internet gateway (one route to the
                   list: N effective routes, what on-premises routes learned over a VPN or a TGW
                   route table will look like);
  --inline-routes  or the same N routes written one by one in the route table (75 bytes each:
                   past about 900,000 the file exceeds the 64 MiB a configuration may have).
The file is written next to the example's data directory so that its relative paths hold.
"""
import lzma
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def prefixes(path, n):
    opener = lzma.open if path.endswith(".xz") else open
    out = []
    with opener(path, "rt") as f:
        for line in f:
            p = line.strip()
            # Leave out the default route and the lab's own ranges.
            if not p or p == "0.0.0.0/0" or p.startswith(("10.", "203.0.113.")):
                continue
            out.append(p)
            if len(out) == n:
                break
    return out


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    flags = set(a for a in argv if a.startswith("--") and "=" not in a)
    ris = next((a.split("=", 1)[1] for a in argv if a.startswith("--ris=")), None)
    ris = ris or os.path.join(ROOT, "..", "shared", "data", "ris-20260511-initial-state-AS3333-ipv4.txt.xz")
    if len(args) != 2 or not flags & {"--prefix-list", "--routes", "--inline-routes"}:
        sys.exit(__doc__)
    n, out = int(args[0]), args[1]
    nets = prefixes(ris, n)
    text = open(os.path.join(ROOT, "examples", "s3-endpoints.toml")).read()
    anchor = '  { destination = "192.0.2.0/24", target = "blackhole" },\n'
    assert anchor in text
    if "--inline-routes" in flags:
        routes = "".join(f'  {{ destination = "{p}", target = "igw-0d00d00000000001" }},\n' for p in nets)
        text = text.replace(anchor, anchor + routes)
    if "--routes" in flags:
        text = text.replace(anchor, anchor + '  { destination = "pl-0bada55bada55bada", target = "igw-0d00d00000000001" },\n')
    if "--prefix-list" in flags:
        rule = '  { protocol = "tcp", ports = 443, prefix_list = "pl-0bada55bada55bada", description = "HTTPS from the full table" },\n'
        anchor = '  { protocol = "tcp", ports = 80, cidr = "0.0.0.0/0", description = "HTTP from anywhere" },\n'
        assert anchor in text
        text = text.replace(anchor, anchor + rule)
    if flags & {"--prefix-list", "--routes"}:
        # AWS-managed style (no max_entries): a customer-managed list stops at 1,000 entries.
        text += '\n[[prefix_lists]]\nid = "pl-0bada55bada55bada"\nname = "full-table"\naddress_family = "IPv4"\n'
        text += "entries = [\n" + "".join(f'  "{p}",\n' for p in nets) + "]\n"
    # Relative data paths resolve against the file's directory: link the example's data.
    data = os.path.join(os.path.dirname(os.path.abspath(out)), "data")
    if not os.path.exists(data):
        os.symlink(os.path.join(ROOT, "examples", "data"), data)
    with open(out, "w") as f:
        f.write(text)
    print(f"{out}: {len(nets)} prefixes", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
