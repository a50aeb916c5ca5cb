"""Raw facts of a released distribution file, read from its core metadata (no scoring, nothing run).

The metadata is a wheel's ``*.dist-info/METADATA`` or an sdist's ``PKG-INFO`` (read from the
archive without unpacking it). Keys (a contract with the scorecards, named as in
:mod:`harness.facts` where the meaning is the same):

- ``metadata_version``; ``metadata_error``: why the metadata could not be read (then no other key).
- ``license``: SPDX id from ``License-Expression``, else a recognised ``License`` field (a short
  name, an SPDX id or a full licence text), else a licence classifier; ``"unknown"`` when something
  is declared but not recognised, ``"none"`` when nothing is; ``license_source``: the field used.
- ``readme``: ``{present, bytes, content_type}`` of the long description (the README on PyPI).
- ``dependency_declaration``: ``["Requires-Dist"]``, ``[]`` (the metadata declares none), or None
  when the metadata cannot tell (an sdist before Metadata 2.2 or one marking ``Requires-Dist``
  dynamic); ``dependencies``: ``{total, pinned, bounded, unbounded}`` of the runtime requirements
  (extras left out; classified as in :mod:`harness.facts.dependencies`), None when not known;
  ``extras``: the optional extras' names.
- ``python_versions``: ``{requires_python, classifiers, conda}`` (conda is always None here).
- ``project_urls``: ``{label: url}`` (``Home-page`` as ``Homepage``); ``has_docs``, ``has_source_url``,
  ``has_homepage``: whether a documentation, source-code or home-page URL is declared.
"""

from __future__ import annotations

import email.parser
import re
import tarfile
import zipfile
from email.message import Message
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from harness.facts.dependencies import Collected
from harness.facts.licence import identify

MAX_METADATA_BYTES = 5_000_000
_UNSET = frozenset({"", "unknown", "none", "n/a"})  # what old setuptools wrote for an absent field

# Normalised short licence names (lower case, "license"/"licence"/"version"/punctuation removed).
_NAMES = {
    "mit": "MIT", "mitx11": "MIT", "expat": "MIT",
    "apache": "Apache-2.0", "apache2": "Apache-2.0", "apache20": "Apache-2.0", "asl20": "Apache-2.0",
    "apachesoftware": "Apache-2.0", "apachesoftware20": "Apache-2.0",
    "bsd3clause": "BSD-3-Clause", "3clausebsd": "BSD-3-Clause", "newbsd": "BSD-3-Clause",
    "modifiedbsd": "BSD-3-Clause", "revisedbsd": "BSD-3-Clause", "bsd3": "BSD-3-Clause",
    "bsd2clause": "BSD-2-Clause", "2clausebsd": "BSD-2-Clause", "simplifiedbsd": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause", "bsd2": "BSD-2-Clause",
    "gpl3": "GPL-3.0", "gplv3": "GPL-3.0", "gnugplv3": "GPL-3.0", "gnugeneralpublicv3": "GPL-3.0",
    "gpl30": "GPL-3.0", "gpl30only": "GPL-3.0-only", "gpl30orlater": "GPL-3.0-or-later",
    "gplv3orlater": "GPL-3.0-or-later", "gpl2": "GPL-2.0", "gplv2": "GPL-2.0", "gpl20": "GPL-2.0",
    "lgpl3": "LGPL-3.0", "lgplv3": "LGPL-3.0", "lgpl30": "LGPL-3.0", "lgpl21": "LGPL-2.1",
    "lgplv21": "LGPL-2.1", "agpl3": "AGPL-3.0", "agplv3": "AGPL-3.0", "agpl30": "AGPL-3.0",
    "mpl20": "MPL-2.0", "mozillapublic20": "MPL-2.0", "isc": "ISC", "unlicense": "Unlicense",
    "cc010": "CC0-1.0", "cc0": "CC0-1.0", "bsl10": "BSL-1.0", "boostsoftware10": "BSL-1.0",
    "epl20": "EPL-2.0", "wtfpl": "WTFPL", "ccbync40": "CC-BY-NC-4.0", "ccby40": "CC-BY-4.0",
    "ccbyncsa40": "CC-BY-NC-SA-4.0", "ccbysa40": "CC-BY-SA-4.0",
}
# Licence classifiers whose short name (in parentheses) is not enough, or that have none.
_CLASSIFIERS = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "ISC License (ISCL)": "ISC",
}
_DOCS_LABELS = frozenset({"documentation", "docs", "doc", "apidocs", "apireference", "manual", "tutorial"})
_SOURCE_LABELS = frozenset({"source", "sourcecode", "code", "repository", "repo", "github", "gitlab", "git"})
_HOME_LABELS = frozenset({"homepage", "home", "website"})
_DOCS_URL = re.compile(r"readthedocs\.(io|org)|\.github\.io|//docs?\.|/docs?(/|$)", re.IGNORECASE)
_SOURCE_URL = re.compile(r"//(www\.)?(github\.com|gitlab\.com|bitbucket\.org|codeberg\.org)/", re.IGNORECASE)


def _key(text: str) -> str:
    text = re.sub(r"\b(the|licen[cs]e[sd]?|version|v(?=\d)|software foundation)\b", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "", text.replace("+", "orlater"))


def spdx_from_name(name: str) -> str | None:
    """The SPDX id of a short licence name (``"MIT License"``, ``"Apache 2.0"``, ``"BSD-3-Clause"``)."""
    return _NAMES.get(_key(name))


def spdx_from_classifier(classifier: str) -> str | None:
    """``License :: OSI Approved :: MIT License`` -> ``MIT``; None for ambiguous ones (``BSD License``)."""
    leaf = classifier.split("::")[-1].strip()
    if leaf in _CLASSIFIERS:
        return _CLASSIFIERS[leaf]
    short = re.search(r"\(([^)]+)\)\s*$", leaf)
    return spdx_from_name(short.group(1)) if short else spdx_from_name(leaf)


def _set(value: str | None) -> str | None:
    return value.strip() if value and value.strip().lower() not in _UNSET else None


def licence_of(meta: Message) -> tuple[str, str | None]:
    """``(spdx id | "unknown" | "none", the field it came from)``."""
    expression = _set(meta.get("License-Expression"))
    if expression:
        return expression, "License-Expression"
    field = _set(meta.get("License"))
    if field:
        spdx = spdx_from_name(field) if len(field) < 80 else None
        if spdx is None and len(field) >= 80:  # a whole licence text pasted into the field
            spdx = None if (found := identify(field)) == "unknown" else found
        if spdx:
            return spdx, "License"
    classifiers = [c for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    for classifier in classifiers:
        spdx = spdx_from_classifier(classifier)
        if spdx:
            return spdx, "Classifier"
    if field or classifiers:
        return "unknown", "License" if field else "Classifier"
    return "none", None


def _long_description(meta: Message) -> str:
    body = meta.get_payload()
    text = body if isinstance(body, str) and body.strip() else ""
    if not text:  # Metadata < 2.1: a header whose continuation lines start with 8 spaces and "|"
        text = re.sub(r"\n {7,8}\|", "\n", meta.get("Description") or "")
    return "" if text.strip().lower() in _UNSET else text


def _urls(meta: Message) -> dict[str, str]:
    urls: dict[str, str] = {}
    home = _set(meta.get("Home-page"))
    if home:
        urls["Homepage"] = home
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if url.strip():
            urls.setdefault(label.strip(), url.strip())
    return urls


def _url_kinds(urls: dict[str, str]) -> dict[str, bool]:
    labels = {re.sub(r"[^a-z]", "", label.lower()): url for label, url in urls.items()}
    return {
        "has_docs": any(k in _DOCS_LABELS or _DOCS_URL.search(u) for k, u in labels.items()),
        "has_source_url": any(k in _SOURCE_LABELS or _SOURCE_URL.search(u) for k, u in labels.items()),
        "has_homepage": any(k in _HOME_LABELS for k in labels),
    }


def _dependencies(meta: Message, reliable: bool) -> dict[str, Any]:
    runtime: list[str] = []
    extras = sorted({str(e).strip() for e in meta.get_all("Provides-Extra") or []})
    for spec in meta.get_all("Requires-Dist") or []:
        try:
            marker = str(Requirement(str(spec)).marker or "")
        except InvalidRequirement:
            marker = ""
        if "extra" not in marker:
            runtime.append(str(spec))
    if not runtime and not reliable:
        return {"dependency_declaration": None, "dependencies": None, "extras": extras}
    out = Collected()
    out.add_pep508(runtime)
    return {
        "dependency_declaration": ["Requires-Dist"] if runtime else [],
        "dependencies": out.counts(),
        "extras": extras,
    }


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:2]) or (1, 0)


def facts_from_metadata(raw: bytes, *, sdist: bool) -> dict[str, Any]:
    """The package facts of one core-metadata file (see the module docstring)."""
    meta = email.parser.Parser().parsestr(raw.decode("utf-8", errors="replace"))  # str headers, never Header
    version = str(meta.get("Metadata-Version") or "1.0")
    dynamic = {str(d).strip().lower() for d in meta.get_all("Dynamic") or []}
    # A wheel's metadata is final; an sdist's is only reliable from Metadata 2.2 on (PEP 643).
    reliable = not sdist or (_version_tuple(version) >= (2, 2) and "requires-dist" not in dynamic)
    spdx, source = licence_of(meta)
    text = _long_description(meta)
    python = Collected()
    python.set_requires_python(meta.get("Requires-Python"))
    python.add_classifiers(meta.get_all("Classifier") or [])
    urls = _urls(meta)
    return {
        "metadata_version": version,
        "license": spdx,
        "license_source": source,
        "readme": {
            "present": bool(text.strip()),
            "bytes": len(text.encode("utf-8")),
            "content_type": _set(meta.get("Description-Content-Type")),
        },
        **_dependencies(meta, reliable),
        "python_versions": python.python_versions(),
        "project_urls": urls,
        **_url_kinds(urls),
    }


def read_metadata(artifact: Path) -> tuple[bytes, bool]:
    """``(core metadata bytes, is an sdist)`` of a wheel, ``.tar.gz``/``.tar.bz2`` or ``.zip`` sdist."""
    name = artifact.name
    if name.endswith(".whl"):
        with zipfile.ZipFile(artifact) as zf:
            found = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(found) != 1:
                raise ValueError(f"{len(found)} .dist-info/METADATA files in the wheel")
            return _capped(zf.getinfo(found[0]).file_size, lambda: zf.read(found[0])), False
    if name.endswith(".zip"):
        with zipfile.ZipFile(artifact) as zf:
            found = [n for n in zf.namelist() if re.fullmatch(r"[^/]+/PKG-INFO", n)]
            if not found:
                raise ValueError("no PKG-INFO at the top of the sdist")
            return _capped(zf.getinfo(found[0]).file_size, lambda: zf.read(found[0])), True
    with tarfile.open(artifact) as tf:
        for member in tf:
            if member.isfile() and re.fullmatch(r"(\./)?[^/]+/PKG-INFO", member.name):
                fh = tf.extractfile(member)
                if fh is None:
                    break
                return _capped(member.size, fh.read), True
    raise ValueError("no PKG-INFO at the top of the sdist")


def _capped(size: int, read: Any) -> bytes:
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"the metadata file has {size} bytes (more than {MAX_METADATA_BYTES})")
    data: bytes = read()
    return data


def collect_package_facts(artifact: Path) -> dict[str, Any]:
    """The metadata facts of a downloaded distribution file; ``{"metadata_error": ...}`` when unreadable."""
    try:
        raw, sdist = read_metadata(artifact)
    except (OSError, ValueError, zipfile.BadZipFile, tarfile.TarError) as exc:
        return {"metadata_error": f"{type(exc).__name__}: {exc}"}
    return facts_from_metadata(raw, sdist=sdist)


__all__ = ["collect_package_facts", "facts_from_metadata", "licence_of", "spdx_from_classifier", "spdx_from_name"]
