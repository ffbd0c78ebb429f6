#!/usr/bin/env bash
# vpce's LPM against DPDK 22.11 (rte_fib DIR-24-8 for IPv4, rte_fib6 trie for IPv6), same
# machine, same run, same table, same keys, one core each:
#
#   sudo scripts/bench-lpm-dpdk.sh [SECONDS=2] [COUNT=1048576]
#
# vpcectl bench lpm loads the RIS table (benches/data), synthesizes K = 256 next hops, measures
# vpce and writes the exact table and keys it used; the C harness (scripts/dpdk/lpm_harness.c,
# built here against libdpdk) measures DPDK on those files. Equal checksums mean both answered
# every key the same.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cargo.sh
need_cargo
SECS=${1:-2}
COUNT=${2:-1048576}
need=()
for p in libdpdk-dev pkg-config gcc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "bench-lpm-dpdk.sh: installing ${need[*]} needs root" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
cargo build --release --bin vpcectl -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O3 -march=native -o "$work/lpm_harness" scripts/dpdk/lpm_harness.c $(pkg-config --cflags --libs libdpdk)

run() { # family table keys
  local fam=$1 table=$2 keys=$3
  local v
  v=$(target/release/vpcectl bench lpm --table "$table" --family "$fam" --keys "$keys" --count "$COUNT" \
      --seconds "$SECS" --write-table "$work/t" --write-keys "$work/k" -o json)
  local d
  d=$("$work/lpm_harness" "$fam" "$work/t" "$work/k" "$SECS" 2>/dev/null | tail -n1)
  python3 - "$fam" "$keys" "$v" "$d" <<'PY'
import json, sys
fam, keys, v, d = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
same = "same answers" if v["checksum"] == d["checksum"] else f"CHECKSUMS DIFFER ({v['checksum']} vs {d['checksum']})"
print(f"{fam} {keys:8} vpce single {v['lookups_per_second']/1e6:7.1f} M/s  batched {v['batched_lookups_per_second']/1e6:7.1f} M/s"
      f"  | DPDK bulk64 {d['lookups_per_second']/1e6:7.1f} M/s  | ratio {v['batched_lookups_per_second']/d['lookups_per_second']:.2f}"
      f" (single {v['lookups_per_second']/d['lookups_per_second']:.2f})"
      f"  | build vpce {v['build_seconds']:.3f} s DPDK {d['build_seconds']:.3f} s | vpce {v['bytes']/1048576:.2f} MiB | {same}")
PY
}
run v4 benches/data/ris-20260511-initial-state-AS3333-ipv4.txt.xz uniform
run v4 benches/data/ris-20260511-initial-state-AS3333-ipv4.txt.xz table
run v4 benches/data/ris-20260511-initial-state-AS3333-ipv4.txt.xz zipf
run v6 benches/data/ris-20260511-initial-state-AS3333-ipv6.txt.xz table
run v6 benches/data/ris-20260511-initial-state-AS3333-ipv6.txt.xz uniform
