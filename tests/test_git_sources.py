"""Git sources on real repositories made by the tests: pinning, shallow fetch, cache, mirrors,
submodules, partial mirrors, missing commits, and the safety rules (transports, hooks, credentials)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from git_support import (
    ATTACKLIB_FACTS,
    DATES,
    bare_copy,
    commit,
    git,
    make_attacklib,
    manifest_for,
    new_repo,
    settings_for,
)

from harness.errors import FetchError, UnsafeSource, UsageError
from harness.sources.git import fetch_git, mirror_url, resolve_ref, resolve_relative
from harness.sources.gitsafety import check_url, run_git, scrub


@pytest.fixture
def attacklib(tmp_path: Path) -> tuple[Path, list[str]]:
    """A bare 'server' copy of the fixture library and its commits."""
    work, commits = make_attacklib(tmp_path / "work" / "attacklib")
    return bare_copy(work, tmp_path / "server" / "attacklib.git"), commits


def test_fetch_pins_the_commit_shallow_and_records_the_source(tmp_path: Path, attacklib) -> None:
    server, commits = attacklib
    manifest = manifest_for("attacklib", "acme/attacklib", commits[1], url=str(server), ref="v1.0")
    fetched = fetch_git(manifest, settings_for(tmp_path, git_allow_file=True))

    assert fetched.cached is False
    assert fetched.info.kind == "git"
    assert fetched.info.url == str(server)
    assert fetched.info.commit == commits[1]
    assert fetched.info.ref == "v1.0"
    assert fetched.info.commit_date == DATES[1]
    checkout = fetched.checkout
    assert checkout is not None and checkout.parent == tmp_path / "cache" / "sources" / "git"
    # a detached work tree at the pinned commit, not at the branch head
    assert git(checkout, "rev-parse", "HEAD") == commits[1]
    assert (checkout / "attacklib" / "utils.py").read_text() == "import os\n"
    # shallow: the commit older than a year before the pinned one was never transferred
    assert git(checkout, "rev-parse", "--is-shallow-repository") == "true"
    assert run_git(["cat-file", "-e", commits[0]], checkout, allow_file=False).ok is False
    assert fetched.facts["commits_last_year"] == 1  # only itself: 2020-01-10 is > 1 year before 2021-03-01
    assert fetched.duration_s > 0


def test_detached_head(tmp_path: Path, attacklib) -> None:
    server, commits = attacklib
    fetched = fetch_git(manifest_for("attacklib", "acme/attacklib", commits[2], url=str(server)),
                        settings_for(tmp_path, git_allow_file=True))
    assert fetched.checkout is not None
    symbolic = run_git(["symbolic-ref", "-q", "HEAD"], fetched.checkout, allow_file=False)
    assert symbolic.status == 1  # detached


def test_facts_of_the_fetched_fixture_are_exact(tmp_path: Path, attacklib) -> None:
    server, commits = attacklib
    manifest = manifest_for("attacklib", "acme/attacklib", commits[2], url=str(server))
    fetched = fetch_git(manifest, settings_for(tmp_path, git_allow_file=True))
    assert fetched.facts == ATTACKLIB_FACTS


def test_second_fetch_uses_the_cache_without_cloning(tmp_path: Path, attacklib) -> None:
    server, commits = attacklib
    manifest = manifest_for("attacklib", "acme/attacklib", commits[2], url=str(server))
    settings = settings_for(tmp_path, git_allow_file=True)
    first = fetch_git(manifest, settings)
    shutil.rmtree(server)  # a clone would now fail: the second fetch must not need the server
    second = fetch_git(manifest, settings)
    assert second.cached is True and first.cached is False
    assert second.checkout == first.checkout
    assert second.info == first.info
    assert [p.name for p in (tmp_path / "cache" / "sources" / "git").iterdir()] == [first.checkout.name]


def test_mirror_template_maps_owner_and_name_to_a_bare_mirror(tmp_path: Path, attacklib) -> None:
    server, commits = attacklib
    mirrors = tmp_path / "mirrors"
    shutil.copytree(server, mirrors / "acme+attacklib.git")
    manifest = manifest_for("attacklib", "acme/attacklib", commits[2])  # upstream: github.com
    settings = settings_for(tmp_path, git_mirror=str(mirrors / "{owner}+{name}.git"))
    assert settings.git_allow_file is False  # the user's own mirror template is what allows file here
    fetched = fetch_git(manifest, settings)
    assert fetched.info.url == "https://github.com/acme/attacklib.git"  # recorded: upstream, not the mirror
    assert fetched.checkout is not None and git(fetched.checkout, "rev-parse", "HEAD") == commits[2]
    assert str(mirrors) not in git(fetched.checkout, "config", "remote.origin.url")


def test_mirror_without_the_repository_is_source_unavailable(tmp_path: Path) -> None:
    (tmp_path / "mirrors").mkdir()
    manifest = manifest_for("attacklib", "acme/attacklib", "a" * 40)
    settings = settings_for(tmp_path, git_mirror=str(tmp_path / "mirrors" / "{owner}" / "{name}.git"))
    with pytest.raises(FetchError) as info:
        fetch_git(manifest, settings)
    assert info.value.failure_class == "source-unavailable"
    assert "from the mirror" in info.value.message
    assert list((tmp_path / "cache" / "sources" / "git").iterdir()) == []  # nothing half-made is left


def test_mirror_template_forms() -> None:
    assert mirror_url("acme/lib", "https://git.lab.example/{owner}/{name}.git") == \
        "https://git.lab.example/acme/lib.git"
    assert mirror_url("acme/lib", "file:///srv/m/{owner}+{name}") == "file:///srv/m/acme+lib"
    assert mirror_url("acme/lib", "/srv/m/{name}.git") == "/srv/m/lib.git"
    assert mirror_url("acme/lib", "rel/{owner}/{name}") == str(Path("rel/acme/lib").absolute())
    with pytest.raises(UsageError):
        mirror_url("acme/lib", "/srv/m/everything.git")


def test_force_pushed_away_commit_is_source_unavailable(tmp_path: Path) -> None:
    work = new_repo(tmp_path / "work" / "lib")
    base = commit(work, {"a.py": "x = 1\n"}, "base", DATES[0])
    gone = commit(work, {"a.py": "x = 2\n"}, "to be rewritten", DATES[1])
    server = bare_copy(work, tmp_path / "server" / "lib.git")
    shutil.rmtree(work)  # the only other copy of the commit
    git(server, "update-ref", "refs/heads/main", base)  # force-push
    git(server, "reflog", "expire", "--expire=now", "--all")
    git(server, "gc", "-q", "--prune=now")
    assert run_git(["cat-file", "-e", gone], server, allow_file=False).ok is False  # really gone

    manifest = manifest_for("lib", "acme/lib", gone, url=str(server))
    with pytest.raises(FetchError) as info:
        fetch_git(manifest, settings_for(tmp_path, git_allow_file=True))
    assert info.value.failure_class == "source-unavailable"
    assert gone in info.value.message and "force-pushed" in info.value.message
    assert list((tmp_path / "cache" / "sources" / "git").iterdir()) == []


def test_submodules_only_when_asked_and_through_the_mirror(tmp_path: Path) -> None:
    sub_work = new_repo(tmp_path / "work" / "widget")
    commit(sub_work, {"widget.py": "WIDGET = 1\n"}, "widget", DATES[0])
    mirrors = tmp_path / "mirrors"
    bare_copy(sub_work, mirrors / "acme+widget.git")
    top = new_repo(tmp_path / "work" / "top")
    commit(top, {"top.py": "import widget\n"}, "top", DATES[0])
    git(top, "submodule", "add", "-q", str(mirrors / "acme+widget.git"), "vendor/widget")
    git(top, "config", "-f", ".gitmodules", "submodule.vendor/widget.url", "https://github.com/acme/widget.git")
    pinned = commit(top, {}, "add widget", DATES[1])
    bare_copy(top, mirrors / "acme+top.git")
    settings = settings_for(tmp_path, git_mirror=str(mirrors / "{owner}+{name}.git"))

    without = fetch_git(manifest_for("top", "acme/top", pinned), settings)
    assert without.checkout is not None
    assert not (without.checkout / "vendor" / "widget" / "widget.py").exists()

    with_subs = fetch_git(manifest_for("top", "acme/top", pinned, submodules=True), settings)
    assert with_subs.checkout is not None and with_subs.checkout != without.checkout  # another cache entry
    assert (with_subs.checkout / "vendor" / "widget" / "widget.py").read_text() == "WIDGET = 1\n"
    # the submodule's URL went through the mirror template (github.com is not reachable from tests)
    assert "submodules: vendor/widget" in with_subs.log


def test_symlinks_escaping_the_checkout_are_recorded_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret-licence.txt").write_text((Path(__file__).parent / "git_support.py").read_text())
    work = new_repo(tmp_path / "work" / "lib")
    commit(work, {"README.md": "hi\n", "docs/index.md": "# d\n"}, "files", DATES[0])
    os.symlink(str(outside), work / "hostdir")
    os.symlink("../../../../outside/secret-licence.txt", work / "LICENSE")
    os.symlink("docs", work / "docs-link")  # inside: fine
    pinned = commit(work, {}, "links", DATES[1])
    server = bare_copy(work, tmp_path / "server" / "lib.git")

    fetched = fetch_git(manifest_for("lib", "acme/lib", pinned, url=str(server)),
                        settings_for(tmp_path, git_allow_file=True))
    assert fetched.facts["escaping_symlinks"] == [
        {"path": "LICENSE", "target": "../../../../outside/secret-licence.txt"},
        {"path": "hostdir", "target": str(outside)},
    ]
    checkout = fetched.checkout
    # recorded, then removed from the harness's own copy: no build or experiment can follow them
    assert checkout is not None and not os.path.lexists(checkout / "LICENSE")
    assert not os.path.lexists(checkout / "hostdir")
    assert (checkout / "docs-link").is_symlink()  # a link inside the checkout stays
    assert "removed the symlink LICENSE -> ../../../../outside/secret-licence.txt" in fetched.log
    assert fetched.facts["license"] == "none"  # the (MIT) file outside is no licence file of the checkout
    assert fetched.facts["license_file"] is None
    assert sorted(p.name for p in outside.iterdir()) == ["secret-licence.txt"]  # nothing written outside

    again = fetch_git(manifest_for("lib", "acme/lib", pinned, url=str(server)),
                      settings_for(tmp_path, git_allow_file=True))
    assert again.cached is True and "restored" not in again.log  # the removal is not a modification
    assert again.facts["escaping_symlinks"] == fetched.facts["escaping_symlinks"]
    assert not os.path.lexists(checkout / "LICENSE")


def test_escaping_declaration_links_are_not_dependency_declarations(tmp_path: Path) -> None:
    work = new_repo(tmp_path / "work" / "lib")
    commit(work, {"README.md": "hi\n", "lib.py": "x = 1\n"}, "files", DATES[0])
    os.symlink("/etc/passwd", work / "setup.cfg")
    os.symlink("/etc/hostname", work / "requirements.txt")
    pinned = commit(work, {}, "links", DATES[1])
    server = bare_copy(work, tmp_path / "server" / "lib.git")
    fetched = fetch_git(manifest_for("lib", "acme/lib", pinned, url=str(server)),
                        settings_for(tmp_path, git_allow_file=True))
    assert fetched.facts["dependency_declaration"] == []
    assert fetched.facts["dependencies"]["total"] == 0
    assert [link["path"] for link in fetched.facts["escaping_symlinks"]] == ["requirements.txt", "setup.cfg"]
    assert fetched.checkout is not None and not os.path.lexists(fetched.checkout / "setup.cfg")


def test_a_modified_cached_checkout_is_restored_before_reuse(tmp_path: Path, attacklib) -> None:
    server, commits = attacklib
    manifest = manifest_for("attacklib", "acme/attacklib", commits[2], url=str(server))
    settings = settings_for(tmp_path, git_allow_file=True)
    first = fetch_git(manifest, settings)
    checkout = first.checkout
    assert checkout is not None
    pristine = (checkout / "setup.py").read_text()
    utils = (checkout / "attacklib" / "utils.py").read_text()
    # what an experiment or a setuptools build leaves behind
    (checkout / "setup.py").write_text("raise SystemExit('tampered')\n")
    (checkout / "attacklib" / "utils.py").unlink()
    (checkout / "build" / "lib").mkdir(parents=True)
    (checkout / "build" / "lib" / "x.py").write_text("")
    (checkout / "attacklib.egg-info").mkdir()
    (checkout / "attacklib.egg-info" / "PKG-INFO").write_text("")
    (checkout / "__pycache__").mkdir()

    second = fetch_git(manifest, settings)
    assert second.cached is True and second.checkout == checkout
    assert "restored to the pinned commit" in second.log
    assert (checkout / "setup.py").read_text() == pristine
    assert (checkout / "attacklib" / "utils.py").read_text() == utils
    assert not (checkout / "build").exists() and not (checkout / "attacklib.egg-info").exists()
    assert not (checkout / "__pycache__").exists()
    assert run_git(["status", "--porcelain", "--ignored"], checkout, allow_file=False).stdout == ""
    assert git(checkout, "rev-parse", "HEAD") == commits[2]
    assert second.facts == first.facts

    third = fetch_git(manifest, settings)  # clean now: reused as is, nothing to restore
    assert third.cached is True and "restored" not in third.log


def test_partial_mirror_missing_a_blob_checks_out_the_rest(tmp_path: Path) -> None:
    work = new_repo(tmp_path / "work" / "lib")
    pinned = commit(work, {"lib.py": "import numpy\n", "data/big.bin": "x" * 5000, "README.md": "r\n"},
                    "with data", DATES[0])
    mirror = new_repo(tmp_path / "mirrors" / "acme+lib.git")
    git(mirror, "config", "core.bare", "true")
    git(work, "push", "-q", str(mirror / ".git"), "main")  # few objects: stored loose, one per file
    big = git(work, "rev-parse", f"{pinned}:data/big.bin")
    (mirror / ".git" / "objects" / big[:2] / big[2:]).unlink()  # the mirror lacks the large file
    settings = settings_for(tmp_path, git_mirror=str(tmp_path / "mirrors" / "{owner}+{name}.git" / ".git"))

    fetched = fetch_git(manifest_for("lib", "acme/lib", pinned), settings)
    assert fetched.checkout is not None
    assert (fetched.checkout / "lib.py").read_text() == "import numpy\n"
    assert not (fetched.checkout / "data" / "big.bin").exists()
    assert fetched.facts["missing_files"] == ["data/big.bin"]
    assert "lacks 1 file(s)" in fetched.log
    again = fetch_git(manifest_for("lib", "acme/lib", pinned), settings)
    assert again.cached and again.facts["missing_files"] == ["data/big.bin"]


def test_resolve_ref_branch_annotated_tag_and_head(tmp_path: Path, attacklib) -> None:
    server, commits = attacklib
    assert resolve_ref(str(server), "v1.0", allow_file=True) == commits[1]  # peeled, not the tag object
    assert resolve_ref(str(server), "dev", allow_file=True) == commits[0]
    assert resolve_ref(str(server), "main", allow_file=True) == commits[2]
    assert resolve_ref(str(server), "HEAD", allow_file=True) == commits[2]
    assert resolve_ref(str(server), commits[0], allow_file=True) == commits[0]
    with pytest.raises(FetchError):
        resolve_ref(str(server), "no-such-branch", allow_file=True)
    with pytest.raises(UnsafeSource):
        resolve_ref(str(server), "main")  # file transport not allowed by default


def test_ext_url_is_refused_before_git_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    url = f"ext::sh -c touch% {marker}"
    manifest = manifest_for("evil", "acme/evil", "b" * 40, url=url)
    with pytest.raises(UnsafeSource) as info:
        fetch_git(manifest, settings_for(tmp_path, git_allow_file=True))
    assert info.value.failure_class == "unsafe-source"
    assert not marker.exists()
    assert not (tmp_path / "cache" / "sources").exists()  # refused before anything was made
    # and git itself refuses the helper even if the pre-check were bypassed (GIT_ALLOW_PROTOCOL)
    direct = run_git(["ls-remote", url], tmp_path, allow_file=True)
    assert not direct.ok and "transport 'ext' not allowed" in direct.stderr
    assert not marker.exists()


@pytest.mark.parametrize(("url", "allow_file", "transport"), [
    ("https://github.com/acme/lib.git", False, "https"),
    ("ssh://git@github.com/acme/lib.git", False, "ssh"),
    ("git@github.com:acme/lib.git", False, "ssh"),
    ("/srv/mirrors/lib.git", True, "file"),
    ("file:///srv/mirrors/lib.git", True, "file"),
])
def test_allowed_transports(url: str, allow_file: bool, transport: str) -> None:
    assert check_url(url, allow_file=allow_file) == transport


@pytest.mark.parametrize("url", [
    "ext::sh -c id", "fd::3", "http://github.com/acme/lib.git", "git://github.com/acme/lib.git",
    "ftp://example.org/lib.git", "/srv/mirrors/lib.git", "file:///srv/lib.git", "../relative/lib.git",
    "--upload-pack=touch /tmp/x", "ssh://-oProxyCommand=touch%20x/lib", "https://host/x\n.git",
    "foo::bar", "",
])
def test_refused_transports(url: str) -> None:
    with pytest.raises(UnsafeSource) as info:
        check_url(url, allow_file=False)
    assert info.value.failure_class == "unsafe-source"


def test_credentials_never_appear_in_errors_or_logs(tmp_path: Path) -> None:
    url = "https://alice:s3cr3t-token@127.0.0.1:9/acme/lib.git"  # port 9: refused at once
    manifest = manifest_for("lib", "acme/lib", "c" * 40, url=url)
    with pytest.raises(FetchError) as info:
        fetch_git(manifest, settings_for(tmp_path))
    exc = info.value
    assert exc.failure_class == "source-unavailable"
    for text in (str(exc), exc.message, exc.log_tail, exc.hint):
        assert "s3cr3t" not in text and "alice" not in text
    assert "https://***@127.0.0.1:9/acme/lib.git" in exc.message


def test_scrub() -> None:
    assert scrub("fatal: https://u:p@h/x.git and http://tok@h/y") == "fatal: https://***@h/x.git and http://***@h/y"
    assert scrub("ssh://git@github.com/a/b.git") == "ssh://git@github.com/a/b.git"  # a user name is no secret
    assert scrub("ssh://git:pw@host/a") == "ssh://***@host/a"
    assert scrub("fatal: https://u:p@ss@h/x") == "fatal: https://***@h/x"  # '@' inside the password
    assert scrub("ssh://git:p@w@host/a") == "ssh://***@host/a"


def test_hooks_and_user_config_do_not_apply(tmp_path: Path, attacklib,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A user/global config with a template that installs a hook: plain git runs it; the harness not."""
    server, commits = attacklib
    marker = tmp_path / "hook-ran"
    hooks = tmp_path / "template" / "hooks"
    hooks.mkdir(parents=True)
    (hooks / "post-checkout").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (hooks / "post-checkout").chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[init]\n\ttemplateDir = {tmp_path / 'template'}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "somewhere-else"))  # inherited: must not redirect git

    fetched = fetch_git(manifest_for("attacklib", "acme/attacklib", commits[2], url=str(server)),
                        settings_for(tmp_path, git_allow_file=True))
    assert fetched.checkout is not None and (fetched.checkout / "setup.py").exists()
    assert not marker.exists()
    monkeypatch.delenv("GIT_DIR")
    # control: the same configuration does run the hook for a plain clone
    import subprocess
    subprocess.run(["git", "clone", "-q", str(server), str(tmp_path / "plain")], check=True,
                   env={**os.environ, "GIT_CONFIG_GLOBAL": str(config)})
    assert marker.exists()


def test_resolve_relative_submodule_urls() -> None:
    assert resolve_relative("https://github.com/acme/top.git", "../widget.git") == \
        "https://github.com/acme/widget.git"
    assert resolve_relative("https://github.com/acme/top", "./sub") == "https://github.com/acme/top/sub"
    assert resolve_relative("git@github.com:acme/top.git", "../w.git") == "git@github.com:acme/w.git"
