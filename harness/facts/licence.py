"""Licence detection: the SPDX id of a repository's licence file, recognised from its text.

Returns ``(spdx_id, file)``: ``spdx_id`` is an SPDX identifier, ``"unknown"`` when a licence file
exists but its text is not recognised (or cannot be read safely), ``"none"`` when there is no
licence file. GPL-family files do not say "only" or "or later" by themselves, so the short
(deprecated) ids ``GPL-3.0`` etc. are used. An ``SPDX-License-Identifier`` tag wins; otherwise the
licence named earliest in the text.
"""

from __future__ import annotations

import re

from harness.facts.tree import Tree

_FILE_RE = re.compile(r"^(licen[cs]e|copying|unlicense)([-._].*)?$", re.IGNORECASE)
_SPDX_TAG_RE = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+-]+)")


def _all(*parts: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in parts)


# The GNU texts name each other ("use the GNU Lesser General Public License instead"), so the GNU
# family is recognised from the *first* GNU licence named near the head of the file (its title, or
# the usual short notice) and the version that follows it.
HEAD_CHARS = 1000
_GNU_RE = re.compile(r"GNU (AFFERO |LESSER |LIBRARY )?GENERAL PUBLIC LICENSE", re.IGNORECASE)
_GNU_VERSION_RE = re.compile(r"version (\d(?:\.\d)?)", re.IGNORECASE)
_GNU_IDS = {("", "2"): "GPL-2.0", ("", "3"): "GPL-3.0", ("lesser", "2.1"): "LGPL-2.1",
            ("lesser", "3"): "LGPL-3.0", ("library", "2"): "LGPL-2.0", ("affero", "3"): "AGPL-3.0"}


def _gnu(flat: str) -> tuple[int, str] | None:
    """(position, id) of the first GNU licence named near the head of the text."""
    m = _GNU_RE.search(flat, 0, HEAD_CHARS + 40)
    if not m:
        return None
    kind = (m.group(1) or "").strip().lower()
    version = _GNU_VERSION_RE.search(flat, m.end(), m.end() + 200)
    number = version.group(1).removesuffix(".0") if version else ""
    spdx = _GNU_IDS.get((kind, number))
    return (m.start(), spdx) if spdx else None


# (SPDX id, phrases that must all occur in the whitespace-normalised text). The licence whose first
# phrase occurs *earliest* wins (a file that quotes the licences of bundled third-party code further
# down is the project's own licence first); on a tie, the more specific rule listed first wins.
RULES: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = (
    ("Apache-2.0", _all(r"Apache License", r"Version 2\.0")),
    ("MPL-2.0", _all(r"Mozilla Public License", r"(Version 2\.0|v\. 2\.0)")),
    ("EPL-2.0", _all(r"Eclipse Public License", r"(v|Version) ?2\.0")),
    ("BSL-1.0", _all(r"Boost Software License")),
    ("Unlicense", _all(r"free and unencumbered software released into the public domain")),
    ("CC0-1.0", _all(r"CC0 1\.0 Universal")),
    ("CC-BY-NC-SA-4.0", _all(r"Attribution-NonCommercial-ShareAlike 4\.0")),
    ("CC-BY-NC-4.0", _all(r"Attribution-NonCommercial 4\.0")),
    ("CC-BY-SA-4.0", _all(r"Attribution-ShareAlike 4\.0")),
    ("CC-BY-4.0", _all(r"Attribution 4\.0 International")),
    ("WTFPL", _all(r"DO WHAT THE FUCK YOU WANT TO")),
    ("BSD-4-Clause", _all(r"Redistribution and use in source and binary forms",
                          r"All advertising materials mentioning")),
    ("BSD-3-Clause", _all(r"Redistribution and use in source and binary forms",
                          r"(Neither the name|names of (its|the) contributors may)")),
    ("BSD-2-Clause", _all(r"Redistribution and use in source and binary forms")),
    ("ISC", _all(r"Permission to use, copy, modify, and(/or)? distribute this software for any purpose")),
    ("MIT", _all(r"Permission is hereby granted, free of charge, to any person obtaining a copy")),
)


def identify(text: str) -> str:
    """The SPDX id of a licence text, or ``"unknown"``."""
    tag = _SPDX_TAG_RE.search(text)
    if tag:
        return tag.group(1)
    flat = " ".join(text.split())
    found: list[tuple[int, int, str]] = []
    gnu = _gnu(flat)
    if gnu:
        found.append((gnu[0], -1, gnu[1]))
    for order, (spdx, phrases) in enumerate(RULES):
        hits = [p.search(flat) for p in phrases]
        if all(hits):
            found.append((hits[0].start(), order, spdx))  # type: ignore[union-attr]
    return min(found)[2] if found else "unknown"


def licence_files(tree: Tree) -> list[str]:
    """Top-level licence files, the plain ``LICENSE``-like names first."""
    found = [f for f in tree.top_files() if _FILE_RE.match(f)]
    return sorted(found, key=lambda f: (len(f), f.lower()))


def detect(tree: Tree) -> tuple[str, str | None]:
    """``(spdx_id, file)`` for the checkout: the first recognised licence file wins."""
    files = licence_files(tree)
    if not files:
        return "none", None
    for name in files:
        text = tree.read_text(name, max_bytes=200_000)
        if text is not None and (spdx := identify(text)) != "unknown":
            return spdx, name
    return "unknown", files[0]
