/* SPDX-License-Identifier: MIT */
/* varint.h: LEB128 unsigned integers of the container, and a bounded cursor. */
#ifndef GAUSS_VARINT_H
#define GAUSS_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Longest encoding of a uint64_t. */
#define VARINT_MAX_LEN 10

/* Writes v at p (room for VARINT_MAX_LEN bytes); returns bytes written. */
size_t varint_put(uint8_t *p, uint64_t v);

/* Bytes varint_put() would write for v. */
size_t varint_len(uint64_t v);

/*
 * A read cursor over untrusted bytes: every get checks what remains, and a
 * failed get leaves the cursor marked bad (and further gets fail too).
 */
struct cursor {
	const uint8_t *p;
	const uint8_t *end;
	bool bad;
};

static inline void
cursor_init(struct cursor *c, const void *p, size_t nbytes)
{
	c->p = p;
	c->end = c->p + nbytes;
	c->bad = false;
}

static inline size_t
cursor_left(const struct cursor *c)
{
	return (size_t)(c->end - c->p);
}

/*
 * Reads a varint; rejects encodings longer than needed or beyond 64 bits.
 * Returns false (and marks c bad) on failure.
 */
bool cursor_varint(struct cursor *c, uint64_t *v_ret);

/* Reads one byte. */
bool cursor_u8(struct cursor *c, uint8_t *v_ret);

/* Returns a pointer to the next nbytes bytes and skips them, or NULL. */
const uint8_t *cursor_take(struct cursor *c, uint64_t nbytes);

#endif /* GAUSS_VARINT_H */
