#!/usr/bin/env bash
# Makes, in DIR, the certificate files an operator or a CA would bring, with the real
# openssl: a root CA (EC P-256), an intermediate (EC P-256), a leaf (RSA 2048) issued by the
# intermediate, an unrelated self-signed certificate, and from them PKCS#12 files (with
# and without the chain, AES and -legacy encryption, an empty password), PEM bundles in
# several orders with the key plain, PKCS#8-encrypted and traditional, CA answers (PEM,
# DER, chains, PKCS#7 PEM and DER), and bad files (mismatch, two keys, garbage, truncated).
# Used by tests/unit/test_certs_parse.c and the command-line tests of `cert import`.
# Usage: certs_fixtures.sh DIR [PASSWORD]
set -euo pipefail
dir=$1
pass=${2:-correct horse battery staple}
cd "$dir"
export OPENSSL_CONF=/dev/null # no site configuration: what is made here is all there is
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }

cat >ca.ext <<'EOF'
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
cat >leaf.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:web.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	-out ca.pem -subj /CN=Test\ Root -days 30 -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign
q openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key \
	-out int.csr -subj /CN=Test\ Intermediate
q openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 20 \
	-extfile ca.ext -out int.pem
q openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=web.example
q openssl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -days 10 \
	-extfile leaf.ext -out leaf.pem
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	-out other.pem -subj /CN=other.example -days 10
cat int.pem ca.pem >chain.pem
cat leaf.pem chain.pem >fullchain.pem

# PKCS#12, as `openssl pkcs12 -export` makes it
q openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile chain.pem \
	-passout "pass:$pass" -out chain-aes.p12
q openssl pkcs12 -export -inkey leaf.key -in leaf.pem -passout "pass:$pass" -out leaf-aes.p12
q openssl pkcs12 -export -legacy -inkey leaf.key -in leaf.pem -certfile chain.pem \
	-passout "pass:$pass" -out chain-legacy.p12
q openssl pkcs12 -export -inkey leaf.key -in leaf.pem -certfile chain.pem -passout pass: \
	-out nopass.p12
q openssl pkcs12 -export -inkey other.key -in other.pem -passout "pass:$pass" -out other.p12
head -c 1000 chain-aes.p12 >truncated.p12

# the key in other forms
q openssl pkcs8 -topk8 -v2 aes-256-cbc -in leaf.key -passout "pass:$pass" -out leaf-enc.key
q openssl rsa -in leaf.key -traditional -out leaf-trad.key
q openssl rsa -in leaf.key -traditional -aes256 -passout "pass:$pass" -out leaf-trad-enc.key

# PEM bundles in several orders
cat leaf.key leaf.pem int.pem ca.pem >bundle-key-first.pem
cat ca.pem int.pem leaf.pem leaf.key >bundle-reversed.pem
cat int.pem leaf-enc.key ca.pem leaf.pem >bundle-mixed-enc.pem
cat leaf.pem leaf-trad.key >bundle-trad.pem
cat ca.pem leaf-trad-enc.key leaf.pem int.pem leaf.pem >bundle-trad-enc-dup.pem
q openssl pkcs12 -in chain-aes.p12 -passin "pass:$pass" -nodes -out bundle-from-p12.pem

# refusals
cat other.key leaf.pem >mismatch.pem
cat leaf.key other.key leaf.pem >two-keys.pem
cat leaf.pem chain.pem >no-key.pem
cp leaf.key no-cert.pem
cat leaf.key leaf.pem int.pem other.pem >unrelated.pem
# an impostor of the intermediate: its name, another key, no key identifier to tell them
# apart by; only the leaf's signature shows it did not issue the leaf
q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout twin.key \
	-out twin.pem -subj /CN=Test\ Intermediate -days 30 -addext subjectKeyIdentifier=none \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
cat leaf.key leaf.pem twin.pem >forged-chain.pem
cat leaf.pem twin.pem >answer-forged-chain.pem
head -c 1500 bundle-key-first.pem >truncated.pem
head -c 2000 /dev/urandom >garbage.bin
printf 'hello, this is not a certificate\n' >garbage.txt
: >empty

# CA answers
q openssl x509 -in leaf.pem -outform DER -out leaf.der
cat ca.pem leaf.pem int.pem >answer-unordered.pem
q openssl crl2pkcs7 -nocrl -certfile fullchain.pem -out answer.p7b
q openssl crl2pkcs7 -nocrl -certfile fullchain.pem -outform DER -out answer.p7b.der
cat leaf.pem other.pem >answer-two-leaves.pem
cat leaf.pem leaf.key >answer-with-key.pem
head -c 300 leaf.der >answer-truncated.der
