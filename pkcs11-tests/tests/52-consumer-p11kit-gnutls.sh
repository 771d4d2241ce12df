#!/usr/bin/env bash
# p11-kit and GnuTLS: our p11-kit module file (packaging/schsm.module.in) in a user config makes
# `p11-kit list-modules` show the token (as an unprivileged user: p11-kit ignores user config
# when run as root); p11tool lists the objects with pkcs11: URIs, --test-sign passes with the EC
# and RSA keys, and certtool makes a self-signed certificate with a token key that openssl
# verifies.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require p11-kit p11tool certtool openssl
consumer_device DENK0152000
d=$WORK/files
mkdir -p "$d"

# p11-kit with our module file, in a user configuration (~/.config/pkcs11/modules/). p11-kit
# skips the user config for root: then it runs as nobody, in a folder nobody can reach (the
# runner's work folder is private, a clone may sit in /root), on copies of the device and module.
P11KIT_DIR=$(mktemp -d /tmp/schsm-p11kit.XXXXXX)
home="$P11KIT_DIR/home"
mkdir -p "$home/.config/pkcs11/modules"
printf 'user-config: merge\n' >"$home/.config/pkcs11/pkcs11.conf"
sed "s|@PKCS11DIR@|$P11KIT_DIR|" "$REPO_ROOT/packaging/schsm.module.in" >"$home/.config/pkcs11/modules/schsm.module"
cp -a "$(dev_dir dev)" "$P11KIT_DIR/dev"
cp "$MODULE" "$P11KIT_DIR/libschsm_pkcs11.so"
AS_USER=()
if [ "$(id -u)" = 0 ]; then
	chown -R 65534:65534 "$P11KIT_DIR"
	chmod 755 "$P11KIT_DIR"
	AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
if check_grep "p11-kit list-modules shows our module and its token" "^schsm: .*libschsm_pkcs11\.so" \
	env HOME="$home" SCHSM_SIM="$P11KIT_DIR/dev" SCHSM_LOG_FILE= "${AS_USER[@]}" p11-kit list-modules; then
	check_true "... the token SmartCard-HSM with the device's serial number" \
		awk '/^schsm:/ {m = 1; next} /^[^ ]/ {m = 0} m && /token: SmartCard-HSM/ {t = 1} m && t && /serial-number: DENK0152000/ {ok = 1} END {exit !ok}' "$OUT" || :
fi
rm -rf "$P11KIT_DIR"

# GnuTLS p11tool and certtool with --provider (no p11-kit configuration needed).
export GNUTLS_PIN=$PIN
P11T=(p11tool --provider "$MODULE")
check_grep "p11tool --list-tokens shows the token" "serial=DENK0152000" "${P11T[@]}" --list-tokens || :
if check "p11tool --login --list-all" "${P11T[@]}" --login --list-all; then
	for k in ec rsa; do
		for t in private public; do
			check_true "... lists the $k $t key with its URI" grep -q "URL: pkcs11:.*id=%0[12];object=$k;type=$t" "$OUT" || :
		done
	done
fi
for k in ec rsa; do
	check_grep "p11tool --test-sign with the $k key (sign, verify with key params and token public key)" \
		"Verifying against public key in the token\.\.\. ok" "${P11T[@]}" --login --test-sign "pkcs11:token=SmartCard-HSM;object=$k;type=private" || :
done
printf 'cn = "certtool on the token"\nexpiration_days = 30\nsigning_key\ncert_signing_key\nca\n' >"$d/cert.cfg"
for k in ec rsa; do
	check "certtool --generate-self-signed with the $k token key" certtool --provider "$MODULE" --generate-self-signed \
		--load-privkey "pkcs11:token=SmartCard-HSM;object=$k;type=private" \
		--load-pubkey "pkcs11:token=SmartCard-HSM;object=$k;type=public" --template "$d/cert.cfg" --outfile "$d/$k.crt" || continue
	check_grep "openssl verifies the certtool certificate ($k)" ": OK" openssl verify -CAfile "$d/$k.crt" "$d/$k.crt" || :
	check_grep "... its subject is the template's" "CN *= *certtool on the token" openssl x509 -in "$d/$k.crt" -noout -subject || :
done
finish
