/* SPDX-License-Identifier: MIT */
/* varint.c: LEB128 varints and the bounded read cursor. */
#include "varint.h"
#include "banned.h"

size_t
varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

bool
cursor_varint(struct cursor *c, uint64_t *v_ret)
{
	uint64_t v = 0;
	unsigned shift = 0;

	if (c->bad)
		return false;
	for (;;) {
		uint8_t b;

		if (c->p >= c->end || shift > 63)
			goto bad;
		b = *c->p++;
		if (shift == 63 && b > 1)
			goto bad;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			/* A zero final byte after others is an overlong form. */
			if (b == 0 && shift != 0)
				goto bad;
			break;
		}
		shift += 7;
	}
	*v_ret = v;
	return true;
bad:
	c->bad = true;
	return false;
}

bool
cursor_u8(struct cursor *c, uint8_t *v_ret)
{
	if (c->bad || c->p >= c->end) {
		c->bad = true;
		return false;
	}
	*v_ret = *c->p++;
	return true;
}

const uint8_t *
cursor_take(struct cursor *c, uint64_t nbytes)
{
	const uint8_t *p;

	if (c->bad || nbytes > cursor_left(c)) {
		c->bad = true;
		return NULL;
	}
	p = c->p;
	c->p += nbytes;
	return p;
}
