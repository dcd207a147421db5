/* SPDX-License-Identifier: MIT */
/*
 * test_io.c: the I/O streams of both backends. Random bytes go through
 * writes of odd sizes (1 byte to 9 MiB) into a regular file and a pipe and
 * come back through reads of other odd sizes, for every pairing of writer
 * and reader backend, so each backend is checked against the other. Also:
 * errors (/dev/full, a file size limit), the fd offset at the start and
 * after a flush, O_DIRECT on a disk file system and on tmpfs, large
 * transfers (which the io_uring backend moves without its staging buffers)
 * at odd sizes and offsets, requests left in flight by a thread that has
 * exited, and the choice of backend.
 *
 * io_uring cases skip (with a message) where the kernel or a sandbox
 * refuses io_uring; run under tests/no_uring to see them skip, and to check
 * that IO_AUTO then falls back to POSIX.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "common.h"
#include "io.h"
#include "banned.h"

#define MIB	((size_t)1 << 20)

/* The write sizes, used in turn; their sum is about 16 MiB. */
static const size_t write_sizes[] = {
	1, 7, 4095, 4096, 4097, 65535, 65536, MIB - 1, MIB + 3, 9 * MIB,
	3, 2 * MIB - 1, 513, MIB, 4096 * 3, 1,
};

/* The read sizes, used in turn until the end. */
static const size_t read_sizes[] = {
	1, 2, 65535, 4 * MIB, 3, 9 * MIB + 1, 100000, MIB, 4096, 7,
	65536, 2 * MIB + 5,
};

static uint8_t *data;		/* random bytes, data_nbytes of them */
static size_t data_nbytes;

static int
group_setup(void **state)
{
	uint64_t seed = 0x10ba5eed;

	(void)state;
	data_nbytes = 0;
	for (size_t i = 0; i < ARRAY_SIZE(write_sizes); i++)
		data_nbytes += write_sizes[i];
	data = malloc(data_nbytes);
	if (data == NULL)
		return -1;
	for (size_t i = 0; i < data_nbytes; i += 8) {
		const uint64_t r = test_rand(&seed);

		memcpy(data + i, &r, MIN((size_t)8, data_nbytes - i));
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	free(data);
	return 0;
}

/*
 * Opens a stream on backend b (IO_POSIX or IO_URING) without the IO_AUTO
 * fallback. Returns false, with a message, when io_uring is refused.
 */
static bool
open_stream(struct io_stream **s, enum io_backend b, enum io_dir dir, int fd,
	    bool direct)
{
	struct errbuf eb = { "" };
	enum gauss_status st;
	bool refused = false;

	if (b == IO_POSIX) {
		st = io_posix_stream_open(s, dir, fd, direct, &eb);
	} else {
		st = io_uring_stream_open(s, dir, fd, direct, &refused, &eb);
		if (st != GAUSS_OK && refused) {
			print_message("io_uring refused, skipping: %s\n",
				      eb.text);
			return false;
		}
	}
	if (st != GAUSS_OK)
		fail_msg("opening a %s stream: %s", io_backend_name(b),
			 eb.text);
	assert_non_null(*s);
	assert_int_equal(io_stream_backend(*s), b);
	return true;
}

/* Skips the test now if a backend it needs is refused. */
static void
need_backend(enum io_backend b)
{
	struct io_stream *s = NULL;
	const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	if (!open_stream(&s, b, IO_READ, fd, false)) {
		close(fd);
		skip();
	}
	io_stream_close(s);
	close(fd);
}

/*
 * Writes n bytes of p through s in the sizes of write_sizes (from index
 * first), then flushes. Returns the status of the first failure.
 */
static enum gauss_status
write_all(struct io_stream *s, const uint8_t *p, size_t n, size_t first,
	  struct errbuf *eb)
{
	size_t done = 0;

	for (size_t i = first; done < n; i++) {
		const size_t k = MIN(write_sizes[i % ARRAY_SIZE(write_sizes)],
				     n - done);

		TRY(io_stream_write(s, p + done, k, eb));
		done += k;
	}
	return io_stream_flush(s, eb);
}

/*
 * Reads up to cap bytes through s in the sizes of read_sizes until the
 * end. A short count must mean the end: *contract_ok_ret is cleared if a
 * short read is followed by more bytes, or a read after the end is not
 * empty.
 */
static enum gauss_status
read_all(struct io_stream *s, uint8_t *p, size_t cap, size_t *got_ret,
	 bool *contract_ok_ret, struct errbuf *eb)
{
	size_t done = 0;

	*contract_ok_ret = true;
	*got_ret = 0;
	for (size_t i = 0;; i++) {
		const size_t want = read_sizes[i % ARRAY_SIZE(read_sizes)];
		size_t got = 0;

		if (want > cap - done)
			return err_setf(eb, GAUSS_E_TOO_LARGE, "more than "
					"%zu bytes came back", cap);
		TRY(io_stream_read(s, p + done, want, &got, eb));
		if (got > want)
			*contract_ok_ret = false;
		done += got;
		if (got < want)
			break;
	}
	for (int i = 0; i < 2; i++) {
		uint8_t one;
		size_t got = 1;

		TRY(io_stream_read(s, &one, 1, &got, eb));
		if (got != 0)
			*contract_ok_ret = false;
	}
	*got_ret = done;
	return GAUSS_OK;
}

static char *
temp_file_in(const char *dir, int *fd_ret)
{
	char *path = path_join(dir, "gauss-test-io.XXXXXX");

	*fd_ret = mkostemp(path, O_CLOEXEC);
	assert_true(*fd_ret >= 0);
	return path;
}

/*
 * n bytes at an address as far from a 4096 boundary as the file offset of
 * each byte (shift 0) or one further (shift 1): with O_DIRECT the io_uring
 * backend moves the first kind straight and stages the second.
 */
static uint8_t *
placed_alloc(size_t n, size_t shift, void **base_ret)
{
	void *base = NULL;

	assert_int_equal(posix_memalign(&base, 4096, n + 4096), 0);
	*base_ret = base;
	return (uint8_t *)base + shift;
}

static void
assert_file_is(int fd, const uint8_t *p, size_t n)
{
	uint8_t *back = malloc(n + 1);
	struct stat sb;

	assert_non_null(back);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, n);
	assert_int_equal(io_pread_full(fd, back, n + 1, 0), (ssize_t)n);
	assert_memory_equal(back, p, n);
	free(back);
}

/* ---- regular files and pipes, each backend against each ---- */

struct pair {
	enum io_backend w, r;
};

static struct pair pairs[] = {
	{ IO_POSIX, IO_POSIX },
	{ IO_POSIX, IO_URING },
	{ IO_URING, IO_POSIX },
	{ IO_URING, IO_URING },
};

static void
test_io_file_round_trip(void **state)
{
	const struct pair *pr = *state;
	const size_t cap = data_nbytes + 16 * MIB;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	size_t got = 0;
	bool ok = false;
	char *dir, *path;
	uint8_t *back;
	int fd;

	need_backend(pr->w);
	need_backend(pr->r);
	dir = make_temp_dir();
	path = temp_file_in(dir, &fd);
	back = malloc(cap);
	assert_non_null(back);
	assert_true(open_stream(&s, pr->w, IO_WRITE, fd, false));
	if (write_all(s, data, data_nbytes, 0, &eb) != GAUSS_OK)
		fail_msg("write: %s", eb.text);
	/* after a flush the offset is at the end of what was written */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)data_nbytes);
	io_stream_close(s);
	assert_file_is(fd, data, data_nbytes);

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_true(open_stream(&s, pr->r, IO_READ, fd, false));
	if (read_all(s, back, cap, &got, &ok, &eb) != GAUSS_OK)
		fail_msg("read: %s", eb.text);
	io_stream_close(s);
	assert_true(ok);
	assert_int_equal(got, data_nbytes);
	assert_memory_equal(back, data, data_nbytes);
	/* closed, a read stream leaves the offset after what it handed out */
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)data_nbytes);

	close(fd);
	free(back);
	free(path);
	remove_tree(dir);
	free(dir);
}

/* The reading end of a pipe, drained by a thread through a stream. */
struct reader {
	pthread_t tid;
	struct io_stream *s;
	uint8_t *p;
	size_t cap;
	size_t got;
	bool contract_ok;
	enum gauss_status st;
	struct errbuf eb;
};

static void *
reader_main(void *arg)
{
	struct reader *r = arg;

	r->st = read_all(r->s, r->p, r->cap, &r->got, &r->contract_ok,
			 &r->eb);
	return NULL;
}

static void
reader_start(struct reader *r, struct io_stream *s)
{
	memset(r, 0, sizeof(*r));
	r->s = s;
	r->cap = data_nbytes + 16 * MIB;
	r->p = malloc(r->cap);
	assert_non_null(r->p);
	assert_int_equal(pthread_create(&r->tid, NULL, reader_main, r), 0);
}

/* Joins the reader and checks it read exactly p[0..n). */
static void
reader_check(struct reader *r, const uint8_t *p, size_t n)
{
	assert_int_equal(pthread_join(r->tid, NULL), 0);
	if (r->st != GAUSS_OK)
		fail_msg("read: %s", r->eb.text);
	assert_true(r->contract_ok);
	assert_int_equal(r->got, n);
	assert_memory_equal(r->p, p, n);
	free(r->p);
}

static void
test_io_pipe_round_trip(void **state)
{
	const struct pair *pr = *state;
	struct io_stream *ws = NULL, *rs = NULL;
	struct errbuf eb = { "" };
	struct reader rd;
	int pfd[2];

	need_backend(pr->w);
	need_backend(pr->r);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_true(open_stream(&rs, pr->r, IO_READ, pfd[0], false));
	assert_true(open_stream(&ws, pr->w, IO_WRITE, pfd[1], false));
	reader_start(&rd, rs);
	if (write_all(ws, data, data_nbytes, 3, &eb) != GAUSS_OK)
		fail_msg("write: %s", eb.text);
	io_stream_close(ws);
	close(pfd[1]);
	reader_check(&rd, data, data_nbytes);
	io_stream_close(rs);
	close(pfd[0]);
}

/* ---- errors and offsets, per backend ---- */

static enum io_backend backend_posix = IO_POSIX;
static enum io_backend backend_uring = IO_URING;

static void
test_io_write_error_dev_full(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	enum gauss_status st = GAUSS_OK;
	int fd;

	need_backend(b);
	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		skip();
	assert_true(open_stream(&s, b, IO_WRITE, fd, false));
	for (int i = 0; i < 8 && st == GAUSS_OK; i++)
		st = io_stream_write(s, data, 3 * MIB + 1, &eb);
	if (st == GAUSS_OK)
		st = io_stream_flush(s, &eb);
	assert_int_equal(st, GAUSS_E_IO);
	assert_non_null(strstr(eb.text, "No space left on device"));
	assert_non_null(strstr(eb.text, "write failed"));
	if (b == IO_URING) {
		/* the first error sticks */
		memset(&eb, 0, sizeof(eb));
		assert_int_equal(io_stream_write(s, data, 1, &eb), GAUSS_E_IO);
		assert_non_null(strstr(eb.text, "No space left on device"));
		memset(&eb, 0, sizeof(eb));
		assert_int_equal(io_stream_flush(s, &eb), GAUSS_E_IO);
		assert_non_null(strstr(eb.text, "No space left on device"));
	}
	io_stream_close(s);
	close(fd);
}

/*
 * A regular file that may not grow past a limit (RLIMIT_FSIZE): a large
 * write stops short there, then fails with EFBIG, and the file holds the
 * bytes up to the limit. With O_DIRECT the io_uring backend writes from
 * the caller's memory in pieces, the last of which meets the limit.
 */
struct limit_case {
	enum io_backend b;
	bool direct;
};

static struct limit_case limit_cases[] = {
	{ IO_POSIX, false },
	{ IO_URING, false },
	{ IO_URING, true },
};

static void
test_io_write_error_file_limit(void **state)
{
	const struct limit_case *lc = *state;
	const size_t limit = 3 * MIB + 5;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	enum gauss_status st;
	struct rlimit old, lim;
	void (*old_handler)(int);
	char *dir, *path;
	void *base;
	uint8_t *p;
	int fd;

	need_backend(lc->b);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < 16 * MIB)
		skip();
	/* the file offset of each byte is its distance from a page */
	p = placed_alloc(limit + MIB, 0, &base);
	memcpy(p, data, limit + MIB);
	dir = make_temp_dir();
	path = temp_file_in(dir, &fd);
	assert_true(open_stream(&s, lc->b, IO_WRITE, fd, lc->direct));
	lim = old;
	lim.rlim_cur = limit;
	/* a write past the limit would also raise SIGXFSZ */
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	st = io_stream_write(s, p, 100, &eb);
	if (st == GAUSS_OK)
		st = io_stream_write(s, p + 100, limit + 900, &eb);
	if (st == GAUSS_OK)
		st = io_stream_flush(s, &eb);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(st, GAUSS_E_IO);
	assert_non_null(strstr(eb.text, "write failed"));
	assert_non_null(strstr(eb.text, strerror(EFBIG)));
	/* the first error sticks */
	memset(&eb, 0, sizeof(eb));
	assert_int_equal(io_stream_write(s, p, 2 * MIB, &eb), GAUSS_E_IO);
	assert_non_null(strstr(eb.text, strerror(EFBIG)));
	io_stream_close(s);
	assert_file_is(fd, p, limit);

	close(fd);
	free(path);
	remove_tree(dir);
	free(dir);
	free(base);
}

static void
test_io_read_error(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	uint8_t buf[16];
	size_t got = 5;
	int fd;

	need_backend(b);
	/* a directory cannot be read: EISDIR from the first read */
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(open_stream(&s, b, IO_READ, fd, false));
	assert_int_equal(io_stream_read(s, buf, sizeof(buf), &got, &eb),
			 GAUSS_E_IO);
	assert_non_null(strstr(eb.text, "read failed: "));
	assert_non_null(strstr(eb.text, strerror(EISDIR)));
	io_stream_close(s);
	close(fd);
}

/* A stream over a file opened at a non-zero offset starts there. */
static void
test_io_read_from_offset(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	const size_t start = 12345, part = 100000;
	const size_t cap = data_nbytes + 16 * MIB;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	size_t got = 0;
	bool ok = false;
	char *dir, *path;
	uint8_t *back;
	int fd;

	need_backend(b);
	dir = make_temp_dir();
	path = path_join(dir, "f");
	back = malloc(cap);
	assert_non_null(back);
	assert_int_equal(write_file(path, data, data_nbytes), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(io_read_full(fd, back, start), (ssize_t)start);

	assert_true(open_stream(&s, b, IO_READ, fd, false));
	assert_int_equal(io_stream_read(s, back, part, &got, &eb), GAUSS_OK);
	assert_int_equal(got, part);
	assert_memory_equal(back, data + start, part);
	io_stream_close(s);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)(start + part));

	/* and a second stream goes on from there to the end */
	assert_true(open_stream(&s, b, IO_READ, fd, false));
	if (read_all(s, back, cap, &got, &ok, &eb) != GAUSS_OK)
		fail_msg("read: %s", eb.text);
	io_stream_close(s);
	assert_true(ok);
	assert_int_equal(got, data_nbytes - start - part);
	assert_memory_equal(back, data + start + part, got);

	close(fd);
	free(back);
	free(path);
	remove_tree(dir);
	free(dir);
}

/*
 * Plain writes and stream writes mixed on one fd: the stream starts at the
 * fd's offset, and after each flush the fd's offset is where a plain write
 * should go on.
 */
static void
test_io_write_mixed_with_plain(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	const size_t a = 777, c = 3 * MIB + 11, d = 5, e = MIB + 1;
	const size_t n = a + c + d + e;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	char *dir, *path;
	int fd;

	need_backend(b);
	dir = make_temp_dir();
	path = temp_file_in(dir, &fd);
	assert_int_equal(io_write_full(fd, data, a), (ssize_t)a);
	assert_true(open_stream(&s, b, IO_WRITE, fd, false));
	if (write_all(s, data + a, c, 5, &eb) != GAUSS_OK)
		fail_msg("write: %s", eb.text);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)(a + c));
	assert_int_equal(io_write_full(fd, data + a + c, d), (ssize_t)d);
	if (write_all(s, data + a + c + d, e, 0, &eb) != GAUSS_OK)
		fail_msg("write: %s", eb.text);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)n);
	io_stream_close(s);
	assert_file_is(fd, data, n);

	close(fd);
	free(path);
	remove_tree(dir);
	free(dir);
}

/* O_APPEND ignores offsets: the bytes must still come out in order. */
static void
test_io_write_append(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	const size_t a = 4097;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	char *dir, *path;
	int fd;

	need_backend(b);
	dir = make_temp_dir();
	path = path_join(dir, "append");
	assert_int_equal(write_file(path, data, a), 0);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(open_stream(&s, b, IO_WRITE, fd, false));
	if (write_all(s, data + a, data_nbytes - a, 1, &eb) != GAUSS_OK)
		fail_msg("write: %s", eb.text);
	io_stream_close(s);
	close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_file_is(fd, data, data_nbytes);

	close(fd);
	free(path);
	remove_tree(dir);
	free(dir);
}

/* ---- O_DIRECT, on a disk file system and on tmpfs ---- */

struct direct_case {
	enum io_backend b;
	const char *dir;
};

static struct direct_case direct_cases[] = {
	{ IO_POSIX, "/tmp" },
	{ IO_POSIX, "/dev/shm" },
	{ IO_URING, "/tmp" },
	{ IO_URING, "/dev/shm" },
};

static void
test_io_direct(void **state)
{
	const struct direct_case *dc = *state;
	/* unaligned starts, so both the buffered edges and O_DIRECT run */
	const size_t head = 100, start = 777;
	const size_t cap = data_nbytes + 16 * MIB;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	char tmpl[64];
	char *dir, *path;
	uint8_t *back;
	size_t got = 0;
	bool ok = false;
	int fd, rfd;

	need_backend(dc->b);
	snprintf(tmpl, sizeof(tmpl), "%s/gauss-test-io.XXXXXX", dc->dir);
	dir = mkdtemp(tmpl);
	if (dir == NULL) {
		print_message("cannot make a directory in %s: %s\n", dc->dir,
			      strerror(errno));
		skip();
	}
	path = temp_file_in(dir, &fd);
	back = malloc(cap);
	assert_non_null(back);

	assert_int_equal(io_write_full(fd, data, head), (ssize_t)head);
	assert_true(open_stream(&s, dc->b, IO_WRITE, fd, true));
	if (write_all(s, data + head, data_nbytes - head, 2, &eb) != GAUSS_OK)
		fail_msg("write: %s", eb.text);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)data_nbytes);
	io_stream_close(s);
	assert_file_is(fd, data, data_nbytes);

	/* the caller's fd keeps its flags */
	assert_int_equal(fcntl(fd, F_GETFL) & O_DIRECT, 0);

	rfd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(rfd >= 0);
	assert_int_equal(lseek(rfd, (off_t)start, SEEK_SET), (off_t)start);
	assert_true(open_stream(&s, dc->b, IO_READ, rfd, true));
	if (read_all(s, back, cap, &got, &ok, &eb) != GAUSS_OK)
		fail_msg("read: %s", eb.text);
	io_stream_close(s);
	assert_true(ok);
	assert_int_equal(got, data_nbytes - start);
	assert_memory_equal(back, data + start, got);

	close(rfd);
	close(fd);
	unlink(path);
	free(path);
	free(back);
	rmdir(dir);
}

/* ---- large transfers at odd sizes and offsets, against POSIX ---- */

/*
 * Sizes on both sides of what the io_uring backend takes straight from or
 * into the caller's memory (reads from 32 KiB, writes from 1 MiB, pieces
 * of 1 MiB with 8 in flight), mixed with small ones.
 */
static const size_t large_sizes[] = {
	MIB, 3, MIB + 1, 32767, 32768, 4096, 9 * MIB + 4095, 1, 2 * MIB - 1,
	100, 17 * MIB + 5, 65536, MIB - 1, 4 * MIB, 7, 3 * MIB + 2048,
};

struct large_case {
	bool direct;
	const char *dir;
};

static struct large_case large_cases[] = {
	{ false, "/tmp" },
	{ true, "/tmp" },
	{ true, "/dev/shm" },
};

/*
 * Writes src[0][0..n) to path: head bytes with a plain write, the rest
 * through a stream of backend b in the sizes of large_sizes, every third
 * write from src[1] (the same bytes, placed one byte further).
 */
static void
large_write(enum io_backend b, bool direct, const char *path,
	    uint8_t *const src[2], size_t n, size_t head)
{
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	size_t off = head;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(io_write_full(fd, src[0], head), (ssize_t)head);
	assert_true(open_stream(&s, b, IO_WRITE, fd, direct));
	for (size_t i = 0; off < n; i++) {
		const size_t k = MIN(large_sizes[i % ARRAY_SIZE(large_sizes)],
				     n - off);

		if (io_stream_write(s, src[i % 3 == 2] + off, k, &eb) !=
		    GAUSS_OK)
			fail_msg("%s write: %s", io_backend_name(b), eb.text);
		off += k;
	}
	if (io_stream_flush(s, &eb) != GAUSS_OK)
		fail_msg("%s flush: %s", io_backend_name(b), eb.text);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)n);
	io_stream_close(s);
	assert_file_is(fd, src[0], n);
	close(fd);
}

/*
 * Reads path (n bytes, which must be want) from offset start through a
 * stream of backend b, in the sizes of large_sizes into dst[0] or dst[1]
 * at the file offset, then asks for more than is left, twice.
 */
static void
large_read(enum io_backend b, bool direct, const char *path,
	   const uint8_t *want, size_t n, size_t start, uint8_t *const dst[2])
{
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	size_t off = start, got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(lseek(fd, (off_t)start, SEEK_SET), (off_t)start);
	assert_true(open_stream(&s, b, IO_READ, fd, direct));
	for (size_t i = 0; n - off > 3 * MIB; i++) {
		const size_t k = MIN(large_sizes[(i + 5) %
						 ARRAY_SIZE(large_sizes)],
				     n - off - 1);
		uint8_t *const to = dst[i % 3 == 1] + off;

		if (io_stream_read(s, to, k, &got, &eb) != GAUSS_OK)
			fail_msg("%s read: %s", io_backend_name(b), eb.text);
		assert_int_equal(got, k);
		assert_memory_equal(to, want + off, k);
		off += k;
	}
	/* the end, met by a read that is large enough to skip the staging */
	for (int i = 0; i < 3; i++) {
		const size_t k = i == 1 ? 1 : 5 * MIB;

		if (io_stream_read(s, dst[0] + off, k, &got, &eb) != GAUSS_OK)
			fail_msg("%s read: %s", io_backend_name(b), eb.text);
		assert_int_equal(got, i == 0 ? n - off : 0);
		assert_memory_equal(dst[0] + off, want + off, got);
		off += got;
	}
	io_stream_close(s);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)n);
	close(fd);
}

/*
 * Each backend writes the same bytes in the same calls, starting at an
 * odd offset; each reads them back from another odd offset. Where direct
 * asks for O_DIRECT, the io_uring backend mixes the O_DIRECT descriptor
 * with buffered edges in one call.
 */
static void
test_io_large_vs_posix(void **state)
{
	const struct large_case *lc = *state;
	static const enum io_backend both[] = { IO_POSIX, IO_URING };
	const size_t head = 100, start = 4097;
	uint64_t seed = 0x1a5e;
	size_t n = head;
	void *base[4];
	uint8_t *src[2], *dst[2];
	char tmpl[64], *dir, *path[2];

	need_backend(IO_URING);
	snprintf(tmpl, sizeof(tmpl), "%s/gauss-test-io.XXXXXX", lc->dir);
	dir = mkdtemp(tmpl);
	if (dir == NULL) {
		print_message("cannot make a directory in %s: %s\n", lc->dir,
			      strerror(errno));
		skip();
	}
	for (size_t i = 0; i < ARRAY_SIZE(large_sizes); i++)
		n += large_sizes[i];
	for (int i = 0; i < 2; i++) {
		src[i] = placed_alloc(n, (size_t)i, &base[i]);
		dst[i] = placed_alloc(n, (size_t)i, &base[2 + i]);
	}
	for (size_t i = 0; i < n; i += 8) {
		const uint64_t r = test_rand(&seed);

		memcpy(src[0] + i, &r, MIN((size_t)8, n - i));
	}
	memcpy(src[1], src[0], n);

	for (int i = 0; i < 2; i++) {
		path[i] = path_join(dir, io_backend_name(both[i]));
		large_write(both[i], lc->direct, path[i], src, n, head);
	}
	for (int w = 0; w < 2; w++)
		for (int r = 0; r < 2; r++)
			large_read(both[r], lc->direct, path[w], src[0], n,
				   start, dst);

	for (int i = 0; i < 2; i++) {
		unlink(path[i]);
		free(path[i]);
	}
	for (int i = 0; i < 4; i++)
		free(base[i]);
	rmdir(dir);
}

/* ---- requests left in flight by a thread that has exited ---- */

struct writer_job {
	struct io_stream *s;
	const uint8_t *p;
	size_t n;
	enum gauss_status st;
	struct errbuf eb;
};

static void *
writer_job_main(void *arg)
{
	struct writer_job *j = arg;

	j->st = io_stream_write(j->s, j->p, j->n, &j->eb);
	return NULL;
}

struct reader_job {
	struct io_stream *s;
	uint8_t *p;
	size_t n;
	size_t got;
	enum gauss_status st;
	struct errbuf eb;
};

static void *
reader_job_main(void *arg)
{
	struct reader_job *j = arg;

	j->st = io_stream_read(j->s, j->p, j->n, &j->got, &j->eb);
	return NULL;
}

/* Runs fn(arg) in a thread that exits before this returns. */
static void
in_thread(void *(*fn)(void *), void *arg)
{
	pthread_t tid;

	assert_int_equal(pthread_create(&tid, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(tid, NULL), 0);
}

/*
 * The pipelines call a stream from whichever worker is free, and workers
 * exit at the end of a run: what one of them started must still complete.
 */
static void
test_io_thread_exit_pipe_write(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	struct io_stream *ws = NULL, *rs = NULL;
	struct errbuf eb = { "" };
	const size_t n = 3 * MIB + 17;
	struct writer_job j = { 0 };
	struct reader rd;
	int pfd[2];

	need_backend(b);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_true(open_stream(&ws, b, IO_WRITE, pfd[1], false));
	/* nobody reads yet: the thread leaves a write waiting on the pipe */
	j = (struct writer_job){ .s = ws, .p = data, .n = n };
	if (b == IO_POSIX)
		j.n = 100;	/* POSIX writes as it is called */
	in_thread(writer_job_main, &j);
	if (j.st != GAUSS_OK)
		fail_msg("write: %s", j.eb.text);
	assert_true(open_stream(&rs, IO_POSIX, IO_READ, pfd[0], false));
	reader_start(&rd, rs);
	if (io_stream_write(ws, data + j.n, n - j.n, &eb) != GAUSS_OK ||
	    io_stream_flush(ws, &eb) != GAUSS_OK)
		fail_msg("write: %s", eb.text);
	io_stream_close(ws);
	close(pfd[1]);
	reader_check(&rd, data, n);
	io_stream_close(rs);
	close(pfd[0]);
}

static void
test_io_thread_exit_pipe_read(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	const size_t first = 10, n = MIB + 3;
	struct reader_job j = { 0 };
	size_t got = 0;
	uint8_t *back;
	int pfd[2];

	need_backend(b);
	back = malloc(n + 1);
	assert_non_null(back);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_true(open_stream(&s, b, IO_READ, pfd[0], false));
	assert_int_equal(io_write_full(pfd[1], data, first), (ssize_t)first);
	/* the thread reads what is there and leaves a read on the empty pipe */
	j = (struct reader_job){ .s = s, .p = back, .n = first };
	in_thread(reader_job_main, &j);
	if (j.st != GAUSS_OK)
		fail_msg("read: %s", j.eb.text);
	assert_int_equal(j.got, first);
	/* the rest, through a pipe of 64 KiB: this thread must read as well */
	{
		struct writer_job w = { 0 };
		pthread_t tid;
		struct io_stream *ws = NULL;

		assert_true(open_stream(&ws, IO_POSIX, IO_WRITE, pfd[1],
					false));
		w = (struct writer_job){ .s = ws, .p = data + first,
					 .n = n - first };
		assert_int_equal(pthread_create(&tid, NULL, writer_job_main,
						&w), 0);
		assert_int_equal(io_stream_read(s, back + first, n - first,
						&got, &eb), GAUSS_OK);
		assert_int_equal(pthread_join(tid, NULL), 0);
		assert_int_equal(w.st, GAUSS_OK);
		assert_int_equal(io_stream_flush(ws, &eb), GAUSS_OK);
		io_stream_close(ws);
	}
	assert_int_equal(got, n - first);
	assert_memory_equal(back, data, n);
	close(pfd[1]);
	assert_int_equal(io_stream_read(s, back, 1, &got, &eb), GAUSS_OK);
	assert_int_equal(got, 0);
	io_stream_close(s);
	close(pfd[0]);
	free(back);
}

/* Reads from a file out of the page cache, started by a thread that exits. */
static void
test_io_thread_exit_file_read(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	const size_t cap = data_nbytes + 16 * MIB;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	struct reader_job j = { 0 };
	size_t got = 0;
	bool ok = false;
	char *dir, *path;
	uint8_t *back;
	int fd;

	need_backend(b);
	dir = make_temp_dir();
	path = path_join(dir, "cold");
	back = malloc(cap);
	assert_non_null(back);
	assert_int_equal(write_file(path, data, data_nbytes), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* best effort: out of the cache, the reads take a while */
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	assert_true(open_stream(&s, b, IO_READ, fd, false));
	j = (struct reader_job){ .s = s, .p = back, .n = 1 };
	in_thread(reader_job_main, &j);
	if (j.st != GAUSS_OK)
		fail_msg("read: %s", j.eb.text);
	assert_int_equal(j.got, 1);
	if (read_all(s, back + 1, cap - 1, &got, &ok, &eb) != GAUSS_OK)
		fail_msg("read: %s", eb.text);
	assert_true(ok);
	assert_int_equal(got + 1, data_nbytes);
	assert_memory_equal(back, data, data_nbytes);
	io_stream_close(s);

	close(fd);
	free(back);
	free(path);
	remove_tree(dir);
	free(dir);
}

/* A stream closed with reads in flight on a pipe that stays silent. */
static void
test_io_close_with_read_pending(void **state)
{
	const enum io_backend b = *(const enum io_backend *)*state;
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	uint8_t buf[4];
	size_t got = 0;
	int pfd[2];

	need_backend(b);
	assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
	assert_int_equal(io_write_full(pfd[1], "abcd", 4), 4);
	assert_true(open_stream(&s, b, IO_READ, pfd[0], false));
	assert_int_equal(io_stream_read(s, buf, 4, &got, &eb), GAUSS_OK);
	assert_int_equal(got, 4);
	assert_memory_equal(buf, "abcd", 4);
	/* must not hang though the write end is still open */
	io_stream_close(s);
	close(pfd[1]);
	close(pfd[0]);
}

/* ---- choosing the backend ---- */

static void
test_io_backend_from_env(void **state)
{
	static const struct {
		const char *value;
		enum gauss_status st;
		enum io_backend b;
	} cases[] = {
		{ NULL, GAUSS_OK, IO_AUTO },
		{ "", GAUSS_OK, IO_AUTO },
		{ "auto", GAUSS_OK, IO_AUTO },
		{ "posix", GAUSS_OK, IO_POSIX },
		{ "uring", GAUSS_OK, IO_URING },
		{ "io_uring", GAUSS_OK, IO_URING },
		{ "bogus", GAUSS_E_INVALID_ARG, IO_AUTO },
	};
	const char *saved = getenv("GAUSS_IO");
	char *keep = saved ? strdup(saved) : NULL;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct errbuf eb = { "" };
		enum io_backend b = IO_POSIX;

		if (cases[i].value)
			setenv("GAUSS_IO", cases[i].value, 1);
		else
			unsetenv("GAUSS_IO");
		assert_int_equal(io_backend_from_env(&b, &eb), cases[i].st);
		assert_int_equal(b, cases[i].b);
		if (cases[i].st != GAUSS_OK)
			assert_non_null(strstr(eb.text, "GAUSS_IO"));
	}
	if (keep)
		setenv("GAUSS_IO", keep, 1);
	else
		unsetenv("GAUSS_IO");
	free(keep);
}

/*
 * Where io_uring works, IO_AUTO takes it for a regular file; where it is
 * refused (run under no_uring), IO_URING fails with the reason and IO_AUTO
 * quietly takes POSIX. Pipes take POSIX under IO_AUTO.
 */
static void
test_io_auto_and_refusal(void **state)
{
	struct io_stream *s = NULL;
	struct errbuf eb = { "" };
	bool refused = false;
	char path[] = "/tmp/gauss-io-auto-XXXXXX";
	const int fd = mkostemp(path, O_CLOEXEC);
	int pfd[2];
	enum gauss_status st;

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	/* a pipe takes POSIX under IO_AUTO, whatever the kernel allows */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(io_stream_open(&s, IO_AUTO, IO_READ, pfd[0], false,
					&eb), GAUSS_OK);
	assert_int_equal(io_stream_backend(s), IO_POSIX);
	io_stream_close(s);
	s = NULL;
	close(pfd[0]);
	close(pfd[1]);
	st = io_uring_stream_open(&s, IO_READ, fd, false, &refused, &eb);
	if (st == GAUSS_OK) {
		io_stream_close(s);
		s = NULL;
		assert_int_equal(io_stream_open(&s, IO_AUTO, IO_READ, fd,
						false, &eb), GAUSS_OK);
		assert_int_equal(io_stream_backend(s), IO_URING);
	} else {
		print_message("io_uring refused here (%s): checking the "
			      "fallback\n", eb.text);
		assert_true(refused);
		assert_null(s);
		assert_non_null(strstr(eb.text, "io_uring is not available"));
		memset(&eb, 0, sizeof(eb));
		assert_int_equal(io_stream_open(&s, IO_URING, IO_READ, fd,
						false, &eb), GAUSS_E_IO);
		assert_non_null(strstr(eb.text, "io_uring is not available"));
		assert_int_equal(io_stream_open(&s, IO_AUTO, IO_READ, fd,
						false, &eb), GAUSS_OK);
		assert_int_equal(io_stream_backend(s), IO_POSIX);
	}
	io_stream_close(s);
	io_stream_close(NULL);
	close(fd);
}

#define PAIR(name, fn, i)	{ name, fn, NULL, NULL, &pairs[i] }
#define EACH(name, fn)							\
	{ name "_posix", fn, NULL, NULL, &backend_posix },		\
	{ name "_uring", fn, NULL, NULL, &backend_uring }

int
main(void)
{
	const struct CMUnitTest tests[] = {
		PAIR("test_io_file_posix_to_posix", test_io_file_round_trip, 0),
		PAIR("test_io_file_posix_to_uring", test_io_file_round_trip, 1),
		PAIR("test_io_file_uring_to_posix", test_io_file_round_trip, 2),
		PAIR("test_io_file_uring_to_uring", test_io_file_round_trip, 3),
		PAIR("test_io_pipe_posix_to_posix", test_io_pipe_round_trip, 0),
		PAIR("test_io_pipe_posix_to_uring", test_io_pipe_round_trip, 1),
		PAIR("test_io_pipe_uring_to_posix", test_io_pipe_round_trip, 2),
		PAIR("test_io_pipe_uring_to_uring", test_io_pipe_round_trip, 3),
		EACH("test_io_write_error_dev_full",
		     test_io_write_error_dev_full),
		{ "test_io_write_error_file_limit_posix",
		  test_io_write_error_file_limit, NULL, NULL,
		  &limit_cases[0] },
		{ "test_io_write_error_file_limit_uring",
		  test_io_write_error_file_limit, NULL, NULL,
		  &limit_cases[1] },
		{ "test_io_write_error_file_limit_uring_direct",
		  test_io_write_error_file_limit, NULL, NULL,
		  &limit_cases[2] },
		EACH("test_io_read_error", test_io_read_error),
		EACH("test_io_read_from_offset", test_io_read_from_offset),
		EACH("test_io_write_mixed_with_plain",
		     test_io_write_mixed_with_plain),
		EACH("test_io_write_append", test_io_write_append),
		{ "test_io_direct_posix_tmp", test_io_direct, NULL, NULL,
		  &direct_cases[0] },
		{ "test_io_direct_posix_shm", test_io_direct, NULL, NULL,
		  &direct_cases[1] },
		{ "test_io_direct_uring_tmp", test_io_direct, NULL, NULL,
		  &direct_cases[2] },
		{ "test_io_direct_uring_shm", test_io_direct, NULL, NULL,
		  &direct_cases[3] },
		{ "test_io_large_vs_posix_tmp", test_io_large_vs_posix, NULL,
		  NULL, &large_cases[0] },
		{ "test_io_large_vs_posix_direct_tmp", test_io_large_vs_posix,
		  NULL, NULL, &large_cases[1] },
		{ "test_io_large_vs_posix_direct_shm", test_io_large_vs_posix,
		  NULL, NULL, &large_cases[2] },
		EACH("test_io_thread_exit_pipe_write",
		     test_io_thread_exit_pipe_write),
		EACH("test_io_thread_exit_pipe_read",
		     test_io_thread_exit_pipe_read),
		EACH("test_io_thread_exit_file_read",
		     test_io_thread_exit_file_read),
		EACH("test_io_close_with_read_pending",
		     test_io_close_with_read_pending),
		cmocka_unit_test(test_io_backend_from_env),
		cmocka_unit_test(test_io_auto_and_refusal),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
