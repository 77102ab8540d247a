#!/usr/bin/env bash
# systemd/vaultfs@.service as systemd's own tools judge it, offline (PID 1 need not be
# systemd): `systemd-analyze verify` of an instance finds nothing to say, in a root that
# holds the unit, the program it runs and this system's own units; `systemd-analyze
# security --offline=true` gives the exposure the README states (the table is printed).
# And the unit says what the README and its comments promise: each directive of
# [Service] under a comment, the capability set CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_IPC_LOCK
# and nothing more, no directive that would give the service a mount namespace of its own
# (which would hide the mount from everyone else: t_nspawn.sh shows it under real systemd).
. "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
UNIT=$SRC/systemd/vaultfs@.service
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing: skipped"; exit 77; }
[ -f "$UNIT" ] || { echo "FAIL: no $UNIT"; exit 1; }
sysunits=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
[ -d "${sysunits:-/lib/systemd/system}" ] || { echo "no system unit directory: skipped"; exit 77; }

# A root with what the unit names: /usr/bin/vaultfs (this build), /bin/kill and /bin/mkdir,
# and the units every service depends on (sysinit.target, ...), from this system.
R=$T/root
mkdir -p "$R/usr/bin" "$R/bin" "$R/lib/systemd"
cp -a "${sysunits:-/lib/systemd/system}" "$R/lib/systemd/system"
cp "$VAULTFS" "$R/usr/bin/vaultfs"
cp "$(type -P kill)" "$R/bin/kill"
cp "$(type -P mkdir)" "$R/bin/mkdir"
cp "$UNIT" "$R/lib/systemd/system/vaultfs@.service"

# verify: nothing printed (an unknown directive or a bad value is only a warning, exit 0)
systemd-analyze verify --root="$R" --man=no vaultfs@demo.service >"$T/verify.out" 2>&1
same "systemd-analyze verify exit status" 0 "$?"
[ ! -s "$T/verify.out" ] && pass || fail "systemd-analyze verify says: $(cat "$T/verify.out")"
# the check itself works: a misspelt directive is reported
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/' "$UNIT" >"$R/lib/systemd/system/vaultfs@.service"
systemd-analyze verify --root="$R" --man=no vaultfs@demo.service >"$T/verify.bad" 2>&1
grep -q "Unknown key 'NoNewPrivilege'" "$T/verify.bad" && pass ||
	fail "a misspelt directive went unreported: $(cat "$T/verify.bad")"
cp "$UNIT" "$R/lib/systemd/system/vaultfs@.service"

# security: the figure, and the README's
systemd-analyze security --offline=true --root="$R" vaultfs@demo.service >"$T/security.out" 2>&1
same "systemd-analyze security exit status" 0 "$?"
sed 's/^/  /' "$T/security.out"
exposure=$(sed -n 's/.*Overall exposure level for vaultfs@demo.service: \([0-9.]*\).*/\1/p' "$T/security.out")
[ -n "$exposure" ] && pass || fail "no exposure figure"
readme=$(sed -n 's/.*`systemd-analyze security --offline=true` rates it \([0-9.]*\).*/\1/p' "$SRC/README.md")
same "exposure, as the README states it" "$readme" "$exposure"
echo "exposure: $exposure"

# Each directive of [Service] has a comment above it, in its paragraph.
uncommented=$(awk '
	/^\[/ { section = $0; commented = 0; next }
	/^$/ { commented = 0; next }
	/^#/ { commented = 1; next }
	section == "[Service]" && !commented { print FNR ": " $0 }' "$UNIT")
[ -z "$uncommented" ] && pass || fail "directives without a comment: $uncommented"

# The capabilities: these three, and no ambient ones.
same "CapabilityBoundingSet" "CAP_SYS_ADMIN CAP_SYS_PTRACE CAP_IPC_LOCK" \
	"$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")"
grep -qE '^AmbientCapabilities=' "$UNIT" && fail "AmbientCapabilities= is set" || pass
grep -qE '^Type=notify$' "$UNIT" && pass || fail "not Type=notify"
grep -qE '^ExecReload=/bin/kill -HUP \$MAINPID$' "$UNIT" && pass || fail "ExecReload= is not SIGHUP"

# No directive that makes a mount namespace (each is named in the unit's comment instead).
for d in PrivateMounts ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateIPC \
	ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups \
	ReadOnlyPaths ReadWritePaths InaccessiblePaths ExecPaths NoExecPaths TemporaryFileSystem \
	BindPaths BindReadOnlyPaths ProtectProc ProcSubset PrivateUsers MountFlags RootDirectory \
	RootImage; do
	if grep -qE "^$d=" "$UNIT"; then fail "$d= would hide the mount"; else pass; fi
	if [ "$d" != ExecPaths ] && [ "$d" != NoExecPaths ] && [ "$d" != RootDirectory ] &&
		[ "$d" != RootImage ] && [ "$d" != BindReadOnlyPaths ] && [ "$d" != ReadWritePaths ]; then
		grep -qE "^#.*\b$d=" "$UNIT" && pass || fail "the unit's comment does not say why $d= is left out"
	fi
done

finish
