#!/usr/bin/env bash
# Installs what is missing, builds vaultfs, and makes a demo vault on the embedded
# SoftHSM2 token in ./demo/vault, seeded with a few secrets. Run it again at any time:
# an existing demo vault is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
vaultfs=$PWD/build/vaultfs
vault=$PWD/demo/vault

if [ ! -f "$vault/vaultfs.conf" ]; then
	mkdir -p demo
	"$vaultfs" init "$vault"
	printf 'postgres://app:correct-horse@db.internal:5432/app' | "$vaultfs" secret set "$vault" db-conn
	printf 'postgres://app:battery-staple@db.internal:5432/app' | "$vaultfs" secret set "$vault" db-conn
	printf 'sk_live_demo_4242' | "$vaultfs" secret set "$vault" payments/api-key
	"$vaultfs" secret attr "$vault" payments/api-key content_type text/plain
	"$vaultfs" secret attr "$vault" payments/api-key tag.owner payments-team
	printf 'old-token' | "$vaultfs" secret set "$vault" legacy/token
	"$vaultfs" secret delete "$vault" legacy/token
fi

cat <<MSG

The demo vault is in $vault (token PIN in $vault/pin, mode 0400).
Try:
  $vaultfs secret list $vault
  $vaultfs secret get $vault db-conn; echo
  $vaultfs secret versions $vault db-conn
  $vaultfs secret get $vault db-conn@1; echo
  $vaultfs secret attr $vault payments/api-key
  echo -n new-value | $vaultfs secret set $vault db-conn
  $vaultfs secret list $vault --deleted
  $vaultfs secret recover $vault legacy/token
  sqlite3 $vault/vault.db 'SELECT hex(sealed) FROM versions LIMIT 1'   # only ciphertext
MSG
