#!/usr/bin/env bash
# Firefox (Debian firefox-esr 153), headless, over the real reader stack (the simulator behind
# pcscd + vpcd, our module on PC/SC): our module registered as a security device in a fresh
# profile (modutil), the test CA trusted there (certutil). A local HTTPS server
# (consumers/tls_client_auth_server.py) requires a client certificate from that CA. Firefox loads
# its page; in the TLS handshake it asks for the token's PIN, which the Marionette driver
# (consumers/firefox_marionette.py) types into Firefox's own dialog as a user would; Firefox signs
# with the key on the device, the server logs the verified client subject and shows it in the page.
# Four Firefox runs: the PIN dialog cancelled and a wrong PIN (the negative controls: no client
# certificate, the server refuses, the device signs nothing), an EC P-256 client key (TLS 1.3,
# ECDSA on the card), an RSA 2048 client key (TLS 1.3, RSA-PSS on the card). A fifth run starts
# from a profile without the module and has Firefox load it (what Security Devices > Load does).
# Firefox never touches the real $HOME: its HOME, caches and temporary files live in the work
# directory. SCHSM_TEST_FIREFOX_TIMEOUT: seconds for one Firefox run (default 110).
# shellcheck disable=SC2016 # single-quoted eval scripts get their values at run time
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require firefox-esr certutil modutil openssl python3 pkcs11-tool
CONSUMERS="$T_DIR/consumers"
# Seconds for one Firefox run (start, page, quit). A run takes 2-4 s here; a cold start on a busy
# 2-core machine may take 10-20 s. Five runs stay within the runner's 600 s per test.
FIREFOX_TIMEOUT=${SCHSM_TEST_FIREFOX_TIMEOUT:-110}

dev_start pcsc --firmware 3.5 --serial DENK0159000 --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
module_use_pcsc || exit 1
export "${MOD_ENV[@]}"
d=$WORK/files
mkdir -p "$d"
echo "$PIN" >"$d/pin"

# --- keys on the device, a test CA, certificates ---------------------------------------------
mcheck_grep "our module generates an EC P-256 key pair over PC/SC (id 01)" "Private Key Object; EC" \
	--login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 01 --label firefox-ec || exit 1
mcheck_grep "our module generates an RSA 2048 key pair over PC/SC (id 02)" "Private Key Object; RSA" \
	--login --pin "$PIN" --keypairgen --key-type rsa:2048 --id 02 --label firefox-rsa || exit 1
m_pubkey "export the EC public key" 01 "$d/ec.pub.pem" || exit 1
m_pubkey "export the RSA public key" 02 "$d/rsa.pub.pem" || exit 1

step openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
	-subj "/O=schsm tests/CN=schsm test CA" -days 30 -out "$d/ca.crt" || { not_ok "make a test CA" && exit 1; }
printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature extendedKeyUsage=serverAuth \
	subjectAltName=DNS:localhost,IP:127.0.0.1 >"$d/server.ext"
printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature extendedKeyUsage=clientAuth \
	>"$d/client.ext"
if ! step openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" \
	-subj "/O=schsm tests/CN=localhost" -out "$d/server.csr" ||
	! step openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -set_serial 2 -days 30 \
		-extfile "$d/server.ext" -out "$d/server.crt"; then
	not_ok "the CA issues the server certificate (localhost, 127.0.0.1)" && exit 1
fi
# client_cert KEY SUBJECT: a certificate by the CA for the token's public key (-force_pubkey: the
# private key never leaves the device), stored on the token with the key's CKA_ID and label, which
# is how NSS pairs a certificate with its key.
client_cert() {
	local k=$1 subject=$2 id serial
	case $k in ec) id=01 serial=3 ;; rsa) id=02 serial=4 ;; esac
	check "the CA issues a client certificate for the token's $k key ($subject)" openssl x509 -new \
		-force_pubkey "$d/$k.pub.pem" -subj "$subject" -CA "$d/ca.crt" -CAkey "$d/ca.key" -set_serial $serial \
		-days 30 -extfile "$d/client.ext" -outform DER -out "$d/$k.crt.der" || return 1
	mcheck "... stored on the token next to its key (id $id)" --login --pin "$PIN" --write-object "$d/$k.crt.der" \
		--type cert --id $id --label "firefox-$k"
}

# --- fresh Firefox profiles -------------------------------------------------------------------
mkdir -p "$WORK/ffhome" "$WORK/fftmp"
# new_profile DIR: an empty NSS database with the test CA trusted for TLS servers, and user.js.
new_profile() {
	mkdir -p "$1"
	check "certutil -N: a new profile's NSS database ($(basename "$1"))" certutil -N -d "sql:$1" --empty-password &&
		check "certutil -A: the test CA trusted for TLS servers" certutil -A -d "sql:$1" -n "schsm test CA" \
			-t "CT,," -a -i "$d/ca.crt" &&
		cp "$d/user.js" "$1/user.js"
}
# Choose the client certificate without asking; nothing that reaches out to the internet (this
# runs offline: every such connection would wait for a timeout). Marionette adds its own
# recommended test prefs (no updates, telemetry, safe browsing, remote settings, ...).
cat >"$d/user.js" <<'EOF'
user_pref("marionette.port", 0);
user_pref("security.default_personal_cert", "Select Automatically");
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.page", 0);
user_pref("browser.startup.homepage", "about:blank");
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.aboutwelcome.enabled", false);
user_pref("trailhead.firstrun.didSeeAboutWelcome", true);
user_pref("network.proxy.type", 0);
user_pref("network.trr.mode", 5);
user_pref("network.dns.disablePrefetch", true);
user_pref("network.prefetch-next", false);
user_pref("network.http.speculative-parallel-limit", 0);
user_pref("dom.security.https_only_mode", false);
user_pref("security.OCSP.enabled", 0);
user_pref("security.pki.crlite_mode", 0);
user_pref("security.remote_settings.crlite_filters.enabled", false);
user_pref("app.update.auto", false);
user_pref("app.update.enabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.unified", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("app.normandy.enabled", false);
user_pref("app.shield.optoutstudies.enabled", false);
user_pref("messaging-system.rsexperimentloader.enabled", false);
user_pref("extensions.blocklist.enabled", false);
user_pref("media.gmp-manager.updateEnabled", false);
user_pref("media.gmp-gmpopenh264.enabled", false);
user_pref("browser.search.geoip.url", "");
user_pref("browser.safebrowsing.provider.mozilla.updateURL", "");
user_pref("browser.ping-centre.telemetry", false);
user_pref("extensions.pocket.enabled", false);
user_pref("browser.translations.automaticallyPopup", false);
user_pref("privacy.trackingprotection.enabled", false);
EOF
# The profile of the first four runs: our module added with modutil before Firefox starts.
P=$WORK/profile
new_profile "$P" || exit 1
check_grep "modutil -add: our module as a security device of the profile" "added to database" \
	modutil -dbdir "sql:$P" -add schsm -libfile "$MODULE" -force || exit 1

# --- the HTTPS server that requires a client certificate -------------------------------------
SRV_LOG=$d/server.log
timeout --kill-after=5 600 python3 "$CONSUMERS/tls_client_auth_server.py" "$d/server.crt" "$d/server.key" \
	"$d/ca.crt" "$d/server.port" >"$SRV_LOG" 2>&1 &
SRV_PID=$!
FF_PID=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	# `timeout` runs Firefox in its own process group and passes the signal to all of it.
	stop_pid "$FF_PID"
	stop_pid "$SRV_PID"
	dev_stop
}
trap cleanup EXIT
if ! wait_for "$SRV_LOG" '^listening on'; then
	OUT=$SRV_LOG
	not_ok "the HTTPS server starts" && exit 1
fi
PORT=$(cat "$d/server.port")
URL="https://localhost:$PORT/"
echo "# server at $URL"

# firefox_run NAME PROFILE DRIVER-ARGS...: Firefox on PROFILE (the module's environment exported
# above), driven to URL; the driver's lines in $d/NAME.driver (also $OUT), the page in
# $d/NAME.html, Firefox's own output in $d/NAME.firefox.log; the server's log lines of this run in
# $d/NAME.server. Fails when Firefox or the driver did not finish in time.
firefox_run() {
	local name=$1 profile=$2 rc=0 lines STEP_TIMEOUT=$FIREFOX_TIMEOUT
	shift 2
	lines=$(wc -l <"$SRV_LOG")
	rm -f "$profile/MarionetteActivePort"
	HOME=$WORK/ffhome XDG_CONFIG_HOME=$WORK/ffhome/.config XDG_CACHE_HOME=$WORK/ffhome/.cache \
		XDG_DATA_HOME=$WORK/ffhome/.local/share TMPDIR=$WORK/fftmp MOZ_CRASHREPORTER_DISABLE=1 \
		timeout --kill-after=10 "$FIREFOX_TIMEOUT" firefox-esr --headless --marionette \
		--remote-allow-system-access --no-remote --profile "$profile" about:blank >"$d/$name.firefox.log" 2>&1 &
	FF_PID=$!
	step python3 "$CONSUMERS/firefox_marionette.py" "$profile" "$URL" "$d/$name.html" "$@" \
		--wait "$((FIREFOX_TIMEOUT - 20))" || rc=$?
	cp "$OUT" "$d/$name.driver"
	if [ $rc != 0 ] && grep -q "did not start Marionette" "$d/$name.driver"; then
		# Firefox itself does not start here: every further run would wait in vain.
		OUT=$d/$name.firefox.log
		not_ok "$name: Firefox starts (headless, Marionette) within $((FIREFOX_TIMEOUT - 20)) s" && exit 1
	fi
	# Marionette:Quit ends Firefox; a bounded wait, then the process group goes.
	for _ in $(seq 1 100); do
		kill -0 "$FF_PID" 2>/dev/null || break
		sleep 0.2
	done
	stop_pid "$FF_PID"
	FF_PID=""
	tail -n +"$((lines + 1))" "$SRV_LOG" >"$d/$name.server"
	OUT=$d/$name.driver
	return $rc
}

# pin_prompts NAME: the driver's answers to the dialogs of run NAME, comma-separated: "pin" or
# "cancel" for a PIN dialog of our token, "other" for any other dialog.
pin_prompts() {
	sed -n 's/^prompt: //p' "$d/$1.driver" |
		sed -E 's/^promptPassword ".*SmartCard-HSM.*" -> (pin|cancel)$/\1/; t; s/.*/other/' | paste -sd, -
}

# signs PREFIX: how many SIGN commands starting with PREFIX (80 68, key, algorithm) the device
# answered with 9000 so far.
signs() {
	apdu_sws pcsc "$1" | grep -c '^9000$' || true
}

# --- negative controls: the PIN dialog cancelled; a wrong PIN ---------------------------------
client_cert ec "/O=schsm tests/CN=Firefox user EC" || exit 1
echo "$WRONG_PIN" >"$d/wrong-pin"
for run in cancel wrong; do
	case $run in
	cancel) args=(--cancel) ;;
	# NSS asks again after CKR_PIN_INCORRECT; the driver cancels the second dialog.
	wrong) args=(--pin-file "$d/wrong-pin") ;;
	esac
	rc=0
	firefox_run $run "$P" "${args[@]}" || rc=$?
	if [ $rc != 0 ]; then
		not_ok "$run: Firefox (fresh profile) starts and Marionette answers" "driver exit status $rc"
		continue
	fi
	ok "$run: Firefox (fresh profile) starts and Marionette answers"
	check_true "$run: Firefox lists our module's token SmartCard-HSM (not logged in)" \
		grep -Eq '^device before: schsm / .* / SmartCard-HSM logged-in=false$' "$d/$run.driver" || :
	case $run in
	cancel) check_true "cancel: Firefox asked for the token's PIN in the handshake; the dialog was cancelled" \
		test "$(pin_prompts cancel)" = cancel || : ;;
	wrong)
		check_true "wrong: Firefox asked for the PIN, got a wrong one, asked again (CKR_PIN_INCORRECT), cancelled" \
			test "$(pin_prompts wrong)" = pin,cancel || :
		check_true "wrong: the card refused the PIN (VERIFY answered 63C2: two tries left)" \
			eval 'apdu_sws pcsc 00200081 | grep -qx 63C2' || :
		;;
	esac
	check_true "$run: Firefox shows its error page for a failed TLS handshake (nssFailure2) instead of the page" \
		grep -q "^page: about:neterror?e=nssFailure2&u=https%3A//localhost%3A$PORT/" "$d/$run.driver" || :
	check_true "$run: the server saw no client certificate and refused the handshake" \
		eval 'grep -q "^handshake failed" "$d/$run.server" && ! grep -q "^handshake ok" "$d/$run.server"' || :
	check_true "$run: the token is still logged out" \
		grep -Eq '^device after: schsm / .* / SmartCard-HSM logged-in=false$' "$d/$run.driver" || :
	check_true "$run: the device signed nothing (no SIGN command in its APDU log)" \
		test -z "$(apdu_sws pcsc 8068)" || :
done

# --- EC, then RSA: the PIN typed into Firefox's dialog ---------------------------------------
for k in ec rsa; do
	case $k in
	# The SIGN command (80 68, P1 = key, P2 = algorithm) the card must have answered with 9000:
	# 70 = ECDSA over a hash, 40 = RSA-PSS over a hash (TLS 1.3 allows no PKCS#1 v1.5 here).
	ec) subject="CN=Firefox user EC,O=schsm tests" sign=80680170 sig="ECDSA" ;;
	rsa)
		subject="CN=Firefox user RSA,O=schsm tests" sign=80680240 sig="RSA-PSS"
		# One client certificate on the token at a time: "Select Automatically" takes the first.
		mcheck "rsa: the EC certificate removed from the token" --login --pin "$PIN" --delete-object --type cert \
			--id 01 || continue
		client_cert rsa "/O=schsm tests/CN=Firefox user RSA" || continue
		;;
	esac
	rc=0
	before=$(signs "$sign")
	firefox_run "$k" "$P" --pin-file "$d/pin" || rc=$?
	if [ $rc != 0 ]; then
		not_ok "$k: Firefox starts and Marionette answers" "driver exit status $rc"
		continue
	fi
	ok "$k: Firefox starts and Marionette answers"
	check_true "$k: Firefox asked for the PIN of SmartCard-HSM once and got it" test "$(pin_prompts "$k")" = pin || :
	check_true "$k: the page loaded" grep -qFx "page: $URL" "$d/$k.driver" || :
	check_true "$k: the server verified the client certificate over TLS 1.3 and logged its subject ($subject)" \
		grep -Eq "^handshake ok: TLSv1\.3 .*; client subject: $subject\$" "$d/$k.server" || :
	check_true "$k: the page Firefox loaded shows that subject" \
		grep -Fq "client subject: $subject</p>" "$d/$k.html" || :
	check_true "$k: the token is logged in after the handshake" \
		grep -Eq '^device after: schsm / .* / SmartCard-HSM logged-in=true$' "$d/$k.driver" || :
	check_true "$k: the device made the handshake's $sig signature (SIGN ${sign:4:2} ${sign:6:2} answered 9000)" \
		test "$(signs "$sign")" -gt "$before" || :
done

# --- the module loaded by Firefox itself, into another fresh profile ------------------------
# What the OK button of Settings > Privacy & Security > Manage security devices > Load does
# (nsIPKCS11ModuleDB.addModule), in the running Firefox; the RSA certificate is on the token.
P2=$WORK/profile-load
if new_profile "$P2"; then
	rc=0
	before=$(signs 80680240)
	firefox_run load "$P2" --add-module "schsm=$MODULE" --pin-file "$d/pin" || rc=$?
	if [ $rc = 0 ]; then
		ok "load: Firefox starts and Marionette answers"
		check_true "load: Firefox loads our module (addModule) and lists its token SmartCard-HSM" \
			eval 'grep -qx "add-module: ok" "$d/load.driver" &&
				grep -Eq "^device before: schsm / .* / SmartCard-HSM logged-in=false$" "$d/load.driver"' || :
		check_true "load: Firefox wrote the module into the profile (pkcs11.txt)" \
			grep -qxF "library=$MODULE" "$P2/pkcs11.txt" || :
		check_true "load: Firefox asked for the PIN of SmartCard-HSM once and got it" test "$(pin_prompts load)" = pin || :
		check_true "load: the server verified the RSA client certificate over TLS 1.3" \
			grep -Eq '^handshake ok: TLSv1\.3 .*; client subject: CN=Firefox user RSA,O=schsm tests$' "$d/load.server" || :
		check_true "load: the page Firefox loaded shows that subject" \
			grep -Fq "client subject: CN=Firefox user RSA,O=schsm tests</p>" "$d/load.html" || :
		check_true "load: the device made the handshake's RSA-PSS signature (SIGN 02 40 answered 9000)" \
			test "$(signs 80680240)" -gt "$before" || :
	else
		not_ok "load: Firefox starts and Marionette answers" "driver exit status $rc"
	fi
fi
finish
