#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted bash -c / eval scripts get their values as $1... or at run time
# Java (OpenJDK 17, SunPKCS11 with a config naming our module): `keytool -list` shows the token's
# keys that have certificates as PrivateKeyEntry under their labels; `jarsigner` signs a jar with
# the EC and the RSA token key; `jarsigner -verify` accepts the signed jars, openssl verifies the
# jar's PKCS#7 signature block over its signature file, and a tampered jar is refused.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require keytool jarsigner openssl python3
consumer_device DENK0156000
d=$WORK/files
mkdir -p "$d"

# Certificates for both keys, made with the token keys through libp11, stored next to them:
for k in ec rsa; do
	id=$([ $k = ec ] && echo 01 || echo 02)
	check "a self-signed certificate for the $k key (openssl req -x509 with the libp11 engine)" \
		env PKCS11_MODULE_PATH="$MODULE" openssl req -new -x509 -engine pkcs11 -keyform engine \
		-key "pkcs11:token=SmartCard-HSM;object=$k;type=private;pin-value=$PIN" -subj "/CN=java $k" -days 30 \
		-outform DER -out "$d/$k.der" || continue
	mcheck "... stored on the token next to its key (id $id, label $k)" --login --pin "$PIN" \
		--write-object "$d/$k.der" --type cert --id "$id" --label "$k" || :
done

printf 'name = schsm\nlibrary = %s\n' "$MODULE" >"$d/java.cfg"
KS=(-keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 -providerArg "$d/java.cfg")
if check "keytool -list with SunPKCS11" keytool -list "${KS[@]}" -storepass "$PIN"; then
	check_true "... shows 2 entries" grep -q "Your keystore contains 2 entries" "$OUT" || :
	check_true "... ec and rsa as PrivateKeyEntry" \
		eval 'grep -q "^ec, PrivateKeyEntry" "$OUT" && grep -q "^rsa, PrivateKeyEntry" "$OUT"' || :
fi

python3 - "$d/app.jar" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: schsm tests\r\n\r\n")
    z.writestr("hello.txt", "hello from the token\n")
PY
for k in ec rsa; do
	check_grep "jarsigner signs a jar with the $k token key" "jar signed" \
		jarsigner "${KS[@]}" -storepass "$PIN" -signedjar "$d/app-$k.jar" "$d/app.jar" "$k" || continue
	check_grep "jarsigner -verify accepts it" "jar verified" jarsigner -verify "$d/app-$k.jar" || :
	rm -rf "$d/x-$k" && mkdir "$d/x-$k"
	python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$d/app-$k.jar" "$d/x-$k"
	ext=$([ $k = ec ] && echo EC || echo RSA)
	check_grep "openssl verifies the jar's signature block (META-INF/${k^^}.$ext) over the .SF file" \
		"Verification successful" openssl cms -verify -noverify -inform DER -in "$d/x-$k/META-INF/${k^^}.$ext" \
		-content "$d/x-$k/META-INF/${k^^}.SF" -out /dev/null || :
	# Tamper: another hello.txt under the same signature files.
	python3 - "$d/app-$k.jar" "$d/bad-$k.jar" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as src, zipfile.ZipFile(sys.argv[2], "w") as dst:
    for i in src.infolist():
        data = src.read(i.filename)
        dst.writestr(i, b"tampered\n" if i.filename == "hello.txt" else data)
PY
	check_fails "jarsigner -verify refuses the tampered jar" jarsigner -verify -strict "$d/bad-$k.jar" || :
done
finish
