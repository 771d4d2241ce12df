#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted bash -c / eval scripts get their values as $1... or at run time
# NSS (certutil, modutil, cmsutil 3.87): the module added to a fresh database with modutil,
# the token listed by certutil -U and its keys by certutil -K; certutil -R generates a key on the
# token and a CSR (NSS then renames the key: C_SetAttributeValue of CKA_ID); a CA signs the CSR,
# certutil -A stores the certificate on the token and it pairs with the key (user cert "u,u,u");
# cmsutil -S signs a message with the token key (Thunderbird's S/MIME path), cmsutil -D and
# openssl cms -verify verify it.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require certutil modutil cmsutil openssl
consumer_device DENK0154000
d=$WORK/files
db="sql:$WORK/nssdb"
mkdir -p "$d" "$WORK/nssdb"
echo "$PIN" >"$d/pinfile"
head -c 64 /dev/urandom >"$d/noise"
TOK=SmartCard-HSM

check "certutil -N: a new NSS database" certutil -N -d "$db" --empty-password || exit 1
check_grep "modutil -add registers our module" "added to database" \
	modutil -dbdir "$db" -add schsm -libfile "$MODULE" -force || exit 1
check_grep "modutil -list shows the module's slot and token" "Token Name: $TOK" modutil -dbdir "$db" -list schsm || :
check_grep "certutil -U lists the token with its pkcs11: URI" "uri: pkcs11:token=$TOK;.*serial=DENK0154000" \
	certutil -U -d "$db" || :
if check "certutil -K lists the token's private keys" certutil -K -d "$db" -h "$TOK" -f "$d/pinfile"; then
	check_true "... the EC key (id 01, label ec) and the RSA key (id 02, label rsa)" \
		eval 'grep -Eq "ec +01 +ec$" "$OUT" && grep -Eq "rsa +02 +rsa$" "$OUT"' || :
fi

check "certutil -R generates an EC P-256 key on the token and a CSR" certutil -R -d "$db" -h "$TOK" -f "$d/pinfile" \
	-z "$d/noise" -k ec -q nistp256 -s "CN=NSS on the token,O=schsm tests" -a -o "$d/req.csr" || exit 1
check_grep "openssl verifies the CSR's self-signature" "verify OK" openssl req -in "$d/req.csr" -verify -noout || :
if check "certutil -K after -R" certutil -K -d "$db" -h "$TOK" -f "$d/pinfile"; then
	# NSS sets CKA_ID to the SHA-1 of the public point after C_GenerateKeyPair (and deletes the
	# keys if that fails): a third key with a 20-byte ID shows the rename worked.
	check_true "... the new key kept NSS's CKA_ID (SHA-1 of the public key)" grep -Eq "ec +[0-9a-f]{40} " "$OUT" || :
fi
check_grep "the key was made on the device (schsm-sim stat: 3 keys, CC03 on P-256)" "CC03 +EC secp256r1" sim_stat dev || :

# A CA outside the token signs the request; the certificate goes onto the token.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -subj "/CN=schsm test CA" \
	-days 30 -out "$d/ca.crt" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,nonRepudiation\nextendedKeyUsage=emailProtection,clientAuth\nsubjectAltName=email:nss@example.org\n' >"$d/ext.cnf"
check "a CA signs the CSR" openssl x509 -req -in "$d/req.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
	-days 30 -extfile "$d/ext.cnf" -out "$d/user.crt" || exit 1
check "certutil -A: the CA certificate into the database (trusted)" certutil -A -d "$db" -n ca -t "CT,C,C" -a -i "$d/ca.crt" || :
check "certutil -A stores the certificate on the token" certutil -A -d "$db" -h "$TOK" -f "$d/pinfile" -n nsscert \
	-t ",," -a -i "$d/user.crt" || exit 1
if check_grep "certutil -L -h token lists it as a user certificate (key and certificate pair up)" "u,u,u" \
	certutil -L -d "$db" -h "$TOK" -f "$d/pinfile"; then
	# NSS names a certificate after the label of the key it pairs with ("Private Key" here, the
	# module's default label for an unlabelled key), whatever -n said.
	NICK=$(sed -n 's/^\('"$TOK"':.*[^ ]\) \{2,\}u,u,u$/\1/p' "$OUT" | head -n1)
	check_true "... with a nickname ($NICK)" test -n "$NICK" || :
fi
# Through another consumer (pkcs11-tool): the certificate object has the CKA_ID of NSS's key.
if mcheck_grep "pkcs11-tool sees a certificate object on the token" "^Certificate Object" --login --pin "$PIN" -O; then
	cert_id=$(awk '/^Certificate Object/ {c = 1; next} /^[A-Za-z]/ {c = 0} c && /^ *ID:/ {print $2; exit}' "$OUT")
	check_true "... whose CKA_ID is that of the key NSS made ($cert_id)" \
		test "$(grep -c "ID: *$cert_id\$" "$OUT")" -ge 3 -a ${#cert_id} = 40 || :
fi
if [ -n "${NICK:-}" ]; then
	check_grep "certutil -K shows the key under the certificate's nickname" "${NICK#"$TOK":}" \
		certutil -K -d "$db" -h "$TOK" -f "$d/pinfile" || :
	echo "A message signed with the token key (S/MIME as Thunderbird does)" >"$d/msg.txt"
	check "cmsutil -S signs a message with the token key" cmsutil -S -d "$db" -f "$d/pinfile" -N "$NICK" \
		-i "$d/msg.txt" -o "$d/msg.p7m" || :
	check "cmsutil -D decodes and verifies the signed message (usage: email signer)" cmsutil -D -d "$db" \
		-f "$d/pinfile" -u 4 -i "$d/msg.p7m" -o "$d/msg.out" || :
	check_true "... and gives back the message" cmp -s "$d/msg.txt" "$d/msg.out" || :
	check_grep "openssl cms -verify accepts the signature (chain to the CA)" "Verification successful" \
		openssl cms -verify -inform DER -in "$d/msg.p7m" -CAfile "$d/ca.crt" -purpose any -out "$d/msg.ossl" || :
	check_true "... over the same message" cmp -s "$d/msg.txt" "$d/msg.ossl" || :
fi
finish
