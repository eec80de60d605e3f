# Makefile for the invoice extension (PGXS)

EXTENSION   = invoice
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" invoice.control)

MODULE_big  = invoice
OBJS        = $(patsubst %.c,%.o,$(wildcard src/*.c))
DATA        = $(wildcard extension/invoice--*.sql)

# pg_regress suites: every sql/*.sql, in alphabetical order, but audit
# last: it writes many rows, and the other files print ids from sequences;
# the operations suites, which print no ids, come after it
LATE_REGRESS = audit branches maintenance
ALL_REGRESS  = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS      = $(filter-out $(LATE_REGRESS),$(ALL_REGRESS)) \
			   $(foreach t,$(LATE_REGRESS),$(filter $(t),$(ALL_REGRESS)))
REGRESS_OPTS = --load-extension=plpgsql

# isolation specs live under test/isolation
ISOLATION      = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=test/isolation

PG_CPPFLAGS = -I$(srcdir)/src -DINVOICE_VERSION=\"$(EXTVERSION)\"
# SHA-256 of the audit chain comes straight from OpenSSL (src/audit_chain.c)
SHLIB_LINK  = -lcrypto
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

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
