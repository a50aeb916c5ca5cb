"""Which ML frameworks a checkout imports, from a static scan of its Python files and notebooks.

Each ``*.py`` file is parsed with ``ast`` (absolute imports only; relative ones are the project's own
modules). A file that does not parse as Python 3 (a Python 2 ``print`` statement, say) is scanned
with a line regex instead and counted in ``py3_syntax_errors``. Notebook code cells are scanned with
the regex (IPython magics are not Python). Files and bytes are capped so that huge repositories stay
fast; ``python_files`` says how many were scanned.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from harness.facts.tree import Tree

FRAMEWORKS = ("torch", "tensorflow", "keras", "theano", "lasagne", "jax", "sklearn", "numpy")
MAX_FILES = 3000
MAX_FILE_BYTES = 1_000_000
_IMPORT_RE = re.compile(r"^[ \t]*(?:from[ \t]+([A-Za-z_]\w*)[\w.]*[ \t]+import\b|import[ \t]+([^#\n;]+))",
                        re.MULTILINE)


def imports_ast(text: str) -> set[str]:
    """Top-level module names imported by a Python 3 source (raises SyntaxError/ValueError)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def imports_regex(text: str) -> set[str]:
    """Top-level module names from ``import``/``from`` lines (any Python version, notebooks)."""
    names: set[str] = set()
    for from_mod, import_list in _IMPORT_RE.findall(text):
        if from_mod:
            names.add(from_mod)
        else:
            for part in import_list.split(","):
                word = part.strip().split(" ")[0].split(".")[0]
                if re.fullmatch(r"[A-Za-z_]\w*", word):
                    names.add(word)
    return names


def _notebook_code(text: str) -> str:
    """The code cells of a notebook; for a truncated or broken file, its JSON strings one per line."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return text.replace("\\n", "\n").replace('"', "\n")
    code = [c.get("source", "") for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    return "\n".join("".join(src) if isinstance(src, list) else str(src) for src in code)


def collect(tree: Tree) -> dict[str, Any]:
    """Facts: ``frameworks`` (in FRAMEWORKS order), ``python_files``, ``py3_syntax_errors``, ``notebooks``."""
    found: set[str] = set()
    py_files = [f for f in tree.files if f.endswith(".py")]
    notebooks = [f for f in tree.files if f.endswith(".ipynb")]
    errors = scanned = 0
    for rel in py_files[:MAX_FILES]:
        text = tree.read_text(rel, MAX_FILE_BYTES)
        if text is None:
            continue
        scanned += 1
        try:
            found |= imports_ast(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            errors += 1
            found |= imports_regex(text)
    for rel in notebooks[:MAX_FILES]:
        text = tree.read_text(rel, 5 * MAX_FILE_BYTES)
        if text is not None:
            found |= imports_regex(_notebook_code(text))
    return {
        "frameworks": [f for f in FRAMEWORKS if f in found],
        "python_files": scanned,
        "py3_syntax_errors": errors,
        "notebooks": len(notebooks),
    }
