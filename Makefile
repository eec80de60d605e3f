# Makefile for the invoice extension (PGXS)

EXTENSION   = invoice
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" invoice.control)

MODULE_big  = invoice
OBJS        = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA        = $(wildcard extension/invoice--*.sql)

# pg_regress suites: every sql/*.sql, in alphabetical order, but the files
# that print no ids last (RUN_LAST, in that order, when they exist): they
# write rows, and the other files print ids from sequences (plan_recovery
# also starts new backends and uses dblink)
RUN_LAST     = audit branches maintenance counter_sale due_dates checks metrics plan_recovery
ALL_REGRESS  = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS      = $(filter-out $(RUN_LAST),$(ALL_REGRESS)) \
			   $(foreach t,$(RUN_LAST),$(filter $(t),$(ALL_REGRESS)))
REGRESS_OPTS = --load-extension=plpgsql

# isolation specs live under test/isolation
ISOLATION      = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation

PG_CPPFLAGS = -I$(srcdir)/src -DINVOICE_VERSION=\"$(EXTVERSION)\"
# SHA-256 of the audit chain comes straight from OpenSSL (src/audit_chain.c)
SHLIB_LINK  = -lcrypto
# Export only what PostgreSQL looks up: the magic block, _PG_init and the
# SQL-callable functions with their pg_finfo_ records.  Every other symbol
# (api_begin, money_add, json_push_key, ...) stays local to invoice.so, so
# it cannot collide with another library loaded in the same backend.
SHLIB_LINK += -Wl,--version-script=invoice.map
EXTRA_CLEAN = invoice.map
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# the bridge (src/bridge/): a program of its own, not part of invoice.so;
# PGXS's MODULE_big owns OBJS, so it has explicit rules below
BRIDGE        = src/bridge/invoice-bridge
BRIDGE_OBJS   = $(patsubst %.c,%.o,$(wildcard src/bridge/*.c))
EXTRA_CLEAN   = $(BRIDGE) $(BRIDGE_OBJS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# relink when the export list changes
invoice$(DLSUFFIX): invoice.map

# the export list, from the pg_finfo_ record of every SQL-callable function
invoice.map: $(OBJS)
	{ echo '{ global: Pg_magic_func; _PG_init;'; \
	  nm -g --defined-only $(OBJS) | \
	    sed -n 's/^[0-9a-f]* T pg_finfo_\(.*\)$$/\1; pg_finfo_\1;/p' | sort -u; \
	  echo 'local: *; };'; } > $@.tmp && mv $@.tmp $@
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

# make dist: the committed tree (HEAD) as invoice-<version>.tar.gz, the
# version read from invoice.control; DIST_DIR says where (default here)
DIST_DIR ?= .
DISTNAME  = $(EXTENSION)-$(EXTVERSION)
.PHONY: dist
dist:
	git archive --format=tar.gz --prefix=$(DISTNAME)/ -o '$(DIST_DIR)/$(DISTNAME).tar.gz' HEAD

.PHONY: test run
# The two README commands, for people who prefer make.
test:
	./scripts/test
run:
	./scripts/run

# static analysis; scripts/test runs it before the suites.  One
# configuration, the one the compiler sees (gcc on this machine's
# architecture, as PGXS builds it): left to itself cppcheck tries every
# combination of the #ifdefs of PostgreSQL's headers for each of our files,
# which took 5 of the test command's 9 minutes on a busy machine for the
# same findings.  PostgreSQL's headers are read for their macros, not
# checked.  (Giving -D without the platform's macros would make every file
# stop at s_lock.h's #error, silently: keep __GNUC__ and the architecture.)
PG_INCLUDEDIR_SERVER = $(shell $(PG_CONFIG) --includedir-server)
CPPCHECK_DEFINES = -D__GNUC__=$(shell $(CC) -dumpversion | cut -d. -f1) -D__$(shell uname -m)__ -D__linux__ \
	-DINVOICE_VERSION=\"$(EXTVERSION)\"
.PHONY: cppcheck
cppcheck:
	cppcheck --enable=warning,style,performance,portability --std=c99 --quiet -j2 \
		--error-exitcode=1 --inline-suppr --suppress=missingIncludeSystem \
		--suppress='*:$(PG_INCLUDEDIR_SERVER)/*' $(CPPCHECK_DEFINES) \
		-I$(PG_INCLUDEDIR_SERVER) -Isrc src/*.c
	cppcheck --enable=warning,style,performance,portability --std=c11 --quiet -j2 \
		--error-exitcode=1 --inline-suppr --suppress=missingIncludeSystem \
		$(CPPCHECK_DEFINES) -I$(shell $(PG_CONFIG) --includedir) -Isrc/bridge src/bridge/*.c
