#!/usr/bin/env bash
# A private L2 network of hosts for multi-host tests (needs root and iproute2).
#
# One bridge in a network namespace of its own (BED-br), so the root namespace is not on the
# network, and one namespace per host (BED-HOST) with a veth pair to the bridge: `eth0` in the
# host, `p-HOST` on the bridge. Hosts get 10.213.NET.1, .2, … in the order given, loopback up.
#
#   netbed.sh up BED NET HOST…     create (after removing what an earlier BED left behind)
#   netbed.sh down BED             kill every process inside BED's namespaces, remove them
#   netbed.sh cut BED HOST         take HOST's bridge port down: its processes stay alive, its
#                                  packets go nowhere, no FIN or RST reaches anyone
#   netbed.sh restore BED HOST     bring the port back up
#   netbed.sh exec BED HOST CMD…   run CMD inside HOST's namespace
#   netbed.sh killall BED HOST     kill every process inside HOST's namespace, keeping it
#   netbed.sh addr BED HOST CIDR   give HOST one more address on eth0 (10.0.0.5/24, say: the
#                                  addresses a document uses, reachable only inside the bed)
#
# BED is a short name ([a-z0-9]{1,8}); NET picks the /24 (1-254), one per bed so that beds of
# parallel test files never share addresses. By hand: `netbed.sh up try 250 srv web1 web2`, then
# `netbed.sh exec try web1 bash`, and `netbed.sh down try` when done.
set -euo pipefail

die() { echo "netbed: $*" >&2; exit 2; }

check_bed() { [[ $1 =~ ^[a-z0-9]{1,8}$ ]] || die "bed name '$1' must be 1-8 of [a-z0-9]"; }
check_host() { [[ $1 =~ ^[a-z0-9]{1,12}$ ]] || die "host name '$1' must be 1-12 of [a-z0-9]"; }

namespaces() { ip netns list | awk '{print $1}' | grep -E "^$1-" || true; }

down() {
  local bed=$1 ns pids
  for ns in $(namespaces "$bed"); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -n $pids ]] && kill -9 $pids 2>/dev/null || true
  done
  for ns in $(namespaces "$bed"); do ip netns del "$ns" 2>/dev/null || true; done
}

up() {
  local bed=$1 net=$2 i=0 host
  shift 2
  [[ $net =~ ^[0-9]+$ ]] && ((net >= 1 && net <= 254)) || die "NET must be 1-254"
  (($# >= 1 && $# <= 250)) || die "give 1-250 hosts"
  for host in "$@"; do check_host "$host"; done
  down "$bed"
  local br="$bed-br"
  ip netns add "$br"
  ip -n "$br" link set lo up
  ip -n "$br" link add br0 type bridge
  ip -n "$br" link set br0 up
  for host in "$@"; do
    i=$((i + 1))
    local ns="$bed-$host"
    ip netns add "$ns"
    ip link add eth0 netns "$ns" type veth peer name "p-$host" netns "$br"
    ip -n "$br" link set "p-$host" master br0
    ip -n "$br" link set "p-$host" up
    ip -n "$ns" addr add "10.213.$net.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
}

port() { ip netns list | grep -qE "^$1-br( |$)" || die "no bed '$1'"; echo "p-$2"; }

cmd=${1:-}
[[ -n $cmd ]] || die "usage: netbed.sh up|down|cut|restore|exec|killall|addr BED …"
shift
bed=${1:-}
check_bed "$bed"
shift
case $cmd in
  up) up "$bed" "$@" ;;
  down) down "$bed" ;;
  cut) check_host "${1:-}"; ip -n "$bed-br" link set "$(port "$bed" "$1")" down ;;
  restore) check_host "${1:-}"; ip -n "$bed-br" link set "$(port "$bed" "$1")" up ;;
  exec) check_host "${1:-}"; host=$1; shift; exec ip netns exec "$bed-$host" "$@" ;;
  killall) check_host "${1:-}"; pids=$(ip netns pids "$bed-$1" 2>/dev/null || true); [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true ;;
  addr) check_host "${1:-}"; [[ ${2:-} =~ ^[0-9.]+/[0-9]+$ ]] || die "CIDR like 10.0.0.5/24"; ip -n "$bed-$1" addr add "$2" dev eth0 ;;
  *) die "unknown command '$cmd'" ;;
esac
