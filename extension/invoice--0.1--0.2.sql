/* extension/invoice--0.1--0.2.sql */
\echo Use "ALTER EXTENSION invoice UPDATE TO '0.2'" to load this file. \quit

/*
 * 0.1 -> 0.2.  Every change here is also made in invoice--0.2.sql, and
 * test/upgrade_check.sh checks that both give the same objects.  New
 * columns go at the end of their tables in both scripts, in the same order
 * (the C sources address columns by position).  Sections by topic; keep
 * each change in its own section.
 */

/* ------------------------------------------------------------------------
 * Issued invoices keep the seller and customer they were issued with
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * The shop's identity on the document
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Hardening: qualified operators, bounded text, statistics
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Audit partitions
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Telegram
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Operations
 * ------------------------------------------------------------------------ */


/* ------------------------------------------------------------------------
 * Privileges: last, after every object exists
 * ------------------------------------------------------------------------ */

