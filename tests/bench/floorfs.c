/*
 * floorfs: the floor for the read benchmark — the least a FUSE filesystem can do to serve
 * small files with vaultfs's options: the low-level API, entry and attribute timeouts 0,
 * direct_io without keep_cache, noflush on files opened for reading, the same
 * multithreaded loop. It serves N files named
 * secret-0 .. secret-(N-1), each holding the same bytes, from memory, and decides nothing.
 * It also serves keys/k/sign, the floor for the sign benchmark: the path of a key's
 * operation file, opened for reading and writing, taking any write and answering every
 * read with SIG_LEN fixed bytes — the file protocol with no key, policy or audit behind it.
 *
 * Usage: floorfs MOUNTPOINT FILES SIZE [THREADS]   (foreground; SIGTERM unmounts)
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned files;
static size_t size;
static char *content;

/* keys/k/sign: inodes after the secrets' */
#define INO_KEYS ((fuse_ino_t)1 << 40)
#define INO_KEY (INO_KEYS + 1)
#define INO_SIGN (INO_KEYS + 2)
#define SIG_LEN 256

static int file_index(const char *name)
{
	char *end;
	long n;

	if (strncmp(name, "secret-", 7) != 0)
		return -1;
	n = strtol(name + 7, &end, 10);
	return *end || n < 0 || n >= (long)files ? -1 : (int)n;
}

static void fill_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == INO_SIGN) {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
	} else if (ino == FUSE_ROOT_ID || ino == INO_KEYS || ino == INO_KEY) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)size;
	}
}

static void fl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int i = parent == FUSE_ROOT_ID ? file_index(name) : -1;

	memset(&e, 0, sizeof(e));
	if (i >= 0)
		e.ino = (fuse_ino_t)i + 2;
	else if (parent == FUSE_ROOT_ID && strcmp(name, "keys") == 0)
		e.ino = INO_KEYS;
	else if (parent == INO_KEYS && strcmp(name, "k") == 0)
		e.ino = INO_KEY;
	else if (parent == INO_KEY && strcmp(name, "sign") == 0)
		e.ino = INO_SIGN;
	else {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void fl_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	fill_stat(ino, &st);
	fuse_reply_attr(req, &st, 0.0);
}

static void fl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* as vaultfs opens files for reading, and key operation files */
	fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY || ino == INO_SIGN;
	fuse_reply_open(req, fi);
}

static void fl_read(fuse_req_t req, fuse_ino_t ino, size_t n, off_t off, struct fuse_file_info *fi)
{
	static const char sig[SIG_LEN];

	(void)fi;
	if (ino == INO_SIGN)
		fuse_reply_buf(req, sig, n < SIG_LEN ? n : SIG_LEN);
	else if ((size_t)off >= size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, content + off, n < size - (size_t)off ? n : size - (size_t)off);
}

static void fl_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t n, off_t off,
		     struct fuse_file_info *fi)
{
	(void)buf;
	(void)off;
	(void)fi;
	if (ino == INO_SIGN)
		fuse_reply_write(req, n);
	else
		fuse_reply_err(req, EACCES);
}

static void fl_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void fl_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = fl_lookup,
	.getattr = fl_getattr,
	.open = fl_open,
	.read = fl_read,
	.write = fl_write,
	.flush = fl_flush,
	.release = fl_release,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop;
	struct fuse_session *se;
	unsigned threads;
	int r;

	if (argc < 4) {
		fprintf(stderr, "usage: floorfs MOUNTPOINT FILES SIZE [THREADS]\n");
		return 2;
	}
	files = (unsigned)atoi(argv[2]);
	size = (size_t)atol(argv[3]);
	threads = argc > 4 ? (unsigned)atoi(argv[4]) : 16;
	content = malloc(size ? size : 1);
	memset(content, 's', size);
	fuse_opt_add_arg(&args, "floorfs");
	fuse_opt_add_arg(&args, "-o");
	fuse_opt_add_arg(&args, geteuid() == 0 ? "fsname=floorfs,allow_other" : "fsname=floorfs");
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) < 0 || fuse_session_mount(se, argv[1]) < 0)
		return 1;
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(loop, threads);
	fuse_loop_cfg_set_idle_threads(loop, threads);
	r = fuse_session_loop_mt(se, loop);
	fuse_loop_cfg_destroy(loop);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	free(content);
	return r < 0 ? 1 : 0;
}
