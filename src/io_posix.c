/* SPDX-License-Identifier: MIT */
/* io_posix.c: read/pread/write with retries, the portable I/O backend. */
#include <errno.h>
#include <unistd.h>

#include "io.h"
#include "banned.h"

ssize_t
io_read_full(int fd, void *buf, size_t nbytes)
{
	size_t done = 0;

	while (done < nbytes) {
		const ssize_t r = read(fd, (char *)buf + done, nbytes - done);

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

			if (e == EINTR || e == EAGAIN)
				continue;
			return -e;
		}
		done += (size_t)r;
	}
	return (ssize_t)done;
}
