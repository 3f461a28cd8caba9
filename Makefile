# ethox-uk: `make demo` and `make test`, as root, on a fresh Debian (bookworm) machine.
# Everything a target needs it installs itself (DESIGN §5), so CI (.ci/run -> make test)
# works on a new machine as well as on one left over from an earlier run.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_BIN := $(VENV)/bin
# Touched after a successful `pip install -e '.[test]'`: reinstall only when pyproject.toml
# is newer (dependencies changed); editable mode picks up code changes by itself.
VENV_STAMP := $(VENV)/.ethox-uk-installed

# DESIGN §5's list, plus python3-venv (Debian's python3 cannot create a venv without it),
# gdb (tests/image/test_gdb.py drives a real gdb session against the --gdb stub),
# dnsmasq-base (the DHCP and DNS server of the DHCP/DNS tests), iputils-ping, radvd and
# ndisc6 (the IPv6 tests' Linux peers: ping -6, a router advertising the SLAAC prefix,
# ndisc6/rdisc6).
DEBIAN_PACKAGES := qemu-system-x86 qemu-utils gcc make musl-dev libffi-dev pkg-config \
	xz-utils iproute2 tcpdump curl netcat-openbsd iperf3 python3 python3-venv gdb \
	dnsmasq-base iputils-ping radvd ndisc6

PYTEST_FLAGS ?= -p no:cacheprovider --durations=25

.PHONY: help deps debian-packages venv toolchain test soak demo bench clean distclean

help:
	@echo "make demo       build and run the demo (installs what it needs)"
	@echo "make test       install deps, build the MicroPython toolchain, run every test"
	@echo "make deps       Debian packages (when missing) and the .venv"
	@echo "make toolchain  fetch the pinned MicroPython source, build mpy-cross + unix port"
	@echo "make soak       the soak and flood tests at full scale (tests/soak; make test runs them small)"
	@echo "make bench      benchmark the echo recipe in host mode"
	@echo "make clean      remove build outputs (distclean: the .venv too)"

deps: debian-packages venv

# Ask dpkg first: apt-get update is slow and needs the network, so run it (and install)
# only when some package is actually missing.
debian-packages:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -qx 'install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q; \
		apt-get install -y -q $$missing; \
	fi

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml | debian-packages
	[ -x $(VENV_BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(VENV_BIN)/pip install -q -e '.[test]'
	touch $@

# Builds only when the stamp beside a binary is missing or stale (ethox_uk/build/toolchain.py);
# otherwise this prints the unix binary's path in a fraction of a second.
toolchain: deps
	$(VENV_BIN)/python -m ethox_uk.build.toolchain

# pytest's own exit status is make's: a failure or "no tests ran" (exit 5) fails `make test`.
# --durations: the slowest tests are listed at the end, so a run that creeps past its
# 20-minute aim shows where the time went.
# Nothing may pipe or `|| true` this line.
test: deps toolchain
	$(VENV_BIN)/pytest $(PYTEST_FLAGS) tests

# tests/soak at the scale of the hostile-peers issue (a million mutated frames, 64 MiB each
# way over a faulty link, ...): bounded, minutes rather than the seconds `make test` gives them
soak: deps toolchain
	ETHOX_UK_SOAK=1 $(VENV_BIN)/pytest $(PYTEST_FLAGS) -s tests/soak

demo: deps
	$(VENV_BIN)/ethox-uk demo

bench: deps
	$(VENV_BIN)/ethox-uk bench --host images/echo

# Build outputs of this tree only; the MicroPython source and its builds live in the cache
# ($$ETHOX_UK_CACHE, default ~/.cache/ethox-uk) and are shared between checkouts.
clean:
	rm -rf build .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
