"""Every write of any kind answers EROFS (README.md, "Names, attributes, errors")."""

import errno
import os

from mount import errno_of
from treewalk import walk

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


def test_every_write_kind_is_erofs(demo_mount):
    m = demo_mount
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


def test_write_on_read_only_fd_and_access(demo_mount):
    f = demo_mount.p(*FILE)
    fd = os.open(f, os.O_RDONLY)
    try:
        assert errno_of(os.write, fd, b"x") == errno.EBADF
        assert errno_of(os.ftruncate, fd, 0) in (errno.EINVAL, errno.EBADF, errno.EROFS)
    finally:
        os.close(fd)
    assert os.access(f, os.R_OK)
    assert not os.access(f, os.W_OK)
    assert not os.access(demo_mount.p(*DIR), os.W_OK)
    st = os.statvfs(demo_mount.path)
    assert st.f_flag & os.ST_RDONLY
