#!/usr/bin/env python
"""Build the embedded sample crawl used by the quick-start demo.

Reads the hand-written payloads in ``pipelines/sample/pages/`` and writes

* ``pipelines/sample/sample-crawl.warc.gz`` - a WARC/1.1 file, one gzip member
  per record (like Common Crawl), containing a ``warcinfo`` record followed by
  ``request`` / ``response`` pairs (and a few ``metadata`` records), and
* ``pipelines/sample/manifest.json`` - every record in file order with its byte
  offset, category, language and duplicate information, plus counts.

The output is byte-for-byte deterministic: WARC-Date values are fixed,
WARC-Record-IDs are uuid5 of the record type and URL, digests are computed from
the content, and every gzip member has mtime 0. One response record (category
``corrupt``) is deliberately damaged in the middle of its gzip member; all the
other members stay valid so a reader that resynchronises on the next gzip
header can keep going.

Usage:  python pipelines/sample/make_sample.py
"""

import hashlib
import io
import json
import os
import re
import struct
import sys
import uuid
import zlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = os.path.join(HERE, "pages")
WARC_NAME = "sample-crawl.warc.gz"
WARC_PATH = os.path.join(HERE, WARC_NAME)
MANIFEST_PATH = os.path.join(HERE, "manifest.json")

CRAWL_START = datetime(2024, 3, 2, 10, 15, 0, tzinfo=timezone.utc)
USER_AGENT = "curate-sample-bot/1.0 (+https://curate.example/bot; synthetic sample)"
CORRUPT_LEN = 40  # bytes overwritten with 0x00 in the middle of the corrupt member
WARCIO_BLOCK = 16384  # warcio.utils.BUFF_SIZE, the block size ArchiveIterator reads with

HTML_UTF8 = "text/html; charset=utf-8"

# Each entry is one fetched URL (one request + one response record).
#   src:       file in pages/ or "gen:png" / "gen:pdf" (payload generated below)
#   ctype:     HTTP Content-Type header of the response
#   enc:       actual character encoding of the payload (None for binary)
#   ptype:     WARC-Identified-Payload-Type
#   dup:       URL this page duplicates (near_duplicate / exact_duplicate)
#   meta:      also write a CC-style metadata record
#   corrupt:   damage this response's gzip member
#   server / extra: additional HTTP response headers
GZ = "https://www.riverside-gazette.example"
SF = "https://www.starfield-science.test"
KN = "https://kitchen-notes.example"

CATALOGUE = [
    dict(src="robots.txt", url=GZ + "/robots.txt", cat="non_html", lang=None,
         ctype="text/plain; charset=utf-8", ptype="text/plain", server="nginx/1.24.0"),
    dict(src="en-bike-lanes-mill-street.html", url=GZ + "/news/2024/02/council-approves-protected-bike-lanes-mill-street",
         cat="article_en", lang="en", server="nginx/1.24.0", meta=True),
    dict(src="en-tardigrades.html", url=SF + "/articles/2024/02/tardigrades-life-at-the-edge", cat="article_en", lang="en",
         server="cloudflare", meta=True),
    dict(src="spam-casino-keywords.html", url="http://best-casino-bonus-online.test/", cat="spam", lang="en",
         server="Apache/2.2.15 (CentOS)", ctype="text/html; charset=UTF-8"),
    dict(src="de-fahrradbruecke.html", url="https://www.tageblatt-nord.example.de/lokales/2024/02/neue-fahrradbruecke-eroeffnet",
         cat="article_de", lang="de", server="Apache"),
    dict(src="en-sourdough-starter.html", url=KN + "/2024/01/sourdough-starter-from-scratch/", cat="article_en", lang="en",
         server="LiteSpeed", ctype="text/html; charset=UTF-8", gzipped=True),
    dict(src="bp-megaportal-home.html", url="https://www.megaportal.example.com/", cat="boilerplate", lang="en",
         server="ATS"),
    dict(src="fr-mediatheque.html", url="https://www.le-petit-quotidien.example.fr/local/2024/02/mediatheque-ouverture-dimanche",
         cat="article_fr", lang="fr", server="nginx"),
    dict(src="en-ice-trade-history.html", url="https://www.oldtown-history.example.org/articles/the-frozen-water-trade",
         cat="article_en", lang="en", server="Apache/2.4.57 (Debian)"),
    dict(src="short-coming-soon.html", url="https://launchpad-studio.example/", cat="short", lang="en", server="nginx"),
    dict(src="ja-ume-matsuri.html", url="https://www.sakura-times.example.jp/chiiki/2024/02/ume-matsuri-kaimaku",
         cat="article_ja", lang="ja", server="Apache"),
    dict(src="en-fix-dripping-tap.html", url="https://fixit-handbook.example/plumbing/fix-a-dripping-tap", cat="article_en",
         lang="en", server="nginx/1.22.1"),
    dict(src="gen:png", url=GZ + "/static/img/logo.png", cat="non_html", lang=None, ctype="image/png", ptype="image/png",
         server="nginx/1.24.0"),
    dict(src="es-huertos-urbanos.html", url="https://www.diario-del-valle.example.es/local/2024/02/ampliacion-huertos-urbanos",
         cat="article_es", lang="es", server="nginx"),
    dict(src="en-porto-travel.html", url="https://wanderlust-journal.example/europe/portugal/three-slow-days-in-porto",
         cat="article_en", lang="en", server="Netlify"),
    dict(src="spam-cheap-pills.html", url="http://cheap-meds-direct.test/buy/vitalixa.php", cat="spam", lang="en",
         server="Apache", ctype="text/html"),
    dict(src="de-gruensee-iso-8859-1.html", url="http://www.bergwelt-blog.example.at/touren/gruensee-wanderung.html",
         cat="article_de", lang="de", enc="iso-8859-1", ctype="text/html; charset=iso-8859-1", server="Apache/2.2.22",
         meta=True),
    dict(src="en-library-reopens.html", url=GZ + "/news/2024/02/library-reopens-after-flood-repairs", cat="article_en",
         lang="en", server="nginx/1.24.0"),
    dict(src="bp-gazette-sports-section.html", url=GZ + "/sections/sports/", cat="boilerplate", lang="en",
         server="nginx/1.24.0"),
    dict(src="nd-bike-lanes-newswire.html",
         url="https://newswire-aggregator.example/regional/2024/02/22/riverside-council-backs-protected-bike-lanes",
         cat="near_duplicate", lang="en", dup=GZ + "/news/2024/02/council-approves-protected-bike-lanes-mill-street",
         server="envoy"),
    dict(src="zh-gongyuan.html", url="https://www.huayu-zixun.example.cn/shenghuo/2024/02/gongyuan-yanchang-kaifang.html",
         cat="article_zh", lang="zh", server="Tengine"),
    dict(src="en-balcony-tomatoes.html", url="https://greenbalcony.example/grow/tomatoes-on-a-balcony", cat="article_en",
         lang="en", server="nginx"),
    dict(src="spam-emoji-symbols.html", url="https://win-prizes-now.test/claim/?id=77", cat="spam", lang=None,
         server="nginx"),
    dict(src="short-soft-404.html", url=GZ + "/news/2023/11/holiday-parade-route-map", cat="short", lang="en",
         server="nginx/1.24.0"),
    dict(src="en-sunsets.html", url=SF + "/articles/2024/01/why-sunsets-are-red", cat="article_en", lang="en",
         server="cloudflare"),
    dict(src="ru-katok-windows-1251.html", url="https://novosti-volgi.example.ru/gorod/2024/02/novyj-katok-zarechnyj",
         cat="article_ru", lang="ru", enc="windows-1251", ctype="text/html", server="nginx/1.18.0", meta=True),
    dict(src="weather-api.json", url="https://api.weather-station.example/v1/observations/latest?station=RVS01",
         cat="non_html", lang=None, ctype="application/json; charset=utf-8", ptype="application/json", server="gunicorn"),
    dict(src="en-red-lentil-soup.html", url=KN + "/2024/02/weeknight-red-lentil-soup/", cat="article_en", lang="en",
         server="LiteSpeed", ctype="text/html; charset=UTF-8", gzipped=True),
    dict(src="corrupt-farmers-market.html", url=GZ + "/news/2024/03/farmers-market-moves-to-saturday", cat="corrupt",
         lang="en", server="nginx/1.24.0", corrupt=True),
    dict(src="fr-tarte-aux-pommes.html", url="https://cuisine-facile.example.fr/recettes/tarte-aux-pommes-de-grand-mere",
         cat="article_fr", lang="fr", server="Apache"),
    dict(src="nd-sourdough-reposter.html", url="https://daily-reposter.test/food/how-to-make-a-sourdough-starter-from-scratch",
         cat="near_duplicate", lang="en", dup=KN + "/2024/01/sourdough-starter-from-scratch/", server="openresty"),
    dict(src="en-emergency-fund.html", url="https://www.moneywise-notes.test/saving/emergency-fund-basics", cat="article_en",
         lang="en", server="nginx"),
    dict(src="bp-kitchen-tag-archive.html", url=KN + "/tag/soup/", cat="boilerplate", lang="en", server="LiteSpeed",
         ctype="text/html; charset=UTF-8"),
    dict(src="en-library-reopens.html",
         url=GZ + "/news/2024/02/library-reopens-after-flood-repairs?utm_source=newsletter&utm_medium=email",
         cat="exact_duplicate", lang="en", dup=GZ + "/news/2024/02/library-reopens-after-flood-repairs",
         server="nginx/1.24.0"),
    dict(src="spam-product-list.html", url="http://superdeals-outlet.test/catalog/all-products.html", cat="spam", lang="en",
         server="Microsoft-IIS/8.5"),
    dict(src="es-oaxaca.html", url="https://viajes-y-sabores.example.mx/destinos/oaxaca-fin-de-semana", cat="article_es",
         lang="es", server="nginx"),
    dict(src="en-photo-backup.html", url="https://techhelp-desk.example/guides/backing-up-family-photos", cat="article_en",
         lang="en", server="nginx"),
    dict(src="short-login.html", url="https://members.oldtown-history.example.org/login", cat="short", lang="en",
         server="Apache/2.4.57 (Debian)"),
    dict(src="gen:pdf", url="https://www.oldtown-history.example.org/files/newsletter-spring.pdf", cat="non_html",
         lang=None, ctype="application/pdf", ptype="application/pdf", server="Apache/2.4.57 (Debian)"),
    dict(src="nd-tardigrades-mirror.html", url="https://science-digest-mirror.example/biology/tardigrades-toughest-animals",
         cat="near_duplicate", lang="en", dup=SF + "/articles/2024/02/tardigrades-life-at-the-edge", server="nginx"),
    dict(src="bp-cookie-wall.html", url="https://wanderlust-journal.example/privacy-choices/", cat="boilerplate", lang="en",
         server="Netlify"),
    dict(src="en-sleep-schedule.html", url="https://wellness-weekly.example/sleep/regular-sleep-schedule", cat="article_en",
         lang="en", server="cloudflare"),
    dict(src="spam-lorem-ipsum.html", url="http://newsite-template.test/2024/02/hello-world/", cat="spam", lang="la",
         server="Apache"),
]

LANG_NAMES = {"en": ("eng", "ENGLISH"), "de": ("deu", "GERMAN"), "fr": ("fra", "FRENCH"), "es": ("spa", "SPANISH"),
              "zh": ("zho", "Chinese"), "ja": ("jpn", "Japanese"), "ru": ("rus", "RUSSIAN"), "la": ("lat", "LATIN")}


# --------------------------------------------------------------------------- generated payloads
def make_png(width=16, height=16):
    """A valid 16x16 RGB PNG (a red 'R' on a cream background), built with zlib + struct."""
    glyph = ["................",
             "..#########.....",
             "..##......##....",
             "..##.......##...",
             "..##.......##...",
             "..##......##....",
             "..#########.....",
             "..##....##......",
             "..##.....##.....",
             "..##......##....",
             "..##.......##...",
             "..##........##..",
             "..##.........##.",
             "................",
             "################",
             "................"]
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type: None
        for x in range(width):
            raw += bytes((178, 34, 34) if glyph[y][x] == "#" else (250, 246, 232))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + chunk(b"IEND", b""))


def make_pdf():
    """A minimal one-page PDF 1.4 with a correct xref table."""
    lines = ["Oldtown Historical Society", "Spring Newsletter 2024",
             "Winter lecture series: canals and mills.", "Museum reopens its upper gallery in April.",
             "Volunteers wanted for the archive project."]
    text = "BT /F1 14 Tf 72 760 Td 18 TL " + " ".join(
        "({}) '".format(l.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")) for l in lines) + " ET"
    stream = text.encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Title (Spring Newsletter 2024) /Producer (curate make_sample.py) >>"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def load_payload(entry):
    src = entry["src"]
    if src == "gen:png":
        return make_png()
    if src == "gen:pdf":
        return make_pdf()
    with open(os.path.join(PAGES, src), "rb") as f:
        return f.read()


# --------------------------------------------------------------------------- helpers
def record_id(kind, key):
    return "<urn:uuid:{}>".format(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{key}"))


def warc_date(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_ip(host):
    """Deterministic address from the documentation ranges (RFC 5737)."""
    h = hashlib.sha256(host.encode()).digest()
    net = ("192.0.2", "198.51.100", "203.0.113")[h[0] % 3]
    return "%s.%d" % (net, 1 + h[1] % 254)


def visible_text_bytes(payload, enc):
    text = payload.decode(enc, "replace")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"(?s)<[^>]+>", " ", text)
    return len(" ".join(text.split()).encode("utf-8"))


def write_member(record):
    """Serialise one record as one gzip member using warcio's writer."""
    buf = io.BytesIO()
    WARCWriter(buf, gzip=True, warc_version="1.1").write_record(record)
    member = buf.getvalue()
    # warcio uses zlib's gzip wrapper, which writes MTIME = 0: check it so the
    # output can never silently pick up a timestamp.
    assert member[:4] == b"\x1f\x8b\x08\x00" and member[4:8] == b"\x00\x00\x00\x00", member[:10]
    return member


def build_records(entries):
    builder = WARCWriter(io.BytesIO(), gzip=True, warc_version="1.1")  # used only as a record factory
    warcinfo_id = record_id("warcinfo", WARC_NAME)
    info = [
        ("software", "curate pipelines/sample/make_sample.py (warcio)"),
        ("isPartOf", "curate-sample-crawl"),
        ("description", "Synthetic sample crawl for the curate quick-start demo. All sites, people and "
                        "events are fictional; the text was written for this sample."),
        ("hostname", "sample-generator.example"),
        ("operator", "curate project"),
        ("http-header-user-agent", USER_AGENT),
        ("robots", "checked"),
        ("format", "WARC File Format 1.1"),
        ("conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"),
    ]
    info_bytes = "".join("{}: {}\r\n".format(*kv) for kv in info).encode("utf-8")
    out = []  # (member_bytes, manifest_entry)

    rec = builder.create_warc_record(
        "", "warcinfo", payload=io.BytesIO(info_bytes), length=len(info_bytes),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Type": "warcinfo", "WARC-Date": warc_date(CRAWL_START),
                           "WARC-Record-ID": warcinfo_id, "WARC-Filename": WARC_NAME,
                           "Content-Length": "0", "Content-Type": "application/warc-fields"})
    out.append((write_member(rec), dict(warc_type="warcinfo", url=None, category="warcinfo", language=None,
                                        duplicate_of=None, record_id=warcinfo_id)))

    for i, e in enumerate(entries):
        url = e["url"]
        parts = urlsplit(url)
        host = parts.hostname
        path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        when = CRAWL_START + timedelta(seconds=7 + 41 * i)
        date = warc_date(when)
        ip = fake_ip(host)
        payload = load_payload(e)
        ctype = e.get("ctype", HTML_UTF8)
        ptype = e.get("ptype", "text/html")
        enc = e.get("enc", "utf-8") if ptype.startswith("text/") or ptype == "application/json" else None
        req_id, resp_id = record_id("request", url), record_id("response", url)
        common = dict(category=e["cat"], language=e["lang"], duplicate_of=e.get("dup"))

        # ---- request
        accept = ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        req_http = StatusAndHeaders(f"GET {path} HTTP/1.1", [
            ("User-Agent", USER_AGENT), ("Accept", accept), ("Accept-Language", "en-US,en;q=0.5"),
            ("Accept-Encoding", "br,gzip"), ("Host", host), ("Connection", "Keep-Alive")], is_http_request=True)
        rec = builder.create_warc_record(url, "request", http_headers=req_http, warc_headers_dict={
            "WARC-Type": "request", "WARC-Date": date, "WARC-Record-ID": req_id, "Content-Length": "0",
            "Content-Type": "application/http; msgtype=request", "WARC-Warcinfo-ID": warcinfo_id,
            "WARC-IP-Address": ip, "WARC-Target-URI": url})
        out.append((write_member(rec), dict(warc_type="request", url=url, record_id=req_id, **common)))

        # ---- response
        headers = [("Date", format_datetime(when, usegmt=True)), ("Server", e.get("server", "nginx")),
                   ("Content-Type", ctype)]
        if e.get("gzipped"):
            # as Common Crawl does when the server sent a compressed body: the
            # stored payload is decoded and the original headers are renamed
            headers.append(("X-Crawler-Content-Encoding", "gzip"))
        headers += [("Content-Length", str(len(payload))),
                    ("Last-Modified", format_datetime(when - timedelta(days=3 + i % 11, hours=i % 7), usegmt=True)),
                    ("Cache-Control", "max-age=%d" % (300 * (1 + i % 4))), ("Connection", "close")]
        resp_http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
        rec = builder.create_warc_record(url, "response", payload=io.BytesIO(payload), length=len(payload),
                                         http_headers=resp_http, warc_headers_dict={
            "WARC-Type": "response", "WARC-Date": date, "WARC-Record-ID": resp_id, "Content-Length": "0",
            "Content-Type": "application/http; msgtype=response", "WARC-Warcinfo-ID": warcinfo_id,
            "WARC-Concurrent-To": req_id, "WARC-IP-Address": ip, "WARC-Target-URI": url,
            "WARC-Identified-Payload-Type": ptype})
        m = dict(warc_type="response", url=url, record_id=resp_id, **common)
        m.update(source=e["src"], http_content_type=ctype, payload_type=ptype, encoding=enc,
                 payload_sha1=hashlib.sha1(payload).hexdigest())
        member = write_member(rec)
        if e.get("corrupt"):
            member, rel = corrupt_member(member)
            m["corrupted_bytes_in_member"] = rel
        out.append((member, m))

        # ---- metadata (CC-style, for a few records)
        if e.get("meta"):
            code = e["lang"]
            iso3, name = LANG_NAMES[code]
            langs = {"reliable": True, "text-bytes": visible_text_bytes(payload, enc),
                     "languages": [{"code": code, "code-iso-639-3": iso3, "text-covered": 0.97,
                                    "score": 980.0, "name": name}]}
            fields = [("fetchTimeMs", str(120 + int(hashlib.sha1(url.encode()).hexdigest(), 16) % 600)),
                      ("charset-detected", {"utf-8": "UTF-8", "iso-8859-1": "ISO-8859-1",
                                            "windows-1251": "windows-1251"}[enc]),
                      ("languages-cld2", json.dumps(langs, separators=(",", ":")))]
            body = "".join("{}: {}\r\n".format(*kv) for kv in fields).encode("utf-8")
            meta_id = record_id("metadata", url)
            rec = builder.create_warc_record(url, "metadata", payload=io.BytesIO(body), length=len(body),
                                             warc_content_type="application/warc-fields", warc_headers_dict={
                "WARC-Type": "metadata", "WARC-Date": date, "WARC-Record-ID": meta_id, "Content-Length": "0",
                "Content-Type": "application/warc-fields", "WARC-Warcinfo-ID": warcinfo_id,
                "WARC-Concurrent-To": resp_id, "WARC-Target-URI": url})
            out.append((write_member(rec), dict(warc_type="metadata", url=url, record_id=meta_id, **common)))
    return out


def corrupt_member(member):
    """Overwrite CORRUPT_LEN bytes in the middle of the member's deflate data
    with 0x00. The 10-byte gzip header and the 8-byte trailer are untouched,
    so the member still visibly starts with a gzip header."""
    start = len(member) // 2 - CORRUPT_LEN // 2
    assert start > 10 and start + CORRUPT_LEN < len(member) - 8
    damaged = member[:start] + b"\x00" * CORRUPT_LEN + member[start + CORRUPT_LEN:]
    # make sure it really no longer decompresses
    try:
        zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(damaged)
        raise AssertionError("corruption did not break the gzip member")
    except zlib.error:
        pass
    return damaged, [start, start + CORRUPT_LEN]


def layout(members):
    records, offset, blob = [], 0, bytearray()
    for member, m in members:
        entry = dict(offset=offset, length=len(member), warc_type=m["warc_type"], url=m["url"],
                     category=m["category"], language=m["language"], duplicate_of=m["duplicate_of"])
        entry.update((k, v) for k, v in m.items() if k not in entry)
        if "corrupted_bytes_in_member" in entry:
            a, b = entry.pop("corrupted_bytes_in_member")
            entry["corrupted_bytes"] = [offset + a, offset + b]
        records.append(entry)
        blob += member
        offset += len(member)
    return bytes(blob), records


def corrupt_is_well_placed(blob, records):
    """The corrupt member should sit roughly 2/3 into the file and must not
    cross a 16 KiB boundary. warcio (1.8) reads the file in 16 KiB blocks; when
    the whole damaged member is inside one block, warcio's first decompress
    call for it fails, it falls back to "not gzipped" and raises
    ArchiveLoadFailed. When the member straddles a block boundary, warcio
    instead prints the zlib error to stderr and silently ends the iteration.
    We want the loud behaviour, so we place the record accordingly."""
    r = next(r for r in records if r["category"] == "corrupt" and r["warc_type"] == "response")
    start, end = r["offset"], r["offset"] + r["length"] - 1
    return 0.6 <= start / len(blob) <= 0.75 and start // WARCIO_BLOCK == end // WARCIO_BLOCK


def main():
    # Insert the corrupt page at its catalogue position, or the nearest
    # position that satisfies corrupt_is_well_placed (deterministic search).
    nominal = next(i for i, e in enumerate(CATALOGUE) if e.get("corrupt"))
    bad, others = CATALOGUE[nominal], CATALOGUE[:nominal] + CATALOGUE[nominal + 1:]
    for pos in sorted(range(len(others) + 1), key=lambda p: (abs(p - nominal), p)):
        blob, records = layout(build_records(others[:pos] + [bad] + others[pos:]))
        if corrupt_is_well_placed(blob, records):
            break
    else:
        raise SystemExit("could not place the corrupt record; adjust CATALOGUE order")

    # A reader that resyncs by scanning for the next gzip magic after the
    # corrupt member must land exactly on the next record.
    bad_rec = next(r for r in records if r["category"] == "corrupt" and r["warc_type"] == "response")
    nxt = blob.find(b"\x1f\x8b\x08", bad_rec["offset"] + 1)
    assert nxt == bad_rec["offset"] + bad_rec["length"], "false gzip magic inside corrupt member"

    responses = [r for r in records if r["warc_type"] == "response"]
    counts = {
        "total_records": len(records),
        "warcinfo": sum(r["warc_type"] == "warcinfo" for r in records),
        "request": sum(r["warc_type"] == "request" for r in records),
        "response": len(responses),
        "metadata": sum(r["warc_type"] == "metadata" for r in records),
        "corrupt": sum(r["category"] == "corrupt" for r in responses),
        "readable_responses": sum(r["category"] != "corrupt" for r in responses),
        "response_by_category": dict(sorted(Counter(r["category"] for r in responses).items())),
        "response_by_language": dict(sorted(Counter(r["language"] or "null" for r in responses).items())),
        "warc_bytes": len(blob),
    }
    manifest = {
        "warc": WARC_NAME,
        "description": f"Every record of {WARC_NAME} in file order. 'offset' is the byte offset of the record's gzip "
                       "member; 'category'/'language'/'duplicate_of' describe the page the record belongs to "
                       "(request and metadata records carry the category of their response). The response "
                       "with category 'corrupt' has 'corrupted_bytes' = [start, end) absolute offsets that "
                       "were overwritten with 0x00.",
        "counts": counts,
        "corrupt_record": dict(
            offset=bad_rec["offset"], length=bad_rec["length"], next_member_offset=bad_rec["offset"] + bad_rec["length"],
            corrupted_bytes=bad_rec["corrupted_bytes"],
            note="Response record whose gzip member has %d bytes in the middle of its deflate data overwritten "
                 "with 0x00 (gzip header and trailer intact). It lies inside one 16 KiB block, so warcio's "
                 "ArchiveIterator (block size 16384, reading from offset 0) raises ArchiveLoadFailed at this "
                 "record after yielding all earlier records. Resynchronise by searching for the next "
                 "b'\\x1f\\x8b\\x08' after 'offset'." % CORRUPT_LEN),
        "records": records,
    }
    with open(WARC_PATH, "wb") as f:
        f.write(blob)
    with open(MANIFEST_PATH, "w", encoding="utf-8", newline="\n") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %s (%d bytes, %d records, %d responses, sha256 %s)"
          % (os.path.relpath(WARC_PATH), len(blob), len(records), len(responses),
             hashlib.sha256(blob).hexdigest()))
    print(f"wrote {os.path.relpath(MANIFEST_PATH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
