# shellcheck shell=bash
# shellcheck disable=SC2034 # variables here are used by the scripts that source this file
# Starting and stopping pcscd for the black-box tests.
#
# There is no systemd in CI containers (and none on many developer boxes), so we run
# `pcscd --foreground` ourselves in the background and stop exactly that process at the end.
# `--auto-exit` is no use here: it quits after 60 s of inactivity, possibly between two tests.
# pcscd 1.9.9 always listens on /run/pcscd/pcscd.comm (the daemon ignores PCSCLITE_CSOCK_NAME),
# so there can be only one pcscd per machine: if one runs already we use it and leave it alone.
#
# The vpcd driver (Debian vsmartcard-vpcd, /etc/reader.conf.d/vpcd, CHANNELID 0x8C7B) gives two
# readers: "Virtual PCD 00 00" listening on TCP 35963 and "Virtual PCD 00 01" on 35964
# (on all interfaces). A virtual card (schsm-sim serve) connects to one of these ports.

PCSCD_SOCKET=/run/pcscd/pcscd.comm
PCSCD_STARTED_PID=""

pcscd_is_running() {
	# The daemon writes its pid next to its socket (also in --foreground mode).
	[ -S "$PCSCD_SOCKET" ] && [ -r /run/pcscd/pcscd.pid ] || return 1
	local pid
	pid=$(tr -dc 0-9 </run/pcscd/pcscd.pid)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

pcscd_has_vpcd_reader() {
	timeout 10 opensc-tool -l 2>/dev/null | grep -q 'Virtual PCD'
}

# pcscd_ensure LOGDIR: make sure a pcscd with the vpcd readers is running. Starts one (root only)
# if none runs; logs go to LOGDIR/pcscd.log. Returns non-zero with a message on failure.
pcscd_ensure() {
	local logdir=$1
	if pcscd_is_running; then
		if pcscd_has_vpcd_reader; then
			echo "# pcscd: using the running daemon"
			return 0
		fi
		echo "# pcscd is running but shows no 'Virtual PCD' reader: is vsmartcard-vpcd installed" \
			"(/etc/reader.conf.d/vpcd) and was pcscd started after it?" >&2
		return 1
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "# pcscd is not running and we are not root: start it first" \
			"(e.g. 'sudo pcscd' or 'sudo systemctl start pcscd.socket')" >&2
		return 1
	fi
	if [ ! -e /etc/reader.conf.d/vpcd ]; then
		echo "# /etc/reader.conf.d/vpcd is missing: install vsmartcard-vpcd" >&2
		return 1
	fi
	mkdir -p "$logdir"
	pcscd --foreground --info >"$logdir/pcscd.log" 2>&1 &
	PCSCD_STARTED_PID=$!
	local i
	for i in $(seq 1 100); do
		if ! kill -0 "$PCSCD_STARTED_PID" 2>/dev/null; then
			echo "# pcscd exited at start; its log:" >&2
			sed 's/^/#   /' "$logdir/pcscd.log" >&2
			PCSCD_STARTED_PID=""
			return 1
		fi
		if pcscd_is_running && pcscd_has_vpcd_reader; then
			echo "# pcscd: started (pid $PCSCD_STARTED_PID, log $logdir/pcscd.log)"
			return 0
		fi
		sleep 0.2
	done
	echo "# pcscd did not come up with a vpcd reader within 20 s; its log:" >&2
	sed 's/^/#   /' "$logdir/pcscd.log" >&2
	pcscd_stop
	return 1
}

# pcscd_stop: stop the pcscd this shell started (if any); never touches another one.
pcscd_stop() {
	[ -n "$PCSCD_STARTED_PID" ] || return 0
	local pid=$PCSCD_STARTED_PID
	PCSCD_STARTED_PID=""
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "# pcscd (pid $pid) ignored SIGTERM; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}
