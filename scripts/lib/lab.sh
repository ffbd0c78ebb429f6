# Shared by the demo and benchmark scripts (sourced, not run): set-up and tear-down of a lab
# whose network namespaces all start with one prefix.

# lab_cleanup PREFIX_REGEX [FILE...]: stops the lab. Programs in the lab's namespaces go first —
# once vpced has deleted the namespaces it made, they could no longer be found — then vpced
# ($VPCED_PID, in the fabric namespace) stops gracefully and removes its devices, then what is
# left of the namespaces and the FILEs goes.
lab_cleanup() (
  set +e
  re=$1
  shift
  for ns in $(ip netns list | awk '{print $1}' | grep -v 'fabric$' | grep -E "^($re)"); do
    for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" 2>/dev/null; done
  done
  if [ -n "${VPCED_PID:-}" ] && kill -TERM "$VPCED_PID" 2>/dev/null; then
    # A subshell cannot `wait` for it: poll until it has removed its devices and exited.
    for _ in $(seq 100); do kill -0 "$VPCED_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^($re)"); do
    for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" 2>/dev/null; done
    ip netns delete "$ns"
  done
  [ $# -eq 0 ] || rm -rf "$@"
)

# wait_for_vpced SOCKET: returns once vpced answers on SOCKET (at most 10 s).
wait_for_vpced() {
  for _ in $(seq 100); do
    VPCE_SOCKET=$1 target/release/vpcectl status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "vpced did not answer on $1" >&2
  return 1
}

# start_vpced PREFIX CONFIG SOCKET LOG [ARG...]: vpced on CONFIG in a fabric namespace of its
# own (PREFIXfabric), the lab's namespaces under PREFIX, its control socket at SOCKET, its
# stderr to LOG (/dev/stderr to leave it), more vpced ARGs after; sets VPCED_PID (which
# lab_cleanup stops) and returns once vpced answers. How every script starts vpced.
start_vpced() {
  local prefix=$1 config=$2 sock=$3 log=$4
  shift 4
  target/release/vpced --config "$config" --control-socket "$sock" --netns "${prefix}fabric" \
    --netns-prefix "$prefix" "$@" 2>"$log" &
  VPCED_PID=$!
  wait_for_vpced "$sock"
}

# http_server NS PORT DIR LOG: the lab's web server (scripts/lib/http_server.py: no name
# lookup before it listens) serving DIR on PORT in namespace NS, its request log appended to
# LOG; returns once it listens (its pid in HTTP_SERVER_PID), or fails with the log's tail after
# 5 s.
http_server() {
  local ns=$1 port=$2 dir=$3 log=$4
  ip netns exec "$ns" python3 scripts/lib/http_server.py "$port" "$dir" >>"$log" 2>&1 &
  HTTP_SERVER_PID=$!
  disown "$HTTP_SERVER_PID"
  for _ in $(seq 50); do
    ip netns exec "$ns" ss -Hltn "sport = :$port" | grep -q . && return 0
    sleep 0.1
  done
  echo "the web server in $ns does not listen on port $port: $(tail -n 5 "$log")" >&2
  return 1
}

# kernel_router PREFIX LEFT ROUTER RIGHT LEFT_IP ROUTER_LEFT_IP ROUTER_RIGHT_IP RIGHT_IP: the
# benchmarks' baseline — the Linux kernel forwarding between two /24s. Three namespaces
# (PREFIX + each name), veth pairs LEFT (vk-left) -- (vk-rleft) ROUTER (vk-rright) -- (vk-right)
# RIGHT, each side's default route via the router, forwarding on in the router; isolation
# checked before any traffic.
kernel_router() {
  local p=$1 left=$2 router=$3 right=$4 lip=$5 rlip=$6 rrip=$7 rip=$8
  for n in "$left" "$router" "$right"; do ip netns add "$p$n"; ip -n "$p$n" link set lo up; done
  ip link add vk-left netns "$p$left" type veth peer name vk-rleft netns "$p$router"
  ip link add vk-right netns "$p$right" type veth peer name vk-rright netns "$p$router"
  ip -n "$p$left" addr add "$lip/24" dev vk-left
  ip -n "$p$router" addr add "$rlip/24" dev vk-rleft
  ip -n "$p$router" addr add "$rrip/24" dev vk-rright
  ip -n "$p$right" addr add "$rip/24" dev vk-right
  ip -n "$p$left" link set vk-left up
  ip -n "$p$router" link set vk-rleft up
  ip -n "$p$router" link set vk-rright up
  ip -n "$p$right" link set vk-right up
  ip -n "$p$left" route add default via "$rlip"
  ip -n "$p$right" route add default via "$rrip"
  ip netns exec "$p$router" sysctl -qw net.ipv4.ip_forward=1
  scripts/check-isolation.sh "$p" "$p$left=$rip" "$p$right=$lip" >/dev/null
}

# demo_prepare: how every demo starts — it needs root (namespaces, TUN devices), then
# scripts/setup.sh installs what is missing and builds.
demo_prepare() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "$(basename "$0") needs root: it creates network namespaces and TUN devices. Run: sudo $0" >&2
    exit 1
  fi
  scripts/setup.sh
}

# The demos' narration: a step's title, a command shown then run, a command run in a lab
# namespace ($P is the lab's prefix).
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
in_ns() { local ns=$1; shift; printf '[%s]$ %s\n' "$ns" "$*"; ip netns exec "$P$ns" "$@"; }

# rx NS: UDP datagrams that reached namespace NS's UDP layer so far (/proc/net/snmp:
# InDatagrams + NoPorts + InErrors) — where the benchmarks count a blast's arrivals (not the
# interface's counter: vpced hands datagrams over as UDP GSO superpackets, one packet each).
rx() { ip netns exec "$1" awk '/^Udp:/ && $2 ~ /^[0-9]/ {print $2 + $3 + $4}' /proc/net/snmp; }

# cpu PID: clock ticks of CPU (user + system) process PID has used so far.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# gbits: the Gbit/s an iperf3 JSON report (on standard input) says its receiver got.
gbits() { python3 -c 'import json,sys; print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e9))'; }

# start_etcd DIR: etcd (Debian's etcd-server) with its data in DIR, listening on UNIX sockets
# only (DIR/client.sock:0 for clients, DIR/peer.sock:0 for its own peer port): nothing listens
# on a network. Sets ETCD_PID and ETCD (the endpoint vpced and vpcectl take); returns once it
# answers.
start_etcd() {
  local dir=$1
  rm -f "$dir/client.sock:0" "$dir/peer.sock:0"
  (cd "$dir" && exec etcd --name lab --data-dir data \
    --listen-client-urls unix://client.sock:0 --advertise-client-urls unix://client.sock:0 \
    --listen-peer-urls unix://peer.sock:0 --initial-advertise-peer-urls unix://peer.sock:0 \
    --initial-cluster lab=unix://peer.sock:0 >>etcd.log 2>&1) &
  ETCD_PID=$!
  ETCD="unix://$dir/client.sock:0"
  for _ in $(seq 100); do
    target/release/vpcectl region --etcd "$ETCD" status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "etcd did not answer: $(tail -n 5 "$dir/etcd.log")" >&2
  return 1
}

# start_node PREFIX ZONE SOCKET LOG [ARG...]: vpced as the region's node for ZONE (etcd at
# $ETCD), its own lab under PREFIX (fabric namespace PREFIXfabric); sets NODE_PID and returns
# once it answers.
start_node() {
  local prefix=$1 zone=$2 sock=$3 log=$4
  shift 4
  target/release/vpced --region "$ETCD" --zone "$zone" --control-socket "$sock" \
    --netns "${prefix}fabric" --netns-prefix "$prefix" "$@" 2>"$log" &
  NODE_PID=$!
  wait_for_vpced "$sock"
}

# region_cleanup PREFIX DIR: stops the region's nodes ($NODE_PIDS, gracefully: they remove
# their devices and namespaces), etcd ($ETCD_PID), then what is left under PREFIX, and DIR.
region_cleanup() (
  set +e
  for pid in "${NODE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${NODE_PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  [ -n "${ETCD_PID:-}" ] && kill "$ETCD_PID" 2>/dev/null
  lab_cleanup "$1" "$2"
)
