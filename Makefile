# Build and install schsm-pkcs11 like a distribution package would lay it out.
#
#   make                      cargo build --release (module, schsm-tool, schsm-sim)
#   make install              into PREFIX (default /usr/local); DESTDIR=/tmp/root for staging
#   make uninstall            removes exactly what install put there
#   make deb                  target/debian/schsm-pkcs11_<version>_<arch>.deb (PREFIX=/usr layout,
#                             dpkg-deb only: no cargo-deb, nothing fetched)
#
# Layout (PREFIX=/usr/local, x86_64):
#   $(PREFIX)/lib/x86_64-linux-gnu/pkcs11/libschsm_pkcs11.so   the module. Debian keeps PKCS#11
#       modules in <libdir>/<multiarch>/pkcs11/ (opensc-pkcs11, p11-kit-client), and ssh-agent's
#       default allow-list (/usr/lib*/*, /usr/local/lib*/*) accepts it without -P.
#   $(P11KIT_MODULES)/schsm.module   p11-kit module file: p11-kit, GnuTLS, NSS through p11-kit-proxy
#       and every p11-kit-aware program see the token. p11-kit reads /usr/share/p11-kit/modules
#       (packages) and /etc/pkcs11/modules (the administrator), never /usr/local, so a /usr/local
#       install writes its file to /etc/pkcs11/modules.
#   $(PREFIX)/include/schsm-pkcs11.h, $(PREFIX)/bin/schsm-tool, $(PREFIX)/bin/schsm-sim,
#   $(PREFIX)/share/doc/schsm-pkcs11/
PREFIX ?= /usr/local
DESTDIR ?=
CARGO ?= cargo
# The multiarch triplet (x86_64-linux-gnu); dpkg-architecture needs dpkg-dev, gcc is a build need anyway.
MULTIARCH ?= $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null)
LIBDIR ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))
PKCS11DIR ?= $(LIBDIR)/pkcs11
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
DOCDIR ?= $(PREFIX)/share/doc/schsm-pkcs11
ifeq ($(PREFIX),/usr)
P11KIT_MODULES ?= /usr/share/p11-kit/modules
else
P11KIT_MODULES ?= /etc/pkcs11/modules
endif

TARGET ?= target/release
MODULE = $(TARGET)/libschsm_pkcs11.so
TOOLS = $(TARGET)/schsm-tool $(TARGET)/schsm-sim
DOCS = README.md docs/consumers.md docs/schsm-tool.md docs/benchmarks.md

VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB = target/debian/schsm-pkcs11_$(VERSION)_$(DEB_ARCH).deb

.PHONY: all build install uninstall check deb
all: build

build:
	$(CARGO) build --release --workspace

# Built on demand, so `sudo make install` after `make` does not run cargo as root.
$(MODULE) $(TOOLS):
	$(CARGO) build --release --workspace

install: $(MODULE) $(TOOLS)
	install -d $(DESTDIR)$(PKCS11DIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(P11KIT_MODULES)
	install -m 0644 $(MODULE) $(DESTDIR)$(PKCS11DIR)/libschsm_pkcs11.so
	install -m 0755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	install -m 0644 include/schsm-pkcs11.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	sed 's|@PKCS11DIR@|$(PKCS11DIR)|' packaging/schsm.module.in >$(DESTDIR)$(P11KIT_MODULES)/schsm.module
	chmod 0644 $(DESTDIR)$(P11KIT_MODULES)/schsm.module

# uninstall also removes the folders install made, when nothing else is in them (rmdir leaves
# a non-empty one alone).
uninstall:
	rm -f $(DESTDIR)$(PKCS11DIR)/libschsm_pkcs11.so $(DESTDIR)$(BINDIR)/schsm-tool \
		$(DESTDIR)$(BINDIR)/schsm-sim $(DESTDIR)$(INCLUDEDIR)/schsm-pkcs11.h \
		$(DESTDIR)$(P11KIT_MODULES)/schsm.module
	rm -rf $(DESTDIR)$(DOCDIR)
	rmdir $(DESTDIR)$(PKCS11DIR) $(DESTDIR)$(P11KIT_MODULES) 2>/dev/null || true
	rmdir $(if $(MULTIARCH),$(DESTDIR)$(LIBDIR)) $(DESTDIR)$(dir $(P11KIT_MODULES)) \
		$(DESTDIR)$(PREFIX)/share/doc 2>/dev/null || true

deb: $(MODULE) $(TOOLS)
	rm -rf target/debian/root
	$(MAKE) install DESTDIR=$(CURDIR)/target/debian/root PREFIX=/usr
	install -d target/debian/root/DEBIAN
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' \
		-e "s|@SIZE@|$$(du -sk --exclude=DEBIAN target/debian/root | cut -f1)|" \
		packaging/deb-control.in >target/debian/root/DEBIAN/control
	dpkg-deb --root-owner-group --build target/debian/root $(DEB)

# The black-box consumer tests (OpenSSL, p11-kit/GnuTLS, OpenSSH, NSS, Java) over in-process devices.
check: build
	pkcs11-tests/run consumer
