#!/bin/bash
# PID 1 of the testbed's user-mode-linux guest.
#
# The kernel boots with the host's / as its root (hostfs). This script, which lives in the
# testbed's state directory (<state>/guest on the host), never writes host files: it puts
# an overlay (upper layer: tmpfs) over the host root and pivots into it, mounting only the
# guest directory of the state back in, at /testbed. Then it builds the cluster: a bridge,
# one network namespace per node (frontend, gengar-1..N), users, /etc/hosts, the oarstat
# stand-in, and starts every node's init (node-init.sh) in parallel. Nodes report to the
# host by creating /testbed/ready/<node> or /testbed/failed/<node>.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C

say() { echo "testbed-init: $*"; }
die() {
    say "FAILED: $*"
    : >"/testbed/failed/guest" 2>/dev/null || true
    sleep 2
    busybox halt -f
}

tbhost="$(dirname "$0")"

# 1. Overlay over the host root, then pivot into it.
mount -t proc proc /proc || die "mount /proc"
mount -t tmpfs -o mode=0755 tmpfs /tmp || die "mount scratch tmpfs"
mkdir -p /tmp/ov/upper /tmp/ov/work /tmp/ov/root
mount -t overlay overlay -o lowerdir=/,upperdir=/tmp/ov/upper,workdir=/tmp/ov/work \
    /tmp/ov/root || die "overlay mount"
mkdir -p /tmp/ov/root/testbed /tmp/ov/root/.oldroot
mount -t hostfs none /tmp/ov/root/testbed -o "$tbhost" || die "hostfs mount of $tbhost"
cd /tmp/ov/root || die "cd new root"
pivot_root . .oldroot || die "pivot_root"
cd /
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
umount -l /.oldroot
. /testbed/testbed.env || die "read /testbed/testbed.env"
say "root pivoted; building ${#TB_MACHINES[@]} machines"

# 2. Kernel settings and the cgroup v1 hierarchies dockerd needs.
sysctl -qw net.core.fb_tunnels_only_for_init_net=1 || true
mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
for c in cpu cpuacct devices freezer memory pids blkio cpuset net_cls; do
    mkdir -p "/sys/fs/cgroup/$c"
    mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" 2>/dev/null || rmdir "/sys/fs/cgroup/$c"
done

# 3. Files every node shares (all written into the overlay, never to the host).
hostname "$TB_GUEST_HOSTNAME"
cp /testbed/etc/hosts /etc/hosts
install -m 0755 /testbed/bin/oarstat /usr/local/bin/oarstat
useradd -m -p "*" -s /bin/bash -G docker "$TB_USER" || die "useradd $TB_USER"
# no PAM session for the user's sudo: it cost 0.27 of the 0.72 s that one `sudo -n true`
# takes of the guest's one CPU (the sudo executor runs one per privileged script)
printf '%s\n' "$TB_USER ALL=(ALL) NOPASSWD:ALL" "Defaults:$TB_USER !pam_session, !pam_setcred" \
    >/etc/sudoers.d/oar-p2p-testbed
chmod 0440 /etc/sudoers.d/oar-p2p-testbed
mkdir -p /etc/oar-p2p-testbed
install -m 0644 /testbed/ssh/authorized_keys /etc/oar-p2p-testbed/authorized_keys
for node in frontend "${TB_MACHINES[@]}"; do
    mkdir -p "/etc/netns/$node"
    echo "$node" >"/etc/netns/$node/hostname"
done

# 4. Network: the frontend holds the tap (vec0) and a leg on the cluster bridge; every
#    machine has bond0 on that bridge.
ip link set lo up
ip link add tbbr0 type bridge && ip link set tbbr0 up || die "bridge"
ip netns add frontend || die "netns frontend"
ip link set vec0 netns frontend || die "move vec0 to the frontend (no tap device?)"
ip -n frontend link set vec0 name eth0
ip -n frontend addr add "$TB_FRONTEND_TAP_CIDR" dev eth0
ip -n frontend link set eth0 up
ip -n frontend link set lo up
ip link add fe-br type veth peer name eth1 netns frontend || die "frontend veth"
ip link set fe-br master tbbr0 up
ip -n frontend addr add "$TB_FRONTEND_CLUSTER_CIDR" dev eth1
ip -n frontend link set eth1 up
for i in "${!TB_MACHINES[@]}"; do
    node="${TB_MACHINES[$i]}"
    ip netns add "$node" || die "netns $node"
    ip -n "$node" link set lo up
    ip link add "m$i-br" type veth peer name bond0 netns "$node" || die "veth of $node"
    ip link set "m$i-br" master tbbr0 up
    ip -n "$node" addr add "${TB_MACHINE_CIDRS[$i]}" dev bond0
    ip -n "$node" link set bond0 up
done
say "network ready"

# 5. Start every node in its own mount and UTS namespace, in parallel.
mkdir -p /testbed/ready /testbed/failed
for node in frontend "${TB_MACHINES[@]}"; do
    role=machine
    [ "$node" = frontend ] && role=frontend
    ip netns exec "$node" unshare --mount --uts --propagation private \
        /bin/bash /testbed/node-init.sh "$node" "$role" &
done
say "nodes started"

# PID 1 must reap orphans for the life of the guest; the host stops it with mconsole halt.
exec /usr/bin/tini -s -- /bin/sleep infinity
