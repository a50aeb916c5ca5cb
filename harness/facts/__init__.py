"""Raw repository facts (no scoring): what a checkout contains, declares and imports, read statically.

Collected once per fetch and stored in the result record's ``facts``; the scorecards
(``harness.scoring``) turn them into scores. Nothing from the checkout is executed, no symlink that
leaves the checkout is followed, and the walk is capped (``tree_truncated``) to stay fast.

Keys (a contract with the scorecards and the report):

- ``license``: SPDX id, ``"unknown"`` (a licence file that is not recognised or not readable) or
  ``"none"`` (no licence file); ``license_file``: its name or None.
- ``last_commit_date`` (ISO 8601, the pinned commit's committer date) and ``commits_last_year``
  (commits in the 365 days before that date; None when unknown) -- see :mod:`harness.facts.history`.
- ``readme``: ``{present, bytes, file}``; ``has_docs``, ``has_examples``, ``has_tests``: booleans;
  ``notebooks``: number of ``.ipynb`` files.
- ``ci``: list of services (``github-actions``, ``travis``, ``circleci``, ``gitlab``,
  ``azure-pipelines``, ``appveyor``, ``jenkins``, ``buildkite``).
- ``dependency_declaration``: kinds found, in the order ``requirements.txt``, ``setup.py``,
  ``setup.cfg``, ``pyproject.toml``, ``Pipfile``, ``environment.yml`` (an empty list: none);
  ``dependency_files``: the files; ``dependencies``: ``{total, pinned, bounded, unbounded}``
  (see :mod:`harness.facts.dependencies`).
- ``python_versions``: ``{requires_python, classifiers, conda}`` as declared.
- ``frameworks``: imported frameworks among torch, tensorflow, keras, theano, lasagne, jax, sklearn,
  numpy; ``python_files`` scanned; ``py3_syntax_errors``: files that are not valid Python 3.
- ``escaping_symlinks``: ``[{path, target}]`` of symlinks resolving outside the checkout.
- ``missing_files``: files of the pinned commit the source (a partial mirror) did not have, which
  are therefore absent from the checkout.
- ``on_pypi``: whether the library is published on PyPI (from the manifest; None when not known).
- ``tree_truncated``: the walk hit its cap, folder facts may be incomplete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.records import SourceInfo

FACTS_VERSION = 1


def collect_repo_facts(checkout: Path, source: SourceInfo | None = None, *,
                       on_pypi: bool | None = None) -> dict[str, Any]:
    """The raw facts of ``checkout`` (a git work tree or an unpacked source tree)."""
    # imported here: importing harness.facts.package (PyPI facts) must not pull in git's helpers
    from harness.facts import dependencies, frameworks, history, layout, licence
    from harness.facts.tree import walk

    tree = walk(checkout)
    spdx, licence_file = licence.detect(tree)
    facts: dict[str, Any] = {"facts_version": FACTS_VERSION, "license": spdx, "license_file": licence_file}
    facts |= history.collect(checkout, source.commit_date if source else None)
    facts |= layout.collect(tree)
    facts |= dependencies.collect(tree)
    facts |= frameworks.collect(tree)
    links = {link["path"]: link for link in [*history.recorded_escaping_links(checkout), *tree.escaping]}
    facts["escaping_symlinks"] = sorted(links.values(), key=lambda link: link["path"])
    facts["missing_files"] = history.missing_files(checkout)
    facts["on_pypi"] = on_pypi
    facts["tree_truncated"] = tree.truncated
    return facts


__all__ = ["FACTS_VERSION", "collect_repo_facts"]
