"""Git safety: which transports a URL may use, credential scrubbing, and the one way git is run.

Every git process the harness starts goes through :func:`run_git`, which

- restricts transports with ``GIT_ALLOW_PROTOCOL`` (``https:ssh``, plus ``file`` only when allowed),
- disables hooks (``core.hooksPath=/dev/null``), remote helpers (``protocol.ext.allow=never``),
  credential helpers, askpass programs and terminal prompts,
- ignores the system and global git configuration (``GIT_CONFIG_NOSYSTEM``, ``GIT_CONFIG_GLOBAL``)
  and any configuration or repository redirection inherited through the environment,
- scrubs credentials (``https://user:token@host``) from everything it returns.

:func:`check_url` refuses ``ext::``/``fd::`` and any other transport that is not allowed *before*
git runs, with :class:`~harness.errors.UnsafeSource` (failure class ``unsafe-source``).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from git.cmd import Git

from harness.errors import UnsafeSource

Transport = Literal["https", "ssh", "file"]

GIT_TIMEOUT_S = 1800.0  # one git network operation; a catalogue repository takes seconds

# Options given to every git invocation (``git -c key=value``).
SAFE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", os.devnull),
    ("protocol.ext.allow", "never"),
    ("core.fsmonitor", "false"),
    ("credential.helper", ""),
    ("core.askPass", ""),
    ("submodule.recurse", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("advice.detachedHead", "false"),
    ("init.defaultBranch", "main"),
    ("gc.auto", "0"),
)

# Repository-local variables (``git rev-parse --local-env-vars``): inherited, they would point git at
# another repository or inject configuration, so they are removed from every git process.
_INHERITED_UNSAFE = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX",
    "GIT_SHALLOW_FILE", "GIT_COMMON_DIR", "GIT_NAMESPACE", "GIT_TEMPLATE_DIR", "GIT_EXEC_PATH",
    "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_TRACE", "GIT_TRACE_PACKET", "GIT_TRACE_CURL",
    "GIT_CURL_VERBOSE", "GIT_SSL_NO_VERIFY",
)

_HELPER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")  # transport::address (remote helpers, ext::, fd::)
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_RE = re.compile(r"^(?:[^@/:\s]+@)?([^/:\s]+):(?!//)")  # user@host:path (ssh, scp-like syntax)
_SCHEMES: dict[str, Transport] = {"https": "https", "ssh": "ssh", "git+ssh": "ssh", "ssh+git": "ssh",
                                  "file": "file"}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|[ \t]+(?=\n)")
# userinfo runs to the LAST '@' before the host: a password may itself contain '@' (u:p@ss@host)
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#]+)@")


def scrub(text: str) -> str:
    """Remove credentials from URLs in ``text`` (``https://user:token@host`` -> ``https://***@host``).

    A bare ssh user name (``ssh://git@host``) is not a secret and is kept; any userinfo with a
    password, and any userinfo at all on http(s) (a token), is replaced.
    """

    def repl(m: re.Match[str]) -> str:
        scheme, userinfo = m.group("scheme"), m.group("userinfo")
        if ":" in userinfo or scheme.lower().startswith("http"):
            return f"{scheme}***@"
        return m.group(0)

    return _USERINFO_RE.sub(repl, text)


def transport_of(url: str) -> str:
    """The transport git would use for ``url``: a scheme, ``ssh`` (scp syntax) or ``file`` (a path)."""
    if _HELPER_RE.match(url):
        return url.split("::", 1)[0].lower() + "::"
    scheme = _SCHEME_RE.match(url)
    if scheme:
        return _SCHEMES.get(scheme.group(1).lower(), scheme.group(1).lower())
    if _SCP_RE.match(url) and not url.startswith(("/", "./", "../", "~")):
        return "ssh"
    return "file"


def check_url(url: str, *, allow_file: bool) -> Transport:
    """Return the transport of ``url`` if the harness may use it, else raise ``UnsafeSource``.

    Runs before git does: remote helpers (``ext::``, ``fd::``, any ``x::``), unknown schemes,
    option-looking URLs and hosts, and control characters are refused; ``file`` (a local path or
    ``file://``) only when ``allow_file``.
    """
    shown = scrub(url)
    if not url or any(ord(c) < 32 or c == "\x7f" for c in url):
        raise UnsafeSource(f"refused git URL {shown!r}: empty or contains control characters")
    if url.startswith("-"):
        raise UnsafeSource(f"refused git URL {shown!r}: looks like a command-line option")
    transport = transport_of(url)
    if transport.endswith("::"):
        raise UnsafeSource(f"refused git URL {shown!r}: remote helper '{transport}' is never used")
    if transport not in ("https", "ssh", "file"):
        raise UnsafeSource(f"refused git URL {shown!r}: transport '{transport}' is not allowed "
                           "(only https, ssh and, when allowed, file)")
    if transport == "ssh":
        host = _ssh_host(url)
        if host.startswith("-"):
            raise UnsafeSource(f"refused git URL {shown!r}: ssh host looks like an option")
    if transport == "file" and not allow_file:
        raise UnsafeSource(f"refused git URL {shown!r}: the file transport is not allowed "
                           "(set git_allow_file / HARNESS_GIT_ALLOW_FILE=1 for local mirrors)")
    return transport  # type: ignore[return-value]


def _ssh_host(url: str) -> str:
    m = _SCHEME_RE.match(url)
    rest = url[m.end():] if m else url
    rest = rest.split("@", 1)[-1] if "@" in rest.split("/", 1)[0] else rest
    return re.split(r"[:/]", rest, maxsplit=1)[0]


def allowed_protocols(allow_file: bool) -> str:
    return "https:ssh:file" if allow_file else "https:ssh"


def git_env(*, allow_file: bool, ca_bundle: str | None = None) -> dict[str, str]:
    """The environment every git process gets (on top of the inherited one, minus unsafe variables)."""
    env = {
        "GIT_ALLOW_PROTOCOL": allowed_protocols(allow_file),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_LFS_SKIP_SMUDGE": "1",
        "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND") or "ssh -o BatchMode=yes",
    }
    if ca_bundle:
        env["GIT_SSL_CAINFO"] = ca_bundle
    return env


@dataclass(frozen=True)
class GitResult:
    argv: tuple[str, ...]  # scrubbed
    status: int
    stdout: str
    stderr: str  # scrubbed

    @property
    def ok(self) -> bool:
        return self.status == 0

    def describe(self) -> str:
        return f"$ git {' '.join(self.argv)}\n{self.stderr}".strip()


def run_git(
    args: Sequence[str],
    cwd: Path,
    *,
    allow_file: bool,
    ca_bundle: str | None = None,
    config: Iterable[tuple[str, str]] = (),
    timeout_s: float = GIT_TIMEOUT_S,
    stdin: str | None = None,
) -> GitResult:
    """Run one git command (through GitPython) with the harness's safety settings; never raises for
    a non-zero exit (the caller classifies it)."""
    argv: list[str] = [Git.GIT_PYTHON_GIT_EXECUTABLE or "git"]
    for key, value in (*SAFE_CONFIG, *config):
        argv += ["-c", f"{key}={value}"]
    argv += list(args)
    inherited = [name for name in _INHERITED_UNSAFE if name in os.environ]
    if inherited:  # GitPython always starts from os.environ; env(1) removes what must not leak in
        argv = ["env", *(f"-u{name}" for name in inherited), *argv]
    with tempfile.TemporaryFile() as fh:
        if stdin is not None:
            fh.write(stdin.encode())
            fh.seek(0)
        status, out, err = Git(str(cwd)).execute(
            argv,
            env=git_env(allow_file=allow_file, ca_bundle=ca_bundle),
            istream=fh if stdin is not None else None,
            with_extended_output=True,
            with_exceptions=False,
            kill_after_timeout=timeout_s,
            strip_newline_in_stdout=False,
        )
    err_text = _CONTROL_RE.sub("", str(err))  # sideband NULs, trailing padding
    return GitResult(tuple(scrub(a) for a in args), int(status or 0), str(out), scrub(err_text))
