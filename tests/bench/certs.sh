#!/usr/bin/env bash
# Time to make certificates with the key in the token, against openssl with the key in a
# file, in one run: `vaultfs cert create` self-signed, issued by a vault CA of the same
# key type, and `cert renew` (a new key), each with RSA-2048 and EC P-256; against
# `openssl req -x509 -newkey ... -keyout FILE` (self-signed, and for a renewal, which is
# the same work: a new key and a new certificate) and `openssl req -new` + `openssl x509
# -req -CA` (issued). Each figure is the median of ROUNDS whole commands (process start,
# the vault opened and its token logged in, the change recorded in the audit trail), in
# milliseconds; `vaultfs key list` shows that fixed cost of a command on its own.
# Prints a table; asserts nothing. Usage: tests/bench/certs.sh [BUILD] [ROUNDS]
set -euo pipefail
build=${1:-build}
rounds=${2:-7}
vaultfs=$build/vaultfs
. "$(dirname "$0")/lib.sh"

T=$(mktemp -d /tmp/vaultfs-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OPENSSL_CONF=/dev/null
V=$T/v
"$vaultfs" init "$V" >/dev/null

# ms CMD...: the wall time of one run of CMD, in milliseconds (3 decimals)
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
	t1=$(date +%s%N)
	awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f\n", d / 1e6 }'
}

# med NAME CMD-WITH-%i...: the median of ROUNDS runs, %i replaced by the round
med() {
	local i
	for i in $(seq 1 "$rounds"); do
		ms "${@//%i/$i}"
	done | median
}

declare -A ossl_new=([rsa-2048]="-newkey rsa:2048" [ec-p256]="-newkey ec -pkeyopt ec_paramgen_curve:P-256")

printf '%-10s %-22s %12s %12s\n' type operation "vaultfs ms" "openssl ms"
for type in rsa-2048 ec-p256; do
	t=${type//-/}
	# a CA of the same type in the vault, and one in files for openssl
	"$vaultfs" cert create "$V" "ca-$t" --subject "/CN=CA $type" --type "$type" --ca >/dev/null
	# shellcheck disable=SC2086
	openssl req -x509 ${ossl_new[$type]} -nodes -keyout "$T/ca-$t.key" -out "$T/ca-$t.pem" \
		-subj "/CN=CA $type" -days 365 -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null

	v_self=$(med "$vaultfs" cert create "$V" "self-$t-%i" --subject /CN=self.example --type "$type")
	# shellcheck disable=SC2086
	o_self=$(med openssl req -x509 ${ossl_new[$type]} -nodes -keyout "$T/self-$t-%i.key" \
		-out "$T/self-$t-%i.pem" -subj /CN=self.example -days 365)

	v_issue=$(med "$vaultfs" cert create "$V" "leaf-$t-%i" --subject /CN=leaf.example \
		--type "$type" --issuer "ca-$t")
	o_issue=$(for i in $(seq 1 "$rounds"); do
		t0=$(date +%s%N)
		# shellcheck disable=SC2086
		openssl req -new ${ossl_new[$type]} -nodes -keyout "$T/leaf-$t-$i.key" \
			-out "$T/leaf-$t-$i.csr" -subj /CN=leaf.example 2>/dev/null
		openssl x509 -req -in "$T/leaf-$t-$i.csr" -CA "$T/ca-$t.pem" -CAkey "$T/ca-$t.key" \
			-CAcreateserial -days 365 -out "$T/leaf-$t-$i.pem" 2>/dev/null
		t1=$(date +%s%N)
		awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f\n", d / 1e6 }'
	done | median)

	v_renew=$(med "$vaultfs" cert renew "$V" "self-$t-%i")
	# shellcheck disable=SC2086
	o_renew=$(med openssl req -x509 ${ossl_new[$type]} -nodes -keyout "$T/renew-$t-%i.key" \
		-out "$T/renew-$t-%i.pem" -subj /CN=self.example -days 365)

	printf '%-10s %-22s %12s %12s\n' "$type" "create self-signed" "$v_self" "$o_self"
	printf '%-10s %-22s %12s %12s\n' "$type" "issue from a CA" "$v_issue" "$o_issue"
	printf '%-10s %-22s %12s %12s\n' "$type" "renew (new key)" "$v_renew" "$o_renew"
done
printf '%-10s %-22s %12s %12s\n' - "key list (a command)" "$(med "$vaultfs" key list "$V")" -
echo "(median of $rounds whole commands each; vaultfs: key in the token, openssl: key in a file)"
