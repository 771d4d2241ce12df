#!/usr/bin/env bash
# Remote use: `p11-kit server` exports our token over its RPC socket and another process reaches
# it through p11-kit-client.so (the way to an HSM from a container, or over `ssh -R` socket
# forwarding from another machine): the client lists the token, logs in, signs with the EC key
# (raw ECDSA over a SHA-256 hash) and the RSA key (SHA256-RSA-PKCS), and openssl verifies the
# signatures with the public keys read locally.
# p11-kit 0.24's RPC does not carry CKM_ECDSA_SHA256 (C_SignInit answers CKR_MECHANISM_INVALID
# on the client side, whatever the module), so the EC signature is made over a host-made hash.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require p11-kit pkcs11-tool openssl
CLIENT=${P11KIT_CLIENT:-$(dpkg -L p11-kit-modules 2>/dev/null | grep -m1 '/p11-kit-client\.so$' || true)}
check_true "p11-kit-client.so is installed (p11-kit-modules)" test -n "$CLIENT" -a -e "$CLIENT" || exit 1
consumer_device DENK0155000
d=$WORK/files
mkdir -p "$d"
echo "signed by a remote process" >"$d/data"
openssl dgst -sha256 -binary "$d/data" >"$d/data.sha256"
for k in ec rsa; do
	m_pubkey "the $k public key, read locally" "$([ $k = ec ] && echo 01 || echo 02)" "$d/$k.pem" || :
done

SOCK="$WORK/p11kit.sock"
SRV_PID=""
# shellcheck disable=SC2317 # called by the EXIT trap
end_server() {
	stop_pid "$SRV_PID"
	dev_stop
}
trap end_server EXIT
timeout 120 p11-kit server -f --provider "$MODULE" -n "$SOCK" "pkcs11:token=SmartCard-HSM" >"$WORK/server.log" 2>&1 &
SRV_PID=$!
wait_sock() { for _ in $(seq 1 100); do [ -S "$SOCK" ] && return 0; sleep 0.1; done; return 1; }
check_true "p11-kit server exports the token on a unix socket" wait_sock || exit 1
check_grep "... and prints the client's P11_KIT_SERVER_ADDRESS" "P11_KIT_SERVER_ADDRESS=unix:path=$SOCK" cat "$WORK/server.log" || :

# The client side: nothing but p11-kit-client.so and the socket address (no SCHSM_* variables).
RC=(env -u SCHSM_SIM -u SCHSM_PCSC P11_KIT_SERVER_ADDRESS="unix:path=$SOCK" pkcs11-tool --module "$CLIENT")
check_grep "through p11-kit-client.so: the token with the device's serial" "serial num *: *DENK0155000" "${RC[@]}" -L || :
if check "... the objects after login" "${RC[@]}" --login --pin "$PIN" -O; then
	check_true "... both private keys" test "$(grep -c '^Private Key Object' "$OUT")" = 2 || :
fi
if check "... sign with the EC key (ECDSA over a SHA-256 hash)" "${RC[@]}" --login --pin "$PIN" --sign -m ECDSA --id 01 \
	-i "$d/data.sha256" -o "$d/ec.sig" --signature-format openssl; then
	check_grep "openssl verifies the remote ECDSA signature" "Verified Successfully" \
		openssl pkeyutl -verify -pubin -inkey "$d/ec.pem" -in "$d/data.sha256" -sigfile "$d/ec.sig" || :
fi
if check "... sign with the RSA key (SHA256-RSA-PKCS)" "${RC[@]}" --login --pin "$PIN" --sign -m SHA256-RSA-PKCS --id 02 \
	-i "$d/data" -o "$d/rsa.sig"; then
	check_grep "openssl verifies the remote RSA signature" "Verified OK" \
		openssl dgst -sha256 -verify "$d/rsa.pem" -signature "$d/rsa.sig" "$d/data" || :
fi
finish
