/* SPDX-License-Identifier: MIT */
/* error.h: status names, the message buffer of a failure, TRY/FAIL macros. */
#ifndef GAUSS_ERROR_H
#define GAUSS_ERROR_H

#include "gauss.h"

/*
 * A failure message: lowercase, no final period, naming what failed
 * ("tensor 'w': chunk 3: checksum mismatch"). Callers prefix context as the
 * error travels up with err_prefix().
 */
struct errbuf {
	char text[512];
};

/*
 * Records a message in eb (which may be NULL) and returns st, so that
 * "return err_setf(eb, GAUSS_E_CORRUPT, ...);" reads as one step.
 */
enum gauss_status err_setf(struct errbuf *eb, enum gauss_status st,
			   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Puts "prefix: " in front of the message in eb; returns st. */
enum gauss_status err_prefix(struct errbuf *eb, enum gauss_status st,
			     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Forwards a failed status. */
#define TRY(expr)							\
	do {								\
		const enum gauss_status try_st_ = (expr);		\
		if (try_st_ != GAUSS_OK)				\
			return try_st_;					\
	} while (0)

/* Fails with a message when cond holds. */
#define FAIL_IF(cond, eb, st, ...)					\
	do {								\
		if (cond)						\
			return err_setf((eb), (st), __VA_ARGS__);	\
	} while (0)

#endif /* GAUSS_ERROR_H */
