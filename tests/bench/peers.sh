# tests/bench/peers.sh: start and stop the peers tests/bench/run measures
# ClaudeFS against, from Debian's packages, each in a network namespace of
# its own so that nothing listens outside it. Sourced by run; every
# function prints a reason on stderr and returns non-zero on failure.
#
#   moosefs_up DIR     master and 3 chunkservers, goal 3, mounted on DIR/mnt
#   glusterfs_up DIR   glusterd and a replica-3 volume, mounted on DIR/mnt
#   peer_down DIR      unmount, stop every process of the peer's namespace,
#                      delete the namespace (idempotent)

# MooseFS refuses a loopback master address, so its namespace has a veth
# pair with 10.77.0.2 (master) and 10.77.0.3 (chunkservers). The daemons
# and mfsmount run inside it through nsenter; the mount itself lands in
# the normal mount table.
moosefs_up() {
	local d=$1 ns=cfsbench-mfs i
	local in="nsenter --net=/run/netns/$ns"

	mkdir -p "$d/master" "$d/mnt" || return 1
	echo "$ns" >"$d/netns"
	ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip -n "$ns" link add v0 type veth peer name v1 &&
		ip -n "$ns" addr add 10.77.0.2/24 dev v0 &&
		ip -n "$ns" addr add 10.77.0.3/24 dev v1 &&
		ip -n "$ns" link set v0 up && ip -n "$ns" link set v1 up ||
		{ echo "moosefs: cannot make network namespace $ns" >&2; return 1; }
	cp /var/lib/mfs/metadata.mfs.empty "$d/master/metadata.mfs" || return 1
	echo '*	/	rw,alldirs,admin,maproot=0:0' >"$d/mfsexports.cfg"
	cat >"$d/mfsmaster.cfg" <<-EOF
	DATA_PATH = $d/master
	EXPORTS_FILENAME = $d/mfsexports.cfg
	MATOML_LISTEN_HOST = 10.77.0.2
	MATOCS_LISTEN_HOST = 10.77.0.2
	MATOCL_LISTEN_HOST = 10.77.0.2
	NICE_LEVEL = 0
	EOF
	chown -R mfs:mfs "$d/master"
	$in mfsmaster -c "$d/mfsmaster.cfg" start >"$d/master.log" 2>&1 ||
		{ echo "moosefs: mfsmaster did not start: $(tail -1 "$d/master.log")" >&2; return 1; }
	for i in 1 2 3; do
		mkdir -p "$d/cs$i/data" "$d/cs$i/hdd"
		chown -R mfs:mfs "$d/cs$i"
		echo "$d/cs$i/hdd" >"$d/cs$i/mfshdd.cfg"
		cat >"$d/cs$i/mfschunkserver.cfg" <<-EOF
		DATA_PATH = $d/cs$i/data
		HDD_CONF_FILENAME = $d/cs$i/mfshdd.cfg
		MASTER_HOST = 10.77.0.2
		BIND_HOST = 10.77.0.3
		CSSERV_LISTEN_HOST = 10.77.0.3
		CSSERV_LISTEN_PORT = $((9430 + i))
		NICE_LEVEL = 0
		EOF
		$in mfschunkserver -c "$d/cs$i/mfschunkserver.cfg" start >"$d/cs$i.log" 2>&1 ||
			{ echo "moosefs: chunkserver $i did not start: $(tail -1 "$d/cs$i.log")" >&2; return 1; }
	done
	$in mfsmount "$d/mnt" -H 10.77.0.2 >"$d/mount.log" 2>&1 ||
		{ echo "moosefs: mfsmount failed: $(tail -1 "$d/mount.log")" >&2; return 1; }
	$in mfssetgoal -r 3 "$d/mnt" >/dev/null ||
		{ echo "moosefs: cannot set goal 3" >&2; return 1; }
	# ready once a new chunk gets 3 copies (all chunkservers registered)
	for i in $(seq 1 40); do
		echo probe >"$d/mnt/.probe" && sync "$d/mnt/.probe"
		[ "$($in mfsfileinfo "$d/mnt/.probe" 2>/dev/null | grep -c 'copy [0-9]')" -ge 3 ] &&
			{ rm -f "$d/mnt/.probe"; return 0; }
		rm -f "$d/mnt/.probe"
		sleep 0.5
	done
	echo "moosefs: the 3 chunkservers did not register in 20 s" >&2
	return 1
}

# GlusterFS wants bricks named by host; this machine's name resolves to
# 127.0.0.1, which inside a fresh namespace is the namespace's own
# loopback, so glusterd, the bricks and the client all stay inside it.
glusterfs_up() {
	local d=$1 ns=cfsbench-gl host
	local in="nsenter --net=/run/netns/$ns"
	local g="$in gluster --mode=script"

	host=$(hostname)
	mkdir -p "$d/wd" "$d/mnt" "$d/log" || return 1
	echo "$ns" >"$d/netns"
	ip netns add "$ns" && ip -n "$ns" link set lo up ||
		{ echo "glusterfs: cannot make network namespace $ns" >&2; return 1; }
	getent hosts "$host" | grep -q '^127\.' ||
		{ echo "glusterfs: host name $host does not resolve to 127.x" >&2; return 1; }
	sed "s#/var/lib/glusterd#$d/wd#" /etc/glusterfs/glusterd.vol >"$d/glusterd.vol"
	$in glusterd -f "$d/glusterd.vol" -p "$d/glusterd.pid" \
		-l "$d/log/glusterd.log" --log-level=WARNING ||
		{ echo "glusterfs: glusterd did not start" >&2; return 1; }
	for i in $(seq 1 50); do
		$g volume list >/dev/null 2>&1 && break
		sleep 0.2
	done
	$g volume create bench replica 3 "$host:$d/b1" "$host:$d/b2" \
		"$host:$d/b3" force >"$d/log/create.log" 2>&1 &&
		$g volume start bench >>"$d/log/create.log" 2>&1 ||
		{ echo "glusterfs: volume create/start failed: $(tail -1 "$d/log/create.log")" >&2; return 1; }
	$in glusterfs --volfile-server="$host" --volfile-id=bench \
		--log-file="$d/log/mount.log" "$d/mnt" ||
		{ echo "glusterfs: mount failed: $(tail -1 "$d/log/mount.log")" >&2; return 1; }
	for i in $(seq 1 50); do
		mountpoint -q "$d/mnt" && stat "$d/mnt" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "glusterfs: mount did not come up" >&2
	return 1
}

peer_down() {
	local d=$1 ns pids
	[ -f "$d/netns" ] || return 0
	ns=$(cat "$d/netns")
	mountpoint -q "$d/mnt" && { umount "$d/mnt" || umount -l "$d/mnt"; }
	if [ -e "/run/netns/$ns" ]; then
		# every process of the peer runs in its namespace
		pids=$(ip netns pids "$ns")
		[ -n "$pids" ] && kill $pids 2>/dev/null
		for _ in $(seq 1 50); do
			[ -z "$(ip netns pids "$ns")" ] && break
			sleep 0.2
		done
		pids=$(ip netns pids "$ns")
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del "$ns"
	fi
	rm -f "$d/netns"
}
