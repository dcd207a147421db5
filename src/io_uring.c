/* SPDX-License-Identifier: MIT */
/*
 * io_uring.c: the io_uring backend of the streams (see io.h).
 *
 * A stream owns a small ring (URING_NBUF entries) and URING_NBUF staging
 * buffers of URING_STAGE_NBYTES each, 4096-aligned, used in ring order.
 * Memory is bounded by that: 4 MiB a stream, whatever the file size.
 *
 * Reading: every free buffer ahead of the consumer is handed to the kernel
 * as one read, and io_stream_read() copies out of the oldest one. A regular
 * file is read with explicit offsets, from the fd's offset when the stream
 * opened, so all the buffers are in flight at once; a short read is
 * resubmitted for the rest of its buffer until the kernel returns 0, the
 * only end of input. A pipe, FIFO, socket or device has no offsets: it gets
 * offset -1 and one read at a time, and a short read there is just what
 * the writer had written, so the buffer is handed out as it is. The fd's
 * offset is unspecified while the stream is open; close puts it just past
 * the bytes handed out, where the POSIX backend would have left it.
 *
 * Writing: io_stream_write() copies into the buffer being filled; a full
 * buffer goes to the kernel at once (a regular file: at its own offset,
 * several in flight) or, on a pipe or an O_APPEND file, queues behind the
 * one write in flight so that bytes stay in order. The caller waits only
 * when every buffer is busy. Short writes are resubmitted for the rest,
 * -EAGAIN and -EINTR retried; the first error is kept and every later
 * write and flush returns it. Flush waits for everything and then seeks
 * the fd to the end of what was written, so that plain writes after a
 * flush land where they should.
 *
 * O_DIRECT (direct): a regular file is opened a second time, through
 * /proc/self/fd, with O_DIRECT. An operation goes through that descriptor
 * only when its offset, length and buffer address are all multiples of
 * URING_ALIGN; anything else (the first bytes up to an aligned offset, the
 * final partial buffer, the rest of a short transfer) goes through the
 * caller's descriptor, buffered, so the bytes never depend on alignment.
 * To keep most writes aligned, a write buffer that starts at an unaligned
 * offset holds only the bytes up to the next boundary, and reads start at
 * the aligned offset below the first byte wanted and skip the difference.
 * If the file system refuses O_DIRECT (at open, or with -EINVAL on an
 * operation), the stream goes on buffered without a word.
 *
 * Threads: the pipelines call a stream from whichever worker is free, one
 * at a time, and their workers exit at the end of a run. The kernel ties a
 * request to the thread that submitted it: when that thread has exited
 * before the request could go on, the request fails without having been
 * carried out, with -ECANCELED (a read of an empty pipe, seen on 6.18) or
 * -EFAULT (a read of a regular file that had to wait for the disk). Our
 * buffers are always valid memory, so neither can be a real fault: such a
 * request is submitted again from the thread that reaps it, a few times at
 * most (tests/test_io.c, test_io_thread_exit_*).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if GAUSS_HAVE_IO_URING
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>
#endif

#include "common.h"
#include "io.h"
#include "banned.h"

#if !GAUSS_HAVE_IO_URING

enum gauss_status
io_uring_stream_open(struct io_stream **s, enum io_dir dir, int fd,
		     bool direct, bool *refused_ret, struct errbuf *eb)
{
	(void)dir;
	(void)fd;
	(void)direct;
	*s = NULL;
	*refused_ret = true;
	return err_setf(eb, GAUSS_E_IO, "io_uring is not available in this "
			"build");
}

#else /* GAUSS_HAVE_IO_URING */

#define URING_NBUF		4u
#define URING_STAGE_NBYTES	((size_t)1 << 20)
#define URING_ALIGN		4096u
/* Resubmissions of a request the kernel dropped (see "Threads" above). */
#define URING_MAX_CANCELED	8u
/* Tries of io_uring_submit() that the kernel turns away for lack of memory. */
#define URING_MAX_SUBMIT	100u

enum ubuf_state {
	UB_FREE,	/* nobody's */
	UB_FILLING,	/* write: the caller's bytes are being gathered */
	UB_QUEUED,	/* write: full, waiting for its turn (pipes) */
	UB_BUSY,	/* a request on it is in flight */
	UB_READY,	/* read: done, being handed out */
};

struct ubuf {
	uint8_t *p;
	size_t cap;		/* bytes it holds when full */
	size_t len;		/* read: bytes read; write: bytes gathered */
	size_t pos;		/* read: bytes handed out; write: written */
	uint64_t off;		/* file offset of p[0] (seekable files) */
	int err;		/* read: the errno that ended the stream */
	bool eof;		/* read: the kernel returned 0 after len */
	bool on_dfd;		/* its request in flight is on the dfd */
	unsigned ncanceled;
	enum ubuf_state state;
};

struct uring_stream {
	struct io_stream base;
	struct io_uring ring;
	enum io_dir dir;
	int fd;			/* the caller's */
	int dfd;		/* O_DIRECT reopening of fd, or -1 */
	bool seekable;		/* explicit offsets, several in flight */
	bool closing;		/* complete requests, start none */
	bool broken;		/* the ring itself failed: wait no more */
	bool eof_seen;		/* read: a request returned 0 or failed */
	bool at_end;		/* read: everything was handed out */
	bool resync;		/* write: re-read the fd offset first */
	unsigned inflight;	/* requests whose completion is not reaped */
	unsigned head;		/* read: handed out; write: filled */
	unsigned sub;		/* the next buffer to submit */
	size_t skip;		/* read: bytes before the first wanted */
	uint64_t next_off;	/* offset of the next buffer to submit/fill */
	uint64_t pos;		/* read: offset of the next byte out */
	int err;		/* write: the first error (an errno) */
	uint8_t *mem;
	struct ubuf b[URING_NBUF];
};

static unsigned
ring_next(unsigned i)
{
	return (i + 1) % URING_NBUF;
}

static bool
is_aligned(uint64_t v)
{
	return (v & (URING_ALIGN - 1)) == 0;
}

/* Remembers the first error of the stream. */
static void
set_err(struct uring_stream *u, int e)
{
	if (u->err == 0)
		u->err = e;
}

/*
 * Hands the rest of b's transfer to the kernel: for a read, from b->len to
 * the end of the buffer; for a write, from b->pos to b->len. Returns 0 or
 * the -errno of io_uring_submit(), after which the ring is not trusted.
 */
static int
issue(struct uring_stream *u, struct ubuf *b)
{
	const bool rd = u->dir == IO_READ;
	uint8_t *const addr = b->p + (rd ? b->len : b->pos);
	const size_t nbytes = rd ? b->cap - b->len : b->len - b->pos;
	const uint64_t off = u->seekable ? b->off + (rd ? b->len : b->pos) :
				(uint64_t)-1;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	int fd = u->fd;
	unsigned ntries = 0;
	int r;

	/* never NULL: at most one request per buffer plus its cancel */
	GAUSS_ASSERT(sqe != NULL);
	if (sqe == NULL)
		return -EBUSY;
	b->on_dfd = u->dfd >= 0 && u->seekable && is_aligned(off) &&
		    is_aligned(nbytes) && is_aligned((uintptr_t)addr);
	if (b->on_dfd)
		fd = u->dfd;
	if (rd)
		io_uring_prep_read(sqe, fd, addr, (unsigned)nbytes, off);
	else
		io_uring_prep_write(sqe, fd, addr, (unsigned)nbytes, off);
	io_uring_sqe_set_data(sqe, b);
	b->state = UB_BUSY;
	/* -EAGAIN: the kernel is short of memory for a moment */
	do
		r = io_uring_submit(&u->ring);
	while (r == -EINTR ||
	       ((r == -EAGAIN || r == 0) && ++ntries < URING_MAX_SUBMIT));
	if (r <= 0) {
		u->broken = true;
		return r < 0 ? r : -EAGAIN;
	}
	u->inflight++;
	return 0;
}

/*
 * Submits the read into b; if that fails, b carries the error to the
 * consumer and no more reads are started.
 */
static void
read_issue(struct uring_stream *u, struct ubuf *b)
{
	const int r = issue(u, b);

	if (r < 0) {
		b->err = -r;
		b->state = UB_READY;
		u->eof_seen = true;
	}
}

/* Submits the write of b; if that fails, the stream keeps the error. */
static void
write_issue(struct uring_stream *u, struct ubuf *b)
{
	const int r = issue(u, b);

	if (r < 0) {
		set_err(u, -r);
		b->state = UB_FREE;
	}
}

/* Starts reads into the free buffers ahead of the consumer. */
static void
read_kick(struct uring_stream *u)
{
	while (!u->eof_seen && !u->closing && !u->broken) {
		struct ubuf *b = &u->b[u->sub];

		if (b->state != UB_FREE || (!u->seekable && u->inflight > 0))
			return;
		b->cap = URING_STAGE_NBYTES;
		b->len = 0;
		b->pos = u->skip;
		b->off = u->next_off;
		b->err = 0;
		b->eof = false;
		b->ncanceled = 0;
		u->skip = 0;
		u->next_off += b->cap;
		u->sub = ring_next(u->sub);
		read_issue(u, b);
	}
}

/*
 * Starts the full buffers in order: all of them on a seekable file, one at
 * a time elsewhere. After an error, queued bytes are dropped.
 */
static void
write_kick(struct uring_stream *u)
{
	for (;;) {
		struct ubuf *b = &u->b[u->sub];

		if (b->state != UB_QUEUED)
			return;
		if (u->err != 0 || u->closing || u->broken) {
			b->state = UB_FREE;
		} else if (!u->seekable && u->inflight > 0) {
			return;
		} else {
			b->ncanceled = 0;
			write_issue(u, b);
		}
		u->sub = ring_next(u->sub);
	}
}

/*
 * Whether a failed request should simply be submitted again: interrupted,
 * would block, dropped because the thread that submitted it has exited
 * (-ECANCELED or -EFAULT, see "Threads" above), or refused by O_DIRECT
 * (then the stream goes on buffered).
 */
static bool
should_retry(struct uring_stream *u, struct ubuf *b, int res)
{
	if (u->closing)
		return false;
	if (res == -EINTR || res == -EAGAIN)
		return true;
	if ((res == -ECANCELED || res == -EFAULT) &&
	    b->ncanceled < URING_MAX_CANCELED) {
		b->ncanceled++;
		return true;
	}
	if (res == -EINVAL && b->on_dfd) {
		if (u->dfd >= 0)
			close(u->dfd);
		u->dfd = -1;
		return true;
	}
	return false;
}

static void
read_done(struct uring_stream *u, struct ubuf *b, int res)
{
	if (should_retry(u, b, res)) {
		read_issue(u, b);
		return;
	}
	b->state = UB_READY;
	if (res < 0) {
		b->err = -res;
		u->eof_seen = true;
	} else if (res == 0) {
		b->eof = true;
		u->eof_seen = true;
	} else {
		b->len += (size_t)res;
		b->ncanceled = 0;
		if (u->seekable && b->len < b->cap && !u->closing) {
			read_issue(u, b);
			return;
		}
	}
	read_kick(u);
}

static void
write_done(struct uring_stream *u, struct ubuf *b, int res)
{
	if (should_retry(u, b, res)) {
		write_issue(u, b);
		return;
	}
	if (res <= 0) {
		/* a write of 0 bytes would loop forever: call it EIO */
		set_err(u, res < 0 ? -res : EIO);
		b->state = UB_FREE;
	} else {
		b->pos += (size_t)res;
		b->ncanceled = 0;
		if (b->pos < b->len && !u->closing) {
			write_issue(u, b);
			return;
		}
		b->state = UB_FREE;
	}
	write_kick(u);
}

/*
 * Waits for one completion and acts on it. Returns 0, or -errno when the
 * ring cannot be waited on (the stream is then broken).
 */
static int
reap(struct uring_stream *u)
{
	struct io_uring_cqe *cqe;
	struct ubuf *b;
	int r, res;

	if (u->broken)
		return -EIO;
	do
		r = io_uring_wait_cqe(&u->ring, &cqe);
	while (r == -EINTR);
	if (r < 0) {
		u->broken = true;
		return r;
	}
	b = io_uring_cqe_get_data(cqe);
	res = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	u->inflight--;
	if (b == NULL)		/* the completion of a cancel request */
		return 0;
	if (u->dir == IO_READ)
		read_done(u, b, res);
	else
		write_done(u, b, res);
	return 0;
}

static enum gauss_status
broken_err(struct errbuf *eb)
{
	return err_setf(eb, GAUSS_E_IO, "io_uring failed: cannot wait for "
			"completions");
}

/* ---- reading ---- */

static enum gauss_status
uring_read(struct io_stream *s, void *dst, size_t n, size_t *got_ret,
	   struct errbuf *eb)
{
	struct uring_stream *u = (struct uring_stream *)s;
	uint8_t *out = dst;
	size_t got = 0;

	*got_ret = 0;
	if (u->dir != IO_READ)
		return err_setf(eb, GAUSS_E_INVALID_ARG, "read from a stream "
				"opened for writing");
	while (got < n && !u->at_end) {
		struct ubuf *b = &u->b[u->head];
		size_t avail, k;

		read_kick(u);
		if (b->state == UB_FREE) {
			if (u->broken)
				return broken_err(eb);
			/* nothing in flight and nothing more to ask for */
			u->at_end = true;
			break;
		}
		while (b->state == UB_BUSY)
			if (reap(u) < 0)
				return broken_err(eb);
		if (b->err != 0)
			return err_setf(eb, GAUSS_E_IO, "read failed: %s",
					strerror(b->err));
		avail = b->len > b->pos ? b->len - b->pos : 0;
		k = MIN(avail, n - got);
		memcpy(out + got, b->p + b->pos, k);
		b->pos += k;
		got += k;
		u->pos += k;
		if (b->pos >= b->len) {
			if (b->eof) {
				u->at_end = true;
				break;
			}
			b->state = UB_FREE;
			u->head = ring_next(u->head);
		}
	}
	*got_ret = got;
	return GAUSS_OK;
}

/* ---- writing ---- */

static enum gauss_status
write_err(const struct uring_stream *u, struct errbuf *eb)
{
	if (u->broken && u->err == 0)
		return broken_err(eb);
	return err_setf(eb, GAUSS_E_IO, "write failed: %s", strerror(u->err));
}

/* Waits until b is neither in flight nor queued. */
static int
wait_free(struct uring_stream *u, const struct ubuf *b)
{
	while (b->state == UB_BUSY || b->state == UB_QUEUED) {
		const int r = reap(u);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Ends the filling of the head buffer and starts it if it may. */
static void
write_queue(struct uring_stream *u, struct ubuf *b)
{
	b->state = UB_QUEUED;
	u->next_off += b->len;
	u->head = ring_next(u->head);
	write_kick(u);
}

static enum gauss_status
uring_write(struct io_stream *s, const void *p, size_t n, struct errbuf *eb)
{
	struct uring_stream *u = (struct uring_stream *)s;
	const uint8_t *in = p;

	if (u->dir != IO_WRITE)
		return err_setf(eb, GAUSS_E_INVALID_ARG, "write to a stream "
				"opened for reading");
	if (u->err != 0 || u->broken)
		return write_err(u, eb);
	while (n > 0) {
		struct ubuf *b = &u->b[u->head];
		size_t k;

		if (wait_free(u, b) < 0 || u->err != 0)
			return write_err(u, eb);
		if (b->state == UB_FREE) {
			if (u->resync) {
				/* someone may have written since the flush */
				const off_t at = lseek(u->fd, 0, SEEK_CUR);

				if (at >= 0)
					u->next_off = (uint64_t)at;
				u->resync = false;
			}
			/* direct: make the next buffer start aligned */
			b->cap = URING_STAGE_NBYTES;
			if (u->dfd >= 0)
				b->cap -= u->next_off & (URING_ALIGN - 1);
			b->len = 0;
			b->pos = 0;
			b->off = u->next_off;
			b->state = UB_FILLING;
		}
		k = MIN(n, b->cap - b->len);
		memcpy(b->p + b->len, in, k);
		b->len += k;
		in += k;
		n -= k;
		if (b->len == b->cap)
			write_queue(u, b);
	}
	return u->err != 0 ? write_err(u, eb) : GAUSS_OK;
}

static enum gauss_status
uring_flush(struct io_stream *s, struct errbuf *eb)
{
	struct uring_stream *u = (struct uring_stream *)s;
	struct ubuf *b = &u->b[u->head];

	if (u->dir != IO_WRITE)
		return GAUSS_OK;
	if (b->state == UB_FILLING) {
		if (b->len > 0)
			write_queue(u, b);
		else
			b->state = UB_FREE;
	}
	while (u->inflight > 0)
		if (reap(u) < 0)
			return write_err(u, eb);
	if (u->err != 0 || u->broken)
		return write_err(u, eb);
	if (u->seekable) {
		if (lseek(u->fd, (off_t)u->next_off, SEEK_SET) < 0)
			return err_setf(eb, GAUSS_E_IO, "write failed: "
					"cannot seek: %s", strerror(errno));
		u->resync = true;
	}
	return GAUSS_OK;
}

/* ---- opening and closing ---- */

static void
uring_close(struct io_stream *s)
{
	struct uring_stream *u = (struct uring_stream *)s;

	u->closing = true;
	/*
	 * A read of a pipe may wait for bytes that never come: cancel it.
	 * Regular files and writes complete on their own.
	 */
	if (u->dir == IO_READ && !u->seekable && !u->broken) {
		for (unsigned i = 0; i < URING_NBUF; i++) {
			struct io_uring_sqe *sqe;

			if (u->b[i].state != UB_BUSY)
				continue;
			sqe = io_uring_get_sqe(&u->ring);
			if (sqe == NULL)
				break;
			io_uring_prep_cancel(sqe, &u->b[i], 0);
			io_uring_sqe_set_data(sqe, NULL);
			if (io_uring_submit(&u->ring) == 1)
				u->inflight++;
		}
	}
	while (u->inflight > 0)
		if (reap(u) < 0)
			break;
	if (u->dir == IO_READ && u->seekable)
		lseek(u->fd, (off_t)u->pos, SEEK_SET);
	io_uring_queue_exit(&u->ring);
	if (u->dfd >= 0)
		close(u->dfd);
	/*
	 * With requests still in flight on a ring that failed, the kernel may
	 * yet write into the buffers: leak them rather than free them.
	 */
	if (u->inflight == 0)
		free(u->mem);
	free(u);
}

static const struct io_stream_ops uring_ops = {
	.read = uring_read,
	.write = uring_write,
	.flush = uring_flush,
	.close = uring_close,
	.backend = IO_URING,
};

/* Whether the kernel has the plain read and write requests (5.6 and on). */
static bool
has_read_write(struct io_uring *ring)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	bool ok;

	if (probe == NULL)
		return false;
	ok = io_uring_opcode_supported(probe, IORING_OP_READ) &&
	     io_uring_opcode_supported(probe, IORING_OP_WRITE);
	io_uring_free_probe(probe);
	return ok;
}

/*
 * The O_DIRECT twin of a regular file's fd, or -1 where the file system
 * (or /proc) refuses. A new open file description, so the caller's fd keeps
 * its flags.
 */
static int
open_direct(int fd, enum io_dir dir)
{
	char path[64];
	const int fl = fcntl(fd, F_GETFL);
	int acc;

	if (fl < 0)
		return -1;
	acc = fl & O_ACCMODE;
	if (dir == IO_READ && acc != O_RDONLY && acc != O_RDWR)
		return -1;
	if (dir == IO_WRITE && acc != O_WRONLY && acc != O_RDWR)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, (dir == IO_READ ? O_RDONLY : O_WRONLY) | O_DIRECT |
		    O_CLOEXEC);
}

enum gauss_status
io_uring_stream_open(struct io_stream **s, enum io_dir dir, int fd,
		     bool direct, bool *refused_ret, struct errbuf *eb)
{
	struct uring_stream *u;
	struct stat sb;
	void *mem;
	int r, fl;

	*s = NULL;
	*refused_ret = false;
	if (fstat(fd, &sb) != 0 || (fl = fcntl(fd, F_GETFL)) < 0)
		return err_setf(eb, GAUSS_E_IO, "cannot inspect the file: %s",
				strerror(errno));
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
	r = io_uring_queue_init(URING_NBUF, &u->ring, 0);
	if (r < 0) {
		free(u);
		*refused_ret = true;
		return err_setf(eb, GAUSS_E_IO, "io_uring is not available: "
				"%s", strerror(-r));
	}
	if (!has_read_write(&u->ring)) {
		io_uring_queue_exit(&u->ring);
		free(u);
		*refused_ret = true;
		return err_setf(eb, GAUSS_E_IO, "io_uring is not available: "
				"the kernel lacks its read and write requests");
	}
	if (posix_memalign(&mem, URING_ALIGN,
			   URING_NBUF * URING_STAGE_NBYTES) != 0) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return err_setf(eb, GAUSS_E_NOMEM, "out of memory");
	}
	u->base.ops = &uring_ops;
	u->dir = dir;
	u->fd = fd;
	u->dfd = -1;
	u->mem = mem;
	for (unsigned i = 0; i < URING_NBUF; i++)
		u->b[i].p = u->mem + i * URING_STAGE_NBYTES;
	/*
	 * O_APPEND ignores offsets, so requests in flight together could
	 * land in any order: such a file is written like a pipe.
	 */
	u->seekable = S_ISREG(sb.st_mode) &&
		      !(dir == IO_WRITE && (fl & O_APPEND));
	if (u->seekable) {
		const off_t at = lseek(fd, 0, SEEK_CUR);

		if (at < 0) {
			const int e = errno;

			uring_close(&u->base);
			return err_setf(eb, GAUSS_E_IO, "cannot seek: %s",
					strerror(e));
		}
		u->next_off = (uint64_t)at;
		u->pos = (uint64_t)at;
		if (direct)
			u->dfd = open_direct(fd, dir);
		if (u->dfd >= 0 && dir == IO_READ) {
			u->skip = u->next_off & (URING_ALIGN - 1);
			u->next_off -= u->skip;
		}
	}
	*s = &u->base;
	return GAUSS_OK;
}

#endif /* GAUSS_HAVE_IO_URING */
