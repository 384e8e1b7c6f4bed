"""Shared pytest fixtures: the provider emulator (tests/emulator/).

Fixtures
    demo_world        session: path of the demo world.json (built once, read-only!)
    emulator          session: an Emulator running the demo world
    emu               function: the session emulator, restored to its startup
                      state (stats, fault settings, world) before and after the test
    emulator_factory  function: start(world=None, *flags) -> a new Emulator, stopped
                      at the end of the test; world is None (a fresh copy of the demo),
                      a world.json path, or a build_world() spec dict
    world_builder     function: build(spec) -> world.json path in a fresh tmp dir

Tests that modify object files must use their own world (emulator_factory),
never the session demo world. Mount fixtures live elsewhere.
"""

import os
import sys

import pytest

EMULATOR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator")
sys.path.insert(0, os.path.abspath(EMULATOR_DIR))

from emu_client import Emulator  # noqa: E402
import make_world  # noqa: E402


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory):
    return make_world.write_demo(str(tmp_path_factory.mktemp("demo-world")))


def _start(world_path, flags, log_dir):
    log = os.path.join(str(log_dir), "emulator-%d.log" % len(os.listdir(str(log_dir))))
    return Emulator(world_path, args=flags, log_path=log).start()


@pytest.fixture(scope="session")
def emulator(demo_world, tmp_path_factory):
    emu = _start(demo_world, [], tmp_path_factory.mktemp("emulator-logs"))
    yield emu
    rc = emu.stop()
    assert rc == 0, "emulator exited %r:\n%s" % (rc, emu.log_text())


@pytest.fixture
def emu(emulator):
    emulator.restore()
    yield emulator
    emulator.restore()


@pytest.fixture
def world_builder(tmp_path):
    counter = [0]

    def build(spec):
        counter[0] += 1
        return make_world.build_world(str(tmp_path / ("world-%d" % counter[0])), spec)

    return build


@pytest.fixture
def emulator_factory(tmp_path, world_builder):
    started = []
    log_dir = tmp_path / "emulator-logs"
    log_dir.mkdir()

    def start(world=None, *flags):
        if world is None:
            world = make_world.write_demo(str(tmp_path / ("demo-%d" % len(started))))
        elif isinstance(world, dict):
            world = world_builder(world)
        emu = _start(world, list(flags), log_dir)
        started.append(emu)
        return emu

    yield start
    bad = []
    for emu in started:
        rc = emu.stop()
        if rc != 0:
            bad.append("emulator pid %s exited %r:\n%s" % (emu.pid, rc, emu.log_text()))
    assert not bad, "\n".join(bad)


# -- real mounts (tests/integration/mount.py) ------------------------------------------

from mount import Mount, MountError, require_fuse  # noqa: E402


@pytest.fixture
def mount_factory(tmp_path):
    """make(emu_or_api_url, *options, start=True, **Mount kwargs) -> a Mount.

    Every mount is unmounted at the end of the test; the test then fails if a
    daemon did not exit 0 or its stderr shows a sanitizer report or an error
    line the test did not declare (expect_errors=[regex], or m.expect_error())."""
    require_fuse()
    mounts = []

    def make(target=None, *options, start=True, **kw):
        api_url = target if isinstance(target, str) or target is None else target.api_url
        n = len(mounts)
        path = tmp_path / ("mnt-%d" % n)
        path.mkdir()
        kw.setdefault("log_path", str(tmp_path / ("umongofs-%d.stderr" % n)))
        m = Mount(str(path), api_url, options, **kw)
        mounts.append(m)
        if start:
            m.start()
        return m

    yield make
    problems = []
    for m in mounts:
        try:
            m.stop()
        except MountError as e:
            problems.append(str(e))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def demo_mount(emu, mount_factory):
    """The demo world on the session emulator, mounted with default options."""
    return mount_factory(emu)
