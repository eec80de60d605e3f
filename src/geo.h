/*-------------------------------------------------------------------------
 *
 * geo.h
 *	  The shops' locations (geo.c), as the lifecycle uses them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_GEO_H
#define INVOICE_GEO_H

/*
 * branch_require: P0002 unless the tenant has the branch; between
 * api_begin and api_end.
 */
extern void branch_require(int64 org_id, int64 branch_id);

#endif							/* INVOICE_GEO_H */
