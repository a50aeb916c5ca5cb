"""Facts about a checkout's layout: README, docs, examples, tests and continuous integration."""

from __future__ import annotations

import re
from typing import Any

from harness.facts.tree import Tree

DOCS_DIRS = frozenset({"docs", "doc", "documentation", "docsrc"})
DOCS_FILES = frozenset({"mkdocs.yml", ".readthedocs.yml", ".readthedocs.yaml"})
EXAMPLE_DIRS = frozenset({"examples", "example", "demo", "demos", "tutorials", "tutorial", "notebooks"})
TEST_DIRS = frozenset({"tests", "test", "testing", "unittests"})
_TEST_FILE_RE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
_README_RE = re.compile(r"^readme(\.[A-Za-z0-9]+)?$", re.IGNORECASE)
# CI services by the file that configures them (``github-actions`` needs a workflow file).
CI_FILES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("github-actions", re.compile(r"^\.github/workflows/[^/]+\.ya?ml$")),
    ("travis", re.compile(r"^\.travis\.ya?ml$")),
    ("circleci", re.compile(r"^\.circleci/config\.ya?ml$")),
    ("gitlab", re.compile(r"^\.gitlab-ci\.ya?ml$")),
    ("azure-pipelines", re.compile(r"^azure-pipelines\.ya?ml$")),
    ("appveyor", re.compile(r"^\.?appveyor\.ya?ml$")),
    ("jenkins", re.compile(r"^Jenkinsfile$")),
    ("buildkite", re.compile(r"^\.buildkite/pipeline\.ya?ml$")),
)


def readme(tree: Tree) -> dict[str, Any]:
    """``{present, bytes, file}`` of the top-level README (Markdown preferred; never through an
    escaping symlink)."""
    names = sorted((f for f in tree.top_files() if _README_RE.match(f)),
                   key=lambda f: (not f.lower().endswith(".md"), len(f), f))
    for name in names:
        size = tree.size(name)
        if size is not None:
            return {"present": True, "bytes": size, "file": name}
    return {"present": False, "bytes": 0, "file": None}


def collect(tree: Tree) -> dict[str, Any]:
    top_dirs = {d.lower() for d in tree.top_dirs()}
    top_files = {f.lower() for f in tree.top_files()}
    all_dirs = {d.rsplit("/", 1)[-1].lower() for d in tree.dirs}
    return {
        "readme": readme(tree),
        "has_docs": bool(top_dirs & DOCS_DIRS or top_files & DOCS_FILES),
        "has_examples": any(d.count("/") <= 1 and d.rsplit("/", 1)[-1].lower() in EXAMPLE_DIRS
                            for d in tree.dirs),  # top level or one below (``pkg/examples``)
        "has_tests": bool(all_dirs & TEST_DIRS) or any(_TEST_FILE_RE.search(f) for f in tree.files),
        "ci": [name for name, pattern in CI_FILES if any(pattern.match(f) for f in tree.files)],
    }
