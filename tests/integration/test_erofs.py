"""Every write of any kind answers EROFS (README.md, "Names, attributes, errors").

The mount is read-only in the kernel too, and the kernel answers EROFS for a
read-only mount before the daemon sees the request: on that mount alone
these tests would pass with every write handler of fs.c removed. So each
test also runs on the same mount remounted read-write (root only), where
every write reaches the daemon and only its own handlers answer EROFS.
"""

import ctypes
import errno
import os

import pytest

from mount import errno_of
from treewalk import walk

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32


def _remount(path, read_only):
    """mount(2) MS_REMOUNT: flips the kernel's read-only flag of the mount
    and its superblock (fuse allows it). The daemon is not involved."""
    libc = ctypes.CDLL(None, use_errno=True)
    flags = MS_REMOUNT | MS_NOSUID | MS_NODEV | (MS_RDONLY if read_only else 0)
    if libc.mount(b"umongofs", os.fsencode(path), b"fuse.umongofs", flags, None) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "remount %s: %s" % (path, os.strerror(e)))


@pytest.fixture(params=["kernel-ro", "kernel-rw"])
def write_mount(request, demo_mount):
    """The demo mount as shipped (kernel-ro), or remounted read-write so the
    daemon's handlers are what answers (kernel-rw)."""
    m = demo_mount
    if request.param == "kernel-rw":
        if os.geteuid() != 0:
            pytest.skip("remounting read-write needs root")
        _remount(m.path, read_only=False)
        assert not os.statvfs(m.path).f_flag & os.ST_RDONLY, "remount rw did not take"
        yield m
        _remount(m.path, read_only=True)
    else:
        assert os.statvfs(m.path).f_flag & os.ST_RDONLY
        yield m

FILE = ("cn-bj2", "orders-prod", "orders-prod-auto-2026-11-27.tar.gz")
DIR = ("cn-bj2", "orders-prod")


def _ops(m):
    f = m.p(*FILE)
    d = m.p(*DIR)
    new = os.path.join(d, "new-file")
    newdir = os.path.join(d, "new-dir")
    region = m.p("cn-bj2")
    return [
        ("open O_WRONLY", os.open, (f, os.O_WRONLY)),
        ("open O_RDWR", os.open, (f, os.O_RDWR)),
        ("open O_WRONLY|O_APPEND", os.open, (f, os.O_WRONLY | os.O_APPEND)),
        ("open O_RDWR|O_APPEND", os.open, (f, os.O_RDWR | os.O_APPEND)),
        ("open O_RDONLY|O_TRUNC", os.open, (f, os.O_RDONLY | os.O_TRUNC)),
        ("open O_WRONLY|O_TRUNC", os.open, (f, os.O_WRONLY | os.O_TRUNC)),
        ("create", os.open, (new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)),
        ("create O_RDONLY", os.open, (new, os.O_RDONLY | os.O_CREAT, 0o644)),
        ("mknod", os.mknod, (new, 0o644)),
        ("mkfifo", os.mkfifo, (new,)),
        ("mkdir", os.mkdir, (newdir,)),
        ("mkdir at the root", os.mkdir, (m.p("new-region"),)),
        ("rmdir", os.rmdir, (d,)),
        ("rmdir region", os.rmdir, (region,)),
        ("unlink", os.unlink, (f,)),
        ("rename file", os.rename, (f, f + ".old")),
        ("rename dir", os.rename, (d, d + "-old")),
        ("rename over another file", os.rename,
         (f, m.p("cn-bj2", "orders-prod", "orders-prod-auto-2026-11-26.tar.gz"))),
        ("link", os.link, (f, new)),
        ("symlink", os.symlink, ("target", new)),
        ("chmod file", os.chmod, (f, 0o644)),
        ("chmod dir", os.chmod, (d, 0o755)),
        ("chown", os.chown, (f, 1, 1)),
        ("truncate", os.truncate, (f, 0)),
        ("truncate longer", os.truncate, (f, 1 << 30)),
        ("utime", os.utime, (f, (1, 1))),
        ("utime now", os.utime, (f, None)),
        ("utime dir", os.utime, (d, (1, 1))),
        ("setxattr new", os.setxattr, (f, "user.test", b"x")),
        ("setxattr existing", os.setxattr, (f, "user.umongofs.name", b"x")),
        ("removexattr", os.removexattr, (f, "user.umongofs.name")),
        ("setxattr dir", os.setxattr, (d, "user.test", b"x")),
    ]


def test_every_write_kind_is_erofs(write_mount):
    m = write_mount
    walk(m.path)  # everything listed, so a lookup is never what fails
    before = {e.rel: (e.st.st_mode, e.st.st_size, e.st.st_mtime, e.xattrs)
              for e in walk(m.path)}
    bad = []
    for name, fn, args in _ops(m):
        e = errno_of(fn, *args)
        if e is None and fn is os.open:
            bad.append("%s: succeeded" % name)
        elif e != errno.EROFS:
            bad.append("%s: %s" % (name, errno.errorcode.get(e, e) if e else "succeeded"))
    assert not bad, "expected EROFS: " + "; ".join(bad)
    after = {e.rel: (e.st.st_mode, e.st.st_size, e.st.st_mtime, e.xattrs)
             for e in walk(m.path)}
    assert after == before


def test_write_on_read_only_fd_and_access(write_mount):
    m = write_mount
    f = m.p(*FILE)
    fd = os.open(f, os.O_RDONLY)
    try:
        assert errno_of(os.write, fd, b"x") == errno.EBADF
        assert errno_of(os.ftruncate, fd, 0) in (errno.EINVAL, errno.EBADF, errno.EROFS)
    finally:
        os.close(fd)
    assert os.access(f, os.R_OK)
    if not os.statvfs(m.path).f_flag & os.ST_RDONLY:
        # Read-write in the kernel, which (default_permissions) answers
        # access() itself: root may write anything there, so only the
        # daemon's open() stands between a writer and the file.
        assert errno_of(os.open, f, os.O_WRONLY) == errno.EROFS
        return
    assert not os.access(f, os.W_OK)
    assert not os.access(m.p(*DIR), os.W_OK)
    assert os.statvfs(m.path).f_flag & os.ST_RDONLY
