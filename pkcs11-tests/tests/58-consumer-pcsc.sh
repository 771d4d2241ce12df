#!/usr/bin/env bash
# The consumers over the real reader stack: the simulator behind pcscd + vpcd, our module on
# PC/SC only (the reader under test). OpenSSL + libp11 signs by pkcs11: URI (verified by openssl),
# makes a certificate and serves a TLS 1.3 handshake with the token key; ssh-keygen -D lists the
# key; p11tool --test-sign passes; NSS (modutil + certutil -K) sees the key.
# shellcheck disable=SC2016 # the single-quoted bash -c script gets its values as $1...
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require openssl ssh-keygen p11tool certutil modutil

dev_start pcsc --firmware 3.5 --serial DENK0158000 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
module_use_pcsc || exit 1
export "${MOD_ENV[@]}"
mcheck_grep "our module generates an EC P-256 key pair over PC/SC (id 01, label ec)" "Private Key Object; EC" \
	--login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 01 --label ec || exit 1
d=$WORK/files
mkdir -p "$d"
echo "signed over pcscd" >"$d/data"
export PKCS11_MODULE_PATH=$MODULE
K="pkcs11:token=SmartCard-HSM;object=ec;type=private;pin-value=$PIN"
check "openssl (libp11): the public key by URI" openssl pkey -engine pkcs11 -inform engine -pubin \
	-in "pkcs11:token=SmartCard-HSM;object=ec;type=public" -pubout -out "$d/ec.pub" || :
check "openssl (libp11): sign by URI" openssl dgst -sha256 -engine pkcs11 -keyform engine -sign "$K" -out "$d/ec.sig" "$d/data" || :
check_grep "openssl verifies it" "Verified OK" openssl dgst -sha256 -verify "$d/ec.pub" -signature "$d/ec.sig" "$d/data" || :
if check "openssl req -x509 with the token key" openssl req -new -x509 -engine pkcs11 -keyform engine -key "$K" \
	-subj /CN=localhost -days 30 -out "$d/ec.crt"; then
	PORT=$(free_port)
	SRV_LOG="$d/server.log"
	timeout 60 openssl s_server -engine pkcs11 -keyform engine -key "$K" -cert "$d/ec.crt" \
		-accept "127.0.0.1:$PORT" -tls1_3 -naccept 1 >"$SRV_LOG" 2>&1 < <(sleep 30) &
	SRV_PID=$!
	if wait_for "$SRV_LOG" '^ACCEPT'; then
		check_grep "TLS 1.3 handshake with s_server whose key is on the card in the reader" "Verify return code: 0 \(ok\)" \
			bash -c 'echo Q | openssl s_client -connect "127.0.0.1:$1" -tls1_3 -CAfile "$2" -verify_return_error 2>&1' \
			_ "$PORT" "$d/ec.crt" || :
	else
		OUT=$SRV_LOG
		not_ok "s_server with the token key starts"
	fi
	stop_pid "$SRV_PID"
fi
check_grep "ssh-keygen -D lists the key" '^ecdsa-sha2-nistp256 .* ec$' ssh-keygen -D "$MODULE" || :
check_grep "p11tool --test-sign" "Verifying against public key in the token\.\.\. ok" \
	env GNUTLS_PIN="$PIN" p11tool --provider "$MODULE" --login --test-sign "pkcs11:token=SmartCard-HSM;object=ec;type=private" || :
db="sql:$WORK/nssdb"
mkdir -p "$WORK/nssdb"
echo "$PIN" >"$d/pinfile"
step certutil -N -d "$db" --empty-password || :
step modutil -dbdir "$db" -add schsm -libfile "$MODULE" -force || :
check_grep "NSS: certutil -K lists the key" "ec +01 +ec$" certutil -K -d "$db" -h SmartCard-HSM -f "$d/pinfile" || :
finish
