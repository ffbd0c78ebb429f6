#!/usr/bin/env bash
# Flow steering (vpced --steer) against the kernel's hash alone, same run: vpced on seed 001's
# gateway-endpoint path (instance -> S3) with W workers pinned, the two modes alternated RUNS
# times; per round one `iperf3 -P STREAMS`, the share of the packets each worker read (from
# `vpcectl stats -o json`, before and after the round) and the Gbit/s. Prints, per mode, how
# many rounds left a worker idle (< 5 % of the packets), the spread of the busiest worker's
# share, and the Gbit/s median [min-max]. Every namespace is checked sealed before traffic and
# removed on exit, failure included.
#
#   sudo scripts/bench-steering.sh [RUNS=3] [ROUNDS=5] [WORKERS=2] [STREAMS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/lab.sh
RUNS=${1:-3}
ROUNDS=${2:-5}
WORKERS=${3:-2}
STREAMS=${4:-2}
[ "$(id -u)" -eq 0 ] || { echo "bench-steering.sh needs root" >&2; exit 1; }
scripts/setup.sh --test >/dev/null
U=bs-
SOCK=/run/vpce-bench-steer.sock
WORK=$(mktemp -d)
cleanup() { lab_cleanup "$U" "$SOCK" "$WORK"; }
trap cleanup EXIT
workers() {
  target/release/vpcectl stats --socket "$SOCK" -o json |
    python3 -c 'import json,sys; print(" ".join(map(str, json.load(sys.stdin)["workers"])))'
}
: >"$WORK/results"
for run in $(seq "$RUNS"); do
  for mode in kernel flows; do
    lab_cleanup "$U" "$SOCK" ""
    start_vpced "$U" examples/s3-endpoints.toml "$SOCK" "$WORK/vpced.log" \
      --workers "$WORKERS" --pin-workers --log warn --steer "$mode"
    scripts/check-isolation.sh $U ${U}s3-instance=52.216.39.26 ${U}s3=10.0.0.176 >/dev/null
    ip netns exec ${U}s3 iperf3 -s -D -B 52.216.39.26
    sleep 1
    for r in $(seq "$ROUNDS"); do
      before=$(workers)
      g=$(ip netns exec ${U}s3-instance iperf3 -c 52.216.39.26 -t 4 -P "$STREAMS" -J | gbits)
      after=$(workers)
      shares=$(python3 -c "
b, a = [int(x) for x in '$before'.split()], [int(x) for x in '$after'.split()]
d = [y - x for x, y in zip(b, a)]
print(' '.join('%.1f' % (100 * x / max(1, sum(d))) for x in d))")
      printf "run %s %-6s round %s: %6s Gbit/s, worker shares %s %%\n" "$run" "$mode" "$r" "$g" "$shares"
      echo "$mode $g $shares" >>"$WORK/results"
    done
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
for mode in ("kernel", "flows"):
    rs = [r for r in rows if r[0] == mode]
    g = [float(r[1]) for r in rs]
    busiest = [max(float(x) for x in r[2:]) for r in rs]
    idle = sum(1 for r in rs if min(float(x) for x in r[2:]) < 5)
    print(f"--steer {mode:6}: a worker idle in {idle} of {len(rs)} rounds; busiest worker "
          f"{min(busiest):.0f}-{max(busiest):.0f} %; {statistics.median(g):.2f} "
          f"[{min(g):.2f}-{max(g):.2f}] Gbit/s")
PY
