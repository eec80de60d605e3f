/*-------------------------------------------------------------------------
 *
 * payment_methods.c
 *	  The accepted payment methods and their labels, in one place.
 *
 * The CHECK constraint payments_method_check reads the list through the
 * SQL function invoice.payment_methods(), record_payment() validates
 * against it and the documents print its labels, so adding a method is a
 * change here (and a release, since the CHECK is re-evaluated only for new
 * rows).  The list is constant: the function is IMMUTABLE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "payment_methods.h"

PG_FUNCTION_INFO_V1(invoice_payment_methods);
PG_FUNCTION_INFO_V1(invoice_payment_method_labels);

/* each method as stored in payments.method, and as printed */
static const struct
{
	const char *name;
	const char *label;
}			methods[] = {
	{"cash", "Efectivo"},
	{"card", "Tarjeta"},
	{"transfer", "Transferencia"},
	{"nequi", "Nequi"},
	{"daviplata", "Daviplata"},
	{"check", "Cheque"},
	{"other", "Otro"},
};

bool
payment_method_known(const char *method)
{
	int			i;

	for (i = 0; i < lengthof(methods); i++)
		if (strcmp(method, methods[i].name) == 0)
			return true;
	return false;
}

/*
 * payment_method_list
 *		"cash, card, ...": the list for error messages, built once.
 */
const char *
payment_method_list(void)
{
	static char list[128];

	if (list[0] == '\0')
	{
		int			i;

		for (i = 0; i < lengthof(methods); i++)
		{
			if (i > 0)
				strlcat(list, ", ", sizeof(list));
			strlcat(list, methods[i].name, sizeof(list));
		}
	}
	return list;
}

const char *
payment_method_label(const char *method)
{
	int			i;

	for (i = 0; i < lengthof(methods); i++)
		if (strcmp(method, methods[i].name) == 0)
			return methods[i].label;
	return method;
}

/*
 * method_array
 *		The names (or the labels) of every method, in the list's order.
 */
static ArrayType *
method_array(bool labels)
{
	Datum		elems[lengthof(methods)];
	int			i;

	for (i = 0; i < lengthof(methods); i++)
		elems[i] = CStringGetTextDatum(labels ? methods[i].label : methods[i].name);
	return construct_array(elems, lengthof(methods), TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * invoice_payment_methods
 *		invoice.payment_methods() RETURNS text[]: the list, for the CHECK
 *		constraint on payments.method.
 */
Datum
invoice_payment_methods(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(method_array(false));
}

/*
 * invoice_payment_method_labels
 *		invoice.payment_method_labels() RETURNS text[]: the labels, in the
 *		order of payment_methods(), for the clients that speak to people
 *		(the Telegram conversation takes "efectivo" for cash).
 */
Datum
invoice_payment_method_labels(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(method_array(true));
}
