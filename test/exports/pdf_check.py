#!/usr/bin/env python3
"""test/exports/pdf_check.py: render_pdf and render_html checked with real tools.

Run by scripts/test-suites against the server in PGHOST/PGPORT (a scratch
cluster that preloads invoice); prints TAP lines ("ok N - ...", "not ok N -
...") and exits non-zero when a check fails.  Needs psql, poppler-utils
(pdfinfo, pdftotext) and qpdf.

* fixtures: a 1-page and a 3-page invoice, a draft and a void one: pdfinfo
  and qpdf accept them, pdftotext finds the number, the customer, every
  description and the totals exactly (formatted here, independently of the
  C code), "Página i de n", the repeated table header, the stamps, the
  seller's address, contact and IVA regime, the payment form, and what a
  void invoice had received;
* fuzz: 1000 invoices with random Unicode descriptions (emoji, RTL text,
  quotes, backslashes, parentheses, very long words, combining marks,
  control characters): every PDF passes qpdf --check and pdfinfo, every
  HTML page parses into the expected elements with each description intact,
  and in a sample of PDFs the description column reads back as the text
  mapped to WinAnsi, with '?' where a character cannot be shown;
* determinism and memory: the same bytes on every call, and no memory kept
  by the backend after hundreds of calls.

PDF_CHECK_SEED sets the random seed (fixed by default, so that a failure
can be reproduced); PDF_CHECK_KEEP=1 keeps the files in a printed folder.
"""
import base64
import decimal
import html
import html.parser
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata

DB = "invoice_pdf_check"
SEED = int(os.environ.get("PDF_CHECK_SEED", "20261123"))
FUZZ = 1000
SAMPLE_EVERY = 10               # pdftotext on every 10th fuzz PDF

results = []


def tap(ok, name, diag=None):
    results.append(ok)
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), name), flush=True)
    if not ok and diag:
        for line in str(diag).splitlines()[:20]:
            print("#   " + line, flush=True)


def psql(sql, db=DB, check=True):
    """Runs SQL (a script on stdin) and returns its unaligned output."""
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db],
                       input=sql.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and p.returncode != 0:
        raise RuntimeError("psql failed: " + p.stderr.decode(errors="replace"))
    return p.stdout.decode()


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


# ---------------------------------------------------------------- formats
def pesos(cents):
    """Colombian format, computed here from integer cents: $ 1.250.000,00."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return "%s$ %s,%02d" % (sign, "{:,}".format(whole).replace(",", "."), frac)


def cents(number):
    """A JSON amount (2 decimals) as integer cents."""
    return int(decimal.Decimal(str(number)) * 100)


INVISIBLE = [(0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069),
             (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF)]


def winansi(s):
    """What the PDF should show for s (see pdf_winansi in src/pdf_text.c)."""
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    if any(0x300 <= ord(c) <= 0x36F for c in s):
        s = unicodedata.normalize("NFC", s)
    out = []
    for c in s:
        o = ord(c)
        if c in "\n\u2028\u2029\x85":
            out.append("\n")
        elif c == "\t":
            out.append(" ")
        elif any(lo <= o <= hi for lo, hi in INVISIBLE):
            continue
        elif 0x20 <= o < 0x7F or 0xA0 <= o <= 0xFF:
            out.append(c)
        elif o >= 0x100:
            try:
                c.encode("cp1252")
                out.append(c)
            except UnicodeEncodeError:
                out.append("?")
        else:
            out.append("?")
    return "".join(out)


def squeeze(s):
    """Text without any white space (pdftotext chooses its own)."""
    return "".join(s.split())


# ---------------------------------------------------------------- fuzz text
POOLS = [
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 ",
    "áéíóúüñÁÉÍÓÚÜÑ¿¡ ",
    "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ",
    "©®°±²³µ¶·¹º»¼½¾×÷ß",
    "'\"\\()[]{}<>&%$#@!?*/|",
    "\n", "\r\n", "\t",
]
TOKENS = ["😀", "👍🏽", "👨\u200d👩\u200d👧", "❤\ufe0f", "مرحبا بالعالم", "שלום", "日本語の説明",
          "Привет", "Ωμέγα", "e\u0301", "n\u0303", "q\u0303", "\u200f", "\u0007", "\x7f",
          "\u2028", "<script>alert(1)</script>", "&amp;", "\\)", "(\\", "%PDF", ")) Tj ET"]


# the limits of an item description (README, "Limits"): bytes, and lines
# as the renderers break them
DESCRIPTION_MAX = 1000
DESCRIPTION_LINES = 10
LINE_BREAKS = re.compile("\r\n|[\n\r\u2028\u2029\x85]")


def within_limits(text):
    return (len(text.encode()) <= DESCRIPTION_MAX
            and len(LINE_BREAKS.findall(text)) < DESCRIPTION_LINES)


def fuzz_description(rng):
    """Random text within the limits of a description: a part that would
    go beyond them is left out."""
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.15:
            part = rng.choice(TOKENS)
        elif r < 0.25:
            # a very long word
            part = "".join(rng.choice("abcdefghijklmnñopqrstuvwxyzé")
                           for _ in range(rng.randint(60, 400)))
        else:
            pool = rng.choice(POOLS)
            part = "".join(rng.choice(pool) for _ in range(rng.randint(1, 25)))
        if within_limits("".join(parts + [part]).strip(" \t\r\n")):
            parts.append(part)
    text = "".join(parts).strip(" \t\r\n")
    return text or "x"


# ---------------------------------------------------------------- HTML
class Page(html.parser.HTMLParser):
    """The tags of a page and the text of each description cell."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = set()
        self.descriptions = []
        self.in_desc = 0
        self.in_detail = False
        self.open = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        a = dict(attrs)
        if tag not in ("br", "meta"):
            self.open.append(tag)
        if tag == "td" and a.get("class") == "desc":
            self.in_desc = len(self.open)
            self.descriptions.append("")
        elif tag == "span" and self.in_desc:
            self.in_detail = True
        elif tag == "br" and self.in_desc and not self.in_detail:
            self.descriptions[-1] += "\n"

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.open.append("!" + tag)       # unbalanced: never popped
        if tag == "span":
            self.in_detail = False
        if tag == "td" and self.in_desc and len(self.open) < self.in_desc:
            self.in_desc = 0

    def handle_data(self, data):
        if self.in_desc and not self.in_detail:
            self.descriptions[-1] += data


ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "main", "header", "div",
                "h1", "h2", "h3", "p", "section", "table", "thead", "tbody", "tr", "th", "td",
                "span", "br"}


def check_html(page, descriptions):
    """None when the page is well formed and shows each description, else why."""
    parser = Page()
    parser.feed(page)
    parser.close()
    if parser.tags - ALLOWED_TAGS:
        return "unexpected elements %s" % sorted(parser.tags - ALLOWED_TAGS)
    if parser.open:
        return "unbalanced elements %s" % parser.open
    want = [d.replace("\r\n", "\n").replace("\r", "\n") for d in descriptions]
    if parser.descriptions != want:
        return "descriptions differ: %r != %r" % (parser.descriptions[:2], want[:2])
    return None


# ---------------------------------------------------------------- PDF tools
def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def pdftotext(path, *opts):
    return run(["pdftotext", *opts, path, "-"])[1]


def description_column(path):
    """The words of the description column (pdftotext -bbox) below the
    table header and above the summary of each page, line by line."""
    out = run(["pdftotext", "-bbox", path, "-"])[1]
    text = []
    word = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
                      r'yMax="([\d.]+)">(.*?)</word>')
    for page in out.split("<page ")[1:]:
        words = [(float(m.group(1)), float(m.group(2)), float(m.group(3)), float(m.group(4)),
                  html.unescape(m.group(5))) for m in word.finditer(page)]
        top = [w[3] for w in words if w[4] == "Descripción" and 60 < w[0] < 65]
        bottom = [w[1] for w in words if w[4] == "Tarifa"] + [800.0]
        if not top:
            continue
        inside = [w for w in words if top[0] < w[1] < min(bottom)
                  and w[0] >= 62 and w[2] <= 62.52 + 182 + 1]
        inside.sort(key=lambda w: (round(w[1], 1), w[0]))
        text += [w[4] for w in inside]
    return "".join(text)


# ---------------------------------------------------------------- setup
def setup(rng):
    psql("DROP DATABASE IF EXISTS %s" % DB, db="postgres")
    psql("CREATE DATABASE %s" % DB, db="postgres")
    psql("""
SET client_min_messages = warning;
CREATE EXTENSION invoice CASCADE;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pdf_check_app') THEN
        CREATE ROLE pdf_check_app;
    END IF;
END $$;
GRANT invoice_app, pg_read_all_stats TO pdf_check_app;
SELECT invoice.create_organization('pdf-a', 'Joyería Ñandú & Cía. (Medellín)', '900123456-8',
    '{"prefix": "FV", "number_from": 1, "number_to": 5000, "resolution": "18764000001",
      "address": "Cra 43A # 1-50 (local 120)", "city": "Medellín", "department": "Antioquia",
      "phone": "604 444 1234", "email": "ventas@nandu.example", "tax_regime": "responsable_iva"}');
SELECT invoice.create_organization('pdf-b', 'Otra Joyería', NULL, '{}');
SELECT invoice.grant_tenant('pdf_check_app', org_id) FROM invoice.organizations;
""")
    lines = ["SET ROLE pdf_check_app;", "BEGIN;", "SELECT invoice.set_tenant(1);",
             "SELECT invoice.upsert_customer('CC', '1020304050', 'María José Pérez Ñáñez',"
             " 'maria@example.com', '+57 300 1234567', 'Calle 10 # 5-20, Medellín');"]
    one = [
        {"description": "Anillo \"Solitario\" oro amarillo 18k", "quantity": 1,
         "unit_price": 1250000, "material": "oro", "karat": 18, "weight_grams": 3.5,
         "sku": "AN-18K-035"},
        {"description": "Cadena plata 925 (50 cm) \\ grabado", "quantity": 1,
         "unit_price": 189900, "material": "plata", "weight_grams": 12.8},
        {"description": "Aretes topo con circonia", "quantity": 2, "unit_price": 210000,
         "discount_pct": 5},
        {"description": "Limpieza exenta: ñandú € ¿sí? ¡ya!", "quantity": 0.25,
         "unit_price": 20000, "tax_rate": 0},
        {"description": "Pulsera oro rosa 14k con una descripción larga que se parte en"
                        " varias líneas dentro de su columna sin salirse de ella",
         "quantity": 1, "unit_price": 980000, "discount_pct": 10},
    ]
    three = [{"description": "Pieza %d de la colección Esmeralda, talla única" % i
              + (" con grabado personalizado en la cara interior" if i % 7 == 0 else ""),
              "quantity": 1 + i % 3, "unit_price": 1000 * i + 0.5 * (i % 2),
              "discount_pct": 5 if i % 11 == 0 else 0} for i in range(1, 96)]
    lines.append("SELECT invoice.create_invoice(1, %s::jsonb, 'Garantía de 6 meses.');"
                 % sql_literal(json.dumps(one)))                                       # 1
    lines.append("SELECT invoice.issue(1);")
    lines.append("SELECT invoice.record_payment(1, 1000000, 'card');")
    lines.append("SELECT invoice.create_invoice(1, %s::jsonb);"
                 % sql_literal(json.dumps(three)))                                     # 2
    lines.append("SELECT invoice.issue(2);")
    lines.append("SELECT invoice.create_invoice(1, %s::jsonb);"
                 % sql_literal(json.dumps(one[:2])))                                   # 3 draft
    lines.append("SELECT invoice.create_invoice(1, %s::jsonb);"
                 % sql_literal(json.dumps(one[2:])))                                   # 4 void
    lines.append("SELECT invoice.issue(4);")
    lines.append("SELECT invoice.record_payment(4, 5000, 'cash');")
    lines.append("SELECT invoice.void(4, 'Error en el precio (cliente avisó)');")
    for i in range(FUZZ):
        items = [{"description": fuzz_description(rng), "quantity": rng.choice([1, 2, 0.5]),
                  "unit_price": rng.choice([0, 1500, 99999.99, 1250000])}]
        lines.append("SELECT invoice.create_invoice(1, %s::jsonb, %s) AS inv \\gset"
                     % (sql_literal(json.dumps(items)),
                        sql_literal(fuzz_description(rng)) if i % 5 == 0 else "NULL"))
        if i % 10 == 0:
            lines.append("SELECT invoice.issue(:inv);")
    lines.append("COMMIT;")
    psql("\n".join(lines))
    # another tenant's invoice
    psql("SET ROLE pdf_check_app;\nBEGIN;\nSELECT invoice.set_tenant(2);\n"
         "SELECT invoice.upsert_customer('CC', '12345', 'Cliente B') AS cust \\gset\n"
         "SELECT invoice.create_invoice(:cust, '[{\"description\": \"Secreto de B\","
         " \"quantity\": 1, \"unit_price\": 1}]');\nCOMMIT;")


def render_all(folder):
    """Every invoice of tenant 1: its PDF and its page into `folder`;
    returns {invoice_id: {"descriptions": [...], "doc": to_json}}."""
    out = psql("""
SET ROLE pdf_check_app;
BEGIN;
SELECT invoice.set_tenant(1) \\gset
COPY (SELECT invoice_id, translate(encode(invoice.render_pdf(invoice_id), 'base64'), E'\\n', ''),
             translate(encode(convert_to(invoice.render_html(invoice_id), 'UTF8'), 'base64'), E'\\n', ''),
             translate(encode(convert_to(invoice.to_json(invoice_id)::text, 'UTF8'), 'base64'), E'\\n', '')
        FROM invoice.invoices ORDER BY invoice_id) TO STDOUT;
COMMIT;
""")
    invoices = {}
    for line in out.splitlines():
        inv, pdf, page, doc = line.split("\t")
        inv = int(inv)
        with open(os.path.join(folder, "%d.pdf" % inv), "wb") as f:
            f.write(base64.b64decode(pdf))
        with open(os.path.join(folder, "%d.html" % inv), "wb") as f:
            f.write(base64.b64decode(page))
        invoices[inv] = json.loads(base64.b64decode(doc).decode())
    return invoices


# ---------------------------------------------------------------- checks
def check_fixtures(folder, invoices):
    def info(inv):
        return run(["pdfinfo", os.path.join(folder, "%d.pdf" % inv)])

    rc1, i1 = info(1)
    rc2, i2 = info(2)
    tap(rc1 == 0 and re.search(r"^Pages:\s+1$", i1, re.M) and "A4" in i1,
        "pdfinfo: the 5-item invoice is one A4 page", i1)
    tap(rc2 == 0 and re.search(r"^Pages:\s+3$", i2, re.M) and "A4" in i2,
        "pdfinfo: the 95-item invoice is three A4 pages", i2)
    tap(re.search(r"^Title:\s+Factura de venta FV1$", i1, re.M) and
        re.search(r"^Author:\s+Joyería Ñandú & Cía. \(Medellín\)$", i1, re.M),
        "pdfinfo: title and author (UTF-16) read back", i1)

    for inv, pages in ((1, 1), (2, 3)):
        doc = invoices[inv]
        text = pdftotext(os.path.join(folder, "%d.pdf" % inv))
        t = doc["totals"]
        wanted = [doc["invoice"]["number_text"], doc["customer"]["name"], "Factura de venta",
                  "NIT 900123456-8", "Cliente", "Cantidad", "Precio unitario", "Subtotal",
                  "Descuento", "IVA", "Total",
                  pesos(cents(t["subtotal"])), pesos(-cents(t["discount_total"])),
                  pesos(cents(t["tax_total"])), pesos(cents(t["total"]))]
        wanted += [pesos(cents(it["line_total"])) for it in doc["items"]]
        missing = [w for w in wanted if w not in text]
        tap(not missing, "pdftotext: invoice %s shows number, customer, labels and every "
            "amount exactly" % doc["invoice"]["number_text"], "missing: %r" % missing)
        # descriptions may wrap: compare without white space, in order
        flat = squeeze(text)
        missing = [it["description"] for it in doc["items"]
                   if squeeze(it["description"]) not in flat]
        tap(not missing, "pdftotext: invoice %s shows each of its %d descriptions"
            % (doc["invoice"]["number_text"], len(doc["items"])), "missing: %r" % missing[:3])
        labels = ["Página %d de %d" % (i, pages) for i in range(1, pages + 1)]
        tap(all(lbl in text for lbl in labels) and text.count("Precio unitario") == pages,
            "pdftotext: %d page number(s) and the table header on every page" % pages,
            [lbl for lbl in labels if lbl not in text])

    text1 = pdftotext(os.path.join(folder, "1.pdf"))
    tap(all(w in text1 for w in ("María José Pérez Ñáñez", "ñandú €", "¿sí? ¡ya!", "Medellín",
                                 "Tarjeta", "$ 1.000.000,00", "Garantía de 6 meses.")),
        "pdftotext: accents, ñ, ¿¡, € and the peso sign read back", text1[:600])
    tap("BORRADOR" in pdftotext(os.path.join(folder, "3.pdf")) and
        "ANULADA" in pdftotext(os.path.join(folder, "4.pdf")) and
        "Error en el precio (cliente avisó)" in pdftotext(os.path.join(folder, "4.pdf")) and
        "BORRADOR" not in text1 and "ANULADA" not in text1,
        "drafts say BORRADOR, void invoices ANULADA with their reason, others neither")
    text4 = pdftotext(os.path.join(folder, "4.pdf"))
    tap(all(w in squeeze(text1) for w in map(squeeze, (
        "NIT 900123456-8 · Responsable de IVA", "Cra 43A # 1-50 (local 120) · Medellín, Antioquia",
        "Tel. 604 444 1234 · ventas@nandu.example", "Forma de pago: Contado"))) and
        "Zona horaria" not in text1 and
        re.search(r"Pagado\s+\$ 5\.000,00", text4) and "Saldo" not in text4,
        "the seller's identity and the payment form in the header; a void invoice shows what "
        "it had received and no balance", text1[:600] + text4[-600:])
    other = int(psql("SELECT invoice_id FROM invoice.invoices WHERE org_id = 2"))
    errors = []
    for fn in ("render_pdf", "render_html"):
        p = subprocess.run(["psql", "-X", "-q", "-At", "-d", DB, "-c", "SET ROLE pdf_check_app",
                            "-c", "BEGIN", "-c", "SELECT invoice.set_tenant(1)",
                            "-c", "SELECT invoice.%s(%d)" % (fn, other)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        errors.append(p.stderr.decode(errors="replace").strip())
    tap(all("invoice %d not found" % other in e for e in errors),
        "another tenant's invoice is not found, never rendered", errors)


def check_all_files(folder, invoices):
    ids = sorted(invoices)
    bad_qpdf, bad_info = [], []
    for inv in ids:
        path = os.path.join(folder, "%d.pdf" % inv)
        rc, out = run(["qpdf", "--check", path])
        if rc != 0 or "No syntax or stream encoding errors found" not in out:
            bad_qpdf.append((inv, out[-300:]))
        rc, out = run(["pdfinfo", path])
        if rc != 0 or "Syntax Error" in out or "Syntax Warning" in out:
            bad_info.append((inv, out[-300:]))
    tap(not bad_qpdf, "qpdf --check: no errors in any of the %d PDFs" % len(ids), bad_qpdf[:2])
    tap(not bad_info, "pdfinfo: accepts all %d PDFs without a syntax error or warning"
        % len(ids), bad_info[:2])

    bad_html = []
    for inv in ids:
        with open(os.path.join(folder, "%d.html" % inv), encoding="utf-8") as f:
            why = check_html(f.read(), [it["description"] for it in invoices[inv]["items"]])
        if why:
            bad_html.append((inv, why))
    tap(not bad_html, "HTML: all %d pages are well formed, contain only the page's own "
        "elements and show every description intact" % len(ids), bad_html[:2])


def check_fuzz_text(folder, invoices):
    fuzz_ids = sorted(invoices)[4:]
    bad = []
    replaced = 0
    for inv in fuzz_ids[::SAMPLE_EVERY]:
        desc = invoices[inv]["items"][0]["description"]
        want = squeeze(winansi(desc))
        got = description_column(os.path.join(folder, "%d.pdf" % inv))
        replaced += want.count("?")
        if got != want:
            bad.append((inv, desc[:80], want[:80], got[:80]))
    tap(not bad, "pdftotext: the description column of %d fuzz PDFs reads back as the "
        "text mapped to WinAnsi" % len(fuzz_ids[::SAMPLE_EVERY]),
        "\n".join("%d: %r\n want %r\n got  %r" % b for b in bad[:3]))
    tap(replaced > 0, "characters outside WinAnsi were replaced by '?' (%d in the sample)"
        % replaced)


def check_replacement(folder):
    """One known line: what cannot be shown becomes '?', the rest stays."""
    psql("""SET ROLE pdf_check_app; BEGIN; SELECT invoice.set_tenant(1);
SELECT invoice.create_invoice(1, '[{"description": "Anillo 😀 ñ € שלום (x) \\\\ e\u0301", "quantity": 1, "unit_price": 1}]');
COMMIT;""")
    inv = int(psql("SELECT max(invoice_id) FROM invoice.invoices"))
    out = psql("SET ROLE pdf_check_app; BEGIN; SELECT invoice.set_tenant(1) \\gset\n"
               "SELECT translate(encode(invoice.render_pdf(%d), 'base64'), E'\\n', ''); COMMIT;"
               % inv)
    path = os.path.join(folder, "replace.pdf")
    with open(path, "wb") as f:
        f.write(base64.b64decode(out.strip()))
    text = pdftotext(path)
    tap("Anillo ? ñ € ???? (x) \\ é" in text,
        "a visible '?' for each character the font cannot show, nothing dropped", text[:400])


def check_determinism_and_memory():
    out = psql("""
SET ROLE pdf_check_app;
BEGIN;
SELECT invoice.set_tenant(1) \\gset
SELECT count(*) FILTER (WHERE md5(invoice.render_pdf(invoice_id)) <> md5(invoice.render_pdf(invoice_id))
                           OR md5(invoice.render_html(invoice_id)) <> md5(invoice.render_html(invoice_id)))
  FROM invoice.invoices;
COMMIT;
""")
    tap(out.strip() == "0", "every invoice renders to the same bytes on every call", out)

    # the backend's memory after warming up, and after 400 more calls
    out = psql("""
SET ROLE pdf_check_app;
BEGIN;
SELECT invoice.set_tenant(1) \\gset
DO $$ BEGIN FOR i IN 1..50 LOOP
    PERFORM invoice.render_pdf(2), invoice.render_html(2), invoice.render_pdf(i);
END LOOP; END $$;
SELECT sum(total_bytes) FROM pg_backend_memory_contexts \\gset before_
DO $$ BEGIN FOR i IN 1..400 LOOP
    PERFORM invoice.render_pdf(2), invoice.render_html(2), invoice.render_pdf(i);
END LOOP; END $$;
SELECT sum(total_bytes) - :before_sum FROM pg_backend_memory_contexts;
COMMIT;
""")
    grown = int(out.strip().splitlines()[-1])
    tap(grown <= 64 * 1024, "no memory kept after 400 more calls (%d bytes more)" % grown)


def main():
    folder = tempfile.mkdtemp(prefix="pdf_check.")
    rng = random.Random(SEED)
    print("# seed %d, files in %s" % (SEED, folder), flush=True)
    try:
        setup(rng)
        invoices = render_all(folder)
        check_fixtures(folder, invoices)
        check_all_files(folder, invoices)
        check_fuzz_text(folder, invoices)
        check_replacement(folder)
        check_determinism_and_memory()
    except Exception as e:          # a broken setup is a failure, not a crash
        tap(False, "the checks ran to the end", repr(e))
    finally:
        if os.environ.get("PDF_CHECK_KEEP") != "1":
            shutil.rmtree(folder, ignore_errors=True)
        psql("DROP DATABASE IF EXISTS %s" % DB, db="postgres", check=False)
        psql("DROP ROLE IF EXISTS pdf_check_app", db="postgres", check=False)
    print("1..%d" % len(results))
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
