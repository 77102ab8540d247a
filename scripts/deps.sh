#!/usr/bin/env bash
# Installs the Debian 12 packages that vaultfs needs to build, run and test, if any are
# missing. Run as root (or through sudo). With --tests (the test command), also those
# that only the tests need.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libfuse3-dev fuse3          # the FUSE low-level API and fusermount3
	libssl-dev openssl          # OpenSSL 3 EVP; openssl verifies signatures in tests
	libsqlite3-dev sqlite3      # the store; sqlite3 inspects it in tests
	libp11-kit-dev              # the PKCS#11 header
	softhsm2 opensc             # the default token; pkcs11-tool inspects it in tests
	libinih-dev                 # vaultfs.conf parsing
	libjson-c-dev               # reading audit records back (audit tail)
	libsystemd-dev              # sd_notify(3): READY=1, RELOADING=1, STOPPING=1 under systemd
	e2fsprogs                   # chattr +i in the audit fail-closed tests
	libcmocka-dev               # unit tests
	clang libclang-rt-14-dev    # the policy parser's libFuzzer target
	attr jq util-linux python3  # getfattr/setfattr, audit checks, setpriv, exact syscalls in tests
	vim sed coreutils           # the editors whose write-and-rename idioms the mounted tests run
	tar rsync                   # the deployment tools the mounted tests run into the vault
	logrotate strace            # the audit trail's rotation as operators run it, and a writer
	                            # held inside logrotate's window (mount.t_rotate)
	scdoc                       # the manual pages' source format, made into troff at build time
	debhelper dpkg-dev fakeroot # building the Debian package (tests/package/t_package.sh)
	lintian man-db              # checking it: lintian, man --warnings, lexgrog
	bash-completion procps      # running its completion and its logrotate snippet (pkill)
	systemd                     # systemd-analyze verify/security on the unit (mount.t_unit)
	systemd-container debootstrap # the unit under real systemd in a booted container
	                            # (mount.t_nspawn; its image needs a Debian mirror once)
)
# Only for the tests, so that the demo installs no server it does not need.
if [ "${1:-}" = --tests ]; then
	packages+=(
		prometheus                # promtool check metrics (mount.t_metrics); the package
		                          # brings Prometheus's server too, which Debian starts where
		                          # systemd runs: the tests use promtool alone
		python3-prometheus-client # Prometheus's strict OpenMetrics parser (mount.t_metrics)
		docker.io busybox-static  # containers across restarts: the Docker engine and the
		                          # busybox of its test image (mount.t_docker)
		docker-compose yamllint   # the container examples run and checked (cli.t_examples)
		nginx-light curl          # a real server serves a certificate and its key read from
		                          # the mount, and a real client checks it (mount.t_nginx)
	)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "vaultfs: missing packages: ${missing[*]}; run this as root" >&2
		exit 1
	fi
	echo "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
