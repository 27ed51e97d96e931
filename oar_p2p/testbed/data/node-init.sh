#!/bin/bash
# Init of one testbed node (frontend or machine), run by guest-init.sh inside the node's
# network namespace and fresh mount + UTS namespaces: usage node-init.sh NODE ROLE.
#
# Gives the node its hostname and private tmpfs /tmp, /var/tmp, /run (and, on machines,
# /var/lib/docker), starts its sshd and, on machines, its own dockerd on the default socket
# path with the testbed images imported. Ends by creating /testbed/ready/NODE, or
# /testbed/failed/NODE after printing why to the console.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C
node="$1"
role="$2"

fail() {
    echo "testbed-node $node: FAILED: $*"
    for log in /run/sshd.log /run/dockerd.log; do
        [ -s "$log" ] && tail -n 15 "$log" | sed "s|^|testbed-node $node: $log: |"
    done
    : >"/testbed/failed/$node"
    exit 1
}

wait_for() {  # wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.2 s
    local deadline=$((SECONDS + $1)) what="$2"
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -ge "$deadline" ] && fail "timed out waiting for $what"
        sleep 0.2
    done
}

hostname "$node"
for dir in /tmp /var/tmp; do mount -t tmpfs -o mode=1777 tmpfs "$dir"; done
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lock
mkdir -p /run/sshd
chmod 0755 /run/sshd
# The guest's / is the host's: keep the host root's shell start-up files (pyenv init...)
# out of every command run as root over ssh (bash reads ~/.bashrc for those), they cost
# seconds of the guest's CPU each time. Only this node's mount namespace sees this.
for rc in /root/.bashrc /root/.profile /root/.bash_profile /root/.bash_login; do
    [ -f "$rc" ] && mount --bind /dev/null "$rc"
done

/usr/sbin/sshd -f /testbed/ssh/sshd_config -h "/testbed/ssh/host_${node}_ed25519" \
    -o PidFile=/run/sshd.pid -E /run/sshd.log || fail "sshd did not start"
wait_for 60 "sshd" test -s /run/sshd.pid

if [ "$role" = machine ]; then
    mkdir -p /var/lib/docker
    mount -t tmpfs -o mode=0711 tmpfs /var/lib/docker
    # `ip netns exec` remounted /sys, hiding the cgroup hierarchies: mount them again.
    mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
    for c in $(cd /proc/1/root/sys/fs/cgroup 2>/dev/null && echo *); do
        mkdir -p "/sys/fs/cgroup/$c"
        mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" || fail "cgroup $c"
    done
    # On a loaded host dockerd can give up on its containerd ("timeout waiting for
    # containerd to start") and exit: start it again, up to 3 times.
    for attempt in 1 2 3; do
        dockerd --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
            --userland-proxy=false --data-root=/var/lib/docker --exec-root=/run/docker \
            --host=unix:///var/run/docker.sock --pidfile=/run/docker.pid \
            --exec-opt native.cgroupdriver=cgroupfs >>/run/dockerd.log 2>&1 </dev/null &
        dpid=$!
        # Poll the socket first: every docker client run costs the one guest CPU dearly.
        deadline=$((SECONDS + 180))
        until test -S /var/run/docker.sock && /usr/bin/docker version >/dev/null 2>&1; do
            kill -0 "$dpid" 2>/dev/null || break
            [ "$SECONDS" -ge "$deadline" ] && fail "timed out waiting for dockerd"
            sleep 0.5
        done
        kill -0 "$dpid" 2>/dev/null && break
        echo "testbed-node $node: dockerd exited (attempt $attempt), starting it again"
        rm -f /var/run/docker.sock /run/docker.pid
        [ "$attempt" = 3 ] && fail "dockerd exited 3 times"
    done
    echo "testbed-node $node: dockerd up after ${SECONDS} s"
    while read -r tar tag; do
        /usr/bin/docker import "/testbed/images/$tar" "$tag" >/dev/null \
            || fail "docker import $tar as $tag"
    done </testbed/images/index
fi
: >"/testbed/ready/$node"
echo "testbed-node $node: ready after ${SECONDS} s"
