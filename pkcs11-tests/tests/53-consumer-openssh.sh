#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted bash -c / eval scripts get their values as $1... or at run time
# OpenSSH: `ssh-keygen -D` lists the token's EC and RSA public keys; an ssh-agent (-P allowing
# our module's path) loads the token with `ssh-add -s` (PIN from an SSH_ASKPASS script), lists
# both keys, and signs through the token: `ssh-keygen -Y sign` with each key and
# `ssh-keygen -Y verify` against an allowed-signers file; `ssh-add -e` removes the keys again.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require ssh-keygen ssh-agent ssh-add
consumer_device DENK0153000
d=$WORK/files
mkdir -p "$d"

if check "ssh-keygen -D lists the token's public keys" ssh-keygen -D "$MODULE"; then
	grep '^ecdsa-sha2-nistp256 .* ec$' "$OUT" >"$d/ec.pub" || :
	grep '^ssh-rsa .* rsa$' "$OUT" >"$d/rsa.pub" || :
	check_true "... the P-256 key (comment = label ec)" test -s "$d/ec.pub" || :
	check_true "... the RSA key (comment = label rsa)" test -s "$d/rsa.pub" || :
fi

# The agent, with our module allowed wherever it was built.
AGENT_PID=""
# shellcheck disable=SC2317 # called by the EXIT trap
end_agent() {
	stop_pid "$AGENT_PID"
	dev_stop
}
trap end_agent EXIT
export SSH_AUTH_SOCK="$WORK/agent.sock"
ssh-agent -D -a "$SSH_AUTH_SOCK" -P "$MODULE" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
wait_for_socket() { for _ in $(seq 1 100); do [ -S "$SSH_AUTH_SOCK" ] && return 0; sleep 0.1; done; return 1; }
check_true "ssh-agent -P <module path> starts" wait_for_socket || exit 1

printf '#!/bin/sh\necho %s\n' "$PIN" >"$d/askpass"
chmod 700 "$d/askpass"
check_grep "ssh-add -s loads the token into the agent (PIN through SSH_ASKPASS)" "Card added" \
	env SSH_ASKPASS="$d/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh-add -s "$MODULE" || :
if check "ssh-add -L" ssh-add -L; then
	check_true "... the agent holds the token's P-256 key" grep -qF "$(cut -d' ' -f2 "$d/ec.pub")" "$OUT" || :
	check_true "... and its RSA key" grep -qF "$(cut -d' ' -f2 "$d/rsa.pub")" "$OUT" || :
fi

echo "a file signed through ssh-agent and the token" >"$d/data"
for k in ec rsa; do
	[ -s "$d/$k.pub" ] || continue
	cp "$d/data" "$d/data.$k"
	check "ssh-keygen -Y sign with the $k key through the agent" \
		ssh-keygen -Y sign -f "$d/$k.pub" -n file "$d/data.$k" </dev/null || continue
	printf 'tester@example.org %s\n' "$(cut -d' ' -f1,2 "$d/$k.pub")" >"$d/allowed.$k"
	check_grep "ssh-keygen -Y verify accepts the $k signature" "Good \"file\" signature for tester@example.org" \
		bash -c 'ssh-keygen -Y verify -f "$1" -I tester@example.org -n file -s "$2" <"$3"' _ \
		"$d/allowed.$k" "$d/data.$k.sig" "$d/data" || :
	check_fails "ssh-keygen -Y verify rejects the $k signature for other data" \
		bash -c 'ssh-keygen -Y verify -f "$1" -I tester@example.org -n file -s "$2" <"$3" || exit 1' _ \
		"$d/allowed.$k" "$d/data.$k.sig" "$d/askpass" || : # (ssh-keygen fails with 255: made 1 for check_fails)
done
check "ssh-add -e removes the token's keys" ssh-add -e "$MODULE" || :
check_grep "... the agent holds no key then" "no identities" bash -c 'ssh-add -l || :' || :
finish
