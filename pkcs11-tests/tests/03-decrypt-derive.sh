#!/usr/bin/env bash
# opensc-pkcs11 on the simulator: RSA decryption of what openssl encrypted with the exported
# public key (PKCS#1 v1.5 and OAEP), and ECDH (P-256, P-384) against an openssl peer key, compared
# with openssl's own derivation on the peer side.
. "$(dirname "$0")/../lib/common.sh"

dev_start crypt --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1

MSG="$WORK/msg.bin"
printf 'a secret message for the simulated HSM, %s' "$(date +%s%N)" >"$MSG"

# --- RSA decryption
check "generate RSA 2048 key pair (id 11)" \
	p11_user --keypairgen --key-type rsa:2048 --id 11 --label rsa-decrypt || :
check_pubkey "export the RSA public key" 11 "$WORK/rsa.pem" || :

check "openssl encrypts with PKCS#1 v1.5" \
	openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa.pem" -in "$MSG" -out "$WORK/ct.pkcs1" || :
check "pkcs11-tool --decrypt -m RSA-PKCS" \
	p11_user --decrypt --id 11 -m RSA-PKCS -i "$WORK/ct.pkcs1" -o "$WORK/pt.pkcs1" || :
check_true "the PKCS#1 v1.5 plaintext is the message" cmp -s "$MSG" "$WORK/pt.pkcs1" || :

check "openssl encrypts with OAEP (SHA-256, MGF1-SHA256)" \
	openssl pkeyutl -encrypt -pubin -inkey "$WORK/rsa.pem" -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in "$MSG" -out "$WORK/ct.oaep" || :
check "pkcs11-tool --decrypt -m RSA-PKCS-OAEP" \
	p11_user --decrypt --id 11 -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 \
	-i "$WORK/ct.oaep" -o "$WORK/pt.oaep" || :
check_true "the OAEP plaintext is the message" cmp -s "$MSG" "$WORK/pt.oaep" || :

# --- ECDH: our key's public half with the peer's private key (openssl) must give the same
# secret as the card's private key with the peer's public key (pkcs11-tool --derive).
ecdh() {
	local curve=$1 id=$2 bits=$3
	check "generate EC $curve key pair with derive usage (id $id)" \
		p11_user --keypairgen --key-type "EC:$curve" --usage-derive --id "$id" --label "ecdh-$bits" || :
	if [ "$bits" = 384 ]; then
		check_pubkey15 "export the EC $curve public key" "$id" "$WORK/ec$bits.pem" || :
	else
		check_pubkey "export the EC $curve public key" "$id" "$WORK/ec$bits.pem" || :
	fi
	step openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$curve" -out "$WORK/peer$bits.pem" &&
		step openssl pkey -in "$WORK/peer$bits.pem" -pubout -outform DER -out "$WORK/peer$bits.der" || :
	check "openssl derives the ECDH secret on the peer side ($curve)" \
		openssl pkeyutl -derive -inkey "$WORK/peer$bits.pem" -peerkey "$WORK/ec$bits.pem" \
		-out "$WORK/expected$bits.bin" || :
	check "pkcs11-tool --derive -m ECDH1-DERIVE ($curve)" \
		p11_user --derive -m ECDH1-DERIVE --id "$id" -i "$WORK/peer$bits.der" -o "$WORK/secret$bits.bin" || :
	check_true "both sides have the same $((bits / 8))-byte secret ($curve)" \
		cmp -s "$WORK/expected$bits.bin" "$WORK/secret$bits.bin" || :
}
ecdh prime256v1 21 256
ecdh secp384r1 22 384

finish
