#!/usr/bin/env bash
# Installs what is missing, builds vaultfs, makes a demo vault on the embedded SoftHSM2
# token in ./demo/vault, seeds it with a few secrets, and mounts it on ./demo/mnt. Run it
# again at any time: an existing demo vault is kept, and mounted if it is not.
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
	"$vaultfs" key create "$vault" release --type ec-p256
	"$vaultfs" secret delete "$vault" legacy/token
	cat >"$vault/policy" <<'POLICY'
# The demo's policy: root may do everything; nobody else anything.
# effect  operations  path  who
allow     *           **    uid=0
POLICY
fi

mnt=$PWD/demo/mnt
mkdir -p "$mnt"
if ! mountpoint -q "$mnt"; then
	"$vaultfs" mount "$vault" "$mnt"
fi

cat <<MSG

The demo vault in $vault is mounted on $mnt
(daemon log: $vault/vaultfs.log; token PIN in $vault/pin, mode 0400).
Its policy ($vault/policy) lets root do everything and nobody else anything;
edit it and the mount follows within a second.
Try, as root:

  ls -l $mnt/secrets $mnt/secrets/payments
  cat $mnt/secrets/db-conn; echo
  echo -n 'postgres://app:new-password@db.internal/app' > $mnt/secrets/db-conn
  getfattr -n user.vault.versions $mnt/secrets/db-conn
  cat $mnt/secrets/db-conn@1; echo                 # an older version, by name
  getfattr -d $mnt/secrets/payments/api-key         # metadata and tags
  setfattr -n user.vault.tag.env -v prod $mnt/secrets/db-conn
  sed -i 's/new-password/newer-password/' $mnt/secrets/db-conn
  rm $mnt/secrets/db-conn; ls $mnt/.deleted/secrets # soft delete
  mv $mnt/.deleted/secrets/db-conn $mnt/secrets/    # recover, with every version
  ls $mnt/.deleted/secrets                          # legacy/token was deleted by the seed
  su nobody -s /bin/sh -c "cat $mnt/secrets/db-conn"   # denied
  $vaultfs secret get $vault db-conn; echo          # the same vault from the command line
  sqlite3 $vault/vault.db 'SELECT hex(sealed) FROM versions LIMIT 1'   # only ciphertext
  ls $mnt/keys/release                              # a key held in the token
  echo hello > /tmp/msg; exec 3<>$mnt/keys/release/sign; cat /tmp/msg >&3; cat <&3 >/tmp/sig; exec 3<&-
  openssl dgst -sha256 -verify $mnt/keys/release/public.pem -signature /tmp/sig /tmp/msg
  $vaultfs audit tail $vault -n 15                  # every access above, allowed or denied
  $vaultfs audit verify $vault                      # the chain checked with the token
  jq -c 'select(.decision == "deny")' $vault/audit.log

Unmount with: fusermount3 -u $mnt
MSG
