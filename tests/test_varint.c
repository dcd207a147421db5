/* SPDX-License-Identifier: MIT */
/*
 * test_varint.c: LEB128 varints of the container (round trips, the exact
 * bytes, rejection of overlong, oversized and truncated forms) and the
 * bounds of the read cursor. Inputs to the readers sit against a guard page,
 * so a read past the end faults.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "common.h"
#include "varint.h"
#include "banned.h"

/* Reads one varint from exactly n bytes; returns the cursor's verdict. */
static bool
read_one(const uint8_t *p, size_t n, uint64_t *v_ret, size_t *used_ret)
{
	uint8_t *g = guarded_copy(p, n);
	struct cursor c;
	bool ok;

	cursor_init(&c, g, n);
	ok = cursor_varint(&c, v_ret);
	assert_true(ok == !c.bad);
	if (used_ret)
		*used_ret = n - cursor_left(&c);
	guarded_free(g, n);
	return ok;
}

/* Asserts that the n bytes at p are rejected and leave the cursor bad. */
static void
assert_rejected(const uint8_t *p, size_t n)
{
	uint8_t *g = guarded_copy(p, n);
	struct cursor c;
	uint64_t v = 12345;

	cursor_init(&c, g, n);
	assert_false(cursor_varint(&c, &v));
	assert_true(c.bad);
	assert_int_equal(v, 12345);	/* nothing stored on failure */
	/* a bad cursor stays bad */
	assert_false(cursor_varint(&c, &v));
	guarded_free(g, n);
}

static void
test_varint_round_trip_edges(void **state)
{
	static const struct {
		uint64_t v;
		size_t len;
	} cases[] = {
		{ 0, 1 },
		{ 1, 1 },
		{ 127, 1 },
		{ 128, 2 },
		{ 16383, 2 },
		{ 16384, 3 },
		{ UINT32_MAX, 5 },
		{ (uint64_t)1 << 56, 9 },
		{ ((uint64_t)1 << 63) - 1, 9 },
		{ (uint64_t)1 << 63, 10 },
		{ UINT64_MAX, 10 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t buf[VARINT_MAX_LEN + 1];
		uint64_t v = 0;
		size_t n, used = 0;

		memset(buf, 0xee, sizeof(buf));
		n = varint_put(buf, cases[i].v);
		assert_int_equal(n, cases[i].len);
		assert_int_equal(varint_len(cases[i].v), n);
		assert_int_equal(buf[n], 0xee);	/* nothing past the end */
		assert_true(read_one(buf, n, &v, &used));
		assert_int_equal(v, cases[i].v);
		assert_int_equal(used, n);
	}
}

static void
test_varint_exact_bytes(void **state)
{
	/* LEB128: 7 bits per byte, low group first, high bit = more */
	static const uint8_t b300[] = { 0xac, 0x02 };
	static const uint8_t b128[] = { 0x80, 0x01 };
	static const uint8_t bmax[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0x01 };
	static const uint8_t b2_63[] = { 0x80, 0x80, 0x80, 0x80, 0x80,
					 0x80, 0x80, 0x80, 0x80, 0x01 };
	uint8_t buf[VARINT_MAX_LEN];

	(void)state;
	assert_int_equal(varint_put(buf, 300), sizeof(b300));
	assert_memory_equal(buf, b300, sizeof(b300));
	assert_int_equal(varint_put(buf, 128), sizeof(b128));
	assert_memory_equal(buf, b128, sizeof(b128));
	assert_int_equal(varint_put(buf, UINT64_MAX), sizeof(bmax));
	assert_memory_equal(buf, bmax, sizeof(bmax));
	assert_int_equal(varint_put(buf, (uint64_t)1 << 63), sizeof(b2_63));
	assert_memory_equal(buf, b2_63, sizeof(b2_63));
	assert_int_equal(varint_put(buf, 0), 1);
	assert_int_equal(buf[0], 0);
}

static void
test_varint_round_trip_random(void **state)
{
	uint64_t seed = 0x5eed;
	uint8_t buf[64 * VARINT_MAX_LEN];
	uint64_t vals[64];
	size_t pos = 0;
	struct cursor c;

	(void)state;
	/* a sequence of values of every width, read back in order */
	for (unsigned i = 0; i < 64; i++) {
		vals[i] = test_rand(&seed) >> (63 - i);
		pos += varint_put(buf + pos, vals[i]);
	}
	cursor_init(&c, buf, pos);
	for (unsigned i = 0; i < 64; i++) {
		uint64_t v;

		assert_true(cursor_varint(&c, &v));
		assert_int_equal(v, vals[i]);
	}
	assert_int_equal(cursor_left(&c), 0);
	assert_false(c.bad);
	/* widths match varint_len() for many random values */
	for (unsigned i = 0; i < 10000; i++) {
		const uint64_t v = test_rand(&seed) >> (test_rand(&seed) % 64);
		uint64_t back;
		size_t used;
		const size_t n = varint_put(buf, v);

		assert_int_equal(n, varint_len(v));
		assert_true(read_one(buf, n, &back, &used));
		assert_int_equal(back, v);
		assert_int_equal(used, n);
	}
}

static void
test_varint_rejects_overlong(void **state)
{
	static const uint8_t zero2[] = { 0x80, 0x00 };
	static const uint8_t one2[] = { 0x81, 0x00 };
	static const uint8_t zero3[] = { 0x80, 0x80, 0x00 };
	static const uint8_t x7f2[] = { 0xff, 0x00 };
	static const uint8_t zero10[] = { 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t v300_3[] = { 0xac, 0x82, 0x00 };

	(void)state;
	assert_rejected(zero2, sizeof(zero2));
	assert_rejected(one2, sizeof(one2));
	assert_rejected(zero3, sizeof(zero3));
	assert_rejected(x7f2, sizeof(x7f2));
	assert_rejected(zero10, sizeof(zero10));
	assert_rejected(v300_3, sizeof(v300_3));
}

static void
test_varint_rejects_beyond_64_bits(void **state)
{
	uint8_t b[16];

	(void)state;
	/* 11 bytes: ten continuation bytes, then the end */
	memset(b, 0x80, 10);
	b[10] = 0x01;
	assert_rejected(b, 11);
	/* 10 bytes whose last carries more than bit 63 */
	memset(b, 0xff, 9);
	b[9] = 0x02;
	assert_rejected(b, 10);
	b[9] = 0x7f;
	assert_rejected(b, 10);
	/* 10 bytes whose last still has the continuation bit */
	b[9] = 0x81;
	b[10] = 0x00;
	assert_rejected(b, 11);
	/* a long run of continuation bytes */
	memset(b, 0xff, sizeof(b));
	assert_rejected(b, sizeof(b));
}

static void
test_varint_rejects_truncated(void **state)
{
	static const uint64_t vals[] = {
		128, 300, 16384, UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX,
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		uint8_t buf[VARINT_MAX_LEN];
		const size_t n = varint_put(buf, vals[i]);

		for (size_t len = 0; len < n; len++)
			assert_rejected(buf, len);
	}
}

static void
test_varint_bad_cursor_is_sticky(void **state)
{
	static const uint8_t bytes[] = { 0x80, 0x00, 0x05, 0x06, 0x07 };
	struct cursor c;
	uint64_t v;
	uint8_t u;

	(void)state;
	cursor_init(&c, bytes, sizeof(bytes));
	assert_false(cursor_varint(&c, &v));
	assert_true(c.bad);
	/* valid bytes follow, but every later get fails */
	assert_false(cursor_u8(&c, &u));
	assert_null(cursor_take(&c, 0));
	assert_false(cursor_varint(&c, &v));
	assert_true(c.bad);
}

static void
test_varint_cursor_u8_bounds(void **state)
{
	static const uint8_t bytes[] = { 1, 2, 3 };
	uint8_t *g = guarded_copy(bytes, sizeof(bytes));
	struct cursor c;
	uint8_t u;

	(void)state;
	cursor_init(&c, g, sizeof(bytes));
	for (unsigned i = 0; i < sizeof(bytes); i++) {
		assert_true(cursor_u8(&c, &u));
		assert_int_equal(u, bytes[i]);
		assert_int_equal(cursor_left(&c), sizeof(bytes) - i - 1);
	}
	assert_false(c.bad);
	assert_false(cursor_u8(&c, &u));
	assert_true(c.bad);
	guarded_free(g, sizeof(bytes));
}

static void
test_varint_cursor_take_bounds(void **state)
{
	static const uint8_t bytes[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	uint8_t *g = guarded_copy(bytes, sizeof(bytes));
	struct cursor c;
	const uint8_t *p;

	(void)state;
	cursor_init(&c, g, sizeof(bytes));
	p = cursor_take(&c, 0);
	assert_ptr_equal(p, g);
	p = cursor_take(&c, 3);
	assert_ptr_equal(p, g);
	assert_int_equal(cursor_left(&c), 5);
	/* one more than is left: refused, and the cursor does not move */
	assert_null(cursor_take(&c, 6));
	assert_true(c.bad);
	assert_int_equal(cursor_left(&c), 5);

	/* exactly what is left */
	cursor_init(&c, g, sizeof(bytes));
	assert_non_null(cursor_take(&c, 3));
	p = cursor_take(&c, 5);
	assert_ptr_equal(p, g + 3);
	assert_int_equal(cursor_left(&c), 0);
	assert_false(c.bad);
	assert_ptr_equal(cursor_take(&c, 0), g + 8);
	assert_null(cursor_take(&c, 1));
	assert_true(c.bad);

	/* sizes that would wrap a pointer */
	cursor_init(&c, g, sizeof(bytes));
	assert_null(cursor_take(&c, UINT64_MAX));
	assert_true(c.bad);
	cursor_init(&c, g, sizeof(bytes));
	assert_null(cursor_take(&c, (uint64_t)1 << 63));
	assert_true(c.bad);
	cursor_init(&c, g + 8, 0);
	assert_null(cursor_take(&c, 1));
	assert_true(c.bad);
	guarded_free(g, sizeof(bytes));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_round_trip_edges),
		cmocka_unit_test(test_varint_exact_bytes),
		cmocka_unit_test(test_varint_round_trip_random),
		cmocka_unit_test(test_varint_rejects_overlong),
		cmocka_unit_test(test_varint_rejects_beyond_64_bits),
		cmocka_unit_test(test_varint_rejects_truncated),
		cmocka_unit_test(test_varint_bad_cursor_is_sticky),
		cmocka_unit_test(test_varint_cursor_u8_bounds),
		cmocka_unit_test(test_varint_cursor_take_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
