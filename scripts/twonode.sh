#!/usr/bin/env bash
# Two-node test bed on one machine: runs PROG ARGS... as a 4-rank hilo job,
# two ranks on each of two "nodes". A node is a network namespace (the two
# joined by a veth pair, 10.199.0.1 and 10.199.0.2) in which one
# `unshare --ipc --mount --uts` gives the node's two ranks their own IPC and
# mount namespaces, a private tmpfs on /dev/shm and their own hostname. So
# ranks 0,1 (node A) and 2,3 (node B) share memory within a node only and
# must use TCP across. Rank 0 is the rendezvous root at 10.199.0.1.
# Every output line is prefixed with the node and rank. Exits non-zero if a
# rank fails; 3 with "twonode: cannot ..." if namespaces cannot be made.
# Needs root and iproute2, util-linux.
#
# Optional link shaping, like a cluster's network (default: none, the
# veth's full speed): TWONODE_RATE=1gbit limits each direction with a token
# bucket (tc tbf; TWONODE_BURST, default 64kb), TWONODE_DELAY=50us adds a
# one-way delay (tc netem; exits 3 if the kernel has no netem).
#
#   RANKTEST_MODE=ring scripts/twonode.sh ./launch.test -test.run='^TestRankProgram$'
#   TWONODE_RATE=1gbit scripts/twonode.sh hilo scale -worker ...
set -uo pipefail
if [[ $# -lt 1 ]]; then echo "usage: twonode.sh PROG [ARGS...]" >&2; exit 2; fi
if [[ $(id -u) != 0 ]]; then echo "twonode: cannot run: needs root" >&2; exit 3; fi
tag=h$$
nsA=${tag}a nsB=${tag}b
# Kill whatever still runs in the namespaces (only this bed's ranks), then
# delete them (which deletes the veth pair).
killranks() {
  local pids
  pids=$( { ip netns pids "$nsA"; ip netns pids "$nsB"; } 2>/dev/null)
  [[ -n $pids ]] && kill -9 $pids 2>/dev/null
  return 0
}
cleanup() {
  killranks
  ip netns del "$nsA" 2>/dev/null
  ip netns del "$nsB" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! ip netns add "$nsA" 2>/tmp/twonode.$$ || ! ip netns add "$nsB" 2>>/tmp/twonode.$$; then
  echo "twonode: cannot create network namespaces: $(cat /tmp/twonode.$$)" >&2; rm -f /tmp/twonode.$$; exit 3
fi
rm -f /tmp/twonode.$$
set -e
ip link add "${tag}va" type veth peer name "${tag}vb"
ip link set "${tag}va" netns "$nsA"
ip link set "${tag}vb" netns "$nsB"
ip -n "$nsA" addr add 10.199.0.1/24 dev "${tag}va"
ip -n "$nsB" addr add 10.199.0.2/24 dev "${tag}vb"
for ns in "$nsA" "$nsB"; do ip -n "$ns" link set lo up; done
ip -n "$nsA" link set "${tag}va" up
ip -n "$nsB" link set "${tag}vb" up
set +e
# shape NS DEV: the optional rate limit and delay on one end of the veth.
shape() {
  local ns=$1 dev=$2 parent="root" err
  if [[ -n ${TWONODE_DELAY:-} ]]; then
    if ! err=$(ip netns exec "$ns" tc qdisc add dev "$dev" root handle 1: netem delay "$TWONODE_DELAY" 2>&1); then
      echo "twonode: cannot add a delay (tc netem: $err)" >&2; return 3
    fi
    parent="parent 1:1"
  fi
  if [[ -n ${TWONODE_RATE:-} ]]; then
    # shellcheck disable=SC2086
    if ! err=$(ip netns exec "$ns" tc qdisc add dev "$dev" $parent handle 10: tbf rate "$TWONODE_RATE" \
        burst "${TWONODE_BURST:-64kb}" latency 100ms 2>&1); then
      echo "twonode: cannot limit the rate (tc tbf: $err)" >&2; return 3
    fi
  fi
  return 0
}
shape "$nsA" "${tag}va" || exit 3
shape "$nsB" "${tag}vb" || exit 3

key=$(head -c32 /dev/urandom | base64)
port=$((20000 + RANDOM % 10000))
common="HILO_SIZE=4 HILO_LOCAL_SIZE=2 HILO_ROOT=10.199.0.1:$port HILO_JOB_KEY=$key HILO_JOB_ID=$tag HILO_TIMEOUT=${HILO_TIMEOUT:-30s}"

# Each rank writes its exit status into $st/RANK when it ends.
st=$(mktemp -d /tmp/twonode-st.XXXXXX)
trap 'cleanup; rm -rf "$st"' EXIT

# node NAME NS FIRST_RANK PROG ARGS...: both ranks of a node in one unshare.
node() {
  local name=$1 ns=$2 first=$3
  # shellcheck disable=SC2016
  ip netns exec "$ns" unshare --ipc --mount --uts --propagation private bash -c '
    set -u
    name=$1 first=$2 common=$3 st=$4; shift 4
    mount -t tmpfs -o mode=1777,size=64m tmpfs /dev/shm || exit 3
    hostname "node$name"
    for local in 0 1; do
      rank=$((first + local))
      (
        env $common HILO_RANK=$rank HILO_LOCAL_RANK=$local HILO_NODE=node$name "$@" 2>&1 | sed -u "s/^/[$name$rank] /"
        echo "${PIPESTATUS[0]}" >"$st/$rank.tmp" && mv "$st/$rank.tmp" "$st/$rank"
      ) &
    done
    wait
  ' twonode "$name" "$first" "$common" "$st" "${@:4}"
}
node A "$nsA" 0 "$@" &
node B "$nsB" 2 "$@" &

# Wait for the four statuses; the first failure stops the rest, as a
# launcher would.
while :; do
  done=0
  for r in 0 1 2 3; do
    [[ -f $st/$r ]] || continue
    done=$((done + 1))
    if [[ $(<"$st/$r") != 0 ]]; then
      echo "twonode: rank $r exited with status $(<"$st/$r"); stopping the others" >&2
      killranks; wait 2>/dev/null; exit 1
    fi
  done
  ((done == 4)) && { wait; exit 0; }
  if ! jobs -r | grep -q .; then
    echo "twonode: the nodes ended with only $done rank statuses" >&2; exit 1
  fi
  sleep 0.05
done
