/* SPDX-License-Identifier: MIT */
/* pool.c: the three-stage job engine of the pipelines (see pool.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "pool.h"
#include "banned.h"

/* How long a waiting thread spins before it sleeps. */
#define POOL_SPIN_SECONDS 100e-6

enum slot_state { SLOT_FREE, SLOT_READ, SLOT_BUSY, SLOT_DONE };

/*
 * The threads of a team wait on team->cond, under team->lock, for a run;
 * the lock also guards the run's state, so one lock and one condition
 * serve both the team and its engine.
 */
struct pool_team {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a run began or moved on, or quit */
	pthread_cond_t idle;	/* a helper left a stage */
	uint64_t gen;		/* counts the signals on cond */
	struct engine *engine;	/* the run in progress, or NULL */
	unsigned width;		/* workers of that run: helpers 1..width-1 */
	unsigned busy;		/* helpers inside a stage of engine */
	unsigned nhelpers;	/* started */
	unsigned registered;	/* that took their index */
	pthread_t *tids;
	bool quit;
};

struct engine {
	const struct pool_ops *ops;
	void *user;
	void **jobs;
	unsigned nslots;
	enum slot_state *state;
	uint64_t *seq;		/* sequence number of each slot's job */
	uint64_t next_read;	/* sequence number the read stage fills next */
	uint64_t next_write;	/* ... and the write stage takes next */
	bool reading;		/* a thread is in the read stage */
	bool writing;		/* ... in the write stage */
	bool read_done;
	bool failed;
	uint64_t fail_seq;	/* the earliest failed job */
	int fail_slot;
	enum gauss_status fail_st;
	struct errbuf fail_eb;
};

/* Records the failure of job seq (the lock is held). */
static void
fail_locked(struct engine *e, uint64_t seq, int slot, enum gauss_status st,
	    const struct errbuf *eb)
{
	if (e->failed && e->fail_seq <= seq)
		return;
	e->failed = true;
	e->fail_seq = seq;
	e->fail_slot = slot;
	e->fail_st = st;
	e->fail_eb = *eb;
	e->read_done = true;
}

/* Whether the whole run is over (the lock is held). */
static bool
finished_locked(const struct engine *e)
{
	if (e->failed)
		return e->next_write >= e->fail_seq || e->next_write ==
						       e->next_read;
	return e->read_done && !e->reading && e->next_write == e->next_read;
}

/*
 * Tells waiting threads that something changed (the lock is held): a new
 * run, a stage done, a failure or quit.
 */
static void
team_signal(struct pool_team *t)
{
	__atomic_store_n(&t->gen, t->gen + 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&t->cond);
}

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Waits for team_signal() (the lock is held on entry and on return). A
 * thread put to sleep takes tens of microseconds to wake on a virtual
 * machine, as long as a short stage, so it first spins a little while
 * without the lock: the waits inside a run and between two calls in a row
 * are mostly shorter than that.
 */
static void
team_wait(struct pool_team *t)
{
	const uint64_t g = t->gen;
	double deadline = 0;

	pthread_mutex_unlock(&t->lock);
	for (unsigned i = 1;; i++) {
		if (__atomic_load_n(&t->gen, __ATOMIC_ACQUIRE) != g)
			break;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
		if (i % 64 == 0) {
			const double now = seconds_now();

			if (deadline == 0)
				deadline = now + POOL_SPIN_SECONDS;
			else if (now > deadline)
				break;
		}
	}
	pthread_mutex_lock(&t->lock);
	if (t->gen == g)
		pthread_cond_wait(&t->cond, &t->lock);
}

/* Leaves the lock for a stage of the run (a helper is counted busy). */
static void
stage_enter(struct pool_team *t, unsigned worker)
{
	if (worker != 0)
		t->busy++;
	pthread_mutex_unlock(&t->lock);
}

static void
stage_leave(struct pool_team *t, unsigned worker)
{
	pthread_mutex_lock(&t->lock);
	if (worker != 0 && --t->busy == 0)
		pthread_cond_broadcast(&t->idle);
	team_signal(t);
}

/*
 * Runs one stage of the run, if one is ready for this worker: writes the
 * oldest job when it is computed, else computes the oldest job that is read,
 * else reads the next job into a free slot. Returns whether it ran one. The
 * lock is held on entry and on return.
 */
static bool
step(struct pool_team *t, struct engine *e, unsigned worker)
{
	const unsigned w = (unsigned)(e->next_write % e->nslots);
	struct errbuf eb;
	enum gauss_status st;
	int best = -1;

	if (!e->writing && e->next_write < e->next_read &&
	    e->state[w] == SLOT_DONE &&
	    (!e->failed || e->next_write < e->fail_seq)) {
		const uint64_t seq = e->next_write;

		e->writing = true;
		stage_enter(t, worker);
		eb.text[0] = '\0';
		st = e->ops->write(e->user, e->jobs[w], &eb);
		stage_leave(t, worker);
		e->writing = false;
		if (st != GAUSS_OK)
			fail_locked(e, seq, (int)w, st, &eb);
		e->state[w] = SLOT_FREE;
		e->next_write++;
		return true;
	}
	for (unsigned i = 0; i < e->nslots; i++)
		if (e->state[i] == SLOT_READ &&
		    (best < 0 || e->seq[i] < e->seq[best]))
			best = (int)i;
	if (best >= 0 && (!e->failed || e->seq[best] < e->fail_seq)) {
		const uint64_t seq = e->seq[best];

		e->state[best] = SLOT_BUSY;
		stage_enter(t, worker);
		eb.text[0] = '\0';
		st = e->ops->compute(e->user, e->jobs[best], worker, &eb);
		stage_leave(t, worker);
		if (st != GAUSS_OK)
			fail_locked(e, seq, best, st, &eb);
		e->state[best] = SLOT_DONE;
		return true;
	}
	if (!e->reading && !e->read_done &&
	    e->state[e->next_read % e->nslots] == SLOT_FREE) {
		const unsigned r = (unsigned)(e->next_read % e->nslots);
		const uint64_t seq = e->next_read;
		bool more = true;

		e->reading = true;
		stage_enter(t, worker);
		eb.text[0] = '\0';
		st = e->ops->read(e->user, e->jobs[r], &more, &eb);
		stage_leave(t, worker);
		e->reading = false;
		if (st != GAUSS_OK) {
			fail_locked(e, seq, (int)r, st, &eb);
		} else if (!more) {
			e->read_done = true;
		} else {
			e->seq[r] = seq;
			e->state[r] = SLOT_READ;
			e->next_read++;
		}
		return true;
	}
	return false;
}

/* The caller's part of a run, as worker 0 (the lock is held). */
static void
work_caller(struct pool_team *t, struct engine *e)
{
	struct errbuf eb;

	while (!finished_locked(e)) {
		if (!step(t, e, 0)) {
			team_wait(t);
			continue;
		}
		if (e->ops->progress) {
			int stop;

			pthread_mutex_unlock(&t->lock);
			stop = e->ops->progress(e->user);
			pthread_mutex_lock(&t->lock);
			if (stop) {
				eb.text[0] = '\0';
				err_setf(&eb, GAUSS_E_INTERRUPTED,
					 "stopped by the caller");
				fail_locked(e, e->next_write, -1,
					    GAUSS_E_INTERRUPTED, &eb);
				team_signal(t);
			}
		}
	}
}

/*
 * A helper: takes part in each run whose width includes its index, and
 * sleeps between runs. It touches a run only inside step(), so a run is
 * over for the helpers once none is busy: the caller never waits for a
 * sleeping helper to wake up.
 */
static void *
helper_main(void *arg)
{
	struct pool_team *t = arg;
	unsigned index;

	pthread_mutex_lock(&t->lock);
	index = ++t->registered;
	while (!t->quit) {
		struct engine *e = t->engine;

		if (e != NULL && index < t->width && !finished_locked(e) &&
		    step(t, e, index))
			continue;
		team_wait(t);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

struct pool_team *
pool_team_new(void)
{
	struct pool_team *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (pthread_mutex_init(&t->lock, NULL) != 0)
		goto no_lock;
	if (pthread_cond_init(&t->cond, NULL) != 0)
		goto no_cond;
	if (pthread_cond_init(&t->idle, NULL) != 0)
		goto no_idle;
	return t;
no_idle:
	pthread_cond_destroy(&t->cond);
no_cond:
	pthread_mutex_destroy(&t->lock);
no_lock:
	free(t);
	return NULL;
}

void
pool_team_free(struct pool_team *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->quit = true;
	team_signal(t);
	pthread_mutex_unlock(&t->lock);
	for (unsigned i = 0; i < t->nhelpers; i++)
		pthread_join(t->tids[i], NULL);
	pthread_cond_destroy(&t->idle);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	free(t->tids);
	free(t);
}

/*
 * Starts helpers until the team has n (only the caller's thread touches
 * nhelpers and tids). Fewer, when the system refuses threads or memory,
 * still finish every run: the caller's thread alone can.
 */
static void
team_grow(struct pool_team *t, unsigned n)
{
	pthread_t *tids;

	if (t->nhelpers >= n)
		return;
	tids = realloc(t->tids, n * sizeof(*tids));
	if (tids == NULL)
		return;
	t->tids = tids;
	while (t->nhelpers < n &&
	       pthread_create(&t->tids[t->nhelpers], NULL, helper_main,
			      t) == 0)
		t->nhelpers++;
}

unsigned
pool_cpu_count(void)
{
	const long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

enum gauss_status
pool_run(struct pool_team *team, const struct pool_ops *ops, void *user,
	 void **jobs, unsigned nslots, unsigned threads, int *fail_slot,
	 struct errbuf *eb)
{
	struct engine e = {
		.ops = ops,
		.user = user,
		.jobs = jobs,
		.nslots = nslots,
	};
	struct pool_team *t = team;

	GAUSS_ASSERT(nslots >= 1 && threads >= 1);
	e.state = calloc(nslots, sizeof(*e.state));
	e.seq = calloc(nslots, sizeof(*e.seq));
	if (t == NULL)
		t = pool_team_new();
	if (e.state == NULL || e.seq == NULL || t == NULL) {
		free(e.state);
		free(e.seq);
		if (team == NULL)
			pool_team_free(t);
		return GAUSS_E_NOMEM;
	}
	team_grow(t, threads - 1);
	pthread_mutex_lock(&t->lock);
	t->engine = &e;
	t->width = threads;
	if (threads > 1)
		team_signal(t);
	work_caller(t, &e);
	t->engine = NULL;
	while (t->busy > 0)
		pthread_cond_wait(&t->idle, &t->lock);
	pthread_mutex_unlock(&t->lock);
	if (team == NULL)
		pool_team_free(t);
	free(e.state);
	free(e.seq);
	if (!e.failed)
		return GAUSS_OK;
	if (fail_slot)
		*fail_slot = e.fail_slot;
	if (eb)
		*eb = e.fail_eb;
	return e.fail_st;
}

/* A buffer is preceded by 64 bytes whose first word is its size. */
#define CACHE_HEAD 64
#define HUGE_NBYTES ((size_t)2 << 20)	/* a huge page on x86-64 */

static size_t
buf_size(const void *p)
{
	size_t n;

	memcpy(&n, (const uint8_t *)p - CACHE_HEAD, sizeof(n));
	return n;
}

void *
pool_alloc(struct pool_cache *cache, size_t n)
{
	int best = -1;
	uint8_t *p;

	n = (n + 63) & ~(size_t)63;
	if (cache != NULL) {
		/* the smallest cached buffer that holds n, if not too big */
		for (unsigned i = 0; i < cache->count; i++) {
			const size_t m = buf_size(cache->buf[i]);

			if (m >= n && m / 4 <= n &&
			    (best < 0 || m < buf_size(cache->buf[best])))
				best = (int)i;
		}
		if (best >= 0) {
			p = cache->buf[best];
			cache->buf[best] = cache->buf[--cache->count];
			return p;
		}
	}
	if (n > SIZE_MAX - CACHE_HEAD - HUGE_NBYTES)
		return NULL;
	if (n >= HUGE_NBYTES) {
		/*
		 * Block buffers: on 2 MiB pages where the kernel has them
		 * (transparent huge pages in "madvise" mode, as Debian ships
		 * it), so that touching a fresh buffer costs one fault per
		 * 2 MiB instead of 512. Only a hint: no huge pages, no harm.
		 */
		const size_t len = (CACHE_HEAD + n + HUGE_NBYTES - 1) &
				   ~(HUGE_NBYTES - 1);

		p = aligned_alloc(HUGE_NBYTES, len);
#ifdef MADV_HUGEPAGE
		if (p != NULL)
			(void)madvise(p, len, MADV_HUGEPAGE);
#endif
	} else {
		p = aligned_alloc(64, CACHE_HEAD + n);
	}
	if (p == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + CACHE_HEAD;
}

void
pool_free(struct pool_cache *cache, void *p)
{
	if (p == NULL)
		return;
	if (cache != NULL && cache->count < POOL_CACHE_SLOTS) {
		cache->buf[cache->count++] = p;
		return;
	}
	free((uint8_t *)p - CACHE_HEAD);
}

void
pool_cache_clear(struct pool_cache *cache)
{
	for (unsigned i = 0; i < cache->count; i++)
		free((uint8_t *)cache->buf[i] - CACHE_HEAD);
	cache->count = 0;
}
