#!/usr/bin/env bash
# Our module (libschsm_pkcs11.so) under pkcs11-tool, over an in-process simulated device
# (SCHSM_SIM, SCHSM_PCSC=0): -I -L -T -M -O, key generation (EC P-256, P-384, secp256k1, RSA 2048),
# ECDSA / ECDSA-SHA256 / RSA-PKCS / SHA256-RSA-PKCS / RSA-PSS signatures verified by the module and
# by openssl with the exported public keys, and pkcs11-tool's --test, --test-ec and --test-fork.
# Every pkcs11-tool call must exit 0 and print no "error"/"failed" line.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

SERIAL=DENK0100010
dev_new sim --firmware 3.5 --serial "$SERIAL" --init --so-pin "$SO_PIN" --pin "$PIN" ||
	{ not_ok "create device sim" && exit 1; }
module_use_sim "$(dev_dir sim)"
module_pkcs11_tool_suite sim "$SERIAL"
finish
