/*-------------------------------------------------------------------------
 *
 * pdf_text.c
 *	  Text for the PDF export: UTF-8 to WinAnsiEncoding, Helvetica
 *	  metrics, line wrapping.
 *
 * The PDF uses two of the standard 14 fonts, Helvetica and
 * Helvetica-Bold, with /Encoding /WinAnsiEncoding: every reader has them,
 * nothing is embedded, and the text stays extractable.  WinAnsi (Windows
 * code page 1252) covers Spanish completely (á é í ó ú ü ñ ¿ ¡) and the
 * peso sign; any other character is shown as '?' (see pdf_winansi).
 *
 * The widths are those of the Adobe Font Metrics of the two fonts,
 * indexed by WinAnsi code from 0x20; codes WinAnsi leaves undefined are
 * never produced by pdf_winansi.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/unicode_norm.h"
#include "mb/pg_wchar.h"

#include "pdf_text.h"

/* glyph widths in 1/1000 em, WinAnsi codes 0x20..0xFF */
static const uint16 helvetica_widths[224] = {
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,	/* 0x20 */
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,	/* 0x30 */
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,	/* 0x40 */
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,	/* 0x50 */
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,	/* 0x60 */
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,	/* 0x70 */
	556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,	/* 0x80 */
	0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,	/* 0x90 */
	278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,	/* 0xA0 */
	400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,	/* 0xB0 */
	667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,	/* 0xC0 */
	722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,	/* 0xD0 */
	556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,	/* 0xE0 */
	556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,	/* 0xF0 */
};

static const uint16 helvetica_bold_widths[224] = {
	278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,	/* 0x20 */
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,	/* 0x30 */
	975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,	/* 0x40 */
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,	/* 0x50 */
	333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,	/* 0x60 */
	611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,	/* 0x70 */
	556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,	/* 0x80 */
	0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,	/* 0x90 */
	278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,	/* 0xA0 */
	400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,	/* 0xB0 */
	722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,	/* 0xC0 */
	722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,	/* 0xD0 */
	556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,	/* 0xE0 */
	611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,	/* 0xF0 */
};

/* the Unicode code point of WinAnsi codes 0x80..0x9F (0: undefined) */
static const pg_wchar winansi_80_9f[32] = {
	0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
	0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178
};

/* what a code point becomes: a WinAnsi byte, a line break, or nothing */
#define WINANSI_DROP	(-1)

/*
 * is_invisible
 *		Formatting characters that show nothing by themselves: zero width
 *		space and joiners, direction marks, embeddings and isolates, word
 *		joiner, variation selectors, the byte order mark.
 */
static bool
is_invisible(pg_wchar c)
{
	return (c >= 0x200B && c <= 0x200F) ||
		(c >= 0x202A && c <= 0x202E) ||
		(c >= 0x2060 && c <= 0x2064) ||
		(c >= 0x2066 && c <= 0x2069) ||
		(c >= 0xFE00 && c <= 0xFE0F) ||
		c == 0xFEFF;
}

/*
 * winansi_code
 *		The WinAnsi byte for code point c, '\n' for a line break,
 *		WINANSI_DROP for an invisible character, '?' for anything else.
 */
static int
winansi_code(pg_wchar c)
{
	if (c == '\n' || c == 0x2028 || c == 0x2029 || c == 0x85)
		return '\n';
	if (c == '\t')
		return ' ';
	if (c >= 0x20 && c < 0x7F)
		return (int) c;
	if (c >= 0xA0 && c <= 0xFF)
		return (int) c;
	if (c >= 0x100)
	{
		int			i;

		if (is_invisible(c))
			return WINANSI_DROP;
		for (i = 0; i < lengthof(winansi_80_9f); i++)
			if (winansi_80_9f[i] == c)
				return 0x80 + i;
	}
	return '?';					/* controls, DEL, and all the rest */
}

/*
 * decode_utf8
 *		The code points of NUL-terminated UTF-8 text, NUL-terminated, with
 *		CR LF and lone CR as LF; *combining says whether any combining
 *		diacritical mark (U+0300..U+036F) was seen.
 */
static pg_wchar *
decode_utf8(const unsigned char *s, bool *combining)
{
	pg_wchar   *out = palloc(sizeof(pg_wchar) * (strlen((const char *) s) + 1));
	int			n = 0;

	*combining = false;
	while (*s != '\0')
	{
		int			len = pg_utf_mblen(s);
		pg_wchar	c;
		int			i;

		/* the server's text is valid; still, never read past the end */
		for (i = 1; i < len; i++)
			if (s[i] == '\0')
				break;
		if (i < len)
			len = i;
		c = (len > 1 || *s < 0x80) ? utf8_to_unicode(s) : '?';
		s += len;
		if (c == '\r')
		{
			c = '\n';
			if (*s == '\n')
				s++;
		}
		if (c >= 0x300 && c <= 0x36F)
			*combining = true;
		out[n++] = c;
	}
	out[n] = 0;
	return out;
}

char *
pdf_winansi(const char *text)
{
	const char *utf8 = text;	/* see doc_require_utf8 */
	pg_wchar   *chars;
	pg_wchar   *p;
	char	   *out;
	int			n = 0;
	bool		combining;

	chars = decode_utf8((const unsigned char *) utf8, &combining);
	if (combining)
	{
		pg_wchar   *composed = unicode_normalize(UNICODE_NFC, chars);

		/* unicode_normalize returns NULL when out of memory */
		if (composed != NULL)
		{
			pfree(chars);
			chars = composed;
		}
	}

	out = palloc(strlen(utf8) + 1);	/* at most one byte a character */
	for (p = chars; *p != 0; p++)
	{
		int			code = winansi_code(*p);

		if (code != WINANSI_DROP)
			out[n++] = (char) code;
	}
	out[n] = '\0';
	pfree(chars);
	return out;
}

/* glyph_width: of one WinAnsi byte, in 1/1000 em */
static inline int32
glyph_width(PdfFont font, unsigned char c)
{
	const uint16 *widths = font == PDF_BOLD ? helvetica_bold_widths : helvetica_widths;

	return c >= 0x20 ? widths[c - 0x20] : 0;
}

int32
pdf_text_width(PdfFont font, int32 size, const char *s, int len)
{
	int64		units = 0;
	int			i;

	for (i = 0; i < len; i++)
		units += glyph_width(font, (unsigned char) s[i]);
	return (int32) (units * size / 1000);
}

/*
 * pdf_wrap
 *		Greedy filling, line by line: a line ends before the last space that
 *		fits, or inside a word that alone is wider than the line (never
 *		before its first character, so every line advances).  The spaces
 *		where a line was broken are not shown.
 */
int
pdf_wrap(PdfFont font, int32 size, int32 width, const char *s, PdfSpan **lines)
{
	int			total = (int) strlen(s);
	int			max = 4;
	int			n = 0;
	int64		limit = (int64) width * 1000 / Max(size, 1);	/* in 1/1000 em */
	int			pos = 0;

	*lines = palloc(sizeof(PdfSpan) * max);
	for (;;)
	{
		int			start = pos;
		int64		w = 0;
		int			brk = -1;
		int			end;

		while (pos < total && s[pos] != '\n')
		{
			int32		cw = glyph_width(font, (unsigned char) s[pos]);

			if (w + cw > limit)
				break;
			if (s[pos] == ' ')
				brk = pos;
			w += cw;
			pos++;
		}

		if (pos >= total || s[pos] == '\n')
			end = pos;			/* the paragraph ends here */
		else if (s[pos] == ' ')
			end = pos;			/* the line is full just before a space */
		else if (brk > start)
			end = pos = brk;	/* back to the last space */
		else
		{
			if (pos == start)
				pos++;			/* a glyph wider than the line */
			end = pos;			/* a word wider than the line */
		}

		if (n == max)
		{
			max *= 2;
			*lines = repalloc(*lines, sizeof(PdfSpan) * max);
		}
		(*lines)[n].start = start;
		(*lines)[n].len = end - start;
		n++;

		if (pos >= total)
			break;
		if (s[pos] == '\n')
			pos++;				/* the next paragraph, even when empty */
		else
		{
			while (pos < total && s[pos] == ' ')
				pos++;			/* the spaces where the line broke */
			if (pos >= total)
				break;
			if (s[pos] == '\n')
				pos++;
		}
	}
	return n;
}
