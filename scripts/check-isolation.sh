#!/usr/bin/env bash
# Proves that a lab's traffic cannot leave the machine, before any is sent.
#
#   scripts/check-isolation.sh PREFIX [NAMESPACE=ADDRESS ...]
#
# Every network namespace whose name starts with PREFIX may hold only the loopback device,
# vpced's TUN devices (vp?-xxxxxxxx: e ENI, i internet, s service, o on-premises) and veths named vk* whose peer is in another namespace of
# the lab — no physical interface, no veth to the host, so no path to the machine's real
# network exists. Each NAMESPACE=ADDRESS pair must route ADDRESS through a TUN
# device or deliver it locally. Exits 1 naming the first offence.
set -euo pipefail
prefix=${1:?usage: check-isolation.sh PREFIX [NAMESPACE=ADDRESS ...]}
shift
found=0
for ns in $(ip netns list | awk '{print $1}'); do
  case "$ns" in "$prefix"*) ;; *) continue ;; esac
  found=1
  while read -r link; do
    case "$link" in
      lo|vp[eiso]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;;
      vk*)
        # A benchmark's veth: allowed only if its peer is in another namespace of the lab.
        peer_ns=$(ip -n "$ns" -d -o link show dev "$link" | sed -n 's/.* link-netns \([^ ]*\).*/\1/p')
        case "$peer_ns" in
          "$prefix"*) ;;
          *) echo "check-isolation: namespace $ns has veth '$link' whose peer is outside the lab ('$peer_ns')" >&2; exit 1 ;;
        esac ;;
      *) echo "check-isolation: namespace $ns has device '$link', which could reach outside the lab" >&2; exit 1 ;;
    esac
  done < <(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1)
done
if [ "$found" -eq 0 ]; then
  echo "check-isolation: no namespace starts with '$prefix'" >&2
  exit 1
fi
for pair in "$@"; do
  ns=${pair%%=*}
  addr=${pair#*=}
  if ! route=$(ip -n "$ns" route get "$addr" 2>&1); then
    echo "check-isolation: $ns has no route to $addr: $route" >&2
    exit 1
  fi
  dev=$(sed -n 's/.* dev \([^ ]*\).*/\1/p' <<<"$route" | head -n1)
  case "$dev" in
    lo|vp[eiso]-*|vk*) ;;
    *) echo "check-isolation: $ns routes $addr via '$dev', not through vpced: $route" >&2; exit 1 ;;
  esac
done
echo "check-isolation: every namespace under '$prefix' is sealed; $# route(s) go through vpced"
