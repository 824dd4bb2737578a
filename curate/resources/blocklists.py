"""Reading domain and URL blocklists in the formats people publish them in.

* **UT1** (Université Toulouse 1, the list datatrove and FineWeb use): a `blacklists/` folder, or a
  `.tar.gz`/`.tar.xz` of it, with one folder per category holding `domains` (one domain per line)
  and `urls` (`host/path` per line). Category aliases that UT1 ships as symlinks (`porn -> adult`)
  resolve to their target.
* **hosts files** (blocklistproject, Sinfonietta): `0.0.0.0 domain` or `127.0.0.1 domain` lines.
* **plain lists**: one domain per line.

Files may be gzipped; `#` and `!` start comments. Every list is read into a dict `entry -> list name`,
so a lookup is a few hash probes whatever the list size (see `Blocklist.match`).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

HOSTS_ADDRESSES = {"0.0.0.0", "127.0.0.1", "::1", "::", "255.255.255.255"}
HOSTS_SKIP = {"localhost", "localhost.localdomain", "local", "broadcasthost", "0.0.0.0", "ip6-localhost"}


def normalize_domain(entry: str) -> str:
    """`*.Example.COM.` -> `example.com`: lowercase, no wildcard, leading or trailing dots, or `www.`."""
    entry = entry.strip().lower().removeprefix("*.").strip(".")
    return entry.removeprefix("www.")


def domain_lines(lines: Iterable[str]) -> Iterator[str]:
    """Domains from a hosts file or a plain list (the format is told line by line)."""
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("!"):
            continue
        fields = line.split()
        names = fields[1:] if len(fields) > 1 and fields[0] in HOSTS_ADDRESSES else fields[:1]
        for name in names:
            domain = normalize_domain(name)
            if domain and domain not in HOSTS_SKIP:
                yield domain


def url_lines(lines: Iterable[str]) -> Iterator[str]:
    """UT1 `urls` entries (`host/path`), normalized as `url_key` normalizes a URL."""
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            host, _, path = line.partition("/")
            yield normalize_domain(host) + ("/" + path.rstrip("/") if path.rstrip("/") else "")


def read_text_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise FileNotFoundError(f"blocklist {path}: cannot read ({error})") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except OSError as error:
            raise ValueError(f"blocklist {path}: not a valid gzip file ({error})") from None
    return data.decode("utf-8", errors="replace").splitlines()


def is_ut1(path: Path) -> bool:
    return path.is_dir() or path.name.endswith((".tar.gz", ".tgz", ".tar.xz", ".tar"))


def read_ut1(path: Path, categories: list[str]) -> Iterator[tuple[str, str, str]]:
    """(category, kind, lines) for each wanted category's `domains` and `urls` in a UT1 folder or archive;
    kind is `domains` or `urls`. A wanted category absent from the list raises, naming what exists."""
    files: dict[tuple[str, str], bytes] = {}
    links: dict[str, str] = {}
    if path.is_dir():
        root = path / "blacklists" if (path / "blacklists").is_dir() else path
        for category in root.iterdir():
            if category.is_symlink():
                links[category.name] = Path(category.readlink()).name
            elif category.is_dir():
                for kind in ("domains", "urls"):
                    if (category / kind).is_file():
                        files[category.name, kind] = (category / kind).read_bytes()
    else:
        try:
            with tarfile.open(path) as tar:
                for member in tar:
                    parts = member.name.strip("/").split("/")
                    if len(parts) >= 2 and parts[0] == "blacklists":
                        parts = parts[1:]
                    if member.issym() and len(parts) == 1:
                        links[parts[0]] = member.linkname.rstrip("/").split("/")[-1]
                    elif member.isfile() and len(parts) == 2 and parts[1] in ("domains", "urls"):
                        files[parts[0], parts[1]] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise ValueError(f"blocklist {path}: not a readable UT1 archive ({error})") from None
    known = {c for c, _ in files} | set(links)
    for category in categories:
        target = links.get(category, category)
        if target not in {c for c, _ in files}:
            raise ValueError(f"blocklist {path}: UT1 category {category!r} has no domains or urls list here; "
                             f"present: {', '.join(sorted(known))}")
        for kind in ("domains", "urls"):
            if (target, kind) in files:
                yield category, kind, io.TextIOWrapper(io.BytesIO(files[target, kind]), encoding="utf-8",
                                                      errors="replace").read().splitlines()


def url_key(url: str) -> tuple[str | None, str]:
    """(host, host+path) of `url` as lists store them: lowercase host without `www.` or port, no
    trailing `/`. A URL that does not parse gives (None, "")."""
    try:
        parts = urlsplit(url if "//" in url else "//" + url)
        host = parts.hostname
    except ValueError:
        return None, ""
    if not host or any(c.isspace() for c in host):
        return None, ""
    host = normalize_domain(host)
    return host, host + parts.path.rstrip("/")


class Blocklist:
    """Domains and URL prefixes, each mapped to the name of the list it came from.

    A listed domain blocks itself and every subdomain: `match` probes the host and each of its
    parent domains (`a.b.example.com`, `b.example.com`, `example.com`, `com`), so a lookup costs
    one dict probe per label, not one per list entry. A listed URL (`host/path`) blocks that page
    and everything under that path.
    Example: `Blocklist().add_domains(["example.com"], "mine").match("https://a.example.com/x")`.
    """

    def __init__(self):
        self.domains: dict[str, str] = {}
        self.urls: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.domains) + len(self.urls)

    def add_domains(self, domains: Iterable[str], name: str) -> Blocklist:
        for domain in domains:
            self.domains.setdefault(domain, name)
        return self

    def add_urls(self, urls: Iterable[str], name: str) -> Blocklist:
        for url in urls:
            self.urls.setdefault(url, name)
        return self

    def match(self, host: str | None, host_path: str = "") -> tuple[str, str] | None:
        """(list name, matched entry) for the first listed parent domain or URL prefix, else None."""
        if not host:
            return None
        candidate = host
        while True:
            name = self.domains.get(candidate)
            if name is not None:
                return name, candidate
            dot = candidate.find(".")
            if dot < 0:
                break
            candidate = candidate[dot + 1:]
        if self.urls and len(host_path) > len(host):
            prefix = host_path
            while len(prefix) > len(host):
                name = self.urls.get(prefix)
                if name is not None:
                    return name, prefix
                prefix = prefix[:prefix.rfind("/")]
        return None


def load(spec: str | dict, default_categories: list[str]) -> Blocklist:
    """One blocklist from a recipe entry: a path, or `{path, name, categories}` (UT1 categories).

    The list name, used in reasons, is `name` if given, else `ut1/<category>` for UT1 lists, else
    `<folder>/<file stem>` (`blocklistproject/scam` for `.../blocklistproject/scam.txt.gz`).
    """
    if isinstance(spec, str):
        spec = {"path": spec}
    unknown = set(spec) - {"path", "name", "categories"}
    if "path" not in spec or unknown:
        raise ValueError(f"a blocklist is a path or {{path, name, categories}}; got {spec!r}")
    path = Path(spec["path"]).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"blocklist not found: {path}")
    blocklist = Blocklist()
    if is_ut1(path):
        prefix = spec.get("name", "ut1")
        for category, kind, lines in read_ut1(path, list(spec.get("categories") or default_categories)):
            name = f"{prefix}/{category}"
            if kind == "domains":
                blocklist.add_domains(domain_lines(lines), name)
            else:
                blocklist.add_urls(url_lines(lines), name)
        return blocklist
    stem = path.name.removesuffix(".gz").rsplit(".", 1)[0] if "." in path.name.removesuffix(".gz") else path.name
    name = spec.get("name") or f"{path.parent.name}/{stem}"
    return blocklist.add_domains(domain_lines(read_text_lines(path)), name)
