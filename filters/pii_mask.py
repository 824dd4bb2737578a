"""PII masking as FineWeb does it (emails and public IP addresses), plus IPv6 and, optionally, phones."""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from datatrove.data import Document

from curate.core.step import CurateStep, Signal

# datatrove's PIIFormatter email regex (the one FineWeb ran).
EMAIL = re.compile(
    r"\b[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[A-Za-z0-9](?:["
    r"A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|["
    r"01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[A-Za-z0-9-]*[A-Za-z0-9]:)])"
)
# datatrove's IPv4 regex, bounded so that it does not match inside longer dotted numbers
# (1.2.3.4.5, section 10.2.3.4.1) and not after "v", "version", "build", "release" (v1.2.3.4).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
IPV4 = re.compile(rf"(?<![\w.])(?<!version )(?<!ver\. )(?<!build )(?<!release )(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")
IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
                  r"|(?<![\w:.])::(?![\w:.])")
# International or North-American phone numbers with separators: +44 20 7946 0958,
# (415) 555-0132, 415-555-0132, +1.415.555.0132. Bare digit runs are left alone.
PHONE = re.compile(r"(?<![\w+.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?!\w|\.\d)")

EMAIL_REPLACEMENT = ("email@example.com", "firstname.lastname@example.org")  # datatrove / FineWeb
IP_REPLACEMENT = ("22.214.171.124", "126.96.36.199", "188.8.131.52", "184.108.40.206", "220.127.116.11",
                  "18.104.22.168")  # datatrove's: random IPs that did not answer pings
IPV6_REPLACEMENT = ("2001:db8::1",)  # the documentation prefix (RFC 3849)
PHONE_REPLACEMENT = ("555-0100",)  # reserved for fiction in the North American plan


def _ip(text: str, public_only: bool) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return ip.is_global or not public_only


class PIIMask(CurateStep):
    """Replace email addresses, IP addresses and (optionally) phone numbers; count them per document.

    FineWeb (Penedo et al. 2024, section 3.6) anonymised emails and public IP addresses with
    datatrove's `PIIFormatter`; this uses its email regex and replacement strings and its IPv4
    pattern, and only masks addresses Python's `ipaddress` calls global (`only_public_ips`, as
    FineWeb: private and reserved ones are not PII). It differs from datatrove deliberately in
    two ways: IPv6 addresses are masked too, and an IPv4 pattern inside a longer dotted number
    (1.2.3.4.5) or after "v", "version ", "build " or "release " is not an address (datatrove masks it). Phone numbers
    (`phones: true`) need separators (+44 20 7946 0958, (415) 555-0132). A transform: it never
    drops a document. Signals: `pii_mask__n_emails`, `pii_mask__n_ips` (v4 and v6),
    `pii_mask__n_phones` (`pii_mask@2`; `pii_mask@1` recorded them as `pii__*`).
    Example: `- pii_mask: {phones: false}`.
    """

    name = "📞 curate PII mask"
    namespace: ClassVar[str] = "pii_mask"
    signals: ClassVar[dict[str, Signal]] = {  # counts; a transform never drops
        "n_emails": Signal("int64"), "n_ips": Signal("int64"), "n_phones": Signal("int64")}

    def __init__(self, emails: bool = True, ips: bool = True, only_public_ips: bool = True, phones: bool = False,
                 emit_dropped: bool = False):
        super().__init__(emit_dropped=emit_dropped)
        self.emails, self.ips, self.only_public_ips, self.phones = emails, ips, only_public_ips, phones

    def mask(self, text: str) -> tuple[str, dict[str, int]]:
        counts = {"n_emails": 0, "n_ips": 0, "n_phones": 0}

        def replacer(pattern, replacements, signal, valid=None):
            def sub(m):
                if valid is not None and not valid(m.group(0)):
                    return m.group(0)
                counts[signal] += 1
                return replacements[(counts[signal] - 1) % len(replacements)]
            return pattern.sub(sub, text)

        if self.emails and "@" in text:
            text = replacer(EMAIL, EMAIL_REPLACEMENT, "n_emails")
        if self.ips:
            text = replacer(IPV4, IP_REPLACEMENT, "n_ips", lambda s: _ip(s, self.only_public_ips))
            if ":" in text:
                text = replacer(IPV6, IPV6_REPLACEMENT, "n_ips", lambda s: _ip(s, self.only_public_ips))
        if self.phones:
            text = replacer(PHONE, PHONE_REPLACEMENT, "n_phones")
        return text, counts

    def process(self, doc: Document) -> None:
        doc.text, counts = self.mask(doc.text)
        self.record_all(doc, counts)
        return None


class PIIMaskV1(PIIMask):
    """`pii_mask@1`: the same masking, with its signals under the old namespace, `pii__n_emails`.

    A stage's namespace is its registry name (curate/core/registry.py); version 1 of this stage
    broke that rule, so a keep rule written `pii_mask.n_emails` read nothing. Version 2 fixed the
    namespace; this version stays so recipes pinned to `pii_mask@1`, and the decision tables they
    wrote, keep their `pii__*` columns (a rule over them says `pii.n_emails`).
    Example: `- pii_mask@1: {phones: false}`.
    """

    namespace: ClassVar[str] = "pii"
