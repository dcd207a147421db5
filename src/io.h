/* SPDX-License-Identifier: MIT */
/*
 * io.h: the I/O contract of gauss. Calls return a byte count or -errno and
 * never leave errno for the caller to read; short transfers and EINTR are
 * retried inside, so a short count means end of file. The POSIX backend
 * (io_posix.c) is the reference; an io_uring backend keeps the contract.
 */
#ifndef GAUSS_IO_H
#define GAUSS_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads up to nbytes sequentially; returns bytes read (< nbytes at EOF). */
ssize_t io_read_full(int fd, void *buf, size_t nbytes);

/* Reads up to nbytes at offset; returns bytes read (< nbytes at EOF). */
ssize_t io_pread_full(int fd, void *buf, size_t nbytes, uint64_t offset);

/* Writes all nbytes sequentially; returns nbytes or -errno. */
ssize_t io_write_full(int fd, const void *buf, size_t nbytes);

#endif /* GAUSS_IO_H */
