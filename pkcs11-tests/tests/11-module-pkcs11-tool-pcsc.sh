#!/usr/bin/env bash
# Our module (libschsm_pkcs11.so) under pkcs11-tool, over the simulator behind pcscd + vpcd
# (schsm-sim serve; the module sees only the reader under test): the same checks as
# 10-module-pkcs11-tool-sim, through the real PC/SC stack.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
module_require

SERIAL=DENK0100011
dev_start pcsc --firmware 3.5 --serial "$SERIAL" --init --so-pin "$SO_PIN" --pin "$PIN" || exit 1
module_use_pcsc || exit 1
module_pkcs11_tool_suite pcsc "$SERIAL"
finish
