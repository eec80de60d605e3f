/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  What the audit modules share: one audit record and its hash.
 *
 * audit.c builds records in the row trigger and chains them at commit;
 * audit_chain.c encodes and hashes them, verifies and purges the log;
 * audit_admin.c attaches the trigger, manages partitions and reads
 * history.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AUDIT_H
#define AUDIT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* SHA-256 */
#define AUDIT_HASH_LEN 32

/* one row of invoice.audit_log, in memory */
typedef struct AuditRecord
{
	int64		org_id;
	int64		audit_id;		/* given when the record is chained */
	TimestampTz occurred_at;	/* statement start */
	int64		txid;
	const char *db_role;		/* session user */
	const char *db_current_role;	/* acting role when it differs, or NULL */
	int64		app_user_id;	/* 0 when there is no application user */
	const char *table_name;		/* schema-qualified */
	const char *operation;		/* INSERT, UPDATE or DELETE */
	Jsonb	   *row_key;
	Jsonb	   *old_row;		/* NULL for INSERT */
	Jsonb	   *new_row;		/* NULL for DELETE */
	Jsonb	   *changed;		/* UPDATE only */
	uint8		prev_hash[AUDIT_HASH_LEN];
	uint8		row_hash[AUDIT_HASH_LEN];
} AuditRecord;

/* audit_chain.c: row_hash = SHA-256(prev_hash || canonical encoding) */
extern void audit_hash(const AuditRecord *rec, const uint8 *prev, uint8 *out);

/* audit_write.c: chains and writes one tenant's records (SPI connected) */
extern void audit_write_chain(AuditRecord *const *recs, int n);

/* the columns of invoice.audit_log, in table order */
#define Natts_audit_log					15
#define Anum_audit_log_org_id			1
#define Anum_audit_log_audit_id			2
#define Anum_audit_log_occurred_at		3
#define Anum_audit_log_txid				4
#define Anum_audit_log_db_role			5
#define Anum_audit_log_db_current_role	6
#define Anum_audit_log_app_user_id		7
#define Anum_audit_log_table_name		8
#define Anum_audit_log_operation		9
#define Anum_audit_log_row_key			10
#define Anum_audit_log_old_row			11
#define Anum_audit_log_new_row			12
#define Anum_audit_log_changed			13
#define Anum_audit_log_prev_hash		14
#define Anum_audit_log_row_hash			15

/*
 * audit_admin.c: between audit_maintenance_begin() and _end() the
 * append-only guard lets the extension's own retention and partition
 * routines delete from the log; an error ends it too.
 */
extern void audit_maintenance_begin(void);
extern void audit_maintenance_end(void);

/* drops the partitions of the log that are empty and wholly before `cutoff` */
extern void audit_drop_partitions_before(TimestampTz cutoff);

/* audit_chain.c: maintenance()'s purge, by each tenant's audit_retention_days */
extern int64 audit_purge_retained(void);

extern void audit_init(void);
extern void audit_admin_init(void);

#endif							/* AUDIT_H */
