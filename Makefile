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

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

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
