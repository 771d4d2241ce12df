#!/usr/bin/env bash
# `make install DESTDIR=...` (PREFIX=/usr/local and PREFIX=/usr) puts the module into the
# multiarch PKCS#11 directory, the p11-kit module file (pointing at that path) where p11-kit
# reads it, the header, schsm-tool, schsm-sim and the docs; `make uninstall` removes them again.
# The installed module loads and shows a simulated token.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=../lib/module.sh
. "$(dirname "$0")/../lib/module.sh"
# shellcheck source=../consumers/lib.sh
. "$(dirname "$0")/../consumers/lib.sh"
module_require
consumer_require make

MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
check_true "the multiarch triplet is known ($MA)" test -n "$MA" || exit 1

# installed_files ROOT PREFIX MODDIR: every file make install must create.
installed_files() {
	echo "$1$2/lib/$MA/pkcs11/libschsm_pkcs11.so"
	echo "$1$3/schsm.module"
	echo "$1$2/include/schsm-pkcs11.h"
	echo "$1$2/bin/schsm-tool"
	echo "$1$2/bin/schsm-sim"
	echo "$1$2/share/doc/schsm-pkcs11/README.md"
	echo "$1$2/share/doc/schsm-pkcs11/consumers.md"
}

for layout in /usr/local:/etc/pkcs11/modules /usr:/usr/share/p11-kit/modules; do
	prefix=${layout%%:*} moddir=${layout#*:}
	root="$WORK/root$(echo "$prefix" | tr / _)"
	check "make install DESTDIR=... PREFIX=$prefix" make -C "$REPO_ROOT" install DESTDIR="$root" PREFIX="$prefix" || continue
	missing=0
	while read -r f; do
		[ -f "$f" ] || { missing=$((missing + 1)) && echo "#   missing: $f"; }
	done < <(installed_files "$root" "$prefix" "$moddir")
	check_true "PREFIX=$prefix: module, p11-kit module file, header, tools and docs are installed" test $missing = 0 || :
	check_true "PREFIX=$prefix: the tools are executable" test -x "$root$prefix/bin/schsm-tool" -a -x "$root$prefix/bin/schsm-sim" || :
	check_grep "PREFIX=$prefix: the module file names the installed module" \
		"^module: $prefix/lib/$MA/pkcs11/libschsm_pkcs11.so\$" cat "$root$moddir/schsm.module" || :
	check_true "PREFIX=$prefix: the installed module is the built one" \
		cmp -s "$MODULE" "$root$prefix/lib/$MA/pkcs11/libschsm_pkcs11.so" || :
	check_true "PREFIX=$prefix: nothing outside DESTDIR's prefix and p11-kit folder" \
		test "$(cd "$root" && find . -type f | grep -Evc "^\.($prefix|$moddir)/")" = 0 || :
	check "make uninstall DESTDIR=... PREFIX=$prefix" make -C "$REPO_ROOT" uninstall DESTDIR="$root" PREFIX="$prefix" || continue
	check_true "PREFIX=$prefix: uninstall leaves no file" test "$(find "$root" -type f | wc -l)" = 0 || :
done

# The Debian package (make deb: dpkg-deb over the PREFIX=/usr install; not installed on this
# machine, unpacked instead).
if command -v dpkg-deb >/dev/null; then
	if check "make deb builds the package" make -C "$REPO_ROOT" deb; then
		deb=$(sed -n "s/^dpkg-deb: building package 'schsm-pkcs11' in '\(.*\)'\.$/\1/p" "$OUT")
		deb="$REPO_ROOT/$deb"
		check_grep "the package's control names it, its version and its PC/SC dependency" \
			"Depends: .*libpcsclite1" dpkg-deb -I "$deb" || :
		step dpkg-deb -x "$deb" "$WORK/deb" || :
		missing=0
		while read -r f; do
			[ -f "$f" ] || { missing=$((missing + 1)) && echo "#   missing in the .deb: ${f#"$WORK"/deb}"; }
		done < <(installed_files "$WORK/deb" /usr /usr/share/p11-kit/modules)
		check_true "the .deb holds module, p11-kit module file, header, tools and docs" test $missing = 0 || :
		check_grep "... its module file names /usr/lib/$MA/pkcs11/libschsm_pkcs11.so" \
			"^module: /usr/lib/$MA/pkcs11/libschsm_pkcs11.so\$" cat "$WORK/deb/usr/share/p11-kit/modules/schsm.module" || :
		check_grep "... files owned by root" "root/root .*libschsm_pkcs11.so" dpkg-deb -c "$deb" || :
	fi
fi

# The installed module works: pkcs11-tool loads it from its installed place.
root="$WORK/root-run"
step make -C "$REPO_ROOT" install DESTDIR="$root" PREFIX=/usr/local || :
dev_new dev --firmware 3.5 --serial DENK0150000 --init --so-pin "$SO_PIN" --pin "$PIN" ||
	{ not_ok "create device" && exit 1; }
module_use_sim "$(dev_dir dev)"
MODULE="$root/usr/local/lib/$MA/pkcs11/libschsm_pkcs11.so"
mcheck_grep "the installed module shows the simulated token" "serial num *: *DENK0150000" -L || :
finish
