/* SPDX-License-Identifier: MIT */
/* io_posix.c: read/pread/write with retries, the portable I/O backend. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "banned.h"

/*
 * Waits until fd (which a caller may have made non-blocking: a shell's
 * standard input sometimes is) is ready, rather than spinning on EAGAIN.
 */
static void
wait_ready(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
}

ssize_t
io_read_full(int fd, void *buf, size_t nbytes)
{
	size_t done = 0;

	while (done < nbytes) {
		const ssize_t r = read(fd, (char *)buf + done, nbytes - done);

		if (r < 0) {
			const int e = errno;

			if (e == EAGAIN)
				wait_ready(fd, POLLIN);
			if (e == EINTR || e == EAGAIN)
				continue;
			return -e;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t
io_pread_full(int fd, void *buf, size_t nbytes, uint64_t offset)
{
	size_t done = 0;

	while (done < nbytes) {
		const ssize_t r = pread(fd, (char *)buf + done, nbytes - done,
					(off_t)(offset + done));

		if (r < 0) {
			const int e = errno;

			if (e == EINTR || e == EAGAIN)
				continue;
			return -e;
		}
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

ssize_t
io_write_full(int fd, const void *buf, size_t nbytes)
{
	size_t done = 0;

	while (done < nbytes) {
		const ssize_t r = write(fd, (const char *)buf + done,
					nbytes - done);

		if (r < 0) {
			const int e = errno;

			if (e == EAGAIN)
				wait_ready(fd, POLLOUT);
			if (e == EINTR || e == EAGAIN)
				continue;
			return -e;
		}
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* ---- the POSIX stream: reads and writes in the calling thread ---- */

struct posix_stream {
	struct io_stream base;
	int fd;
	uint8_t *buf;		/* writes smaller than cap gather here */
	size_t len;
	size_t cap;
	int err;		/* the first write error, kept */
};

static enum gauss_status
posix_read(struct io_stream *s, void *dst, size_t n, size_t *got_ret,
	   struct errbuf *eb)
{
	struct posix_stream *p = (struct posix_stream *)s;
	const ssize_t r = io_read_full(p->fd, dst, n);

	*got_ret = 0;
	if (r < 0)
		return err_setf(eb, GAUSS_E_IO, "read failed: %s",
				strerror((int)-r));
	*got_ret = (size_t)r;
	return GAUSS_OK;
}

static enum gauss_status
posix_put(struct posix_stream *p, const void *buf, size_t n,
	  struct errbuf *eb)
{
	const ssize_t r = p->err ? -p->err : io_write_full(p->fd, buf, n);

	if (r < 0) {
		p->err = (int)-r;
		return err_setf(eb, GAUSS_E_IO, "write failed: %s",
				strerror(p->err));
	}
	return GAUSS_OK;
}

static enum gauss_status
posix_flush(struct io_stream *s, struct errbuf *eb)
{
	struct posix_stream *p = (struct posix_stream *)s;
	const size_t len = p->len;

	p->len = 0;
	return len || p->err ? posix_put(p, p->buf, len, eb) : GAUSS_OK;
}

static enum gauss_status
posix_write(struct io_stream *s, const void *buf, size_t n,
	    struct errbuf *eb)
{
	struct posix_stream *p = (struct posix_stream *)s;

	if (p->len + n > p->cap) {
		TRY(posix_flush(s, eb));
		if (n >= p->cap)
			return posix_put(p, buf, n, eb);
	}
	memcpy(p->buf + p->len, buf, n);
	p->len += n;
	return GAUSS_OK;
}

static void
posix_close(struct io_stream *s)
{
	struct posix_stream *p = (struct posix_stream *)s;

	free(p->buf);
	free(p);
}

static const struct io_stream_ops posix_ops = {
	.read = posix_read,
	.write = posix_write,
	.flush = posix_flush,
	.close = posix_close,
	.backend = IO_POSIX,
};

/*
 * A pipe holds 64 KiB by default, so a 4 MiB block crosses it in 64 trips,
 * each a context switch with the process at the other end; 1 MiB (the
 * default ceiling for unprivileged processes, pipe-max-size) cuts that to
 * 4. Best effort: a pipe that cannot grow works as it is.
 */
static void
grow_pipe(int fd)
{
	struct stat sb;
	const int want = 1 << 20;

	if (fstat(fd, &sb) == 0 && S_ISFIFO(sb.st_mode) &&
	    fcntl(fd, F_GETPIPE_SZ) < want)
		(void)fcntl(fd, F_SETPIPE_SZ, want);
}

enum gauss_status
io_posix_stream_open(struct io_stream **s, enum io_dir dir, int fd,
		     bool direct, struct errbuf *eb)
{
	struct posix_stream *p = calloc(1, sizeof(*p));

	(void)direct;
	*s = NULL;
	if (p == NULL)
		return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
	p->base.ops = &posix_ops;
	p->fd = fd;
	grow_pipe(fd);
	if (dir == IO_WRITE) {
		p->cap = (size_t)1 << 18;
		p->buf = malloc(p->cap);
		if (p->buf == NULL) {
			free(p);
			return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
		}
	}
	*s = &p->base;
	return GAUSS_OK;
}
