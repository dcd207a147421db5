/* SPDX-License-Identifier: MIT */
/*
 * io.h: the I/O contract of gauss.
 *
 * The plain calls (io_read_full, io_pread_full, io_write_full) return a
 * byte count or -errno and never leave errno for the caller to read; short
 * transfers and EINTR are retried inside, so a short count means end of
 * file. The reader of random access uses them.
 *
 * The pipelines move their bytes through a stream: a sequential reader or
 * writer over one file descriptor (a regular file from its current offset,
 * or a pipe), with two backends. The POSIX one (io_posix.c) reads and
 * writes in the calling thread. The io_uring one (io_uring.c) keeps several
 * reads ahead of the reader and several writes in flight behind the
 * writer, so the disk works while the caller computes. Both give the same
 * bytes; io_uring is chosen for regular files unless GAUSS_IO says
 * otherwise or the kernel (or a sandbox) refuses it, in which case the
 * POSIX backend takes over without a word. Pipes go through POSIX unless
 * io_uring is forced (see io_stream_open() in io.c for why).
 */
#ifndef GAUSS_IO_H
#define GAUSS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Reads up to nbytes sequentially; returns bytes read (< nbytes at EOF). */
ssize_t io_read_full(int fd, void *buf, size_t nbytes);

/* Reads up to nbytes at offset; returns bytes read (< nbytes at EOF). */
ssize_t io_pread_full(int fd, void *buf, size_t nbytes, uint64_t offset);

/* Writes all nbytes sequentially; returns nbytes or -errno. */
ssize_t io_write_full(int fd, const void *buf, size_t nbytes);

enum io_backend {
	IO_AUTO,	/* files: io_uring when allowed, else POSIX; pipes: POSIX */
	IO_POSIX,
	IO_URING,
};

/* "auto", "posix" or "uring". */
const char *io_backend_name(enum io_backend b);

/*
 * The backend the environment asks for: GAUSS_IO=uring|posix|auto, IO_AUTO
 * when unset. An unknown value fails with GAUSS_E_INVALID_ARG.
 */
enum gauss_status io_backend_from_env(enum io_backend *b, struct errbuf *eb);

/* A stream's direction. */
enum io_dir { IO_READ, IO_WRITE };

struct io_stream;

/*
 * Opens a sequential stream over fd (which stays the caller's: closing the
 * stream does not close it). IO_AUTO takes io_uring for a regular file
 * when it can be set up and POSIX otherwise; IO_URING fails with GAUSS_E_IO when io_uring is
 * refused or not built in. With direct, the io_uring backend reads and
 * writes a regular file with O_DIRECT where its file system allows it
 * (silently not elsewhere); the POSIX backend ignores direct and always
 * goes through the page cache. The bytes are the same either way.
 */
enum gauss_status io_stream_open(struct io_stream **s, enum io_backend b,
				 enum io_dir dir, int fd, bool direct,
				 struct errbuf *eb);

/* Reads up to n bytes into dst; *got_ret < n only at the end of input. */
enum gauss_status io_stream_read(struct io_stream *s, void *dst, size_t n,
				 size_t *got_ret, struct errbuf *eb);

/*
 * Queues n bytes for writing; p may be reused when the call returns. Fails
 * with the error of this write or of any earlier one still in flight.
 */
enum gauss_status io_stream_write(struct io_stream *s, const void *p,
				  size_t n, struct errbuf *eb);

/* Returns once every byte queued has been written (not synced). */
enum gauss_status io_stream_flush(struct io_stream *s, struct errbuf *eb);

/*
 * Waits for whatever is still in flight and frees the stream (NULL is
 * fine). Bytes queued but not flushed may or may not have been written.
 */
void io_stream_close(struct io_stream *s);

/* The backend a stream runs on: IO_POSIX or IO_URING. */
enum io_backend io_stream_backend(const struct io_stream *s);

/*
 * The backends behind io_stream_*: each backend's stream structure starts
 * with a struct io_stream pointing to its ops.
 */
struct io_stream_ops {
	enum gauss_status (*read)(struct io_stream *s, void *dst, size_t n,
				  size_t *got_ret, struct errbuf *eb);
	enum gauss_status (*write)(struct io_stream *s, const void *p,
				   size_t n, struct errbuf *eb);
	enum gauss_status (*flush)(struct io_stream *s, struct errbuf *eb);
	void (*close)(struct io_stream *s);
	enum io_backend backend;
};

struct io_stream {
	const struct io_stream_ops *ops;
};

/*
 * The POSIX backend (io_posix.c); fails only for lack of memory. It takes
 * direct and ignores it: O_DIRECT needs aligned buffers, and this backend
 * reads straight into the caller's memory.
 */
enum gauss_status io_posix_stream_open(struct io_stream **s, enum io_dir dir,
				       int fd, bool direct, struct errbuf *eb);

/*
 * The io_uring backend (io_uring.c). *refused_ret is set (and the call
 * fails with GAUSS_E_IO and a message) when the kernel or a sandbox
 * refuses io_uring, or when gauss was built without it, so that IO_AUTO
 * can fall back. Each stream holds 4 MiB of staging buffers; see the top
 * of io_uring.c for depth, pipes, O_DIRECT and the fd's offset.
 */
enum gauss_status io_uring_stream_open(struct io_stream **s, enum io_dir dir,
				       int fd, bool direct, bool *refused_ret,
				       struct errbuf *eb);

#endif /* GAUSS_IO_H */
