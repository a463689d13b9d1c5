# weft: see README.md. Every target installs what it needs on a fresh Debian machine.
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
CNI_BIN_DIR ?= /opt/cni/bin
LIBDIR := $(PREFIX)/lib/weft

.PHONY: all deps deps-system build test test-unit test-integration demo bench bench-datapath install uninstall clean

# What `make install` copies: built once by `make build`, rebuilt only when a source changed.
PROGRAMS := dist/programs/weftd.cjs dist/programs/weftctl.cjs dist/weft-cni.cjs
SOURCES := $(shell find src -name '*.ts') scripts/bundle.mjs scripts/etcd-grpc-definitions.cjs package-lock.json tsconfig.json

all: build

deps-system:
	@scripts/deps-system.sh

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

build: node_modules/.package-lock.json
	npx tsc -p tsconfig.json
	node scripts/bundle.mjs

$(PROGRAMS) &: $(SOURCES)
	$(MAKE) build

test: deps-system build
	@scripts/run-tests.sh

test-unit: build
	@scripts/run-tests.sh unit

test-integration: deps-system build
	@scripts/run-tests.sh integration

# make demo DUAL_STACK=1: the same overlay with IPv6 too (an IPv6 underlay, EnableIPv6, pods with both addresses).
# make demo WIREGUARD=1: the same overlay over the wireguard backend (wireguard-go per host on this kernel).
demo: deps-system build
	@scripts/demo.sh $(if $(DUAL_STACK),--dual-stack)$(if $(WIREGUARD),--wireguard)

bench: deps-system build
	@scripts/bench.sh
	@scripts/bench-datapath.sh

# The data-path section of make bench alone (iperf3/ping pod to pod, weft vs hand-made VXLAN, DirectRouting and WireGuard; about 3 minutes).
bench-datapath: deps-system build
	@scripts/bench-datapath.sh

# Only what runs: the three bundled programs (etcd's protocol definitions are inside,
# scripts/bundle.mjs), the bin/ symlinks to the programs (as in the repository), the unit, an example env file
# and the docs. No node_modules, no build tools.
install: $(PROGRAMS)
	install -d $(DESTDIR)$(LIBDIR)/programs $(DESTDIR)$(LIBDIR)/bin $(DESTDIR)$(LIBDIR)/docs $(DESTDIR)$(PREFIX)/bin
	install -m 0755 dist/programs/weftd.cjs dist/programs/weftctl.cjs dist/weft-cni.cjs $(DESTDIR)$(LIBDIR)/programs/
	install -m 0644 docs/*.md $(DESTDIR)$(LIBDIR)/docs/
	for p in weftd weftctl; do ln -sf ../programs/$$p.cjs $(DESTDIR)$(LIBDIR)/bin/$$p; done
	ln -sf ../programs/weft-cni.cjs $(DESTDIR)$(LIBDIR)/bin/weft
	ln -sf $(LIBDIR)/bin/weftd $(DESTDIR)$(PREFIX)/bin/weftd
	ln -sf $(LIBDIR)/bin/weftctl $(DESTDIR)$(PREFIX)/bin/weftctl
	# The CNI plugin is one self-contained file (fast start: a process per call).
	install -d $(DESTDIR)$(CNI_BIN_DIR)
	install -m 0755 dist/weft-cni.cjs $(DESTDIR)$(CNI_BIN_DIR)/weft
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/etc/weft
	sed 's#@LIBDIR@#$(LIBDIR)#g' systemd/weftd.service > $(DESTDIR)/etc/systemd/system/weftd.service
	install -m 0644 systemd/weftd.env.example $(DESTDIR)/etc/weft/weftd.env.example
	# The name of weft's route protocol (src/core/kernel-state.ts WEFT_ROUTE_PROTOCOL): `ip route` shows `proto weft`.
	install -d $(DESTDIR)/etc/iproute2/rt_protos.d
	printf '87\tweft\n' > $(DESTDIR)/etc/iproute2/rt_protos.d/weft.conf
	@if [ -n "$(INSTALL_CONFLIST)" ]; then install -d $(DESTDIR)/etc/cni/net.d && install -m 0644 examples/10-weft.conflist $(DESTDIR)/etc/cni/net.d/10-weft.conflist; \
	  else echo "sample CNI config not installed (make install INSTALL_CONFLIST=1 puts examples/10-weft.conflist in /etc/cni/net.d)"; fi
	@du -sh $(DESTDIR)$(LIBDIR) | sed 's#^#installed: #'

uninstall:
	rm -rf $(DESTDIR)$(LIBDIR)
	rm -f $(DESTDIR)$(PREFIX)/bin/weftd $(DESTDIR)$(PREFIX)/bin/weftctl $(DESTDIR)$(CNI_BIN_DIR)/weft
	rm -f $(DESTDIR)/etc/systemd/system/weftd.service $(DESTDIR)/etc/weft/weftd.env.example $(DESTDIR)/etc/iproute2/rt_protos.d/weft.conf
	@echo "left in place: /etc/weft/weftd.env, /etc/cni/net.d/10-weft.conflist, leases in etcd (see docs/operations.md)"

clean:
	rm -rf dist .tap
