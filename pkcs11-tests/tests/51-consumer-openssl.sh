#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted bash -c / eval scripts get their values as $1... or at run time
# OpenSSL 3 with the libp11 engine (Debian libengine-pkcs11-openssl), PKCS11_MODULE_PATH = our
# module: EC and RSA signatures by pkcs11: URI verified by openssl with the token's public keys;
# `openssl req -x509` self-signed certificates with token keys; a TLS 1.3 handshake with an
# s_server whose key is on the token (EC and RSA-PSS), and a client certificate on the token
# accepted by a server that requires one. Loopback only; every call bounded.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require openssl
check_grep "the libp11 engine is available" "available" openssl engine -t pkcs11 || exit 1
consumer_device DENK0151000
export PKCS11_MODULE_PATH=$MODULE
d=$WORK/files
mkdir -p "$d"
echo "data signed through libp11" >"$d/data"
ENG=(-engine pkcs11 -keyform engine)

for k in ec rsa; do
	uri="pkcs11:token=SmartCard-HSM;object=$k;type=private;pin-value=$PIN"
	check "$k: export the public key by URI (pkcs11:object=$k;type=public)" openssl pkey -engine pkcs11 -inform engine \
		-pubin -in "pkcs11:token=SmartCard-HSM;object=$k;type=public" -pubout -out "$d/$k.pub" || continue
	check "$k: openssl dgst -sha256 -sign with the token key" openssl dgst -sha256 "${ENG[@]}" -sign "$uri" \
		-out "$d/$k.sig" "$d/data" || :
	check_grep "$k: openssl verifies the signature with the token's public key" "Verified OK" \
		openssl dgst -sha256 -verify "$d/$k.pub" -signature "$d/$k.sig" "$d/data" || :
	check_fails "$k: ... and rejects it for other data" \
		openssl dgst -sha256 -verify "$d/$k.pub" -signature "$d/$k.sig" "$0" || :
	openssl dgst -sha256 -binary "$d/data" >"$d/data.sha256"
	check "$k: openssl pkeyutl -sign over a hash with the token key" openssl pkeyutl "${ENG[@]}" -sign \
		-inkey "$uri" -in "$d/data.sha256" -out "$d/$k.pk.sig" -pkeyopt digest:sha256 || :
	check_grep "$k: openssl pkeyutl verifies it" "Signature Verified Successfully" openssl pkeyutl -verify -pubin \
		-inkey "$d/$k.pub" -in "$d/data.sha256" -sigfile "$d/$k.pk.sig" -pkeyopt digest:sha256 || :
	check "$k: openssl req -x509 makes a certificate with the token key" openssl req -new -x509 "${ENG[@]}" \
		-key "$uri" -subj "/CN=localhost/O=token-$k" -addext "subjectAltName=DNS:localhost" -days 30 -sha256 -out "$d/$k.crt" || :
	check_grep "$k: the certificate verifies (self-signed by the token key)" ": OK" \
		openssl verify -CAfile "$d/$k.crt" "$d/$k.crt" || :
	check_true "$k: the certificate holds the token's public key" \
		test "$(openssl x509 -in "$d/$k.crt" -noout -pubkey)" = "$(cat "$d/$k.pub")" || :
done

# tls_server KEY CERT [ARGS...]: s_server with the token key in the background (one connection).
SRV_PID=""
tls_server() {
	local k=$1 crt=$2
	shift 2
	PORT=$(free_port)
	SRV_LOG="$d/server.$k.$PORT.log"
	# stdin stays open (sleep, not a pipe: `wait` would wait for it): s_server ends at EOF on stdin
	timeout 60 openssl s_server "${ENG[@]}" -key "pkcs11:token=SmartCard-HSM;object=$k;type=private;pin-value=$PIN" \
		-cert "$crt" -accept "127.0.0.1:$PORT" -tls1_3 -naccept 1 "$@" >"$SRV_LOG" 2>&1 < <(sleep 30) &
	SRV_PID=$!
	wait_for "$SRV_LOG" '^ACCEPT'
}

for k in ec rsa; do
	[ -s "$d/$k.crt" ] || continue
	sig="ECDSA"
	[ $k = rsa ] && sig="RSA-PSS"
	if ! tls_server "$k" "$d/$k.crt"; then
		OUT=$SRV_LOG
		not_ok "$k: s_server with the token key starts"
		stop_pid "$SRV_PID"
		continue
	fi
	check_grep "$k: TLS 1.3 handshake with s_server whose key is on the token (s_client verifies, $sig)" \
		"Peer signature type: $sig" bash -c 'echo Q | openssl s_client -connect "127.0.0.1:$1" -tls1_3 -CAfile "$2" \
			-verify_return_error -verify_hostname localhost 2>&1' _ "$PORT" "$d/$k.crt" || :
	if grep -q "Verify return code: 0 (ok)" "$OUT" && grep -q "^New, TLSv1.3" "$OUT"; then
		ok "$k: ... the client saw TLSv1.3 and a verified chain"
	else
		not_ok "$k: ... the client saw TLSv1.3 and a verified chain"
	fi
	stop_pid "$SRV_PID"
done

# A client certificate on the token: the server (software key) requires and verifies it.
if [ -s "$d/ec.crt" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/srv.key" -subj /CN=localhost \
		-days 30 -out "$d/srv.crt" 2>/dev/null
	PORT=$(free_port)
	SRV_LOG="$d/server.client-auth.log"
	timeout 60 openssl s_server -key "$d/srv.key" -cert "$d/srv.crt" -accept "127.0.0.1:$PORT" -tls1_3 -naccept 1 \
		-Verify 1 -verify_return_error -CAfile "$d/ec.crt" >"$SRV_LOG" 2>&1 < <(sleep 30) &
	SRV_PID=$!
	if wait_for "$SRV_LOG" '^ACCEPT'; then
		check_grep "client authentication with the token's EC key and certificate (TLS 1.3)" "Verify return code: 0" \
			bash -c 'echo Q | openssl s_client -connect "127.0.0.1:$1" -tls1_3 -CAfile "$2" -engine pkcs11 -keyform engine \
				-key "$3" -cert "$4" 2>&1' _ "$PORT" "$d/srv.crt" \
			"pkcs11:token=SmartCard-HSM;object=ec;type=private;pin-value=$PIN" "$d/ec.crt" || :
		sleep 0.5
		check_grep "... the server logs the verified client subject" "subject=.*O *= *token-ec" cat "$SRV_LOG" || :
	else
		OUT=$SRV_LOG
		not_ok "the client-auth s_server starts"
	fi
	stop_pid "$SRV_PID"
fi
finish
