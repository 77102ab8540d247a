#!/usr/bin/env bash
# vaultfs@.service under real systemd: a Debian system (debootstrap, cached) booted with
# systemd-nspawn, its root read-only under a throw-away overlay, with this build's
# vaultfs and the tree's unit bound in. In it, as an operator would:
# - `systemctl start vaultfs@demo` returns once the mount answers (a read right after it
#   succeeds), with the unit's status line, its capabilities, no_new_privs and seccomp;
# - through the mount, under the unit's whole sandbox (system call filter, no W+X memory,
#   no network, a closed device policy): reads, a write, a signature in the token, and an
#   exe= rule for a caller of another uid;
# - `systemctl reload` reads the policy again (a change inotify did not see comes into
#   force) and the unit goes back to active;
# - `kill -9` of the daemon: systemd starts it again, it unmounts its dead mount and serves;
# - the PIN as an encrypted credential (systemd-creds, /etc/credstore.encrypted) wins over
#   a wrong DIR/pin, for the service and for an admin command run with systemd-run; without
#   it the start fails, and the journal has that line at priority err while the start line
#   is info;
# - `systemctl stop` unmounts, with a clean exit;
# - PrivateTmp= in a drop-in hides the mount from everyone but the daemon: why the unit
#   leaves it, and its kind, out;
# - `systemd-analyze verify` inside, on the live system, says nothing.
# The system image is made once with debootstrap (VAULTFS_NSPAWN_ROOT, by default
# /var/tmp/vaultfs-nspawn-CODENAME); nothing the test does inside is kept.
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=$SRC/systemd/vaultfs@.service
[ "${VAULTFS_SANITIZED:-0}" = 1 ] &&
	{ echo "runs in the release build's run (the container has no sanitizer runtime): skipped"; exit 77; }
for tool in systemd-nspawn debootstrap nsenter; do
	command -v "$tool" >/dev/null || { echo "$tool missing (scripts/deps.sh): skipped"; exit 77; }
done
. /etc/os-release
ROOT=${VAULTFS_NSPAWN_ROOT:-/var/tmp/vaultfs-nspawn-${VERSION_CODENAME:-stable}}

# --- The image: Debian with systemd and the libraries vaultfs links, made once.
if [ -e "$ROOT" ] && [ ! -x "$ROOT/usr/lib/systemd/systemd" ]; then
	echo "FAIL: $ROOT is there but holds no system with systemd: remove it, it is made again"
	exit 1
fi
if [ ! -e "$ROOT" ]; then
	echo "making $ROOT with debootstrap (once)"
	tmp=$ROOT.tmp.$$
	if ! debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,fuse3,softhsm2,procps,libinih1,libjson-c5,libsqlite3-0,libfuse3-3,libssl3,libsystemd0 \
		"${VERSION_CODENAME:-stable}" "$tmp" "${VAULTFS_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
		>"$T/debootstrap.log" 2>&1; then
		tail -n 5 "$T/debootstrap.log"
		rm -rf "$tmp"
		echo "debootstrap could not make a system image (no mirror reachable?): skipped"
		exit 77
	fi
	mkdir -p "$tmp/var/lib/vaultfs" && chmod 755 "$tmp/var/lib/vaultfs"
	echo vaultfs-test >"$tmp/etc/hostname"
	mv "$tmp" "$ROOT"
fi

# --- Boot it, with CAP_IPC_LOCK, which nspawn leaves out by default. The machine name is
# this test's, so that nspawn's own state is too.
MACHINE=vaultfs-test-$$
systemd-nspawn -q -D "$ROOT" --machine="$MACHINE" --volatile=overlay --register=no --keep-unit \
	--private-network --capability=CAP_IPC_LOCK --bind=/dev/fuse --bind-ro="$VAULTFS:/usr/bin/vaultfs" \
	--bind-ro="$UNIT:/usr/lib/systemd/system/vaultfs@.service" --console=read-only -b \
	>"$T/nspawn.log" 2>&1 &
NSPAWN=$!
LEADER=
stop_container() {
	[ -n "$NSPAWN" ] || return 0
	kill -TERM "$NSPAWN" 2>/dev/null
	wait_exit "$NSPAWN" 30 || { [ -n "$LEADER" ] && kill -KILL "$LEADER"; kill -KILL "$NSPAWN"; } 2>/dev/null
	wait "$NSPAWN" 2>/dev/null
	rmdir "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null
	NSPAWN=
}
at_exit stop_container
for _ in $(seq 1 100); do
	LEADER=$(pgrep -P "$NSPAWN" | head -n 1)
	[ -n "$LEADER" ] && [ "$(cat "/proc/$LEADER/comm" 2>/dev/null)" = systemd ] && break
	kill -0 "$NSPAWN" 2>/dev/null || break
	LEADER=
	sleep 0.1
done
[ -n "$LEADER" ] || { echo "FAIL: the container did not boot: $(tail -n 20 "$T/nspawn.log")"; exit 1; }
# ct COMMAND...: runs in the container, in its PID 1's namespaces (the host's, as a
# service sees them).
ct() { nsenter -t "$LEADER" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# (until its private socket is there, systemctl cannot ask)
for _ in $(seq 1 100); do ct test -S /run/systemd/private && break; sleep 0.1; done
state=$(timeout 90 nsenter -t "$LEADER" -a -- systemctl is-system-running --wait 2>&1)
case $state in running | degraded) pass ;; *) fail "the container's systemd: $state" ;; esac
show() { ct systemctl show -P "$1" vaultfs@demo.service; }

D=/var/lib/vaultfs/demo
MP=/run/vaultfs/demo
ct vaultfs init "$D" >/dev/null || { echo "FAIL: init in the container"; exit 1; }
ct sh -c "printf 'allow * ** uid=0\nallow read secrets/by-cat uid=1001 exe=/usr/bin/cat\n' >$D/policy"
ct sh -c "printf hello | vaultfs secret set $D greeting && printf later | vaultfs secret set $D later"
ct vaultfs key create "$D" signer --type ec-p256 >/dev/null || fail "key create"
ct sh -c "printf 'only cat' | vaultfs secret set $D by-cat"

# --- 1. start: back once the mount answers.
ct systemctl start vaultfs@demo && pass || fail "systemctl start: $(ct journalctl -u vaultfs@demo --no-pager | tail -n 5)"
same "read right after systemctl start" hello "$(ct cat "$MP/secrets/greeting")"
same "ActiveState" active "$(show ActiveState)"
same "StatusText" "Serving $D on $MP" "$(show StatusText)"
P=$(show MainPID)
same "CapEff of the service" 0000000000284000 "$(ct awk '/^CapEff/ {print $2}' "/proc/$P/status")"
same "NoNewPrivs of the service" 1 "$(ct awk '/^NoNewPrivs/ {print $2}' "/proc/$P/status")"
same "Seccomp of the service (a filter)" 2 "$(ct awk '/^Seccomp:/ {print $2}' "/proc/$P/status")"

# --- 2. Through the mount, under the whole sandbox.
ct sh -c "printf v2 >$MP/secrets/greeting" && pass || fail "write through the mount"
same "the written version" v2 "$(ct cat "$MP/secrets/greeting")"
ct sh -c "printf message >/tmp/msg; exec 3<>$MP/keys/signer/sign; cat /tmp/msg >&3; cat <&3 >/tmp/sig"
[ "$(ct stat -c %s /tmp/sig)" -gt 0 ] 2>/dev/null && pass || fail "no signature from keys/signer/sign"
same "exe= rule, uid 1001 with cat" "only cat" "$(ct setpriv --reuid 1001 --regid 1001 --clear-groups cat "$MP/secrets/by-cat" 2>&1)"

# --- 3. reload: the policy read again. Changed through a hard link outside DIR, which the
# daemon's inotify watch does not see.
ct ln "$D/policy" /root/policy.link
ct sh -c "printf 'allow * ** uid=0\nallow read secrets/later uid=1001\n' >/root/policy.link"
sleep 2
ct setpriv --reuid 1001 --regid 1001 --clear-groups cat "$MP/secrets/later" >/dev/null 2>&1 &&
	fail "the change was in force before the reload" || pass
ct systemctl reload vaultfs@demo && pass || fail "systemctl reload"
got=
for _ in $(seq 1 100); do
	got=$(ct setpriv --reuid 1001 --regid 1001 --clear-groups cat "$MP/secrets/later" 2>/dev/null) && break
	sleep 0.1
done
same "after systemctl reload, the policy read again is in force" later "$got"
for _ in $(seq 1 50); do [ "$(show ActiveState)" = active ] && break; sleep 0.1; done
same "ActiveState after the reload" active "$(show ActiveState)"
ct journalctl -u vaultfs@demo --no-pager -o cat | grep -q 'policy reloaded' && pass || fail "no reload in the journal"

# --- 4. kill -9: restarted, the dead mount unmounted by the daemon, serving again.
ct kill -KILL "$P"
for _ in $(seq 1 100); do
	[ "$(show NRestarts)" = 1 ] && [ "$(show ActiveState)" = active ] && break
	sleep 0.1
done
same "NRestarts after kill -9" 1 "$(show NRestarts)"
same "read after the restart" v2 "$(ct cat "$MP/secrets/greeting" 2>&1)"
ct journalctl -u vaultfs@demo --no-pager -o cat | grep -q 'was left dead by a daemon that died: unmounted it' &&
	pass || fail "the restart did not say it unmounted the dead mount"

# --- 5. The PIN: a wrong DIR/pin fails the start, with an err line in the journal; the
# encrypted credential opens the token.
ct systemctl stop vaultfs@demo
ct cp "$D/pin" /root/pin.right
ct sh -c "chmod 600 $D/pin && printf not-the-pin >$D/pin && chmod 400 $D/pin"
ct systemctl start vaultfs@demo 2>/dev/null && fail "started with a wrong PIN" || pass
ct systemctl stop vaultfs@demo
ct journalctl -u vaultfs@demo --no-pager -o cat -p err | grep -q 'wrong PIN' && pass ||
	fail "no err line about the PIN: $(ct journalctl -u vaultfs@demo --no-pager -o cat -p err | tail -n 3)"
ct journalctl -u vaultfs@demo --no-pager -o cat -p err | grep -q 'mounted on' &&
	fail "the start line is logged as an error" || pass
ct journalctl -u vaultfs@demo --no-pager -o cat -p info | grep -q 'mounted on' && pass ||
	fail "no info line for the mount"
ct mkdir -p -m 0700 /etc/credstore.encrypted
ct systemd-creds encrypt --name=pin /root/pin.right /etc/credstore.encrypted/vaultfs-demo.pin 2>/dev/null ||
	fail "systemd-creds encrypt"
ct systemctl reset-failed vaultfs@demo 2>/dev/null
ct systemctl start vaultfs@demo && pass || fail "start with the credential: $(ct journalctl -u vaultfs@demo --no-pager -o cat | tail -n 3)"
same "read with the PIN from the encrypted credential" v2 "$(ct cat "$MP/secrets/greeting" 2>&1)"
# an admin command, given the same credential as the README says
same "admin command through systemd-run with the credential" v2 \
	"$(ct systemd-run -q -P --wait -p LoadCredentialEncrypted=pin:vaultfs-demo.pin \
		vaultfs secret get "$D" greeting 2>&1)"
ct vaultfs secret get "$D" greeting >/dev/null 2>&1 && fail "admin command read with a wrong DIR/pin" || pass

# --- 6. stop: unmounted, a clean exit, the mount point kept.
ct systemctl stop vaultfs@demo
ct grep -q " $MP " /proc/self/mountinfo && fail "still mounted after systemctl stop" || pass
same "Result after stop" success "$(show Result)"
same "ExecMainStatus after stop" 0 "$(show ExecMainStatus)"
ct test -d "$MP" && pass || fail "the mount point went with the stop"

# --- 7. A mount namespace of its own hides the mount: PrivateTmp= in a drop-in.
ct mkdir -p /run/systemd/system/vaultfs@demo.service.d
ct sh -c "printf '[Service]\nPrivateTmp=yes\n' >/run/systemd/system/vaultfs@demo.service.d/tmp.conf"
ct systemctl daemon-reload
ct systemctl start vaultfs@demo && pass || fail "start with PrivateTmp=yes"
same "ActiveState with PrivateTmp=yes" active "$(show ActiveState)"
ct test -e "$MP/secrets" && fail "the mount is seen with PrivateTmp=yes" || pass
ct systemctl stop vaultfs@demo
ct rm -r /run/systemd/system/vaultfs@demo.service.d
ct systemctl daemon-reload

# --- 8. verify on the live system (its manual pages are not installed in the image).
out=$(ct systemd-analyze verify --man=no vaultfs@demo.service 2>&1)
same "systemd-analyze verify in the container" "" "$out"

stop_container
finish
