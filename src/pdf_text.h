/*-------------------------------------------------------------------------
 *
 * pdf_text.h
 *	  Text for the PDF export: UTF-8 to WinAnsiEncoding (cp1252), the
 *	  widths of Helvetica and Helvetica-Bold, and line wrapping.
 *
 * Lengths are in thousandths of a point ("mpt") throughout, so that the
 * layout is integer arithmetic and the same on every machine.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INVOICE_PDF_TEXT_H
#define INVOICE_PDF_TEXT_H

#include "postgres.h"

/* the two fonts of the PDF: /F1 and /F2 of its resources */
typedef enum PdfFont
{
	PDF_REGULAR = 0,			/* Helvetica */
	PDF_BOLD = 1				/* Helvetica-Bold */
} PdfFont;

/* one line of wrapped text: `len` bytes from `start` */
typedef struct PdfSpan
{
	int			start;
	int			len;
} PdfSpan;

/*
 * pdf_winansi: UTF-8 text as a palloc'd, NUL-terminated
 * WinAnsi string.  Line breaks (LF, CR LF, CR, U+2028, U+2029) become '\n'
 * and tabs a space; decomposed accents are composed first (NFC); invisible
 * formatting characters (joiners, direction marks, variation selectors)
 * are dropped; every other character that WinAnsi cannot show, control
 * characters included, becomes '?', so that nothing visible disappears.
 */
extern char *pdf_winansi(const char *text);

/* the width of `len` WinAnsi bytes in `font` at `size` (both in mpt) */
extern int32 pdf_text_width(PdfFont font, int32 size, const char *s, int len);

/*
 * pdf_wrap: the lines of WinAnsi text `s` no wider than `width` at `size`:
 * breaks at '\n', then between words, and inside a word that is wider
 * than the line.  Returns the number of lines (at least 1) and a palloc'd
 * array of them in *lines.
 */
extern int	pdf_wrap(PdfFont font, int32 size, int32 width, const char *s,
					 PdfSpan **lines);

#endif							/* INVOICE_PDF_TEXT_H */
