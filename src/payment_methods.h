/*-------------------------------------------------------------------------
 *
 * payment_methods.h
 *	  The accepted payment methods: one list, read by the SQL CHECK on
 *	  invoice.payments (through invoice.payment_methods()), by
 *	  record_payment() and by the documents' labels.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_PAYMENT_METHODS_H
#define INVOICE_PAYMENT_METHODS_H

/* is `method` one of the accepted payment methods? */
extern bool payment_method_known(const char *method);

/* the accepted methods as "cash, card, ...", for messages */
extern const char *payment_method_list(void);

/* the Spanish label of a method for the documents; unknown ones as given */
extern const char *payment_method_label(const char *method);

#endif							/* INVOICE_PAYMENT_METHODS_H */
