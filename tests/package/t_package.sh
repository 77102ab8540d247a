#!/usr/bin/env bash
# The package as an operator gets it. The tree, copied as a clean checkout has it into a
# temporary directory (so nothing is written beside the worktree), becomes a source
# package and, with dpkg-buildpackage -b -us -uc, a binary one; lintian reports no error
# on either (every tag it gives is printed). The .deb is unpacked with dpkg -x into a
# scratch root, and from there: vaultfs --help and --version run, each manual page passes
# man --warnings and lexgrog, the manual and the bash completion name every command,
# subcommand and option that the program's own help names, the completion completes
# them, and the logrotate snippet rotates a mounted vault's audit.log and vaultfs.log
# with real logrotate, HUPs the daemon and leaves an admin command running alone. Also:
# `cmake --install` of this build puts the same files under a prefix, and the systemd
# unit gets its install rule once systemd/vaultfs@.service is in the tree.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=${VAULTFS_BUILD_DIR:-$SRC/build}

[ "$(id -u)" -eq 0 ] || { echo "needs root (the package's files are root's, a FUSE mount): skipped"; exit 77; }
for tool in dpkg-buildpackage dpkg-source dpkg-deb lintian scdoc man lexgrog logrotate \
	fusermount3 unshare jq; do
	command -v "$tool" >/dev/null || { echo "$tool missing (scripts/deps.sh): skipped"; exit 77; }
done
[ -f /usr/share/bash-completion/bash_completion ] ||
	{ echo "bash-completion missing (scripts/deps.sh): skipped"; exit 77; }
[ -e /dev/fuse ] || { echo "no /dev/fuse: skipped"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/vaultfs-package.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
same() { if [ "$2" = "$3" ]; then pass; else fail "$1: expected \"$2\", got \"$3\""; fi; }
# has DESCRIPTION FILE FIXED-STRING: the file holds the string
has() { if grep -qF -- "$3" "$2"; then pass; else fail "$1: no \"$3\""; fi; }
started=$(date +%s)

# --- 1. The tree as a checkout has it: tracked files and new ones not ignored (no build
# directories). dpkg-buildpackage writes ../*.deb: here, $T.
P=$T/vaultfs
mkdir "$P"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$SRC" ls-files -z --cached --others --exclude-standard |
		(cd "$SRC" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
		tar -C "$SRC" -cf - --null -T - | tar -C "$P" -xf -
else
	tar -C "$SRC" -cf - --exclude='./build*' --exclude=./demo --exclude=./.git . | tar -C "$P" -xf -
fi
[ -f "$P/debian/control" ] || { echo "FAIL: no debian/ in the copied tree"; exit 1; }
version=$(cd "$P" && dpkg-parsechangelog -S Version)

# --- 2. The systemd unit's install rule follows the file: absent, no rule; once it lands,
# the next build configures again (the glob is a configure dependency) and installs it.
# Checked on a second copy with a placeholder unit, never packaged.
if [ ! -e "$P/systemd/vaultfs@.service" ]; then
	U=$T/unitcheck
	cp -a "$P" "$U"
	cmake -S "$U" -B "$U/b" -DBUILD_TESTING=OFF -DVAULTFS_MAN=OFF >"$T/unit.log" 2>&1 ||
		fail "configure without a unit: $(tail -n 5 "$T/unit.log")"
	if grep -q 'vaultfs@\.service' "$U/b/cmake_install.cmake"; then
		fail "an install rule for a unit that is not in the tree"
	else pass; fi
	mkdir -p "$U/systemd"
	printf '[Unit]\nDescription=placeholder\n' >"$U/systemd/vaultfs@.service"
	cmake --build "$U/b" --target cmake_check_build_system >>"$T/unit.log" 2>&1 ||
		fail "the build did not configure again: $(tail -n 5 "$T/unit.log")"
	if grep -q 'DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"' "$U/b/cmake_install.cmake" &&
		grep -q 'systemd/vaultfs@\.service' "$U/b/cmake_install.cmake"; then
		pass
	else
		fail "no install rule for systemd/vaultfs@.service once it is in the tree"
	fi
	rm -rf "$U"
fi

# --- 3. Source and binary packages, and lintian on both.
(cd "$T" && dpkg-source -b vaultfs >"$T/source.log" 2>&1) ||
	fail "dpkg-source -b: $(tail -n 5 "$T/source.log")"
if ! (cd "$P" && DEB_BUILD_OPTIONS="parallel=$(nproc)" dpkg-buildpackage -b -us -uc \
	>"$T/build.log" 2>&1); then
	tail -n 30 "$T/build.log" >&2
	echo "FAIL: dpkg-buildpackage -b -us -uc"
	exit 1
fi
DEB=$T/vaultfs_${version}_$(dpkg --print-architecture).deb
[ -f "$DEB" ] || { echo "FAIL: no $DEB"; ls "$T" >&2; exit 1; }
pass
# Every tag, of every level, is printed; an error fails the test.
lintian_rc=0
lintian -EIL +pedantic --fail-on error "$T"/vaultfs_"${version}"*.changes "$T/vaultfs_${version}.dsc" \
	>"$T/lintian.out" 2>"$T/lintian.err" || lintian_rc=$?
grep -v 'running with root privileges' "$T/lintian.err" >&2
if [ -s "$T/lintian.out" ]; then
	echo "lintian says:"
	sed 's/^/  /' "$T/lintian.out"
else
	echo "lintian says nothing (all levels, pedantic included)"
fi
same "lintian exit status (errors: $(grep -c '^E:' "$T/lintian.out"))" 0 "$lintian_rc"

# --- 4. What the package holds, and what it needs.
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|' >"$T/contents"
for f in /usr/bin/vaultfs /usr/share/man/man8/vaultfs.8.gz /usr/share/man/man5/vaultfs.conf.5.gz \
	/usr/share/man/man5/vaultfs-policy.5.gz /usr/share/bash-completion/completions/vaultfs \
	/usr/share/doc/vaultfs/examples/policy /usr/share/doc/vaultfs/copyright \
	/etc/logrotate.d/vaultfs /var/lib/vaultfs/; do
	if grep -qxF "$f" "$T/contents"; then pass; else fail "the package lacks $f"; fi
done
if [ -e "$SRC/systemd/vaultfs@.service" ]; then
	if grep -qxF /lib/systemd/system/vaultfs@.service "$T/contents"; then pass; else
		fail "the package lacks /lib/systemd/system/vaultfs@.service"; fi
	# A template has no instance to enable or start: the maintainer scripts leave it alone
	# (the operator runs systemctl enable --now vaultfs@NAME for each vault).
	dpkg-deb -e "$DEB" "$T/debian-control"
	touched=$(grep -lE 'vaultfs@|deb-systemd-invoke|deb-systemd-helper' \
		"$T/debian-control"/{preinst,postinst,prerm,postrm} 2>/dev/null)
	[ -z "$touched" ] && pass || fail "maintainer scripts that enable or start the unit: $touched"
	same "the unit's ExecStart= in the package" \
		"ExecStart=/usr/bin/vaultfs mount -f /var/lib/vaultfs/%i /run/vaultfs/%i" \
		"$(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./lib/systemd/system/vaultfs@.service |
			grep '^ExecStart=')"
fi
depends=$(dpkg-deb -f "$DEB" Depends)
for d in fuse3 softhsm2 procps libfuse3-3 libssl3 libsqlite3-0; do
	case ", $depends," in *", $d"[\ ,]*) pass ;; *) fail "Depends lacks $d: $depends" ;; esac
done
same "conffiles" /etc/logrotate.d/vaultfs "$(dpkg-deb -I "$DEB" conffiles 2>/dev/null)"

# --- 5. Installed into a scratch root: the program runs from there, on the system's
# libraries (no LD_LIBRARY_PATH).
R=$T/root
dpkg -x "$DEB" "$R"
VFS=$R/usr/bin/vaultfs
"$VFS" --help >"$T/help" 2>"$T/help.err"
same "vaultfs --help exit status" 0 "$?"
has "vaultfs --help" "$T/help" "Usage: vaultfs COMMAND"
same "vaultfs --version" "vaultfs $version" "$("$VFS" --version)"

# --- 6. The manual pages: no warning from man, a whatis entry lexgrog can read, and the
# scdoc sources hold no line that troff would take for a request.
for page in man8/vaultfs.8 man5/vaultfs.conf.5 man5/vaultfs-policy.5; do
	f=$R/usr/share/man/$page.gz
	name=$(basename "$page")
	MANWIDTH=80 man --warnings -l "$f" >"$T/$name.txt" 2>"$T/$name.err"
	rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$T/$name.err" ]; then pass; else
		fail "man --warnings -l $page: exit $rc: $(cat "$T/$name.err")"; fi
	[ -s "$T/$name.txt" ] && pass || fail "$page renders empty"
	if lexgrog "$f" >"$T/$name.whatis" 2>&1; then pass; else fail "lexgrog $page: $(cat "$T/$name.whatis")"; fi
done
if grep -nE "^[[:space:]]*[.']" "$SRC"/man/*.scd >"$T/requests"; then
	fail "scdoc lines that troff reads as requests: $(cat "$T/requests")"
else pass; fi
MAN8=$T/vaultfs.8.txt

# --- 7. The completion, as bash-completion loads it.
COMP=$R/usr/share/bash-completion/completions/vaultfs
# complete WORDS...: the candidates for the last word of "vaultfs WORDS...", one a line
complete_words() {
	(cd "$T" && bash -c '
		. /usr/share/bash-completion/bash_completion
		. "$1"; shift
		compopt() { :; }
		COMP_WORDS=(vaultfs "$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
		_vaultfs vaultfs "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"' sh "$COMP" "$@")
}
same "completes a command" "secret" "$(complete_words se)"
same "completes a key type" "rsa-2048 rsa-3072 rsa-4096" "$(complete_words key create v k --type rsa | tr '\n' ' ' | sed 's/ $//')"
same "completes a list of operations" "sign,decrypt" "$(complete_words key create v k --ops sign,d)"
same "completes an operation of explain" "read recover" "$(complete_words policy explain v --uid 0 r | tr '\n' ' ' | sed 's/ $//')"
same "completes an option after its valued option" "--deleted" "$(complete_words secret attr --remove tag.x v --d)"
mkdir "$T/vault-dir"
same "completes a vault directory" "vault-dir" "$(complete_words secret list vault-)"

# --- 8. Every command, subcommand and option the program's help names is in vaultfs(8)
# and in the completion, and the program accepts each subcommand.
commands=$(grep -oE '^  [a-z]+ ' "$T/help" | tr -d ' ' | sort -u)
[ "$(echo "$commands" | wc -w)" -ge 8 ] && pass || fail "too few commands in --help: $commands"
complete_words "" >"$T/c.commands"
for cmd in $commands; do
	has "vaultfs(8), command $cmd" "$MAN8" "vaultfs $cmd"
	if grep -qxF "$cmd" "$T/c.commands"; then pass; else fail "the completion lacks the command $cmd"; fi
	"$VFS" "$cmd" --help >"$T/help.$cmd" 2>&1
	same "vaultfs $cmd --help exit status" 0 "$?"
	subs=$(grep -oE "(vaultfs $cmd |^  )[a-z]+ (DIR|BACKUP)" "$T/help.$cmd" |
		sed -E "s/^(vaultfs $cmd |  )//; s/ (DIR|BACKUP)$//" | sort -u)
	: >"$T/c.opts.$cmd"
	if [ -n "$subs" ] && [ "$cmd" != backup ] && [ "$cmd" != restore ]; then
		complete_words "$cmd" "" >"$T/c.subs.$cmd"
		for sub in $subs; do
			has "vaultfs(8), $cmd $sub" "$MAN8" "vaultfs $cmd $sub"
			if grep -qxF "$sub" "$T/c.subs.$cmd"; then pass; else fail "the completion lacks $cmd $sub"; fi
			"$VFS" "$cmd" "$sub" --help >/dev/null 2>&1
			same "vaultfs $cmd $sub --help exit status" 0 "$?"
			complete_words "$cmd" "$sub" -- >>"$T/c.opts.$cmd"
			complete_words "$cmd" "$sub" - >>"$T/c.opts.$cmd"
		done
	else
		complete_words "$cmd" -- >>"$T/c.opts.$cmd"
		complete_words "$cmd" - >>"$T/c.opts.$cmd"
	fi
	for opt in $(grep -oE '(^|[ [])--?[a-zA-Z][a-zA-Z0-9-]*' "$T/help.$cmd" | sed 's/^[ [ ]*//' | sort -u); do
		has "vaultfs(8), option $opt of $cmd" "$MAN8" "$opt"
		case $opt in
		--*) if grep -qxF -- "$opt" "$T/c.opts.$cmd"; then pass; else fail "the completion lacks $opt of $cmd"; fi ;;
		esac
	done
done

# --- 9. The logrotate snippet: as installed, logrotate reads it; with the vaults' place
# moved into $T, it rotates a mounted vault with real logrotate. That runs in a PID
# namespace of its own, so that its pkill reaches only this test's processes.
logrotate -d -s "$T/lr.debug.state" "$R/etc/logrotate.d/vaultfs" >"$T/lr.debug" 2>&1
same "logrotate -d on the installed snippet (exit status)" 0 "$?"
if grep -qi 'error' "$T/lr.debug"; then fail "logrotate -d: $(grep -i error "$T/lr.debug")"; else pass; fi
unshare --pid --fork --mount-proc bash "$HERE/logrotate_ns.sh" "$R" "$T/rotate" >"$T/rotate.out" 2>&1
same "the logrotate run's exit status" 0 "$?"
while read -r word rest; do
	case $word in
	ok) pass ;;
	FAIL:) fail "logrotate: $rest" ;;
	*) echo "$word $rest" ;;
	esac
done <"$T/rotate.out"

# --- 10. cmake --install of this test's own build: the same files, under a prefix.
if [ -f "$BUILD/cmake_install.cmake" ]; then
	I=$T/inst
	cmake --install "$BUILD" --prefix "$I" >"$T/install.log" 2>&1 ||
		fail "cmake --install: $(tail -n 5 "$T/install.log")"
	for f in bin/vaultfs share/man/man8/vaultfs.8 share/man/man5/vaultfs.conf.5 \
		share/man/man5/vaultfs-policy.5 share/bash-completion/completions/vaultfs \
		share/doc/vaultfs/examples/policy etc/logrotate.d/vaultfs; do
		[ -f "$I/$f" ] && pass || fail "cmake --install --prefix put no $f"
	done
	# the unit runs the program where this install put it
	if [ -e "$SRC/systemd/vaultfs@.service" ]; then
		same "cmake --install: the unit's ExecStart=" \
			"ExecStart=$I/bin/vaultfs mount -f /var/lib/vaultfs/%i /run/vaultfs/%i" \
			"$(grep '^ExecStart=' "$I/lib/systemd/system/vaultfs@.service" 2>&1)"
	fi
	outside=$(grep 'Installing: ' "$T/install.log" | grep -v "Installing: $I/")
	[ -z "$outside" ] && pass || fail "cmake --install wrote outside its prefix: $outside"
fi

echo "package: vaultfs $version, $(stat -c %s "$DEB") bytes; $(($(date +%s) - started)) s in all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
