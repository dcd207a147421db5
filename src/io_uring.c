/* SPDX-License-Identifier: MIT */
/*
 * io_uring.c: the io_uring backend of the streams (see io.h).
 *
 * A stream owns a ring of URING_DEPTH entries and URING_NBUF staging
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
 * Large transfers on a regular file skip the staging buffers. A byte that
 * goes through them is copied twice, once between the caller and the
 * buffer and once between the buffer and the page cache, where read() and
 * write() copy it once; that made this backend 15% slower than POSIX file
 * to file. So a read of URING_READ_DIRECT_NBYTES or more hands out what
 * the read-ahead has staged for those bytes, then reads the rest straight
 * into the caller's memory, in pieces of URING_PIECE_NBYTES with up to
 * URING_NPIECE in flight, and waits for them. The read-ahead then waits
 * for a small read to ask for it: started at once, it would stage the
 * start of the next large read and cost the copy again (measured: slower),
 * and the kernel reads ahead of buffered reads by itself. A write of
 * URING_WRITE_DIRECT_NBYTES or more writes the bytes gathered so far and
 * the caller's from where they are, and returns once they are written (io.h
 * lets the caller reuse its memory then): through the page cache with one
 * pwritev() in the calling thread, which ext4 makes faster than io_uring
 * (see write_direct()); with O_DIRECT in pieces, like the reads. Writes
 * started before may stay in flight. Short transfers and errors are
 * handled as for the buffers.
 *
 * System calls: requests are prepared, then handed to the kernel together,
 * by the same io_uring_enter() that waits for completions where there is
 * something to wait for. IOSQE_ASYNC is not set: a read of cached pages
 * then completes within that call, in the caller's thread, as read() would,
 * where a worker thread was measured slower.
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
 * operation), the stream goes on buffered without a word. A large transfer
 * skips the staging buffers only when the caller's memory and the file
 * offset are as far from a URING_ALIGN boundary, so that its pieces
 * between the unaligned ends can go through the O_DIRECT descriptor;
 * otherwise it is staged as before, which keeps it out of the page cache.
 * After a large read the read-ahead restarts at once: the kernel reads
 * ahead only of buffered reads.
 *
 * Threads: the pipelines call a stream from whichever worker is free, one
 * at a time, and their workers exit at the end of a run. The kernel ties a
 * request to the thread that submitted it: when that thread has exited
 * before the request could go on, the request fails without having been
 * carried out, with -ECANCELED (a read of an empty pipe, seen on 6.18) or
 * -EFAULT (a read of a regular file that had to wait for the disk). Our
 * buffers are always valid memory, so neither can be a real fault: such a
 * request is submitted again from the thread that reaps it, a few times at
 * most (tests/test_io.c, test_io_thread_exit_*). The pieces of a large
 * transfer never outlive the call that started them, so they do not meet
 * this. Should the ring itself fail while pieces are in flight
 * (io_uring_enter() refusing to wait: never seen, it would be a bug), the
 * call returns an error without knowing whether the kernel is done with
 * the caller's memory.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if GAUSS_HAVE_IO_URING
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
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
/* Requests on the caller's memory in flight at once, and their size. */
#define URING_NPIECE		8u
#define URING_PIECE_NBYTES	((size_t)1 << 20)
/* Ring entries: a request per buffer and per piece, a cancel per buffer. */
#define URING_DEPTH		(2 * URING_NBUF + URING_NPIECE)
/*
 * The smallest reads and writes of a regular file that skip the staging
 * buffers. A read that small costs a system call more than a copy out of a
 * buffer; the pipelines read 64 KiB at a time and chunks of a few hundred
 * KiB, and those were slower staged. A smaller write is gathered, and
 * returns without waiting for the kernel.
 */
#define URING_READ_DIRECT_NBYTES	((size_t)32 << 10)
#define URING_WRITE_DIRECT_NBYTES	URING_STAGE_NBYTES
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
	UB_READY,	/* read: done, being handed out; piece: done */
};

/*
 * A staging buffer, or a piece of a large transfer: then p is the caller's
 * memory (only read, for a write) and the piece is done when READY.
 */
struct ubuf {
	uint8_t *p;
	size_t cap;		/* bytes it holds when full */
	size_t len;		/* read: bytes read; write: bytes gathered */
	size_t pos;		/* read: bytes handed out; write: written */
	uint64_t off;		/* file offset of p[0] (seekable files) */
	int err;		/* the errno that ended it (reads, pieces) */
	bool eof;		/* read: the kernel returned 0 after len */
	bool on_dfd;		/* its request in flight is on the dfd */
	bool is_piece;
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
	bool ra_held;		/* read: start no read-ahead for now */
	bool resync;		/* write: re-read the fd offset first */
	unsigned inflight;	/* requests whose completion is not reaped */
	unsigned npiece;	/* pieces among them */
	unsigned head;		/* read: handed out; write: filled */
	unsigned sub;		/* the next buffer to submit */
	size_t skip;		/* read: bytes before the first wanted */
	uint64_t next_off;	/* offset of the next buffer to submit/fill */
	uint64_t pos;		/* read: offset of the next byte out */
	int err;		/* the first error of a write or a piece */
	int ring_err;		/* why the ring broke */
	uint8_t *mem;
	struct ubuf b[URING_NBUF];
	struct ubuf pc[URING_NPIECE];
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

static void
ring_failed(struct uring_stream *u, int e)
{
	u->broken = true;
	u->ring_err = e;
}

/*
 * Prepares the request for the rest of b's transfer: for a read, from
 * b->len to b->cap; for a write, from b->pos to b->len. The kernel gets it
 * with the next push() or reap(), together with any others prepared by
 * then: one system call for several. Fails only on a broken ring.
 */
static int
issue(struct uring_stream *u, struct ubuf *b)
{
	const bool rd = u->dir == IO_READ;
	uint8_t *const addr = b->p + (rd ? b->len : b->pos);
	const size_t nbytes = rd ? b->cap - b->len : b->len - b->pos;
	const uint64_t off = u->seekable ? b->off + (rd ? b->len : b->pos) :
				(uint64_t)-1;
	struct io_uring_sqe *sqe;
	int fd = u->fd;

	if (u->broken)
		return -EIO;
	/* never NULL: URING_DEPTH is every request that can be out at once */
	sqe = io_uring_get_sqe(&u->ring);
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
	u->inflight++;
	if (b->is_piece)
		u->npiece++;
	return 0;
}

/*
 * Hands every prepared request to the kernel. Returns 0, or -EIO when the
 * ring has failed (the stream is then broken).
 */
static int
push(struct uring_stream *u)
{
	unsigned ntries = 0;

	while (!u->broken && io_uring_sq_ready(&u->ring) > 0) {
		const int r = io_uring_submit(&u->ring);

		/* -EAGAIN: the kernel is short of memory for a moment */
		if (r > 0 || r == -EINTR ||
		    ((r == -EAGAIN || r == 0) && ++ntries < URING_MAX_SUBMIT))
			continue;
		ring_failed(u, r < 0 ? -r : EAGAIN);
	}
	return u->broken ? -EIO : 0;
}

/*
 * Prepares the read into b; if that fails, b carries the error to the
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

/* Prepares the write of b; if that fails, the stream keeps the error. */
static void
write_issue(struct uring_stream *u, struct ubuf *b)
{
	const int r = issue(u, b);

	if (r < 0) {
		set_err(u, -r);
		b->state = UB_FREE;
	}
}

/* Prepares reads into the free buffers ahead of the consumer. */
static void
read_kick(struct uring_stream *u)
{
	while (!u->eof_seen && !u->closing && !u->broken && !u->ra_held) {
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
 * A piece: short transfers go on from where they stopped, as for the
 * buffers; a read that returns 0 marks the end of the file.
 */
static void
piece_done(struct uring_stream *u, struct ubuf *b, int res)
{
	const bool rd = u->dir == IO_READ;

	if (should_retry(u, b, res)) {
		res = issue(u, b);
		if (res == 0)
			return;
	} else if (res > 0) {
		if (rd)
			b->len += (size_t)res;
		else
			b->pos += (size_t)res;
		b->ncanceled = 0;
		if (rd ? b->len < b->cap : b->pos < b->len) {
			res = issue(u, b);
			if (res == 0)
				return;
		}
	} else if (res == 0) {
		/* a write of 0 bytes would loop forever: call it EIO */
		b->eof = rd;
		res = rd ? 0 : -EIO;
	}
	if (res < 0)
		b->err = -res;
	b->state = UB_READY;
}

/*
 * Waits until at least want completions (at most the requests in flight)
 * are there, handing the prepared requests to the kernel in the same
 * system call, then acts on every completion there is. Returns 0, or
 * -errno when the ring cannot be waited on (the stream is then broken).
 */
static int
reap(struct uring_stream *u, unsigned want)
{
	struct io_uring_cqe *cqe;
	unsigned ntries = 0;

	if (u->broken)
		return -EIO;
	GAUSS_ASSERT(want <= u->inflight);
	for (;;) {
		const unsigned ready = io_uring_cq_ready(&u->ring);
		int r;

		if (ready >= want && io_uring_sq_ready(&u->ring) == 0)
			break;
		r = io_uring_submit_and_wait(&u->ring, ready < want ? want : 0);
		if (r > 0 || r == -EINTR || (r == 0 && ready < want))
			continue;
		/* -EAGAIN or none taken: the kernel is short of memory */
		if ((r == -EAGAIN || r == 0) && ++ntries < URING_MAX_SUBMIT)
			continue;
		ring_failed(u, r < 0 ? -r : EAGAIN);
		return -u->ring_err;
	}
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct ubuf *b = io_uring_cqe_get_data(cqe);
		const int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		u->inflight--;
		if (b == NULL)		/* the completion of a cancel request */
			continue;
		if (b->is_piece) {
			u->npiece--;
			piece_done(u, b, res);
		} else if (u->dir == IO_READ) {
			read_done(u, b, res);
		} else {
			write_done(u, b, res);
		}
	}
	return push(u);
}

static enum gauss_status
broken_err(const struct uring_stream *u, struct errbuf *eb)
{
	return err_setf(eb, GAUSS_E_IO, "io_uring failed: %s",
			strerror(u->ring_err));
}

/* ---- large transfers: straight from or into the caller's memory ---- */

/*
 * The length of the piece at file offset off, with left bytes to go: up to
 * the next multiple of URING_PIECE_NBYTES. With O_DIRECT the unaligned
 * start and end are pieces of their own, so that the others can use it.
 */
static size_t
piece_len(const struct uring_stream *u, uint64_t off, size_t left)
{
	size_t k = URING_PIECE_NBYTES - (off & (URING_PIECE_NBYTES - 1));

	if (u->dfd >= 0 && !is_aligned(off))
		k = URING_ALIGN - (off & (URING_ALIGN - 1));
	k = MIN(k, left);
	if (u->dfd >= 0 && k > URING_ALIGN && !is_aligned(k))
		k &= ~(size_t)(URING_ALIGN - 1);
	return k;
}

/*
 * Whether the caller's p and the file offset off allow a transfer without
 * the staging buffers: with O_DIRECT, only when they are as far from a
 * URING_ALIGN boundary, so that most of it goes through the dfd (else
 * the staging buffers keep it off the page cache).
 */
static bool
direct_fits(const struct uring_stream *u, const void *p, uint64_t off)
{
	return u->dfd < 0 || is_aligned((uintptr_t)p - off);
}

/*
 * Moves n bytes between p and the file at off in pieces, URING_NPIECE at
 * most in flight, and waits for all of them: the caller may reuse p when
 * this returns. Returns the bytes moved (fewer than n only when a read met
 * the end of the file) or -errno.
 */
static ssize_t
transfer(struct uring_stream *u, uint8_t *p, size_t n, uint64_t off)
{
	const bool rd = u->dir == IO_READ;
	size_t next = 0;	/* bytes handed to pieces so far */
	size_t end = n;		/* a read: lowered to where the file ends */
	int err = 0;

	for (;;) {
		unsigned want;

		for (unsigned i = 0; i < URING_NPIECE && err == 0; i++) {
			struct ubuf *b = &u->pc[i];
			size_t k;

			if (b->state != UB_FREE || next >= end)
				continue;
			k = piece_len(u, off + next, end - next);
			*b = (struct ubuf){
				.p = p + next, .cap = k, .len = rd ? 0 : k,
				.off = off + next, .is_piece = true,
			};
			err = -issue(u, b);
			if (err != 0)
				b->state = UB_FREE;
			next += k;
		}
		if (u->npiece == 0)
			break;
		/* all once no more can start: one wakeup, not several */
		want = next < end && err == 0 ? 1 : u->npiece;
		if (reap(u, want) < 0)
			return -EIO;
		for (unsigned i = 0; i < URING_NPIECE; i++) {
			struct ubuf *b = &u->pc[i];

			if (b->state != UB_READY)
				continue;
			if (b->err != 0 && err == 0)
				err = b->err;
			if (b->eof)
				end = MIN(end, (size_t)(b->off - off) + b->len);
			b->state = UB_FREE;
		}
	}
	return err != 0 ? -err : (ssize_t)MIN(end, next);
}

/* ---- reading ---- */

/*
 * Hands out what the staging buffers hold, from the oldest, waiting for
 * those in flight; with more, starts reads into the free ones first.
 * Stops at the first free buffer (nothing more staged) when more is false.
 */
static enum gauss_status
read_staged(struct uring_stream *u, uint8_t *out, size_t n, bool more,
	    size_t *got_ret, struct errbuf *eb)
{
	size_t got = 0;

	while (got < n && !u->at_end) {
		struct ubuf *b = &u->b[u->head];
		size_t avail, k;

		if (more)
			read_kick(u);
		if (b->state == UB_FREE) {
			if (u->broken)
				return broken_err(u, eb);
			if (!more)
				break;
			/* nothing in flight and nothing more to ask for */
			u->at_end = true;
			break;
		}
		while (b->state == UB_BUSY)
			if (reap(u, 1) < 0)
				return broken_err(u, eb);
		if (b->err != 0)
			return err_setf(eb, GAUSS_E_IO, "read failed: %s",
					strerror(b->err));
		avail = b->len > b->pos ? b->len - b->pos : 0;
		k = MIN(avail, n - got);
		memcpy(out + got, b->p + b->pos, k);
		b->pos += k;
		got += k;
		u->pos += k;
		*got_ret = got;
		if (b->pos >= b->len) {
			if (b->eof) {
				u->at_end = true;
				break;
			}
			b->state = UB_FREE;
			u->head = ring_next(u->head);
		}
	}
	return GAUSS_OK;
}

/*
 * A large read: what the read-ahead has staged for these bytes first, the
 * rest straight into dst. Then the read-ahead waits for a small read to
 * ask for it: started now, it would stage the start of the next large read
 * and cost a copy, and the kernel reads ahead of buffered reads anyway.
 * With O_DIRECT there is no such read-ahead and the disk is slow: there
 * it starts at once.
 */
static enum gauss_status
read_direct(struct uring_stream *u, uint8_t *dst, size_t n, size_t *got_ret,
	    struct errbuf *eb)
{
	ssize_t r;

	u->ra_held = true;
	TRY(read_staged(u, dst, n, false, got_ret, eb));
	if (*got_ret == n || u->at_end)
		return GAUSS_OK;
	/* everything staged was handed out: the ring is free from u->pos */
	r = transfer(u, dst + *got_ret, n - *got_ret, u->pos);
	if (r < 0) {
		if (u->broken)
			return broken_err(u, eb);
		set_err(u, (int)-r);
		return err_setf(eb, GAUSS_E_IO, "read failed: %s",
				strerror(u->err));
	}
	*got_ret += (size_t)r;
	u->pos += (uint64_t)r;
	if (*got_ret < n) {
		u->at_end = true;
		u->eof_seen = true;
	}
	u->skip = u->dfd >= 0 ? u->pos & (URING_ALIGN - 1) : 0;
	u->next_off = u->pos - u->skip;
	if (u->dfd >= 0) {
		u->ra_held = false;
		read_kick(u);
		if (push(u) < 0)
			return broken_err(u, eb);
	}
	return GAUSS_OK;
}

static enum gauss_status
uring_read(struct io_stream *s, void *dst, size_t n, size_t *got_ret,
	   struct errbuf *eb)
{
	struct uring_stream *u = (struct uring_stream *)s;

	*got_ret = 0;
	if (u->dir != IO_READ)
		return err_setf(eb, GAUSS_E_INVALID_ARG, "read from a stream "
				"opened for writing");
	if (u->err != 0)
		return err_setf(eb, GAUSS_E_IO, "read failed: %s",
				strerror(u->err));
	if (u->seekable && n >= URING_READ_DIRECT_NBYTES &&
	    direct_fits(u, dst, u->pos))
		return read_direct(u, dst, n, got_ret, eb);
	u->ra_held = false;
	TRY(read_staged(u, dst, n, true, got_ret, eb));
	/* the buffers just emptied go on reading while the caller works */
	read_kick(u);
	if (push(u) < 0)
		return broken_err(u, eb);
	return GAUSS_OK;
}

/* ---- writing ---- */

static enum gauss_status
write_err(const struct uring_stream *u, struct errbuf *eb)
{
	if (u->err == 0)
		return broken_err(u, eb);
	return err_setf(eb, GAUSS_E_IO, "write failed: %s", strerror(u->err));
}

/* Waits until b is neither in flight nor queued. */
static int
wait_free(struct uring_stream *u, const struct ubuf *b)
{
	while (b->state == UB_BUSY || b->state == UB_QUEUED) {
		const int r = reap(u, 1);

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

/*
 * Writes all the bytes of iov[0..cnt) at off with pwritev(), in the calling
 * thread; iov is used up. Returns 0 or -errno; EINTR and EAGAIN are
 * retried, a write of 0 bytes is EIO.
 */
static int
pwritev_all(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t r = pwritev(fd, iov, cnt, (off_t)off);

		if (r < 0) {
			const int e = errno;

			if (e == EINTR || e == EAGAIN)
				continue;
			return -e;
		}
		if (r == 0)
			return -EIO;
		off += (uint64_t)r;
		while (cnt > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return 0;
}

/*
 * A large write to a regular file: the caller's bytes go from where they
 * are, after the bytes gathered so far, and the call returns once they are
 * written.
 *
 * Through the page cache that is one pwritev() in this thread, of the
 * gathered bytes and the caller's. ext4 (like any file system that cannot
 * take a buffered write without blocking) makes io_uring hand every such
 * write to an io-wq worker, and runs the writes of one file one after
 * another there: since the caller waits anyway, the worker only adds a
 * wakeup and a trip through the scheduler each way, and copies bytes that
 * are hot in another core's cache. On a busy 2-core VM, gauss decompress
 * -T 1 of 2 GiB spent 1.38 s in io_uring_enter() that way, against 1.18 s
 * in read() and write() with POSIX and 1.14 s in io_uring_enter() and
 * pwrite(). The gathered bytes (often a frame head) go in the same call
 * rather than as a request of their own, which would hand a few bytes to
 * a worker that then takes the file's lock from under this write.
 *
 * With O_DIRECT the gathered bytes are started as they are, and the
 * caller's go to the ring in pieces, which the kernel runs together.
 */
static enum gauss_status
write_direct(struct uring_stream *u, const uint8_t *in, size_t n,
	     struct errbuf *eb)
{
	struct ubuf *b = &u->b[u->head];
	const bool filling = b->state == UB_FILLING;
	const uint64_t off = u->next_off + (filling ? b->len : 0);
	ssize_t r;

	if (u->dfd < 0) {
		/* the pwritev() only reads from the caller's memory */
		struct iovec iov[2] = {
			{ .iov_base = b->p, .iov_len = filling ? b->len : 0 },
			{ .iov_base = (uint8_t *)in, .iov_len = n },
		};

		if (filling)
			b->state = UB_FREE;
		r = pwritev_all(u->fd, iov, 2, u->next_off);
	} else {
		if (filling && b->len > 0)
			write_queue(u, b);
		else if (filling)
			b->state = UB_FREE;
		/* the pieces only read from the caller's memory */
		r = transfer(u, (uint8_t *)in, n, off);
	}
	u->next_off = off + n;
	if (r < 0 && !u->broken)
		set_err(u, (int)-r);
	return u->err != 0 || u->broken ? write_err(u, eb) : GAUSS_OK;
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
	if (u->resync) {
		/* someone may have written since the flush */
		const off_t at = lseek(u->fd, 0, SEEK_CUR);

		if (at >= 0)
			u->next_off = (uint64_t)at;
		u->resync = false;
	}
	if (u->seekable && n >= URING_WRITE_DIRECT_NBYTES) {
		const struct ubuf *b = &u->b[u->head];
		const uint64_t at = u->next_off +
				    (b->state == UB_FILLING ? b->len : 0);

		if (direct_fits(u, p, at))
			return write_direct(u, in, n, eb);
	}
	while (n > 0) {
		struct ubuf *b = &u->b[u->head];
		size_t k;

		if (wait_free(u, b) < 0 || u->err != 0)
			return write_err(u, eb);
		if (b->state == UB_FREE) {
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
	if (push(u) < 0)
		return write_err(u, eb);
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
		if (reap(u, u->inflight) < 0)
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
		if (reap(u, 1) < 0)
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
	r = io_uring_queue_init(URING_DEPTH, &u->ring, 0);
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
