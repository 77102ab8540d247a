/*
 * Unit tests for mountinfo: proc(5)'s line format with optional fields and escaped paths,
 * a table that is cut short or does not parse failing whole, and the walks over parents.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mountinfo.h"

/* A descriptor holding @text, as /proc/self/mountinfo would. */
static int table(const char *text)
{
	int fd = memfd_create("mountinfo", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

static void test_parse(void **state)
{
	const struct mountinfo_entry *e;
	struct mountinfo *m = NULL;
	int fd = table("1 1 0:2 / / rw - rootfs rootfs rw\n"
		       "27 1 254:0 / /tmp rw,relatime shared:1 master:2 - ext4 /dev/vda rw\n"
		       "46 27 0:41 / /tmp/a\\040b/mnt rw,nosuid - fuse.vaultfs vaultfs:/v rw,"
		       "user_id=0,group_id=0,allow_other\n"
		       "47 46 0:42 / /tmp/a\\040b/mnt/secrets/x\\134y rw - fuse floorfs "
		       "rw,user_id=1001,group_id=1001\n"
		       "48 47 0:43 /sub /tmp/a\\040b/mnt/secrets/x\\134y rw - tmpfs none rw\n");

	(void)state;
	assert_int_equal(mountinfo_read(fd, &m), 0);
	assert_int_equal(m->n, 5);
	e = mountinfo_find(m, 27);
	assert_non_null(e);
	assert_string_equal(e->fstype, "ext4"); /* after the optional fields */
	assert_string_equal(e->source, "/dev/vda");
	assert_int_equal(e->major, 254);
	e = mountinfo_find(m, 46);
	assert_string_equal(e->mountpoint, "/tmp/a b/mnt");
	assert_string_equal(e->super_opts, "rw,user_id=0,group_id=0,allow_other");
	e = mountinfo_at(m, "/tmp/a b/mnt/secrets/x\\y");
	assert_non_null(e);
	assert_int_equal(e->id, 48); /* the top of the stack */
	assert_string_equal(e->root, "/sub");
	assert_null(mountinfo_at(m, "/nowhere"));
	assert_null(mountinfo_find(m, 99));
	assert_true(mountinfo_is_below(m, 47, 46));
	assert_true(mountinfo_is_below(m, 48, 46));
	assert_false(mountinfo_is_below(m, 46, 47));
	assert_false(mountinfo_is_below(m, 27, 46));
	assert_false(mountinfo_is_below(m, 99, 46));
	mountinfo_free(m);
	close(fd);
}

static void test_broken(void **state)
{
	static const char *const bad[] = {
		"1 1 0:2 / / rw - rootfs rootfs rw", /* no newline: cut short */
		"1 1 0:2 / / rw - rootfs\n", /* no source */
		"x 1 0:2 / / rw - rootfs rootfs rw\n", "1 1 0-2 / / rw - rootfs rootfs rw\n",
		"1 1 0:2 / / rw shared:1\n", /* no separator */
	};
	struct mountinfo *m = (struct mountinfo *)&m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = table(bad[i]);

		assert_int_equal(mountinfo_read(fd, &m), -EIO);
		assert_ptr_equal(m, (struct mountinfo *)&m); /* untouched */
		close(fd);
	}
}

static void test_self(void **state)
{
	struct mountinfo *m = NULL;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), id;

	(void)state;
	assert_true(fd >= 0);
	id = mountinfo_fd_mount_id(fd);
	assert_true(id > 0);
	assert_int_equal(mountinfo_read(-1, &m), 0);
	assert_non_null(mountinfo_find(m, id));
	assert_string_equal(mountinfo_find(m, id)->mountpoint, "/");
	mountinfo_free(m);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_self),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
