/* SPDX-License-Identifier: MIT */
/*
 * pool.h: the engine of the pipelines: a pool of threads that moves a
 * sequence of jobs through three stages,
 *
 *   read (serial, in order) -> compute (parallel) -> write (serial, in order)
 *
 * over a ring of job slots, so memory in flight is bounded by the slot
 * count whatever the input size. No thread owns a stage: whichever thread
 * is free takes the oldest finished job to write, else a job to compute,
 * else reads the next one, so a serial stage never leaves a core idle while
 * work exists. The calling thread is worker 0 and the only one that calls
 * the progress hook; with one thread no other thread takes part.
 *
 * On a failure the engine stops reading, finishes and writes every job
 * before the failed one (so results are those of a sequential run, whatever
 * the thread count), and reports the failure of the earliest job.
 */
#ifndef GAUSS_POOL_H
#define GAUSS_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct pool_ops {
	/*
	 * Fills job for the next position of the sequence, or sets *more to
	 * false at the end. Serial, in order.
	 */
	enum gauss_status (*read)(void *user, void *job, bool *more,
				  struct errbuf *eb);
	/* Works on a read job; runs on any worker, several at a time. */
	enum gauss_status (*compute)(void *user, void *job, unsigned worker,
				     struct errbuf *eb);
	/* Consumes a computed job. Serial, in order. */
	enum gauss_status (*write)(void *user, void *job, struct errbuf *eb);
	/*
	 * Called by worker 0 between stages (may be NULL); a non-zero return
	 * stops the run with GAUSS_E_INTERRUPTED.
	 */
	int (*progress)(void *user);
};

/*
 * The threads that run the jobs: started when a run first needs them, then
 * kept, asleep between runs, until pool_team_free(), so that a caller who
 * makes many short calls does not pay for starting and joining threads on
 * every one. A team serves one run at a time.
 */
struct pool_team;

/* A team with no thread yet, or NULL when memory is short. */
struct pool_team *pool_team_new(void);

/* Stops and joins the team's threads and frees it; NULL is ok. */
void pool_team_free(struct pool_team *team);

/*
 * Runs the sequence with `threads` workers (the calling thread and
 * threads - 1 of the team's, started as needed) over `nslots` job slots
 * (jobs[i] are the caller's, reused in turn). With team NULL, a team is
 * made for the run and freed after it. Returns GAUSS_OK or the first
 * failure in sequence order, its message in eb and, in *fail_slot, the
 * index of the job slot that failed (-1 when the progress hook stopped the
 * run); that job is left as the failing stage left it.
 */
enum gauss_status pool_run(struct pool_team *team, const struct pool_ops *ops,
			   void *user, void **jobs, unsigned nslots,
			   unsigned threads, int *fail_slot,
			   struct errbuf *eb);

/*
 * Buffers kept between the calls made with one context, so that a caller
 * who compresses many buffers does not pay for fresh pages (and page-fault
 * contention between threads) on every call. Not thread-safe: a context
 * runs one call at a time, and only the calling thread takes and gives.
 */
#define POOL_CACHE_SLOTS 64

struct pool_cache {
	void *buf[POOL_CACHE_SLOTS];	/* each with its size just before */
	unsigned count;
};

/*
 * Returns a buffer of at least n bytes aligned to 64 (from the cache when
 * one fits), or NULL. With cache NULL it just allocates.
 */
void *pool_alloc(struct pool_cache *cache, size_t n);

/* Gives a buffer of pool_alloc() back (kept when there is room); NULL ok. */
void pool_free(struct pool_cache *cache, void *p);

/* Frees every buffer the cache holds. */
void pool_cache_clear(struct pool_cache *cache);

/* Online CPUs (at least 1). */
unsigned pool_cpu_count(void);

#endif /* GAUSS_POOL_H */
