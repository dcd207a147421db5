/* SPDX-License-Identifier: MIT */
/* io.c: choosing the I/O backend of a stream (see io.h). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io.h"
#include "banned.h"

const char *
io_backend_name(enum io_backend b)
{
	switch (b) {
	case IO_POSIX:
		return "posix";
	case IO_URING:
		return "uring";
	default:
		return "auto";
	}
}

enum gauss_status
io_backend_from_env(enum io_backend *b, struct errbuf *eb)
{
	const char *v = getenv("GAUSS_IO");

	*b = IO_AUTO;
	if (v == NULL || *v == '\0' || strcmp(v, "auto") == 0)
		return GAUSS_OK;
	if (strcmp(v, "posix") == 0) {
		*b = IO_POSIX;
		return GAUSS_OK;
	}
	if (strcmp(v, "uring") == 0 || strcmp(v, "io_uring") == 0) {
		*b = IO_URING;
		return GAUSS_OK;
	}
	return err_setf(eb, GAUSS_E_INVALID_ARG, "GAUSS_IO='%s' is not one "
			"of uring, posix, auto", v);
}

enum gauss_status
io_stream_open(struct io_stream **s, enum io_backend b, enum io_dir dir,
	       int fd, bool direct, struct errbuf *eb)
{
	struct stat sb;

	*s = NULL;
	/*
	 * A pipe holds 64 KiB and is read and written in order: io_uring can
	 * keep only one transfer in flight on it, each a trip through a kernel
	 * worker, and measured two to three times slower than read() and
	 * write() (bench/RESULTS.md). So by default pipes, sockets and devices
	 * go through POSIX; GAUSS_IO=uring still forces io_uring on them.
	 */
	if (b == IO_AUTO && (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)))
		b = IO_POSIX;
	if (b != IO_POSIX) {
		bool refused = false;
		struct errbuf ueb;
		const enum gauss_status st =
			io_uring_stream_open(s, dir, fd, direct, &refused,
					     &ueb);

		if (st == GAUSS_OK)
			return GAUSS_OK;
		if (b == IO_URING || !refused) {
			if (eb)
				*eb = ueb;
			return st;
		}
	}
	return io_posix_stream_open(s, dir, fd, direct, eb);
}

enum gauss_status
io_stream_read(struct io_stream *s, void *dst, size_t n, size_t *got_ret,
	       struct errbuf *eb)
{
	return s->ops->read(s, dst, n, got_ret, eb);
}

enum gauss_status
io_stream_write(struct io_stream *s, const void *p, size_t n,
		struct errbuf *eb)
{
	return s->ops->write(s, p, n, eb);
}

enum gauss_status
io_stream_flush(struct io_stream *s, struct errbuf *eb)
{
	return s->ops->flush(s, eb);
}

void
io_stream_close(struct io_stream *s)
{
	if (s != NULL)
		s->ops->close(s);
}

enum io_backend
io_stream_backend(const struct io_stream *s)
{
	return s->ops->backend;
}
