#!/usr/bin/env bash
# Interoperability of our module and OpenSC's opensc-pkcs11.so on ONE card behind pcscd + vpcd:
# keys generated with our module are listed by OpenSC with the same CKA_ID and label and sign
# through it (openssl verifies with the public key our module exports), and keys generated through
# OpenSC are listed by our module the same way and sign through it (openssl verifies with the
# public key OpenSC exports); both modules export byte-identical public keys. A CKA_ID changed
# through our module is what OpenSC then sees.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

dev_start interop --firmware 3.5 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
module_use_pcsc || exit 1
d="$WORK/files"
mkdir -p "$d"
make_data "$d"

# --- keys made by our module, used through OpenSC ---
mcheck "ours: generate EC P-256 key pair (id 51, label ours-ec)" --login --pin "$PIN" \
	--keypairgen --key-type EC:prime256v1 --id 51 --label ours-ec || :
mcheck "ours: generate RSA 2048 key pair (id 52, label ours-rsa)" --login --pin "$PIN" \
	--keypairgen --key-type rsa:2048 --id 52 --label ours-rsa || :
m_pubkey "ours: export the P-256 public key (id 51)" 51 "$d/ours-ec.pem" || :
m_pubkey "ours: export the RSA public key (id 52)" 52 "$d/ours-rsa.pem" || :

# compare_listings ID: both modules' -O views of the key pair ID (label and CKA_ID of the private
# and the public key object) are the same, and not empty.
compare_listings() {
	local id=$1 ours opensc
	ours=$(key_listing "$d/ours.objects" "$id")
	opensc=$(key_listing "$d/opensc.objects" "$id")
	if [ -n "$ours" ] && [ "$ours" = "$opensc" ]; then
		ok "key $id: both modules list the same private and public key objects ($(echo "$ours" | paste -sd' ' -))"
	else
		OUT=""
		not_ok "key $id: both modules list the same private and public key objects" \
			"ours:   $(echo "$ours" | paste -sd' ' -)" "OpenSC: $(echo "$opensc" | paste -sd' ' -)"
	fi
}
list_both() {
	if mstep --login --pin "$PIN" -O; then cp "$OUT" "$d/ours.objects"; else : >"$d/ours.objects"; fi
	if step p11_user -O; then cp "$OUT" "$d/opensc.objects"; else : >"$d/opensc.objects"; fi
}
list_both
compare_listings 51
compare_listings 52

if check "OpenSC: sign with our P-256 key (ECDSA-SHA256)" p11_user --sign --id 51 -m ECDSA-SHA256 \
	--signature-format openssl -i "$d/data.bin" -o "$d/opensc-with-ours-ec.sig"; then
	check "openssl verifies it with the public key our module exported" \
		openssl dgst -sha256 -verify "$d/ours-ec.pem" -signature "$d/opensc-with-ours-ec.sig" "$d/data.bin" || :
fi
if check "OpenSC: sign with our RSA key (SHA256-RSA-PKCS)" p11_user --sign --id 52 -m SHA256-RSA-PKCS \
	-i "$d/data.bin" -o "$d/opensc-with-ours-rsa.sig"; then
	check "openssl verifies it with the public key our module exported" \
		openssl dgst -sha256 -verify "$d/ours-rsa.pem" -signature "$d/opensc-with-ours-rsa.sig" "$d/data.bin" || :
fi
if step p11 --read-object --type pubkey --id 51 -o "$d/opensc-view-51.der"; then
	check_true "OpenSC exports the same P-256 public key (DER) as our module" \
		cmp -s "$d/opensc-view-51.der" "$d/ours-ec.der" || :
else
	not_ok "OpenSC exports the same P-256 public key (DER) as our module"
fi

# --- keys made through OpenSC, used through our module ---
ocheck "OpenSC: generate EC P-256 key pair (id 61, label opensc-ec)" --login --pin "$PIN" \
	--keypairgen --key-type EC:prime256v1 --id 61 --label opensc-ec || :
ocheck "OpenSC: generate RSA 2048 key pair (id 62, label opensc-rsa)" --login --pin "$PIN" \
	--keypairgen --key-type rsa:2048 --id 62 --label opensc-rsa || :
check_pubkey "OpenSC: export the P-256 public key (id 61)" 61 "$d/opensc-ec.pem" || :
check_pubkey "OpenSC: export the RSA public key (id 62)" 62 "$d/opensc-rsa.pem" || :
list_both
compare_listings 61
compare_listings 62

if m_sign_verify ours 61 ECDSA-SHA256 "$d/data.bin" "$d/ours-with-opensc-ec.sig" --signature-format openssl; then
	check "openssl verifies our ECDSA-SHA256 signature with the public key OpenSC exported" \
		openssl dgst -sha256 -verify "$d/opensc-ec.pem" -signature "$d/ours-with-opensc-ec.sig" "$d/data.bin" || :
fi
if m_sign_verify ours 62 SHA256-RSA-PKCS "$d/data.bin" "$d/ours-with-opensc-rsa.sig"; then
	check "openssl verifies our SHA256-RSA-PKCS signature with the public key OpenSC exported" \
		openssl dgst -sha256 -verify "$d/opensc-rsa.pem" -signature "$d/ours-with-opensc-rsa.sig" "$d/data.bin" || :
fi
if m_sign_verify ours 62 RSA-PKCS-PSS "$d/data.sha256" "$d/ours-with-opensc-pss.sig" --hash-algorithm SHA256 \
	--mgf MGF1-SHA256; then
	check "openssl verifies our RSA-PSS signature with the public key OpenSC exported" \
		openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 \
		-verify "$d/opensc-rsa.pem" -signature "$d/ours-with-opensc-pss.sig" "$d/data.bin" || :
fi
if mstep --read-object --type pubkey --id 62 -o "$d/ours-view-62.der"; then
	check_true "our module exports the same RSA public key (DER) as OpenSC" \
		cmp -s "$d/ours-view-62.der" "$d/opensc-rsa.der" || :
else
	not_ok "our module exports the same RSA public key (DER) as OpenSC"
fi

# --- a CKA_ID changed through our module (C_SetAttributeValue rewrites the PRKD) ---
mcheck "ours: change the CKA_ID of the private key 51 to 5151 (pkcs11-tool --set-id)" --login --pin "$PIN" \
	--set-id 5151 --id 51 --type privkey || :
list_both
if key_listing "$d/opensc.objects" 5151 | grep -q '^private|ours-ec|5151$' &&
	! key_listing "$d/opensc.objects" 51 | grep -q '^private'; then
	ok "OpenSC lists the private key with the new CKA_ID 5151 (and none with 51)"
else
	OUT=""
	not_ok "OpenSC lists the private key with the new CKA_ID 5151 (and none with 51)" \
		"OpenSC: $(key_listing "$d/opensc.objects" 5151 | paste -sd' ' -) / $(key_listing "$d/opensc.objects" 51 | paste -sd' ' -)"
fi
if check "OpenSC signs with the key under its new CKA_ID" p11_user --sign --id 5151 -m ECDSA-SHA256 \
	--signature-format openssl -i "$d/data.bin" -o "$d/renamed.sig"; then
	check "openssl verifies it with the public key our module exported before" \
		openssl dgst -sha256 -verify "$d/ours-ec.pem" -signature "$d/renamed.sig" "$d/data.bin" || :
fi
finish
