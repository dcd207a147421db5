/* SPDX-License-Identifier: MIT */
/* pool.c: the three-stage job engine of the pipelines (see pool.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"
#include "pool.h"
#include "banned.h"

enum slot_state { SLOT_FREE, SLOT_READ, SLOT_BUSY, SLOT_DONE };

struct engine {
	const struct pool_ops *ops;
	void *user;
	void **jobs;
	unsigned nslots;
	pthread_mutex_t lock;
	pthread_cond_t cond;
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

struct worker {
	struct engine *e;
	unsigned index;
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

static void
work(struct engine *e, unsigned worker)
{
	struct errbuf eb;

	pthread_mutex_lock(&e->lock);
	while (!finished_locked(e)) {
		const unsigned w = (unsigned)(e->next_write % e->nslots);
		enum gauss_status st;
		int best = -1;

		/* 1: write the oldest job when it is done */
		if (!e->writing && e->next_write < e->next_read &&
		    e->state[w] == SLOT_DONE &&
		    (!e->failed || e->next_write < e->fail_seq)) {
			const uint64_t seq = e->next_write;

			e->writing = true;
			pthread_mutex_unlock(&e->lock);
			eb.text[0] = '\0';
			st = e->ops->write(e->user, e->jobs[w], &eb);
			pthread_mutex_lock(&e->lock);
			e->writing = false;
			if (st != GAUSS_OK)
				fail_locked(e, seq, (int)w, st, &eb);
			e->state[w] = SLOT_FREE;
			e->next_write++;
			pthread_cond_broadcast(&e->cond);
			goto tick;
		}
		/* 2: compute the oldest job that is read */
		for (unsigned i = 0; i < e->nslots; i++)
			if (e->state[i] == SLOT_READ &&
			    (best < 0 || e->seq[i] < e->seq[best]))
				best = (int)i;
		if (best >= 0 && (!e->failed || e->seq[best] < e->fail_seq)) {
			const uint64_t seq = e->seq[best];

			e->state[best] = SLOT_BUSY;
			pthread_mutex_unlock(&e->lock);
			eb.text[0] = '\0';
			st = e->ops->compute(e->user, e->jobs[best], worker,
					     &eb);
			pthread_mutex_lock(&e->lock);
			if (st != GAUSS_OK)
				fail_locked(e, seq, best, st, &eb);
			e->state[best] = SLOT_DONE;
			pthread_cond_broadcast(&e->cond);
			goto tick;
		}
		/* 3: read the next job into a free slot */
		if (!e->reading && !e->read_done &&
		    e->state[e->next_read % e->nslots] == SLOT_FREE) {
			const unsigned r = (unsigned)(e->next_read % e->nslots);
			const uint64_t seq = e->next_read;
			bool more = true;

			e->reading = true;
			pthread_mutex_unlock(&e->lock);
			eb.text[0] = '\0';
			st = e->ops->read(e->user, e->jobs[r], &more, &eb);
			pthread_mutex_lock(&e->lock);
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
			pthread_cond_broadcast(&e->cond);
			goto tick;
		}
		pthread_cond_wait(&e->cond, &e->lock);
		continue;
tick:
		if (worker == 0 && e->ops->progress) {
			int stop;

			pthread_mutex_unlock(&e->lock);
			stop = e->ops->progress(e->user);
			pthread_mutex_lock(&e->lock);
			if (stop) {
				eb.text[0] = '\0';
				err_setf(&eb, GAUSS_E_INTERRUPTED,
					 "stopped by the caller");
				fail_locked(e, e->next_write, -1,
					    GAUSS_E_INTERRUPTED, &eb);
				pthread_cond_broadcast(&e->cond);
			}
		}
	}
	pthread_mutex_unlock(&e->lock);
}

static void *
worker_main(void *arg)
{
	const struct worker *w = arg;

	work(w->e, w->index);
	return NULL;
}

unsigned
pool_cpu_count(void)
{
	const long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

enum gauss_status
pool_run(const struct pool_ops *ops, void *user, void **jobs,
	 unsigned nslots, unsigned threads, int *fail_slot, struct errbuf *eb)
{
	struct engine e = {
		.ops = ops,
		.user = user,
		.jobs = jobs,
		.nslots = nslots,
	};
	pthread_t *tids = NULL;
	struct worker *ws = NULL;
	unsigned started = 1;

	GAUSS_ASSERT(nslots >= 1 && threads >= 1);
	e.state = calloc(nslots, sizeof(*e.state));
	e.seq = calloc(nslots, sizeof(*e.seq));
	if (threads > 1) {
		tids = calloc(threads, sizeof(*tids));
		ws = calloc(threads, sizeof(*ws));
	}
	if (e.state == NULL || e.seq == NULL ||
	    (threads > 1 && (tids == NULL || ws == NULL))) {
		free(e.state);
		free(e.seq);
		free(tids);
		free(ws);
		return GAUSS_E_NOMEM;
	}
	pthread_mutex_init(&e.lock, NULL);
	pthread_cond_init(&e.cond, NULL);
	for (unsigned i = 1; i < threads; i++) {
		ws[i] = (struct worker){ .e = &e, .index = i };
		/* fewer threads than asked still finish the work */
		if (pthread_create(&tids[i], NULL, worker_main, &ws[i]) != 0)
			break;
		started++;
	}
	work(&e, 0);
	for (unsigned i = 1; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_cond_destroy(&e.cond);
	pthread_mutex_destroy(&e.lock);
	free(e.state);
	free(e.seq);
	free(tids);
	free(ws);
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
