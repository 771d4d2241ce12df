# shellcheck shell=bash
# shellcheck disable=SC2034 # variables here are used by the scripts that source this file
# Helpers for the black-box tests of OUR module (tests/1*-module-*.sh): pkcs11-tool, OpenSC's
# module and PyKCS11 drive target/release/libschsm_pkcs11.so, either over an in-process simulated
# device (SCHSM_SIM, no PC/SC) or over the simulator behind pcscd + vpcd. Sourced after common.sh.
#
# Environment: SCHSM_MODULE (default target/release/libschsm_pkcs11.so),
#   SCHSM_TEST_MODULE_LOG (the module's log level in these tests, default info; the log goes to
#   $WORK/module.log, never to the tool output the checks read).

MODULE=${SCHSM_MODULE:-$REPO_ROOT/target/release/libschsm_pkcs11.so}
MODULE_LOG="$WORK/module.log"
# The module's environment for every call (set by module_use_sim / module_use_pcsc).
MOD_ENV=()
# The Python that has PyKCS11 (Debian python3-pykcs11); the PATH python may be another one.
PYTHON=${SCHSM_TEST_PYTHON:-/usr/bin/python3}

# module_require: the module must exist, or the test stops with one failed check.
module_require() {
	if [ ! -e "$MODULE" ]; then
		OUT=""
		not_ok "$TEST_NAME: module $MODULE not found (cargo build --release)"
		exit 1
	fi
}

# pykcs11_require: $PYTHON must import PyKCS11, or the test stops with one failed check.
pykcs11_require() {
	if ! step "$PYTHON" -c 'import PyKCS11'; then
		not_ok "$TEST_NAME: $PYTHON cannot import PyKCS11 (apt-get install python3-pykcs11)"
		exit 1
	fi
}

# module_use_sim DIR...: the module serves these device directories in-process, no PC/SC.
module_use_sim() {
	local dirs
	dirs=$(
		IFS=:
		echo "$*"
	)
	MOD_ENV=(SCHSM_SIM="$dirs" SCHSM_PCSC=0 SCHSM_CONF= SCHSM_LOG="${SCHSM_TEST_MODULE_LOG:-info}"
		SCHSM_LOG_FILE="$MODULE_LOG")
}

# our_reader: the name of the vpcd reader under test: "Virtual PCD XX NN" with NN the index of
# VPCD_PORT (35963 + NN), as the runner picks it.
our_reader() {
	local index
	index=$(printf '%02d' $((VPCD_PORT - 35963)))
	timeout 10 opensc-tool -l 2>/dev/null |
		sed -n "s/^[0-9][0-9]* .*\(Virtual PCD [0-9][0-9] $index\)\$/\1/p" | head -n1
}

# module_use_pcsc: the module uses PC/SC and only our vpcd reader (a config file with a reader
# filter, so a real HSM plugged into this machine is never touched), no simulated devices.
# Call while a card is served (the reader name comes from OpenSC's reader list).
module_use_pcsc() {
	local reader
	reader=$(our_reader)
	if [ -z "$reader" ]; then
		OUT=""
		not_ok "$TEST_NAME: cannot find the vpcd reader under test (opensc-tool -l)"
		return 1
	fi
	printf '# made by %s: only the reader under test\n[readers]\ninclude = ["%s"]\n' \
		"$TEST_NAME" "$reader" >"$WORK/schsm.conf"
	MOD_ENV=(SCHSM_SIM= SCHSM_PCSC=1 SCHSM_CONF="$WORK/schsm.conf"
		SCHSM_LOG="${SCHSM_TEST_MODULE_LOG:-info}" SCHSM_LOG_FILE="$MODULE_LOG")
	echo "# our module uses PC/SC reader '$reader'"
}

# mstep ARGS...: pkcs11-tool with our module (a `step`: output in $OUT, status returned).
mstep() {
	step env "${MOD_ENV[@]}" pkcs11-tool --module "$MODULE" "$@"
}

# mstep_user ARGS...: the same, logged in with the user PIN.
mstep_user() {
	mstep --login --pin "$PIN" "$@"
}

# bad_lines FILE: the lines of a tool's output that report a problem. "No errors" is what
# pkcs11-tool --test prints when everything passed, so it does not count.
bad_lines() {
	grep -Ei 'error|fail' "$1" | grep -Ev '^No errors$' || true
}

# _judge NAME RC [REGEX]: the verdict on the last step: exit 0, no error/failed line, and (when
# given) output matching REGEX.
_judge() {
	local name=$1 rc=$2 re=${3:-} bad
	bad=$(bad_lines "$OUT")
	if [ "$rc" != 0 ]; then
		not_ok "$name" "exit status $rc${bad:+; problems reported: $(echo "$bad" | head -n3 | tr '\n' '|')}"
		return 1
	elif [ -n "$bad" ]; then
		not_ok "$name" "the output reports a problem: $(echo "$bad" | head -n3 | tr '\n' '|')"
		return 1
	elif [ -n "$re" ] && ! grep -Eq -- "$re" "$OUT"; then
		not_ok "$name" "output does not match /$re/"
		return 1
	fi
	ok "$name"
}

# mcheck NAME ARGS...: pkcs11-tool with our module exits 0 and prints no error/failed line.
mcheck() {
	local name=$1 rc=0
	shift
	mstep "$@" || rc=$?
	_judge "$name" $rc
}

# mcheck_grep NAME REGEX ARGS...: the same, and the output matches REGEX.
mcheck_grep() {
	local name=$1 re=$2 rc=0
	shift 2
	mstep "$@" || rc=$?
	_judge "$name" $rc "$re"
}

# ocheck NAME ARGS...: the same judgement for pkcs11-tool with OpenSC's module.
ocheck() {
	local name=$1 rc=0
	shift
	step p11 "$@" || rc=$?
	_judge "$name" $rc
}

# --- public keys -----------------------------------------------------------------------------

# der_tlv TAG HEX: DER TLV (hex) with a definite length.
der_tlv() {
	local n=$((${#2} / 2))
	if [ $n -lt 128 ]; then
		printf '%s%02X%s' "$1" $n "$2"
	elif [ $n -lt 256 ]; then
		printf '%s81%02X%s' "$1" $n "$2"
	else
		printf '%s82%04X%s' "$1" $n "$2"
	fi
}

# octet_string_content HEX: the content of a DER OCTET STRING (CKA_EC_POINT as PKCS#11 wants it).
octet_string_content() {
	local h=${1^^}
	h=${h#04}
	case $h in 81*) h=${h:4} ;; 82*) h=${h:6} ;; *) h=${h:2} ;; esac
	echo "$h"
}

# m_pubkey NAME ID PEM: export the public key with CKA_ID ID through our module
# (pkcs11-tool --read-object gives a DER SubjectPublicKeyInfo) and convert it to PEM.
m_pubkey() {
	local name=$1 id=$2 pem=$3
	if mstep --read-object --type pubkey --id "$id" -o "${pem%.pem}.der" &&
		step openssl pkey -pubin -inform DER -in "${pem%.pem}.der" -out "$pem"; then
		ok "$name"
	else
		not_ok "$name"
		return 1
	fi
}

# m_ec_pubkey_from_attributes NAME ID PEM: the EC public key with CKA_ID ID as a PEM file built
# from the CKA_EC_PARAMS and CKA_EC_POINT our module lists. For P-384, where pkcs11-tool 0.23's
# --read-object fails on every module ("cannot create EVP_PKEY"; SoftHSM and OpenSC's module
# too), so the SPKI is assembled here: SEQUENCE { SEQUENCE { id-ecPublicKey, params },
# BIT STRING { 00, point } }.
m_ec_pubkey_from_attributes() {
	local name=$1 id=$2 pem=$3 point params spki
	if ! mstep -O --type pubkey --id "$id"; then
		not_ok "$name" "pkcs11-tool -O failed"
		return 1
	fi
	# pkcs11-tool 0.23 -O lists every object (--id does not filter): take the block with ID id.
	point=$(object_field "$OUT" "$id" EC_POINT)
	params=$(object_field "$OUT" "$id" EC_PARAMS)
	if [ -z "$point" ] || [ -z "$params" ]; then
		not_ok "$name" "no EC_POINT / EC_PARAMS listed for id $id"
		return 1
	fi
	spki=$(der_tlv 30 "$(der_tlv 30 "06072A8648CE3D0201${params^^}")$(der_tlv 03 "00$(octet_string_content "$point")")")
	unhex "$spki" >"${pem%.pem}.der"
	if step openssl pkey -pubin -inform DER -in "${pem%.pem}.der" -out "$pem"; then
		ok "$name"
	else
		not_ok "$name" "openssl does not accept the SPKI built from CKA_EC_POINT/CKA_EC_PARAMS"
		return 1
	fi
}

# object_field FILE ID FIELD: the value of FIELD (e.g. EC_POINT) of the first object with CKA_ID ID
# in a pkcs11-tool -O output.
object_field() {
	awk -v want="$(echo "$2" | tr A-F a-f)" -v field="$3" '
		function flush() { if (id == want && value != "" && !done) { print value; done = 1 } id = ""; value = "" }
		/^[A-Za-z]/ { flush(); next }
		$1 == field ":" { value = $2 }
		/^ *ID: / { id = tolower($2) }
		END { flush() }
	' "$1"
}

# key_listing FILE ID: the label/ID lines of the private and public key objects with CKA_ID ID in
# a pkcs11-tool -O output, normalised ("<class>|label|id", sorted), to compare two modules' views.
key_listing() {
	awk -v want="$(echo "$2" | tr A-F a-f)" '
		function flush() { if (cls != "" && id == want) print cls "|" label "|" id; cls = ""; label = ""; id = "" }
		/^[A-Za-z].* Object;/ { flush(); cls = ($1 == "Private") ? "private" : ($1 == "Public" ? "public" : $1) ; next }
		/^[A-Za-z]/ { flush(); next }
		/^ *label: / { sub(/^ *label: */, ""); label = $0 }
		/^ *ID: / { id = tolower($2) }
		END { flush() }
	' "$1" | sort
}

# --- data to sign ------------------------------------------------------------------------------

# make_data DIR: DIR/data.bin (random), its SHA-256/384 hashes, and the PKCS#1 v1.5 DigestInfo of
# its SHA-256 hash (what CKM_RSA_PKCS signs for a SHA-256 signature).
make_data() {
	head -c 300 /dev/urandom >"$1/data.bin"
	openssl dgst -sha256 -binary "$1/data.bin" >"$1/data.sha256"
	openssl dgst -sha384 -binary "$1/data.bin" >"$1/data.sha384"
	{
		unhex 3031300D060960864801650304020105000420
		cat "$1/data.sha256"
	} >"$1/data.di256"
	printf 'other data' >"$1/other.bin"
}

# flip_byte FILE OFFSET: invert one byte of FILE in place (a tampered signature).
flip_byte() {
	local b
	b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059 # the escape is the point
	printf "\\x$(printf %02x $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# --- the pkcs11-tool suite (tests 10 and 11) -------------------------------------------------

# m_sign_verify T ID MECH IN SIG [EXTRA-ARGS...]: sign IN with our module's key ID (-m MECH,
# EXTRA-ARGS such as --signature-format or PSS parameters), then verify the signature with the
# module's own C_Verify (pkcs11-tool --verify). Both are checks; returns non-zero when the
# signature was not made.
m_sign_verify() {
	local t=$1 id=$2 mech=$3 in=$4 sig=$5
	shift 5
	mcheck "$t: sign with $mech (key $id)" --login --pin "$PIN" --sign --id "$id" -m "$mech" "$@" \
		-i "$in" -o "$sig" || return 1
	mcheck_grep "$t: our module verifies the $mech signature (key $id)" "Signature is valid" \
		--login --pin "$PIN" --verify --id "$id" -m "$mech" "$@" -i "$in" --signature-file "$sig" || :
}

# module_pkcs11_tool_suite T SERIAL: pkcs11-tool against our module (environment in MOD_ENV) on an
# initialised, empty device with serial number SERIAL. T prefixes every check name.
module_pkcs11_tool_suite() {
	local t=$1 serial=$2 d="$WORK/files" m n
	mkdir -p "$d"
	make_data "$d"

	mcheck_grep "$t: -I shows Cryptoki 2.40" "Cryptoki version 2\.40" -I || :
	mcheck_grep "$t: -L lists a slot with a SmartCard-HSM token" "token label *: SmartCard-HSM" -L || :
	mcheck_grep "$t: -T shows the token with the device's serial number" "serial num *: *$serial" -T || :
	if mcheck "$t: -M lists the mechanisms" -M; then
		n=0
		for m in RSA-PKCS-KEY-PAIR-GEN ECDSA-KEY-PAIR-GEN ECDSA ECDSA-SHA256 RSA-PKCS SHA256-RSA-PKCS \
			RSA-PKCS-PSS RSA-PKCS-OAEP; do
			grep -q "^ *$m," "$OUT" || { n=$((n + 1)) && echo "#   missing mechanism $m"; }
		done
		check_true "$t: ... including the keygen, ECDSA, RSA PKCS#1, PSS and OAEP mechanisms" test $n = 0 || :
	fi
	mcheck "$t: -O lists the objects of the empty token" -O || :

	mcheck_grep "$t: generate EC P-256 key pair (id 01)" "Private Key Object; EC" --login --pin "$PIN" \
		--keypairgen --key-type EC:prime256v1 --id 01 --label ec256 || :
	mcheck_grep "$t: generate EC P-384 key pair (id 02)" "Private Key Object; EC" --login --pin "$PIN" \
		--keypairgen --key-type EC:secp384r1 --id 02 --label ec384 || :
	mcheck_grep "$t: generate EC secp256k1 key pair (id 03)" "Private Key Object; EC" --login --pin "$PIN" \
		--keypairgen --key-type EC:secp256k1 --id 03 --label k256 || :
	mcheck_grep "$t: generate RSA 2048 key pair (id 04)" "Public Key Object; RSA 2048 bits" --login --pin "$PIN" \
		--keypairgen --key-type rsa:2048 --id 04 --label rsa2048 || :
	if mcheck "$t: -O logged in" --login --pin "$PIN" -O; then
		cp "$OUT" "$d/objects.txt"
		check_true "$t: ... lists four private and four public keys" \
			test "$(grep -c '^Private Key Object' "$OUT")/$(grep -c '^Public Key Object' "$OUT")" = 4/4 || :
		check_true "$t: ... with their labels and IDs" test "$(key_listing "$OUT" 01; key_listing "$OUT" 02
		key_listing "$OUT" 03; key_listing "$OUT" 04)" = "$(printf '%s\n' 'private|ec256|01' 'public|ec256|01' \
			'private|ec384|02' 'public|ec384|02' 'private|k256|03' 'public|k256|03' 'private|rsa2048|04' \
			'public|rsa2048|04')" || :
	fi

	# Public keys: DER SPKI through --read-object (P-384: from the attributes, see above).
	m_pubkey "$t: export the P-256 public key" 01 "$d/ec256.pem" || :
	check_grep "$t: ... it is a P-256 key" "prime256v1" openssl pkey -pubin -in "$d/ec256.pem" -text -noout || :
	m_ec_pubkey_from_attributes "$t: the P-384 public key from CKA_EC_POINT/CKA_EC_PARAMS" 02 "$d/ec384.pem" || :
	check_grep "$t: ... it is a P-384 key" "secp384r1" openssl pkey -pubin -in "$d/ec384.pem" -text -noout || :
	m_pubkey "$t: export the secp256k1 public key" 03 "$d/k256.pem" || :
	check_grep "$t: ... it is a secp256k1 key" "secp256k1" openssl pkey -pubin -in "$d/k256.pem" -text -noout || :
	m_pubkey "$t: export the RSA public key" 04 "$d/rsa.pem" || :
	check_grep "$t: ... it is a 2048-bit RSA key" "2048 bit" openssl pkey -pubin -in "$d/rsa.pem" -text -noout || :

	# ECDSA: hashed on the card side (ECDSA-SHA256) and raw over a host-made hash.
	local id key hash
	for key in 01:ec256:sha256 02:ec384:sha384 03:k256:sha256; do
		IFS=: read -r id m hash <<<"$key"
		if m_sign_verify "$t" "$id" ECDSA-SHA256 "$d/data.bin" "$d/$m.sha256.sig" --signature-format openssl; then
			check "$t: openssl verifies the $m ECDSA-SHA256 signature" \
				openssl dgst -sha256 -verify "$d/$m.pem" -signature "$d/$m.sha256.sig" "$d/data.bin" || :
		fi
		if m_sign_verify "$t" "$id" ECDSA "$d/data.$hash" "$d/$m.raw.sig" --signature-format openssl; then
			check "$t: openssl verifies the $m raw ECDSA signature over a $hash hash" \
				openssl pkeyutl -verify -pubin -inkey "$d/$m.pem" -in "$d/data.$hash" -sigfile "$d/$m.raw.sig" || :
		fi
	done
	check_fails "$t: openssl rejects the P-256 signature for other data" \
		openssl dgst -sha256 -verify "$d/ec256.pem" -signature "$d/ec256.sha256.sig" "$d/other.bin" || :

	# RSA: PKCS#1 v1.5 over a DigestInfo (RSA-PKCS) and over the data (SHA256-RSA-PKCS); PSS.
	if m_sign_verify "$t" 04 RSA-PKCS "$d/data.di256" "$d/rsa.pkcs.sig"; then
		check "$t: openssl verifies the RSA-PKCS signature as a SHA-256 PKCS#1 v1.5 signature" \
			openssl dgst -sha256 -verify "$d/rsa.pem" -signature "$d/rsa.pkcs.sig" "$d/data.bin" || :
	fi
	if m_sign_verify "$t" 04 SHA256-RSA-PKCS "$d/data.bin" "$d/rsa.sha256.sig"; then
		check "$t: openssl verifies the SHA256-RSA-PKCS signature" \
			openssl dgst -sha256 -verify "$d/rsa.pem" -signature "$d/rsa.sha256.sig" "$d/data.bin" || :
		cp "$d/rsa.sha256.sig" "$d/rsa.bad.sig"
		flip_byte "$d/rsa.bad.sig" 100
		mcheck_grep "$t: our module rejects a tampered RSA signature (CKR_SIGNATURE_INVALID)" "Invalid signature" \
			--login --pin "$PIN" --verify --id 04 -m SHA256-RSA-PKCS -i "$d/data.bin" --signature-file "$d/rsa.bad.sig" || :
	fi
	if m_sign_verify "$t" 04 RSA-PKCS-PSS "$d/data.sha256" "$d/rsa.pss.sig" --hash-algorithm SHA256 --mgf MGF1-SHA256; then
		check "$t: openssl verifies the RSA-PSS signature (SHA-256, MGF1-SHA256, salt 32)" \
			openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 \
			-verify "$d/rsa.pem" -signature "$d/rsa.pss.sig" "$d/data.bin" || :
	fi

	# pkcs11-tool's own test modes.
	mcheck_grep "$t: pkcs11-tool --test (digests, RSA sign/verify, RSA PKCS#1/X.509/OAEP decrypt)" "^No errors$" \
		--login --pin "$PIN" --test || :
	cp "$OUT" "$d/test.txt"
	check_true "$t: ... its OAEP decryption with a label passed" \
		grep -q "encoding parameter (Label) present" "$d/test.txt" || :
	# pkcs11-tool 0.23 --test-ec opens an R/O session and generates a token key in it: that is
	# CKR_SESSION_READ_ONLY (PKCS#11 2.40 C_GenerateKeyPair; OpenSC's module answers the same), so
	# the test needs --session-rw.
	local rc=0
	mstep --login --pin "$PIN" --test-ec --id 42 --key-type EC:prime256v1 || rc=$?
	if [ $rc != 0 ] && grep -q CKR_SESSION_READ_ONLY "$OUT"; then
		ok "$t: --test-ec without --session-rw: token key generation in an R/O session is CKR_SESSION_READ_ONLY"
	else
		not_ok "$t: --test-ec without --session-rw: token key generation in an R/O session is CKR_SESSION_READ_ONLY" \
			"exit status $rc"
	fi
	mcheck_grep "$t: pkcs11-tool --test-ec (keygen, CKA_ID/LABEL/SUBJECT changes, ECDSA, deletion)" "==> OK" \
		--login --pin "$PIN" --session-rw --test-ec --id 42 --key-type EC:prime256v1 || :
	if mstep --login --pin "$PIN" -O; then
		check_true "$t: ... and left no key behind (the four key pairs remain)" \
			test "$(grep -c '^Private Key Object' "$OUT")/$(grep -c '^Public Key Object' "$OUT")" = 4/4 || :
	else
		not_ok "$t: ... and left no key behind (the four key pairs remain)" "pkcs11-tool -O failed"
	fi
	mcheck_grep "$t: pkcs11-tool --test-fork (C_Initialize in a forked child)" "forked child" --test-fork || :
}

# MODULE_THREADS_ARGS: the --test-threads options of issue 3 (pkcs11-tool waits 30 s at its end
# when threads are still running, which the 1 s pause of IN:GI:P1 always causes).
MODULE_THREADS_ARGS=(--test-threads IN:SL:T0 --test-threads IL:SL:T0 --test-threads IN:GI:P1)
