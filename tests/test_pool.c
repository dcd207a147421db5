/* SPDX-License-Identifier: MIT */
/*
 * test_pool.c: the job engine (pool.h). A run reads a numbered sequence,
 * computes each job on any worker and writes them in order; a failure or a
 * stop of the progress hook ends it with every job before the failed one
 * written and none after. A team keeps its threads between runs of any
 * width, after failed ones too, and is freed with or without runs.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "common.h"
#include "pool.h"
#include "banned.h"

#define MAX_JOBS 400

struct job {
	uint64_t n;		/* its number in the sequence */
	uint64_t value;		/* computed from n */
};

struct run {
	uint64_t count;		/* jobs in the sequence */
	uint64_t next;		/* the read stage's next number */
	uint64_t fail_read;	/* the job whose read fails (or UINT64_MAX) */
	uint64_t fail_compute;	/* ... whose compute fails */
	uint64_t fail_write;	/* ... whose write fails */
	unsigned stop_after;	/* progress stops after this many calls (0:
				   never) */
	unsigned progress_calls;
	atomic_uint max_worker;	/* the largest worker index seen */
	bool wrong;		/* a job written out of bounds or wrong */
	uint64_t written[MAX_JOBS];
	uint64_t nwritten;
};

static uint64_t
value_of(uint64_t n)
{
	uint64_t x = n * UINT64_C(0x9e3779b97f4a7c15) + 1;

	/* some work, so that several jobs are in flight at once */
	for (unsigned i = 0; i < 2000 + (unsigned)(n % 7) * 500; i++)
		x = x * UINT64_C(6364136223846793005) + n;
	return x;
}

static enum gauss_status
t_read(void *user, void *job, bool *more, struct errbuf *eb)
{
	struct run *r = user;
	struct job *j = job;

	if (r->next == r->count) {
		*more = false;
		return GAUSS_OK;
	}
	j->n = r->next++;
	if (j->n == r->fail_read)
		return err_setf(eb, GAUSS_E_CORRUPT, "read %llu failed",
				(unsigned long long)j->n);
	return GAUSS_OK;
}

static enum gauss_status
t_compute(void *user, void *job, unsigned worker, struct errbuf *eb)
{
	struct run *r = user;
	struct job *j = job;
	unsigned seen = atomic_load(&r->max_worker);

	while (worker > seen &&
	       !atomic_compare_exchange_weak(&r->max_worker, &seen, worker))
		;
	j->value = value_of(j->n);
	if (j->n == r->fail_compute)
		return err_setf(eb, GAUSS_E_CORRUPT, "compute %llu failed",
				(unsigned long long)j->n);
	return GAUSS_OK;
}

static enum gauss_status
t_write(void *user, void *job, struct errbuf *eb)
{
	struct run *r = user;
	const struct job *j = job;

	if (j->n == r->fail_write)
		return err_setf(eb, GAUSS_E_IO, "write %llu failed",
				(unsigned long long)j->n);
	/* any thread may write: cmocka's asserts belong to the main one */
	if (r->nwritten == MAX_JOBS || j->value != value_of(j->n))
		r->wrong = true;
	else
		r->written[r->nwritten++] = j->n;
	return GAUSS_OK;
}

static int
t_progress(void *user)
{
	struct run *r = user;

	r->progress_calls++;
	return r->stop_after != 0 && r->progress_calls >= r->stop_after;
}

static const struct pool_ops ops = {
	.read = t_read,
	.compute = t_compute,
	.write = t_write,
	.progress = t_progress,
};

/* Runs count jobs on team (or a team of the run's own with NULL). */
static enum gauss_status
run_jobs(struct pool_team *team, struct run *r, uint64_t count,
	 unsigned threads, unsigned nslots, int *fail_slot,
	 struct errbuf *eb)
{
	struct job jobs[20];
	void *jobv[20];

	assert_true(nslots <= ARRAY_SIZE(jobs));
	memset(r, 0, sizeof(*r));
	r->count = count;
	r->fail_read = r->fail_compute = r->fail_write = UINT64_MAX;
	for (unsigned i = 0; i < nslots; i++)
		jobv[i] = &jobs[i];
	return pool_run(team, &ops, r, jobv, nslots, threads, fail_slot, eb);
}

/* Every job written once, in order. */
static void
assert_written_in_order(const struct run *r, uint64_t count)
{
	assert_false(r->wrong);
	assert_int_equal(r->nwritten, count);
	for (uint64_t i = 0; i < count; i++)
		assert_int_equal(r->written[i], i);
}

/* One team serves runs of any width in turn, and the runs' own teams. */
static void
test_pool_runs_in_order(void **state)
{
	static const unsigned widths[] = { 1, 7, 2, 3, 7, 1, 16, 2 };
	struct pool_team *team = pool_team_new();
	struct errbuf eb = { { 0 } };
	struct run *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(team);
	assert_non_null(r);
	for (unsigned i = 0; i < ARRAY_SIZE(widths); i++) {
		const unsigned t = widths[i];
		const uint64_t count = 50 + 40 * i;

		assert_int_equal(run_jobs(team, r, count, t, t + 2, NULL,
					  &eb), GAUSS_OK);
		assert_written_in_order(r, count);
		assert_true(atomic_load(&r->max_worker) < t);
		assert_int_equal(run_jobs(NULL, r, count, t, t + 2, NULL,
					  &eb), GAUSS_OK);
		assert_written_in_order(r, count);
		assert_true(atomic_load(&r->max_worker) < t);
	}
	/* an empty sequence, and one slot for many threads */
	assert_int_equal(run_jobs(team, r, 0, 4, 6, NULL, &eb), GAUSS_OK);
	assert_int_equal(r->nwritten, 0);
	assert_int_equal(run_jobs(team, r, 30, 4, 1, NULL, &eb), GAUSS_OK);
	assert_written_in_order(r, 30);
	free(r);
	pool_team_free(team);
	pool_team_free(pool_team_new());	/* no run, no thread */
	pool_team_free(NULL);
}

/*
 * A failure in any stage reports the earliest failed job, after every job
 * before it is written and none after; the team then runs again.
 */
static void
test_pool_failures(void **state)
{
	static const unsigned widths[] = { 1, 2, 5 };
	struct pool_team *team = pool_team_new();
	struct run *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(team);
	assert_non_null(r);
	for (unsigned w = 0; w < ARRAY_SIZE(widths); w++) {
		for (unsigned stage = 0; stage < 3; stage++) {
			struct job jobs[8];
			void *jobv[8];
			struct errbuf eb = { { 0 } };
			int fail_slot = -2;
			enum gauss_status st;
			const uint64_t bad = 37;

			memset(r, 0, sizeof(*r));
			r->count = 100;
			r->fail_read = r->fail_compute = r->fail_write =
				UINT64_MAX;
			if (stage == 0)
				r->fail_read = bad;
			else if (stage == 1)
				r->fail_compute = bad;
			else
				r->fail_write = bad;
			for (unsigned i = 0; i < ARRAY_SIZE(jobv); i++)
				jobv[i] = &jobs[i];
			st = pool_run(team, &ops, r, jobv, widths[w] + 2,
				      widths[w], &fail_slot, &eb);
			assert_int_equal(st, stage == 2 ? GAUSS_E_IO :
					 GAUSS_E_CORRUPT);
			assert_non_null(strstr(eb.text, "37 failed"));
			assert_true(fail_slot >= 0 &&
				    fail_slot < (int)widths[w] + 2);
			assert_written_in_order(r, bad);
			assert_int_equal(run_jobs(team, r, 60, widths[w],
						  widths[w] + 2, NULL, &eb),
					 GAUSS_OK);
			assert_written_in_order(r, 60);
		}
	}
	free(r);
	pool_team_free(team);
}

/* A progress hook that says stop ends the run: interrupted, no slot. */
static void
test_pool_progress_stop(void **state)
{
	struct pool_team *team = pool_team_new();
	struct run *r = malloc(sizeof(*r));

	(void)state;
	assert_non_null(team);
	assert_non_null(r);
	for (unsigned t = 1; t <= 4; t++) {
		struct job jobs[8];
		void *jobv[8];
		struct errbuf eb = { { 0 } };
		int fail_slot = 0;

		memset(r, 0, sizeof(*r));
		r->count = 200;
		r->fail_read = r->fail_compute = r->fail_write = UINT64_MAX;
		/*
		 * the hook is called after each stage of the calling thread,
		 * which reads the first job before any other thread can work:
		 * with helpers, only its first call is sure to come (and they
		 * may write jobs while it runs)
		 */
		r->stop_after = t == 1 ? 25 : 1;
		for (unsigned i = 0; i < ARRAY_SIZE(jobv); i++)
			jobv[i] = &jobs[i];
		assert_int_equal(pool_run(team, &ops, r, jobv, t + 2, t,
					  &fail_slot, &eb),
				 GAUSS_E_INTERRUPTED);
		assert_int_equal(fail_slot, -1);
		assert_false(r->wrong);
		if (t == 1)
			assert_true(r->nwritten < 25);
		for (uint64_t i = 0; i < r->nwritten; i++)
			assert_int_equal(r->written[i], i);
		assert_int_equal(run_jobs(team, r, 20, t, t + 2, NULL, &eb),
				 GAUSS_OK);
		assert_written_in_order(r, 20);
	}
	free(r);
	pool_team_free(team);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_runs_in_order),
		cmocka_unit_test(test_pool_failures),
		cmocka_unit_test(test_pool_progress_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
