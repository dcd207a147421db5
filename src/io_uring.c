/* SPDX-License-Identifier: MIT */
/* io_uring.c: the io_uring backend of the streams (see io.h). */
#include "config.h"
#include "io.h"
#include "banned.h"

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
