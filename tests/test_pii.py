"""PII masking on real text: planted emails and IPs in varied formats must go, look-alikes must stay."""

import random

import pytest

from curate.filters.pii_mask import PIIMask

USERS = ["john.doe", "j_smith", "anna-maria", "o'brien", "first.last+tag", "x", "user123", "ZOE.K", "dev-ops.team"]
DOMAINS = ["gmail.com", "uni-heidelberg.de", "mail.example.co.uk", "sub.domain.org", "ABC.COM", "x1.io"]
IPV6 = ["2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e", "2001:db9:0:0:0:0:0:1"]
FRAMES = ["Contact {} today.", "({})", "<{}>", "email: {}", "{},", "[{}]", "'{}'", "at {}.", "{}\n", "\"{}\""]


def public_ipv4(rng):
    while True:
        ip = ".".join(str(rng.randint(1, 223)) for _ in range(4))
        import ipaddress

        if ipaddress.ip_address(ip).is_global:
            return ip


@pytest.fixture(scope="module")
def corpus(shared):
    lines = (shared / "clean_text" / "tinyshakespeare").glob("*")
    text = next(p for p in lines if p.is_file()).read_text(errors="replace")
    sentences = [s for s in text.split("\n") if len(s) > 20][:3000]
    rng = random.Random(4)
    planted, docs = [], []
    for i in range(0, 3000, 5):
        chunk = sentences[i:i + 5]
        kind = rng.choice(["email", "ipv4", "ipv6"])
        if kind == "email":
            value = f"{rng.choice(USERS)}@{rng.choice(DOMAINS)}"
        elif kind == "ipv4":
            value = public_ipv4(rng) + rng.choice(["", ":8080", "/24"])
        else:
            value = rng.choice(IPV6)
        chunk.insert(rng.randint(0, len(chunk)), rng.choice(FRAMES).format(value))
        planted.append(value.split(":80")[0].split("/")[0] if kind != "ipv6" else value)
        docs.append("\n".join(chunk))
    return docs, planted


def test_recall_on_planted_pii(corpus):
    docs, planted = corpus
    assert len(planted) >= 500
    step = PIIMask()
    found = sum(value not in step.mask(doc)[0] for doc, value in zip(docs, planted))
    assert found / len(planted) >= 0.99, f"recall {found / len(planted):.3f}"


@pytest.mark.parametrize("text", [
    "Released in version 1.2.3 and v2.10.4.1 today.",
    "Upgrade to version 10.2.3.4 now.",
    "Python 3.11.4, numpy 1.26.0, build 4.2.0.1.",
    "On 2023-10-12 and 12.10.2023 and 10/12/2023 at 12:30:45.",
    "It costs $1,299.99 or €1.299,00, down from 2.500.000 won.",
    "See section 4.2.1 and clause 10.3.2.1.4 of the contract.",
    "Private hosts 192.168.1.1, 10.0.0.1 and 127.0.0.1 are not personal data.",
    "The ratio was 3:2 and the time 10:45.",
    "Email us at our office.",
])
def test_no_false_positives(text):
    masked, counts = PIIMask(phones=True).mask(text)
    assert masked == text and counts == {"n_emails": 0, "n_ips": 0, "n_phones": 0}


@pytest.mark.parametrize("text, counts", [
    ("Mail john.doe@gmail.com or jane@x.org", {"n_emails": 2, "n_ips": 0, "n_phones": 0}),
    ("Server 8.8.8.8 and 2001:4860:4860::8888", {"n_emails": 0, "n_ips": 2, "n_phones": 0}),
    ("Call +44 20 7946 0958 or (415) 555-0132", {"n_emails": 0, "n_ips": 0, "n_phones": 2}),
])
def test_counts_per_document(text, counts):
    from datatrove.data import Document

    doc = Document(text=text, id="x")
    PIIMask(phones=True).process(doc)
    assert {k.split("__")[1]: v for k, v in doc.metadata.items()} == counts
    assert "gmail" not in doc.text and "8.8.8.8" not in doc.text and "7946" not in doc.text


def test_phones_are_optional():
    assert PIIMask().mask("Call (415) 555-0132")[0] == "Call (415) 555-0132"


def test_same_as_datatrove_on_emails_and_public_ipv4():
    from datatrove.pipeline.formatters import PIIFormatter

    text = "Write to a.b@c.com from 8.8.8.8, or 1.1.1.1; not 192.168.0.1."
    assert PIIMask().mask(text)[0] == PIIFormatter().format(text)


def test_version_2_records_under_its_registry_name_and_version_1_as_before():
    """pii_mask@2 records `pii_mask__*` (what a rule's `pii_mask.n_emails` reads); pii_mask@1, kept
    for old recipes, masks the same and still records `pii__*`."""
    from datatrove.data import Document

    from curate.filters.pii_mask import PIIMaskV1

    text = "Mail john.doe@gmail.com from 8.8.8.8, not from 10.0.0.1."
    new, old = Document(text=text, id="a"), Document(text=text, id="b")
    PIIMask().process(new)
    PIIMaskV1().process(old)
    assert new.text == old.text != text
    assert new.metadata["pii_mask__n_emails"] == 1 and new.metadata["pii_mask__n_ips"] == 1
    assert {k.replace("pii_mask__", "pii__"): v for k, v in new.metadata.items()} == old.metadata
