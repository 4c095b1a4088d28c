/* heartbeat.c - the thread that shows a holder alive, and publishes its counts. */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "eshm-int.h"

/* Everything the handle did, as one number that changes when it does. */
static uint64_t
activity(struct eshm *h)
{
	uint64_t a = 0;
	if (h->wend >= 0)
		a += atomic_load_explicit(&h->w.n.msgs, memory_order_relaxed) +
		     atomic_load_explicit(&h->w.n.waits, memory_order_relaxed);
	if (h->rend >= 0 || h->tend >= 0)
		a += atomic_load_explicit(&h->r.n.msgs, memory_order_relaxed) +
		     atomic_load_explicit(&h->r.n.waits, memory_order_relaxed);
	return a;
}

/*
 * The heartbeat refreshes our slots every heartbeat_ms while the handle is
 * in use. Once it has been idle for IDLE_AFTER_NS, the period doubles at
 * each beat up to a quarter of the stale threshold, so that a holder that
 * just waits costs next to nothing: on the 2-core VM this was measured on,
 * a thread that wakes every millisecond costs 2.5% of a core by itself
 * (about 26 us per timer wakeup), against the 1% we allow an idle holder.
 * A quarter of the threshold keeps a healthy holder well clear of stale.
 * Any activity brings the period back at the next beat.
 */
#define IDLE_AFTER_NS (100 * 1000000LL)

static void *
heartbeat_main(void *arg)
{
	struct eshm *h = arg;
	const int64_t base = (int64_t)h->cfg.heartbeat_ms * 1000000;
	int64_t longest = (int64_t)h->cfg.stale_threshold_ms * 1000000 / 4;
	if (longest < base)
		longest = base;
	int64_t period = base, next = eshm_now_mono() + period, last_active = 0;
	uint64_t seen = activity(h), published = UINT64_MAX;

	pthread_mutex_lock(&h->hb_mu);
	while (!h->hb_stop) {
		struct timespec ts = {
			.tv_sec = next / 1000000000,
			.tv_nsec = next % 1000000000,
		};
		pthread_cond_timedwait(&h->hb_cv, &h->hb_mu, &ts);
		if (h->hb_stop)
			break;
		int64_t now = eshm_now_mono();
		if (now < next)
			continue;
		/* never beat for an end taken over from us: the slot is the
		 * new holder's now */
		int held[3] = {h->wend, h->rend, h->tend};
		for (int i = 0; i < 3; i++)
			if (held[i] >= 0 && eshm_owns(h, held[i]))
				atomic_store_explicit(&h->hdr->slot[held[i]].heartbeat_ns,
						      (uint64_t)now, memory_order_relaxed);
		/* a writer samples its channel's claim, busy or idle */
		if (held[0] >= 0 && eshm_owns(h, held[0]))
			eshm_stamp(h->hdr, slot_chan(held[0]), now, false);
		/* a reader, whether its group makes progress */
		if (held[1] >= 0 && eshm_owns(h, held[1]))
			eshm_group_progress(
				h->hdr, slot_chan(held[1]),
				slotf_group(atomic_load_explicit(&h->hdr->slot[held[1]].flags,
								 memory_order_relaxed)),
				now);
		uint64_t a = activity(h);
		if (a != seen || !last_active) {
			seen = a;
			last_active = now;
			period = base;
		} else if (now - last_active >= IDLE_AFTER_NS && period < longest) {
			period = period * 2 > longest ? longest : period * 2;
		}
		/* counters only move with activity: publish only then */
		if (a != published) {
			eshm_counters_flush(h);
			published = a;
		}
		next += period;
		if (next <= now) /* we were descheduled: do not try to catch up */
			next = now + period;
	}
	pthread_mutex_unlock(&h->hb_mu);
	return NULL;
}

int
eshm_heartbeat_start(struct eshm *h)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->hb_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&h->hb_mu, NULL);
	h->hb_stop = false;

	/* The thread must never take the caller's signals; but a fault it
	 * causes itself (SIGBUS on a truncated segment) must reach the guard:
	 * a blocked synchronous fault kills the process outright. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&h->hb, NULL, heartbeat_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		pthread_cond_destroy(&h->hb_cv);
		pthread_mutex_destroy(&h->hb_mu);
		return -e;
	}
	h->hb_running = true;
	return 0;
}

void
eshm_heartbeat_stop(struct eshm *h)
{
	if (!h->hb_running)
		return;
	pthread_mutex_lock(&h->hb_mu);
	h->hb_stop = true;
	pthread_cond_signal(&h->hb_cv);
	pthread_mutex_unlock(&h->hb_mu);
	pthread_join(h->hb, NULL);
	pthread_cond_destroy(&h->hb_cv);
	pthread_mutex_destroy(&h->hb_mu);
	h->hb_running = false;
}
