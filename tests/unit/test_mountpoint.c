/* Unit tests for mountpoint.c: finding the topmost mount on a path in
 * /proc/self/mountinfo text, escapes and stacked mounts included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mountpoint.h"

static const char mountinfo[] =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "40 22 0:45 / /mnt/backups rw,nosuid,nodev,relatime shared:20 - fuse.umongofs "
    "umongofs:prod rw,user_id=0,group_id=0\n"
    "41 22 0:46 / /mnt/with\\040space rw,relatime - fuse.sshfs host:/srv rw\n"
    "42 40 0:47 / /mnt/backups rw,relatime - fuse.umongofs umongofs:staging rw\n"
    "43 22 0:48 / /mnt/plain rw master:3 shared:4 - tmpfs tmp\\040fs rw\n"
    "bad line\n";

static int find(const char *path, struct mountpoint_info *mi)
{
    FILE *f = fmemopen((void *)mountinfo, sizeof(mountinfo) - 1, "r");
    assert_non_null(f);
    memset(mi, 0, sizeof(*mi));
    int found = mountpoint_find(f, path, mi);
    fclose(f);
    return found;
}

static void test_topmost_of_stacked_mounts(void **state)
{
    struct mountpoint_info mi;
    assert_int_equal(find("/mnt/backups", &mi), 1);
    assert_string_equal(mi.fstype, "fuse.umongofs");
    assert_string_equal(mi.source, "umongofs:staging");
    assert_string_equal(mi.dev, "0:47");
}

static void test_escaped_path_and_optional_fields(void **state)
{
    struct mountpoint_info mi;
    assert_int_equal(find("/mnt/with space", &mi), 1);
    assert_string_equal(mi.fstype, "fuse.sshfs");
    assert_string_equal(mi.source, "host:/srv");
    assert_int_equal(find("/mnt/with\\040space", &mi), 0);
    assert_int_equal(find("/mnt/plain", &mi), 1);
    assert_string_equal(mi.fstype, "tmpfs");
    assert_string_equal(mi.source, "tmp fs");
}

static void test_not_mounted(void **state)
{
    struct mountpoint_info mi;
    assert_int_equal(find("/mnt", &mi), 0);
    assert_int_equal(find("/mnt/backups/", &mi), 0);
    assert_int_equal(find("", &mi), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topmost_of_stacked_mounts),
        cmocka_unit_test(test_escaped_path_and_optional_fields),
        cmocka_unit_test(test_not_mounted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
