"""`meson install` and what it installs (README "Install", umongofs(1)).

A fresh build of the tree is configured with a temporary --prefix and
installed there; the tests then run the installed binary, compare the
installed man page with `--help`, check the systemd units with
systemd-analyze, complete with the installed bash completion, and drive the
installed umongofs@.service the way systemd would (its ExecStartPre,
ExecStart and ExecStop, run here with their variables expanded).

The build is the tree's, not $UMONGOFS_BIN: the sanitized run of the suite
skips this module (it would only build the same thing again)."""

import errno
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

from mount import DEMO_KEYS, REPO, clean_env, errno_of, fusermount_unmount, is_mounted, \
    sanitizer_build, wait_until
from session_helper import Session

pytestmark = pytest.mark.skipif(sanitizer_build(), reason="install tests run once, with the "
                                "plain daemon (they build the tree themselves)")


def _run(argv, **kw):
    kw.setdefault("timeout", 300)
    r = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       **kw)
    assert r.returncode == 0, "%s failed:\n%s" % (" ".join(map(str, argv)),
                                                  r.stdout.decode(errors="replace"))
    return r.stdout.decode(errors="replace")


def meson_version():
    with open(os.path.join(REPO, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


class Prefix:
    def __init__(self, root):
        self.root = str(root)

    def p(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def bin(self):
        return self.p("bin", "umongofs")

    @property
    def man(self):
        return self.p("share", "man", "man1", "umongofs.1")

    @property
    def unit(self):
        return self.p("lib", "systemd", "system", "umongofs@.service")

    @property
    def completion(self):
        return self.p("share", "bash-completion", "completions", "umongofs")

    def doc(self, *parts):
        return self.p("share", "doc", "umongofs", *parts)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The tree configured with --prefix TMP, built (only what is installed)
    and installed."""
    if not shutil.which("meson"):
        pytest.fail("meson is missing (scripts/setup.sh installs it)")
    base = tmp_path_factory.mktemp("install")
    build, prefix = base / "build", base / "prefix"
    _run(["meson", "setup", build, "--prefix", prefix], cwd=REPO)
    _run(["meson", "compile", "-C", build, "umongofs", "umongofs.1"])
    _run(["meson", "install", "-C", build, "--no-rebuild", "--quiet"])
    return Prefix(prefix)


# -- layout ---------------------------------------------------------------------------------

def test_everything_lands_in_its_place(installed):
    missing = [p for p in (installed.bin, installed.man, installed.unit, installed.completion,
                           installed.doc("README.md"), installed.doc("LICENSE"),
                           installed.doc("examples", "mnt-backups.mount"),
                           installed.doc("examples", "mnt-backups.automount"),
                           installed.doc("examples", "prod.env"))
               if not os.path.isfile(p)]
    assert not missing, "not installed: %s\ninstalled: %s" % (
        missing, sorted(os.path.relpath(os.path.join(d, f), installed.root)
                        for d, _, fs in os.walk(installed.root) for f in fs))
    assert os.access(installed.bin, os.X_OK)
    for name in ("README.md", "LICENSE"):
        with open(os.path.join(REPO, name), "rb") as a, open(installed.doc(name), "rb") as b:
            assert a.read() == b.read(), name
    with open(installed.doc("LICENSE")) as f:
        text = f.read()
    assert "MIT License" in text and "Copyright (c) 2026 the umongofs authors" in text
    with open(os.path.join(REPO, "meson.build")) as f:
        assert "license : 'MIT'" in f.read()


def test_installed_binary_runs(installed):
    r = subprocess.run([installed.bin, "--version"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=clean_env(keys=None), timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[0] == "umongofs %s" % meson_version()


def test_unit_runs_the_installed_binary(installed):
    with open(installed.unit) as f:
        unit = f.read()
    assert "@bindir@" not in unit
    start = re.search(r"^ExecStart=(\S+)", unit, re.M).group(1)
    assert start == installed.bin


@pytest.mark.parametrize("prefix", ["/usr", "/usr/local"])
def test_install_paths_for_a_system_prefix(tmp_path, prefix):
    """Where `meson install` would put things for the two usual prefixes
    (configured only, not built): /usr puts the unit where the distribution's
    systemd looks, /usr/local keeps everything under /usr/local."""
    build = tmp_path / "build"
    _run(["meson", "setup", build, "--prefix", prefix], cwd=REPO)
    plan = json.loads(_run(["meson", "introspect", build, "--installed"]))
    by_name = {}
    for dest in plan.values():
        by_name.setdefault(os.path.basename(dest), []).append(dest)
    unitdir = prefix + "/lib/systemd/system"
    if prefix == "/usr":
        r = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if r.returncode == 0 and r.stdout.strip():
            unitdir = r.stdout.decode().strip()
    expected = {
        "umongofs": [prefix + "/bin/umongofs",
                     prefix + "/share/bash-completion/completions/umongofs"],
        "umongofs.1": [prefix + "/share/man/man1/umongofs.1"],
        "umongofs@.service": [unitdir + "/umongofs@.service"],
        "README.md": [prefix + "/share/doc/umongofs/README.md"],
        "LICENSE": [prefix + "/share/doc/umongofs/LICENSE"],
        "mnt-backups.mount": [prefix + "/share/doc/umongofs/examples/mnt-backups.mount"],
    }
    for name, dests in expected.items():
        assert sorted(by_name.get(name, [])) == sorted(dests), (name, by_name.get(name))


# -- the man page against --help --------------------------------------------------------------

def _help_options(text):
    """(flags, -o names) of one --help text."""
    flags, names = set(), set()
    for line in text.splitlines():
        if not re.match(r"\s+-", line):
            continue
        toks = line.split()
        i = 0
        while i < len(toks) and toks[i].startswith("-"):
            t = toks[i].rstrip(",")
            flags.add(t)
            if t == "-o" and i + 1 < len(toks):
                for part in toks[i + 1].split(","):
                    m = re.match(r"([a-z_]+)(=|$)", part)
                    if m:
                        names.add(m.group(1))
                break
            i += 1
    return flags, names


def _help_descriptions(text):
    """-o name -> its --help text (the option's line and continuation lines)."""
    out, cur = {}, None
    for line in text.splitlines():
        if re.match(r"\s+-", line):
            cur = []
            _, names = _help_options(line)
            for n in names:
                out[n] = cur
            cur.append(line)
        elif cur is not None and line.startswith("      "):
            cur.append(line)
        else:
            cur = None
    return {n: " ".join(" ".join(v).split()) for n, v in out.items()}


def _roff_text(s):
    s = re.sub(r"\\f[BIRP]", "", s)
    return s.replace("\\&", "").replace("\\-", "-").replace("\\(aq", "'").replace("\\e", "\\")


def _man_sections(path):
    with open(path, encoding="utf-8") as f:
        roff = f.read()
    sections, name = {}, None
    for line in roff.splitlines():
        m = re.match(r"\.SH (.*)", line)
        if m:
            name = m.group(1).strip('"')
            sections[name] = []
        elif name:
            sections[name].append(line)
    return sections


def _man_options(path):
    """(flags, -o names, {name: entry text}) of the man page's OPTIONS section.
    An entry is a term line (the line before ".RS") and its indented text."""
    lines = _man_sections(path)["OPTIONS"]
    flags, names, entries = set(), set(), {}
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and lines[i + 1].startswith(".RS") and not lines[i].startswith("."):
            term = _roff_text(lines[i])
            body = []
            j = i + 2
            while j < len(lines) and not lines[j].startswith(".RE"):
                if not lines[j].startswith("."):
                    body.append(_roff_text(lines[j]))
                j += 1
            these = set(m.group(1) for m in re.finditer(r"-o\s+([a-z_]+)(?=[=,\s]|$)", term))
            for m in re.finditer(r"(?:^|[\s,])(--?[A-Za-z][\w-]*)", term):
                flags.add(m.group(1))
            for n in these:
                entries[n] = term + " " + " ".join(body)
            names |= these
            i = j
        i += 1
    return flags, names, entries


def test_man_page_and_help_list_the_same_options(installed):
    r = subprocess.run([installed.bin, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=clean_env(keys=None), timeout=30)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    ours, _, fuse_part = text.partition("\nFUSE options:")
    assert fuse_part, "--help no longer has a 'FUSE options:' part:\n" + text
    help_flags, help_names = _help_options(ours)
    all_flags, all_names = _help_options(text)
    man_flags, man_names, entries = _man_options(installed.man)

    # Sanity: the parsers see what they must (a broken parser must not pass).
    assert {"-h", "--help", "-V", "--version", "-f", "-d", "-s", "-o"} <= help_flags
    assert {"api_url", "profile", "dir_ttl", "allow_other", "uid", "umask"} <= help_names
    assert len(man_names) >= len(help_names)

    # Every option of umongofs' own part of --help is in the man page...
    assert not help_flags - man_flags, "in --help, not in umongofs(1): %s" % sorted(
        help_flags - man_flags)
    assert not help_names - man_names, "in --help, not in umongofs(1): %s" % sorted(
        help_names - man_names)
    # ... and the man page lists nothing --help does not know (it may describe
    # FUSE options from the second part of --help, such as max_threads).
    assert not man_flags - all_flags, "in umongofs(1), not in --help: %s" % sorted(
        man_flags - all_flags)
    assert not man_names - all_names, "in umongofs(1), not in --help: %s" % sorted(
        man_names - all_names)

    # Each -o option's entry states its default, and the defaults --help
    # names (numbers, sizes, variables, URLs) are the man page's.
    no_default = sorted(n for n in man_names if "default" not in entries[n].lower())
    assert not no_default, "umongofs(1) gives no default for: %s" % no_default
    helpd = _help_descriptions(ours)
    wrong = []
    for name, desc in helpd.items():
        m = re.search(r"\(default:?\s*(.*?)\)", desc)
        if not m:
            continue
        for tok in re.findall(r"https?://[^\s,)]+|\b\d+[KMG]?\b|\b[A-Z][A-Z0-9_]{3,}\b",
                              m.group(1)):
            if tok not in entries.get(name, ""):
                wrong.append("%s: --help says default %r, umongofs(1) says: %s"
                             % (name, tok, entries.get(name)))
    assert not wrong, "\n".join(wrong)


def test_man_page_names_every_environment_variable(installed):
    used = set()
    src = os.path.join(REPO, "src")
    for name in os.listdir(src):
        if name.endswith(".c"):
            with open(os.path.join(src, name), encoding="utf-8") as f:
                used |= set(re.findall(r'"((?:DEZAI|UCLOUD)_[A-Z_]+)"', f.read()))
    assert "DEZAI_PUBLIC_KEY" in used
    env = _roff_text("\n".join(_man_sections(installed.man)["ENVIRONMENT"]))
    missing = sorted(v for v in used if v not in env)
    assert not missing, "umongofs(1) ENVIRONMENT lacks %s" % missing


def test_man_page_has_its_sections_and_renders_cleanly(installed):
    sections = _man_sections(installed.man)
    want = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CREDENTIALS", "THE TREE",
            "EXTENDED ATTRIBUTES", "ERRORS", "FSTAB", "SYSTEMD", "FILES", "ENVIRONMENT",
            "EXIT STATUS", "SEE ALSO"]
    assert [s for s in want if s not in sections] == [], list(sections)
    see_also = _roff_text(" ".join(sections["SEE ALSO"]))
    for ref in ("fusermount3(1)", "mount.fuse3(8)", "fstab(5)", "systemd.mount(5)"):
        assert ref.replace("(", "").replace(")", "") in re.sub(r"[()]", "", see_also), ref
    groff = shutil.which("groff")
    if not groff:
        pytest.skip("groff is missing: rendering not checked")
    r = subprocess.run([groff, "-t", "-man", "-Tutf8", "-ww", "-z", installed.man],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr.decode()


# -- systemd units ---------------------------------------------------------------------------

def test_units_pass_systemd_analyze_verify(installed):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is missing (Debian package systemd)")
    units = [installed.unit, installed.doc("examples", "mnt-backups.mount"),
             installed.doc("examples", "mnt-backups.automount")]
    env = dict(os.environ, MANPATH=installed.p("share", "man") + ":")  # Documentation=man:
    r = subprocess.run([analyze, "verify"] + units, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=60)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0 and not out.strip(), out


def _unit_commands(path):
    cmds = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"(ExecStartPre|ExecStart|ExecStop)=(.*)", line.rstrip("\n"))
            if m:
                cmds[m.group(1)] = m.group(2)
    return cmds


def _expand(cmdline, instance, env):
    """A systemd command line as systemd runs it: "-" prefix (failure
    ignored), split into words, %i, ${VAR} (one word) and $$ expanded."""
    ignore = cmdline.startswith("-")
    words = []
    for w in shlex.split(cmdline.lstrip("-")):
        w = w.replace("%i", instance)
        w = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), w)
        words.append(w.replace("$$", "$"))
    return words, ignore


class ServiceEmulation:
    """umongofs@INSTANCE.service run by hand: the environment file's variables,
    User=root's HOME (here a test home), the commands through a subreaper."""

    def __init__(self, unit, instance, envfile, home):
        self.cmds = _unit_commands(unit)
        self.instance = instance
        self.env = {"OPTIONS": ""}
        with open(envfile) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    k, _, v = line.partition("=")
                    self.env[k] = v
        self.proc_env = clean_env(keys=None, home=home)
        self.session = Session()

    def run(self, which):
        argv, ignore = _expand(self.cmds[which], self.instance, self.env)
        r = self.session.run(argv, env=self.proc_env, timeout=60)
        return r, ignore


@pytest.fixture
def profile_home(tmp_path):
    """A home whose ~/.dezai/credential.json holds the demo keys under two
    profile names, neither of them "default"."""
    home = tmp_path / "home"
    dezai = home / ".dezai"
    dezai.mkdir(parents=True)
    os.chmod(home, 0o700)
    os.chmod(dezai, 0o700)
    cred = dezai / "credential.json"
    cred.write_text(json.dumps([
        {"profile": "backups-a", "public_key": DEMO_KEYS[0], "private_key": DEMO_KEYS[1]},
        {"profile": "stage", "public_key": DEMO_KEYS[0], "private_key": DEMO_KEYS[1]},
    ]))
    os.chmod(cred, 0o600)
    return home


def test_template_service_mounts_reports_ready_and_stops(installed, emu, tmp_path, profile_home):
    """What umongofs@backups-a.service does under systemd: ExecStart returns
    only with the mount up (Type=forking readiness) and leaves exactly one
    process (the main PID systemd guesses); ExecStop unmounts and the daemon
    exits 0; a busy mount is left to the SIGTERM that follows, which detaches
    it; after a crash, ExecStartPre clears the dead mount so the restart works;
    a profile without keys fails the start with nothing mounted."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    envfile = tmp_path / "backups-a.env"
    envfile.write_text("# as /etc/umongofs/backups-a.env\nMOUNTPOINT=%s\nOPTIONS=api_url=%s,dir_ttl=5\n"
                       % (mnt, emu.api_url))
    svc = ServiceEmulation(installed.unit, "backups-a", envfile, profile_home)
    try:
        def start():
            r, _ = svc.run("ExecStartPre")
            r, ignore = svc.run("ExecStart")
            assert not ignore
            assert r["rc"] == 0, r
            # Readiness: the moment the start command returns, the mount works.
            assert is_mounted(str(mnt)), "ExecStart returned 0 before the mount was up"
            assert sorted(os.listdir(mnt)) == ["cn-bj2", "cn-sh2", "hk"]
            pids = svc.session.children()
            assert len(pids) == 1, "systemd could not guess the main PID among %s" % pids
            return pids[0]

        start()
        r, _ = svc.run("ExecStop")
        assert r["rc"] == 0, r
        reaped = svc.session.reap(15)
        assert [s for _, s in reaped["reaped"]] == ["exit 0"], reaped
        assert not is_mounted(str(mnt))

        # Busy: ExecStop fails (ignored, "-"), SIGTERM detaches, exit 0.
        pid = start()
        cwd = os.open(str(mnt / "cn-bj2"), os.O_RDONLY | os.O_DIRECTORY)
        try:
            r, ignore = svc.run("ExecStop")
            assert ignore and r["rc"] != 0 and is_mounted(str(mnt)), r
            os.kill(pid, signal.SIGTERM)
            reaped = svc.session.reap(15)
            assert [s for _, s in reaped["reaped"]] == ["exit 0"], reaped
            assert not is_mounted(str(mnt))
        finally:
            os.close(cwd)

        # Crash: a dead mount stays; ExecStartPre clears it; the restart mounts.
        pid = start()
        os.kill(pid, signal.SIGKILL)
        reaped = svc.session.reap(15)
        assert [s for _, s in reaped["reaped"]] == ["signal 9"], reaped
        assert is_mounted(str(mnt)) and errno_of(os.listdir, str(mnt)) == errno.ENOTCONN
        r, ignore = svc.run("ExecStartPre")
        assert ignore and r["rc"] == 0, r
        assert not is_mounted(str(mnt)), "ExecStartPre left the dead mount"
        start()
        r, _ = svc.run("ExecStop")
        reaped = svc.session.reap(15)
        assert [s for _, s in reaped["reaped"]] == ["exit 0"], reaped

        # ExecStartPre never touches a live mount.
        start()
        r, _ = svc.run("ExecStartPre")
        assert is_mounted(str(mnt)) and os.listdir(mnt), "ExecStartPre detached a live mount"
        svc.run("ExecStop")
        assert [s for _, s in svc.session.reap(15)["reaped"]] == ["exit 0"]

        # A profile without keys: the start fails, nothing is mounted.
        svc.instance = "no-such-profile"
        r, _ = svc.run("ExecStart")
        assert r["rc"] != 0 and "no-such-profile" in r["err"], r
        assert not is_mounted(str(mnt)) and not svc.session.children()
    finally:
        svc.session.close()
        if is_mounted(str(mnt)):
            fusermount_unmount(str(mnt), lazy=True)
            pytest.fail("the test left %s mounted" % mnt)


# -- bash completion -------------------------------------------------------------------------

def _complete(script, line, home):
    prog = ('source %s\nCOMP_LINE=%s\nCOMP_POINT=${#COMP_LINE}\n_umongofs\n'
            'printf "%%s\\n" "${COMPREPLY[@]}"\n' % (shlex.quote(script), shlex.quote(line)))
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=dict(clean_env(keys=None, home=home)),
                       cwd=str(home), timeout=30)
    assert r.returncode == 0, r.stderr
    return [ln for ln in r.stdout.decode().splitlines() if ln]


def test_bash_completion(installed, profile_home):
    (profile_home / "mnt-here").mkdir()
    comp = installed.completion
    # Every -o option of the man page (which lists every one of --help), and no other.
    _, man_names, _ = _man_options(installed.man)
    offered = set(c.rstrip("=") for c in _complete(comp, "umongofs -o ", profile_home))
    assert offered == man_names, ("completion lacks %s, has extra %s"
                                  % (sorted(man_names - offered), sorted(offered - man_names)))
    # After the last comma; bash replaces only the part after the last "=".
    assert _complete(comp, "umongofs -o api_url=http://h/,dir_", profile_home) == \
        ["//h/,dir_ttl="]
    assert _complete(comp, "umongofs -o dir_ttl=5,prof", profile_home) == ["5,profile="]
    # Profile names from ~/.dezai/credential.json.
    assert sorted(_complete(comp, "umongofs -o profile=", profile_home)) == ["backups-a", "stage"]
    assert _complete(comp, "umongofs -o profile=st", profile_home) == ["stage"]
    # First operand: a profile (SOURCE) or a directory; second: a directory.
    first = _complete(comp, "umongofs ", profile_home)
    assert "backups-a" in first and "mnt-here/" in first, first
    second = _complete(comp, "umongofs -f backups-a ", profile_home)
    assert "backups-a" not in second and "mnt-here/" in second, second
    assert "--version" in _complete(comp, "umongofs --", profile_home)


# -- the examples the README and the man page show ------------------------------------------

def _unit_lines(text):
    return [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


@pytest.mark.parametrize("name", ["mnt-backups.mount", "mnt-backups.automount"])
def test_readme_shows_the_shipped_example_units(name):
    """The README's unit examples are the installed files (comments aside),
    and the man page's have the same settings."""
    with open(os.path.join(REPO, "doc", "examples", name)) as f:
        shipped = _unit_lines(f.read())
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    blocks = re.findall(r"```ini\n# /etc/systemd/system/%s\n(.*?)```" % re.escape(name),
                        readme, re.S)
    assert len(blocks) == 1, "README has %d example(s) of %s" % (len(blocks), name)
    assert _unit_lines(blocks[0]) == shipped
    with open(os.path.join(REPO, "doc", "umongofs.1.scd")) as f:
        man = f.read()
    settings = [ln for ln in shipped if not ln.startswith(("[", "Documentation=", "TimeoutSec=",
                                                           "Description=Automount"))]
    missing = [ln for ln in settings if ln not in man]
    assert not missing, "umongofs(1) SYSTEMD example lacks %s" % missing
