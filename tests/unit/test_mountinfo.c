/*
 * Unit tests for mountinfo: proc(5)'s line format with optional fields and escaped paths,
 * a table that is cut short or does not parse failing whole, and the walks over parents.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

/* The whole table from its start, wherever the descriptor's offset is (the guard reads one
 * descriptor again and again), and a table larger than the first buffer. */
static void test_offset_and_size(void **state)
{
	struct mountinfo *m = NULL;
	size_t len = 0, cap = 64 * 1024;
	char *text = malloc(cap);
	int fd;

	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text, cap, "1 1 0:2 / / rw - rootfs rootfs rw\n");
	for (int id = 2; id < 1000; id++)
		len += (size_t)snprintf(text + len, cap - len,
					"%d %d 0:%d / /mnt/m%04d rw - tmpfs none rw,size=4k\n", id,
					id - 1, id, id);
	assert_true(len > 32 * 1024 && len < cap);
	fd = table(text);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)len); /* at its end, as written */
	assert_int_equal(mountinfo_read(fd, &m), 0);
	assert_int_equal(m->n, 999);
	assert_string_equal(mountinfo_find(m, 999)->mountpoint, "/mnt/m0999");
	assert_string_equal(mountinfo_find(m, 999)->super_opts, "rw,size=4k");
	assert_true(mountinfo_is_below(m, 999, 1));
	assert_true(mountinfo_is_below(m, 999, 500));
	assert_false(mountinfo_is_below(m, 500, 999));
	mountinfo_free(m);
	/* read again: the same table */
	assert_int_equal(mountinfo_read(fd, &m), 0);
	assert_int_equal(m->n, 999);
	mountinfo_free(m);
	mountinfo_free(NULL);
	close(fd);
	free(text);
}

/* Parents that loop (a table the kernel never gives) end the walk: no mount is below. */
static void test_loop(void **state)
{
	struct mountinfo *m = NULL;
	int fd = table("5 6 0:2 / /a rw - tmpfs none rw\n"
		       "6 5 0:3 / /b rw - tmpfs none rw\n"
		       "7 7 0:4 / / rw - ext4 /dev/vda rw\n");

	(void)state;
	assert_int_equal(mountinfo_read(fd, &m), 0);
	assert_false(mountinfo_is_below(m, 5, 7));
	assert_true(mountinfo_is_below(m, 5, 6));
	mountinfo_free(m);
	close(fd);
}

/* A descriptor that is not open, or that a read of the table cannot use. */
static void test_fd_errors(void **state)
{
	struct mountinfo *m = (struct mountinfo *)&m;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mountinfo_fd_mount_id(fd), -ENOENT);
	assert_int_equal(mountinfo_fd_mount_id(-1), -ENOENT);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(mountinfo_read(fd, &m), -EISDIR);
	assert_ptr_equal(m, (struct mountinfo *)&m);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse), cmocka_unit_test(test_broken),
		cmocka_unit_test(test_self),  cmocka_unit_test(test_offset_and_size),
		cmocka_unit_test(test_loop),  cmocka_unit_test(test_fd_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
