/*-------------------------------------------------------------------------
 *
 * customers.h
 *	  Identity documents shared with the tenant settings (customers.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_CUSTOMERS_H
#define INVOICE_CUSTOMERS_H

#include "postgres.h"

/* 22023 unless `value` is a NIT "900123456-8" with a valid DIAN check digit */
extern void nit_check(const char *value, const char *field);

/* 22023 unless `email` looks like an e-mail address ("email" in messages) */
extern void check_email(const char *email);

/* 22023 unless `phone` has 7 to 15 digits ("phone" in messages) */
extern void check_phone(const char *phone);

#endif							/* INVOICE_CUSTOMERS_H */
