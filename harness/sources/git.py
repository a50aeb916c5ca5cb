"""Git sources: a manifest's repository checked out at its pinned commit, from upstream or a mirror.

- **Pinned**: the manifest's 40-hex ``commit`` is what is fetched and checked out (a detached work
  tree); its ``ref`` is informational. :func:`resolve_ref` turns a branch or tag into a hash for
  tooling that writes manifests.
- **Shallow where the server allows**: ``fetch --depth 1 origin <commit>``, falling back to a full
  fetch; then a best-effort ``--shallow-since`` deepening to one year before the commit, so that the
  maintenance facts (commits in the last year) see that history.
- **Content-addressed cache**: ``<sources_dir>/git/<sha256(url, commit, submodules)>``; a checkout is
  built in a temporary folder and renamed into place, so a second evaluation (or a concurrent one)
  reuses it without cloning. A reused checkout must be clean (``git status --porcelain --ignored``
  empty); one an experiment or a build modified is restored (``checkout -f`` + ``clean -ffdx``, noted
  in the fetch log) before it is shared again.
- **No escaping symlinks**: links resolving outside the checkout are recorded in the facts and then
  removed from the cached copy (``skip-worktree``), so builds and experiments cannot follow them.
- **Mirrors** (air-gapped labs): the ``git_mirror`` setting is a template with ``{owner}`` and
  ``{name}`` (like git's ``insteadOf``), e.g. ``/srv/mirrors/{owner}+{name}.git`` or
  ``https://git.lab.example/{owner}/{name}.git``. It applies to the repository and to submodules on
  GitHub. A local-folder mirror implies the ``file`` transport for the URLs the template produced
  (the user configured them); manifest URLs and submodule URLs may use ``file`` only when
  ``git_allow_file`` is set.
- **Safety**: see :mod:`harness.sources.gitsafety`; a missing commit is a ``FetchError``
  (``source-unavailable``); the recorded URL is the upstream one with credentials stripped.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from harness.config import Settings
from harness.errors import FetchError, UsageError
from harness.facts import collect_repo_facts
from harness.facts.history import (
    ESCAPING_CONFIG_KEY,
    HISTORY_CONFIG_KEY,
    MISSING_CONFIG_KEY,
    WINDOW_DAYS,
    recorded_escaping_links,
)
from harness.filelock import locked
from harness.manifest import COMMIT_RE, Manifest, Source
from harness.records import SourceInfo
from harness.sources.base import FetchedSource
from harness.sources.gitsafety import GitResult, check_url, run_git, scrub, transport_of

MAX_SUBMODULE_DEPTH = 3
_GITHUB_RE = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                        r"(?P<owner>[A-Za-z0-9][A-Za-z0-9_.-]*)/(?P<name>[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class Remote:
    """Where git fetches from, what the record shows, and whether ``file`` is allowed for it."""

    url: str  # what git fetches (the mirror when one is configured)
    public_url: str  # upstream URL, credentials stripped (recorded)
    allow_file: bool
    via_mirror: bool = False


def mirror_url(repository: str, template: str) -> str:
    """Apply a mirror template (``{owner}``, ``{name}``) to ``owner/name``; local paths become absolute."""
    if "{name}" not in template:
        raise UsageError(f"git_mirror: {template!r}: must contain '{{name}}' (and usually '{{owner}}'), "
                         "e.g. /srv/mirrors/{owner}+{name}.git")
    owner, name = repository.split("/", 1)
    url = template.replace("{owner}", owner).replace("{name}", name)
    if transport_of(url) == "file" and not url.startswith("file://"):
        url = str(Path(url).expanduser().absolute())
    return url


def remote_for(source: Source, settings: Settings) -> Remote:
    """The remote for a manifest's source, checked against the transport policy before git runs."""
    check_url(source.git_url, allow_file=settings.git_allow_file)
    public = scrub(source.git_url)
    if not settings.git_mirror:
        return Remote(source.git_url, public, settings.git_allow_file)
    return _mirrored(source.repository, public, settings)


def _mirrored(repository: str, public: str, settings: Settings) -> Remote:
    assert settings.git_mirror is not None
    url = mirror_url(repository, settings.git_mirror)
    allow_file = settings.git_allow_file or transport_of(url) == "file"
    check_url(url, allow_file=allow_file)
    return Remote(url, public, allow_file, via_mirror=True)


def cache_key(public_url: str, commit: str, submodules: bool) -> str:
    """Content address of a checkout: the same upstream commit is one cache entry, mirror or not."""
    raw = f"{public_url}\n{commit}\nsubmodules={submodules}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


def _git(cwd: Path, remote: Remote, settings: Settings) -> partial[GitResult]:
    return partial(run_git, cwd=cwd, allow_file=remote.allow_file, ca_bundle=settings.ca_bundle)


def _must(result: GitResult, what: str) -> GitResult:
    if not result.ok:
        lines = result.stderr.strip().splitlines()
        first = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1] if lines else "")
        raise FetchError(f"{what}: {first or f'exit status {result.status}'}", log_tail=result.describe())
    return result


def head_commit(checkout: Path) -> str | None:
    """The commit checked out in ``checkout`` (None when it is not a usable repository)."""
    if not (checkout / ".git").exists():
        return None
    r = run_git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], checkout, allow_file=False)
    return r.stdout.strip() if r.ok else None


def commit_date(checkout: Path, commit: str = "HEAD") -> str | None:
    """The committer date of ``commit`` (ISO 8601 with offset)."""
    r = run_git(["show", "-s", "--format=%cI", commit, "--"], checkout, allow_file=False)
    return r.stdout.strip() or None if r.ok else None


def fetch_git(manifest: Manifest, settings: Settings) -> FetchedSource:
    """Obtain ``manifest.source`` at its pinned commit (cached), with its repository facts."""
    started = time.monotonic()
    source = manifest.source
    if not source.commit or not COMMIT_RE.match(source.commit):
        raise FetchError(f"{manifest.slug}: a git source needs a pinned 40-hex commit")
    commit = source.commit
    remote = remote_for(source, settings)
    dest = settings.sources_dir / "git" / cache_key(remote.public_url, commit, source.submodules)
    log: list[str] = []
    cached = head_commit(dest) == commit
    if cached:
        log.append(f"cached checkout of {remote.public_url} at {commit}")
        with locked(dest / ".git" / "harness-fetch.lock"):  # concurrent fetches restore it once
            cached = _ensure_clean(dest, remote, commit, source, settings, log)
    if not cached:
        via = " via the configured mirror" if remote.via_mirror else ""
        log.append(f"fetching {remote.public_url} at {commit}{via}")
        _clone_into(dest, remote, commit, source, settings, log)
    info = SourceInfo(kind="git", url=remote.public_url, commit=commit, ref=source.ref,
                      commit_date=commit_date(dest, commit))
    facts = collect_repo_facts(dest, info, on_pypi=bool(source.package))
    _remove_escaping_links(dest, facts["escaping_symlinks"], log)
    duration = time.monotonic() - started
    log.append(f"fetch took {duration:.2f} s")
    return FetchedSource(info=info, checkout=dest, cached=cached, facts=facts,
                         log=scrub("\n".join(log)), duration_s=duration)


def _dirty(checkout: Path) -> str | None:
    """What ``git status --porcelain --ignored`` reports in ``checkout`` (None when clean)."""
    r = run_git(["status", "--porcelain", "--ignored", "--untracked-files=all"], checkout, allow_file=False)
    if not r.ok:
        return r.describe() or f"git status exit status {r.status}"
    return r.stdout.strip() or None


def _ensure_clean(dest: Path, remote: Remote, commit: str, source: Source, settings: Settings,
                  log: list[str]) -> bool:
    """Make a reused checkout exactly the pinned commit again (an experiment or a build may have
    modified, deleted or added files: build/, *.egg-info, ...). Returns False when it could not be
    restored (the caller clones afresh)."""
    removed = removed_links(dest)
    for rel in removed:  # a removed escaping link must stay absent, whatever was written there
        path = dest / rel
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
    dirty = _dirty(dest)
    if dirty is None:
        return True
    git = _git(dest, remote, settings)
    steps = [git(["checkout", "-q", "-f", "--detach", commit]), git(["clean", "-q", "-ffdx"])]
    if source.submodules:
        steps.append(git(["submodule", "update", "-q", "--init", "--recursive", "--force", "--no-fetch"]))
        steps.append(git(["submodule", "foreach", "-q", "--recursive", "git clean -q -ffdx"]))
    if all(s.ok for s in steps) and _dirty(dest) is None:
        shown = dirty.splitlines()
        more = f" (+{len(shown) - 10} more)" if len(shown) > 10 else ""
        log.append("the cached checkout was modified; restored to the pinned commit "
                   f"(git checkout -f + git clean -ffdx): {'; '.join(shown[:10])}{more}")
        return True
    log.append("the cached checkout was modified and could not be restored; fetching it again")
    shutil.rmtree(dest, ignore_errors=True)
    return False


def removed_links(checkout: Path) -> list[str]:
    """Paths of the escaping symlinks removed from ``checkout`` (see :func:`_remove_escaping_links`)."""
    return [link["path"] for link in recorded_escaping_links(checkout)]


def _remove_escaping_links(dest: Path, links: list[dict[str, str]], log: list[str]) -> None:
    """Delete the symlinks that resolve outside the checkout (recorded in the facts first), so that no
    build or experiment follows them; git is told to leave them absent (``skip-worktree``) and the
    checkout's config remembers them for the facts of later, cached fetches."""
    already = set(removed_links(dest))
    for link in links:
        path = dest / link["path"]
        if not path.is_symlink():
            continue
        path.unlink()
        run_git(["update-index", "--skip-worktree", "--", path.name], path.parent, allow_file=False)
        if link["path"] not in already:
            run_git(["config", "--add", ESCAPING_CONFIG_KEY, json.dumps(link, sort_keys=True)], dest,
                    allow_file=False)
        log.append(f"removed the symlink {link['path']} -> {link['target']} (it points outside the checkout)")


class _IncompleteRemote(FetchError):
    """The remote could not pack the commit because some of its objects are absent (a partial mirror)."""


_INCOMPLETE_MARKERS = ("unable to read", "possible repository corruption on the remote side",
                       "missing blob", "pack-objects died")


def _clone_into(dest: Path, remote: Remote, commit: str, source: Source, settings: Settings,
                log: list[str]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        try:
            _fetch_commit(tmp, remote, commit, settings, log)
        except _IncompleteRemote as exc:
            local = _local_path(remote.url)
            if local is None:
                raise FetchError(exc.message, log_tail=exc.log_tail) from None
            log.append(f"{exc.message}; checking out what the mirror has")
            shutil.rmtree(tmp)
            tmp.mkdir()
            _fetch_partial(tmp, local, remote, commit, settings, log)
        if source.submodules:
            _update_submodules(tmp, remote, settings, log, depth=0)
        _install(tmp, dest, commit)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _install(tmp: Path, dest: Path, commit: str) -> None:
    """Move a finished checkout into the cache; a concurrent fetch that got there first wins."""
    if dest.exists() and head_commit(dest) != commit:
        shutil.rmtree(dest)  # a broken or stale entry (interrupted by hand, edited)
    try:
        os.rename(tmp, dest)
    except OSError:
        if head_commit(dest) != commit:
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _fetch_commit(repo: Path, remote: Remote, commit: str, settings: Settings, log: list[str]) -> None:
    git = _git(repo, remote, settings)
    _must(git(["init", "-q", "."]), "git init failed")
    _must(git(["remote", "add", "origin", remote.url]), "git remote add failed")
    shallow = git(["fetch", "-q", "--no-tags", "--depth", "1", "origin", commit])
    if shallow.ok:
        log.append("shallow fetch of the pinned commit")
    else:
        log.append(f"shallow fetch by commit failed; fetching all branches and tags\n{shallow.describe()}")
        full = git(["fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*"])
        if not full.ok and any(m in shallow.stderr + full.stderr for m in _INCOMPLETE_MARKERS):
            raise _IncompleteRemote(f"the remote for {remote.public_url} lacks some objects",
                                    log_tail=full.describe())
        _must(full, f"could not fetch {remote.public_url}{' from the mirror' if remote.via_mirror else ''}")
    if not git(["cat-file", "-e", f"{commit}^{{commit}}"]).ok:
        where = "the mirror of " if remote.via_mirror else ""
        raise FetchError(
            f"commit {commit} is not in {where}{remote.public_url} (force-pushed away, never pushed, "
            "or the mirror is stale)",
            hint="pin a commit that exists upstream (see `git ls-remote`), or refresh the mirror",
            log_tail=shallow.describe(),
        )
    _deepen(git, commit, log)
    _must(git(["checkout", "-q", "--detach", commit]), f"could not check out {commit}")
    git(["remote", "set-url", "origin", remote.public_url])  # no mirror path or token left in the cache


def _local_path(url: str) -> Path | None:
    if transport_of(url) != "file":
        return None
    path = Path(url.removeprefix("file://"))
    return path if path.is_dir() else None


# upload-pack of a local partial mirror: allow the blob:none filter and wants of any object.
_PARTIAL_UPLOAD_PACK = "git -c uploadpack.allowFilter=true -c uploadpack.allowAnySHA1InWant=true upload-pack"


def _sparse_escape(path: str) -> str:
    return re.sub(r"([\\*?\[\]!# ])", r"\\\1", path)


def _fetch_partial(repo: Path, mirror: Path, remote: Remote, commit: str, settings: Settings,
                   log: list[str]) -> None:
    """Check out ``commit`` from a local mirror that lacks some blobs (e.g. files over a size limit).

    Commits and trees are fetched without blobs (a partial clone); the blobs the mirror lacks are
    listed in the checkout's config (``harness.missingfile``, reported by the facts) and left out of
    a sparse checkout; the others are fetched on demand by the checkout itself.
    """
    git = _git(repo, remote, settings)
    _must(git(["init", "-q", "."]), "git init failed")
    _must(git(["remote", "add", "origin", remote.url]), "git remote add failed")
    _must(git(["config", "remote.origin.uploadpack", _PARTIAL_UPLOAD_PACK]), "git config failed")
    _must(git(["fetch", "-q", "--no-tags", "--filter=blob:none", "--depth", "1", "origin", commit]),
          f"could not fetch {commit} from the mirror of {remote.public_url}")
    listing = _must(git(["ls-tree", "-r", "-z", commit]), f"could not list {commit}")
    blobs: dict[str, str] = {}
    for entry in listing.stdout.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            blobs.setdefault(parts[2], path)
    check = run_git(["cat-file", "--batch-check"], mirror, allow_file=True, stdin="\n".join(blobs) + "\n")
    missing = sorted(blobs[line.split()[0]] for line in check.stdout.splitlines()
                     if line.endswith(" missing") and line.split()[0] in blobs)
    for path in missing:
        git(["config", "--add", MISSING_CONFIG_KEY, path])
    log.append(f"the mirror lacks {len(missing)} file(s) of this commit, left out: {', '.join(missing)}")
    sparse = repo / ".git" / "info" / "sparse-checkout"
    sparse.parent.mkdir(parents=True, exist_ok=True)
    sparse.write_text("/*\n" + "".join(f"!/{_sparse_escape(p)}\n" for p in missing))
    _must(git(["config", "core.sparseCheckout", "true"]), "git config failed")
    _deepen(git, commit, log)
    _must(git(["checkout", "-q", "--detach", commit]), f"could not check out {commit}")
    git(["remote", "set-url", "origin", remote.public_url])


def _deepen(git: partial[GitResult], commit: str, log: list[str]) -> None:
    """Best effort: history back to a year before the commit (facts); recorded in the repo's config."""
    if git(["rev-parse", "--is-shallow-repository"]).stdout.strip() != "true":
        git(["config", HISTORY_CONFIG_KEY, "full"])
        return
    date = git(["show", "-s", "--format=%cI", commit]).stdout.strip()
    since = (datetime.fromisoformat(date) - timedelta(days=WINDOW_DAYS)).isoformat()
    r = git(["fetch", "-q", "--no-tags", f"--shallow-since={since}", "origin", commit])
    if r.ok:
        git(["config", HISTORY_CONFIG_KEY, since])
    else:
        log.append(f"could not deepen the shallow history (commits_last_year unknown)\n{r.describe()}")


def resolve_relative(base_url: str, relative: str) -> str:
    """Resolve a submodule's ``./x`` / ``../x`` URL against its superproject's URL, as git does."""
    base, rest = base_url.rstrip("/"), relative
    while True:
        if rest.startswith("./"):
            rest = rest[2:]
        elif rest.startswith("../"):
            rest = rest[3:]
            base = re.split(r"[/:](?=[^/:]*$)", base, maxsplit=1)[0]
        else:
            break
    return f"{base}/{rest}"


def _submodule_remote(url: str, super_public: str, settings: Settings) -> Remote:
    public = scrub(resolve_relative(super_public, url) if url.startswith(("./", "../")) else url)
    if settings.git_mirror:
        m = _GITHUB_RE.match(public)
        if m:
            return _mirrored(f"{m['owner']}/{m['name']}", public, settings)
    check_url(public, allow_file=settings.git_allow_file)
    return Remote(public, public, settings.git_allow_file)


def _update_submodules(repo: Path, remote: Remote, settings: Settings, log: list[str], depth: int) -> None:
    """Check out the submodules the superproject pins, each URL checked and mirrored like the repo's."""
    if depth > MAX_SUBMODULE_DEPTH or not (repo / ".gitmodules").is_file():
        return
    git = _git(repo, remote, settings)
    listed = git(["config", "-f", ".gitmodules", "--get-regexp", r"^submodule\..*\.(url|path)$"])
    modules: dict[str, dict[str, str]] = {}
    for line in listed.stdout.splitlines():
        key, _, value = line.partition(" ")
        name, _, attr = key.removeprefix("submodule.").rpartition(".")
        modules.setdefault(name, {})[attr] = value
    subs = {name: _submodule_remote(m["url"], remote.public_url, settings)
            for name, m in modules.items() if "url" in m and "path" in m}
    for name, sub in subs.items():
        _must(git(["config", f"submodule.{name}.url", sub.url]), f"submodule {name}")
    allow_file = settings.git_allow_file or any(s.allow_file for s in subs.values())
    run = partial(run_git, cwd=repo, allow_file=allow_file, ca_bundle=settings.ca_bundle)
    r = run(["submodule", "update", "--init", "--depth", "1", "--"])
    if not r.ok:
        log.append("shallow submodule update failed; retrying in full\n" + r.describe())
        _must(run(["submodule", "update", "--init", "--"]), "could not check out the submodules")
    log.append(f"submodules: {', '.join(sorted(subs)) or 'none'}")
    for name, sub in subs.items():
        path = repo / modules[name]["path"]
        run_git(["remote", "set-url", "origin", sub.public_url], path, allow_file=False)
        _update_submodules(path, sub, settings, log, depth + 1)


def resolve_ref(url: str, ref: str, *, allow_file: bool = False, ca_bundle: str | None = None) -> str:
    """The 40-hex commit a branch or tag (or ``HEAD``) of ``url`` points to now (annotated tags peeled)."""
    if COMMIT_RE.match(ref):
        return ref
    check_url(url, allow_file=allow_file)
    r = run_git(["ls-remote", "--", url, ref, f"{ref}^{{}}"], Path(tempfile.gettempdir()),
                allow_file=allow_file, ca_bundle=ca_bundle)
    _must(r, f"could not list the refs of {scrub(url)}")
    refs = {name: sha for sha, _, name in (line.partition("\t") for line in r.stdout.splitlines())}
    for name in (f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}", f"refs/heads/{ref}", f"{ref}^{{}}", ref):
        if name in refs:
            return refs[name]
    raise FetchError(f"ref {ref!r} not found in {scrub(url)}")
