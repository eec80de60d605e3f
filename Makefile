# Makefile for the invoice extension (PGXS)

EXTENSION   = invoice
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" invoice.control)

MODULE_big  = invoice
OBJS        = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA        = $(wildcard extension/invoice--*.sql)

# pg_regress suites: every sql/*.sql, in alphabetical order, but audit
# last: it writes many rows, and the other files print ids from sequences
REGRESS      = $(filter-out audit,$(sort $(basename $(notdir $(wildcard sql/*.sql))))) audit
REGRESS_OPTS = --load-extension=plpgsql

# isolation specs live under test/isolation
ISOLATION      = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation

PG_CPPFLAGS = -I$(srcdir)/src -DINVOICE_VERSION=\"$(EXTVERSION)\"
# SHA-256 of the audit chain comes straight from OpenSSL (src/audit_chain.c)
SHLIB_LINK  = -lcrypto
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# the bridge (src/bridge/): a program of its own, not part of invoice.so;
# PGXS's MODULE_big owns OBJS, so it has explicit rules below
BRIDGE        = src/bridge/invoice-bridge
BRIDGE_OBJS   = $(patsubst %.c,%.o,$(wildcard src/bridge/*.c))
EXTRA_CLEAN   = $(BRIDGE) $(BRIDGE_OBJS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

BRIDGE_CFLAGS = -O2 -g -std=gnu11 -pthread -Wall -Wextra -Werror -Wno-unused-parameter \
	-I$(shell $(PG_CONFIG) --includedir)
BRIDGE_LIBS   = -pthread -lcurl -lmicrohttpd -L$(shell $(PG_CONFIG) --libdir) -lpq

all: $(BRIDGE)
$(BRIDGE): $(BRIDGE_OBJS)
	$(CC) -o $@ $(BRIDGE_OBJS) $(BRIDGE_LIBS)
src/bridge/%.o: src/bridge/%.c src/bridge/bridge.h
	$(CC) $(BRIDGE_CFLAGS) -c -o $@ $<

.PHONY: install-bridge
install: install-bridge
install-bridge: $(BRIDGE)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(BRIDGE) '$(DESTDIR)$(bindir)/invoice-bridge'

.PHONY: test run
# The two README commands, for people who prefer make.
test:
	./scripts/test
run:
	./scripts/run

# static analysis; scripts/test runs it before the suites
.PHONY: cppcheck
cppcheck:
	cppcheck --enable=warning,style,performance,portability --std=c99 --quiet \
		--error-exitcode=1 --inline-suppr --suppress=missingIncludeSystem --suppress=toomanyconfigs \
		--suppress='*:$(shell $(PG_CONFIG) --includedir-server)/*' \
		-I$(shell $(PG_CONFIG) --includedir-server) -Isrc src/*.c
