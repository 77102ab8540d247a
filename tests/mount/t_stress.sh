#!/usr/bin/env bash
# Many hands at once: writers and readers through the mount, renames, deletes and purges,
# sed -i, and the command line writing the same secrets from other processes. The daemon
# must stay up and answer throughout, every value read must be one that was written, and
# the vault must be consistent afterwards. Bounded: a few hundred operations per hand.
. "$(dirname "$0")/lib.sh"
new_vault
start
mkdir -p "$S/a" "$S/b"
for i in 0 1 2 3 4 5 6; do echo "init" >"$S/a/s$i"; done

writer() { for i in $(seq 1 150); do echo "w$1-$i" >"$S/a/s$((i % 7))"; done 2>/dev/null; }
reader() {
	for i in $(seq 1 150); do
		v=$(cat "$S/a/s$((i % 7))" 2>/dev/null) || continue
		case $v in init | w[12]-* | cli-* | x*) ;; *) echo "bad value: $v" >>"$T/bad" ;; esac
		ls "$S/a" >/dev/null 2>&1
	done
}
mover() {
	for i in $(seq 1 80); do
		mv "$S/a/s$((i % 7))" "$S/b/t$((i % 3))" 2>/dev/null
		rm -f "$S/b/t$((i % 4))" 2>/dev/null
		rm -f "$M/.deleted/secrets/b/t$((i % 4))" 2>/dev/null
		sed -i 's/^w/x/' "$S/a/s$((i % 7))" 2>/dev/null
	done
}
cli() { for i in $(seq 1 60); do printf 'cli-%d' "$i" | "$VAULTFS" secret set "$V" "a/s$((i % 7))" 2>/dev/null; done; }

pids=()
writer 1 & pids+=($!)
writer 2 & pids+=($!)
reader & pids+=($!)
reader & pids+=($!)
mover & pids+=($!)
cli & pids+=($!)
wait "${pids[@]}" # not a bare wait: the daemon is a background job of this shell too
kill -0 "$DAEMON_PID" 2>/dev/null && pass || fail "the daemon died: $(tail -3 "$T/daemon.err")"
[ ! -s "$T/bad" ] && pass || fail "values never written were read: $(head -3 "$T/bad")"
echo after >"$S/a/final" && same "still serving" after "$(cat "$S/a/final")"
same "the database is sound" ok "$(sqlite3 "$V/vault.db" 'PRAGMA integrity_check')"
"$VAULTFS" secret list "$V" >/dev/null && pass || fail "secret list after the storm"
stop
finish
