# shellcheck shell=bash
# shellcheck disable=SC2034 # OUT is read by not_ok (common.sh)
# Helpers for the consumer tests (tests/5*-consumer-*.sh): real programs (OpenSSL + libp11,
# p11-kit, GnuTLS, OpenSSH, NSS, Java) pointed at our module. Sourced after common.sh and
# module.sh. The device is served in-process (SCHSM_SIM, SCHSM_PCSC=0): these tests are about
# what each consumer expects from a PKCS#11 module, not about the reader stack (tests 11, 13 and
# 5x-...-pcsc cover that).

# consumer_require TOOL...: stop the test with one failed check when a consumer is not installed.
consumer_require() {
	local t
	for t in "$@"; do
		if ! command -v "$t" >/dev/null; then
			OUT=""
			not_ok "$TEST_NAME: $t is not installed (see pkcs11-tests/lib/debian-packages)"
			exit 1
		fi
	done
}

# consumer_device SERIAL: a fresh initialised device "dev" served in-process, with the module's
# environment exported so that every consumer (and its helpers: ssh-pkcs11-helper, the p11-kit
# server) inherits it; then an EC P-256 key pair (id 01, label ec) and an RSA 2048 key pair
# (id 02, label rsa) made through our module.
consumer_device() {
	dev_new dev --firmware 3.5 --serial "$1" --init --so-pin "$SO_PIN" --pin "$PIN" ||
		{ not_ok "$TEST_NAME: create device" && exit 1; }
	module_use_sim "$(dev_dir dev)"
	export "${MOD_ENV[@]}"
	mcheck_grep "$TEST_NAME: our module generates an EC P-256 key pair (id 01, label ec)" "Private Key Object; EC" \
		--login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 01 --label ec || exit 1
	mcheck_grep "$TEST_NAME: our module generates an RSA 2048 key pair (id 02, label rsa)" "Private Key Object; RSA" \
		--login --pin "$PIN" --keypairgen --key-type rsa:2048 --id 02 --label rsa || exit 1
}

# free_port: a TCP port on 127.0.0.1 nobody listens on (best effort).
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p" && return; fi
	done
	echo 44333
}

# wait_for FILE REGEX: wait (10 s at most) until FILE has a line matching REGEX.
wait_for() {
	for _ in $(seq 1 100); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# stop_pid PID: end a background process this test started, and reap it.
stop_pid() {
	[ -n "${1:-}" ] || return 0
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
