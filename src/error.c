/* SPDX-License-Identifier: MIT */
/* error.c: status names and failure messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "banned.h"

static const char *const status_names[] = {
	[GAUSS_OK] = "success",
	[GAUSS_E_NOMEM] = "out of memory",
	[GAUSS_E_INVALID_ARG] = "invalid argument",
	[GAUSS_E_IO] = "input/output error",
	[GAUSS_E_CORRUPT] = "corrupt data",
	[GAUSS_E_CHECKSUM] = "checksum mismatch",
	[GAUSS_E_UNSUPPORTED_VERSION] = "unsupported format version",
	[GAUSS_E_TOO_LARGE] = "size too large",
	[GAUSS_E_BAD_INPUT] = "not a valid safetensors file",
	[GAUSS_E_EXISTS] = "output exists",
	[GAUSS_E_NOT_FOUND] = "no such tensor",
	[GAUSS_E_INTERRUPTED] = "interrupted",
};

const char *
gauss_strerror(enum gauss_status status)
{
	if ((unsigned)status < sizeof(status_names) / sizeof(status_names[0]))
		return status_names[status];
	return "unknown status";
}

enum gauss_status
err_setf(struct errbuf *eb, enum gauss_status st, const char *fmt, ...)
{
	va_list ap;

	if (eb == NULL)
		return st;
	va_start(ap, fmt);
	vsnprintf(eb->text, sizeof(eb->text), fmt, ap);
	va_end(ap);
	return st;
}

enum gauss_status
err_prefix(struct errbuf *eb, enum gauss_status st, const char *fmt, ...)
{
	char prefix[256];
	char old[sizeof(eb->text)];
	va_list ap;

	if (eb == NULL)
		return st;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, eb->text, sizeof(old));
	if (old[0] != '\0')
		snprintf(eb->text, sizeof(eb->text), "%.200s: %.300s", prefix,
			 old);
	else
		snprintf(eb->text, sizeof(eb->text), "%.200s", prefix);
	return st;
}
