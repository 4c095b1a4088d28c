/* counters.c - each side's traffic counts: kept in the handle, published under a sequence lock. */
#include <pthread.h>

#include "eshm-int.h"

/*
 * Each side counts in its handle (struct eshm_counts in struct wside or
 * rside: written by the owning thread only) and publishes to the counts of
 * its channel (struct eshm_chan: in for the writer, out for the reader),
 * under the sequence lock of that side (wseq, rseq), so that readers of
 * statistics (eshm-stat) see msgs and bytes from one moment.
 *
 * Publishing from the heartbeat thread rather than per message measured
 * about 30% more 64-byte messages per second across two processes (the
 * hot path then writes no shared line but the index); the price is that
 * counts lag by up to one heartbeat, and that a process killed by SIGKILL
 * may leave that much of its counts unpublished.
 */

/* Publish src into dst under seq; we are dst's only writer. */
static void
counts_publish(_Atomic uint32_t *seq, struct eshm_counts *dst, const struct eshm_counts *src)
{
	/* odd: a predecessor was killed half-way; we are the only writer now */
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed) & ~1u;
	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&dst->msgs, atomic_load_explicit(&src->msgs, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&dst->bytes, atomic_load_explicit(&src->bytes, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&dst->waits, atomic_load_explicit(&src->waits, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&dst->wakes, atomic_load_explicit(&src->wakes, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(seq, s + 2, memory_order_release);
}

void
eshm_counts_read(const _Atomic uint32_t *seq, const struct eshm_counts *src,
		 struct eshm_counts *out)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire);
		uint64_t m = atomic_load_explicit(&src->msgs, memory_order_relaxed);
		uint64_t b = atomic_load_explicit(&src->bytes, memory_order_relaxed);
		uint64_t w = atomic_load_explicit(&src->waits, memory_order_relaxed);
		uint64_t k = atomic_load_explicit(&src->wakes, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		atomic_store_explicit(&out->msgs, m, memory_order_relaxed);
		atomic_store_explicit(&out->bytes, b, memory_order_relaxed);
		atomic_store_explicit(&out->waits, w, memory_order_relaxed);
		atomic_store_explicit(&out->wakes, k, memory_order_relaxed);
		if (!(s1 & 1) && s1 == atomic_load_explicit(seq, memory_order_relaxed))
			return;
		eshm_cpu_relax();
	}
}

/* Called by the heartbeat thread, or with it stopped or its mutex held:
 * the only writer of the published counts of our slots. A holder that was
 * taken over must not overwrite its successor's counts. */
void
eshm_counters_flush(struct eshm *h)
{
	if (h->wend >= 0 && eshm_owns(h, h->wend))
		counts_publish(&h->hdr->counts[h->wend].seq, &h->hdr->counts[h->wend].c, &h->w.n);
	if (h->rend >= 0 && eshm_owns(h, h->rend))
		counts_publish(&h->hdr->counts[h->rend].seq, &h->hdr->counts[h->rend].c, &h->r.n);
}

/* eshm_counters_flush from any thread: under the heartbeat's mutex, so
 * that the two never publish together. */
void
eshm_counters_sync(struct eshm *h)
{
	pthread_mutex_lock(&h->hb_mu);
	eshm_counters_flush(h);
	pthread_mutex_unlock(&h->hb_mu);
}

/* A wait that is going to sleep: count it and publish the counts now, so
 * that eshm-stat shows a blocked side as blocked; but never wait for the
 * heartbeat thread for that. Descheduled with its mutex held (two busy
 * cores, or its virtual CPU taken by the host), it kept a tap that was
 * about to sleep off a free CPU for 2.9 ms (perf sched). A heartbeat
 * thread that holds the mutex is publishing: what it missed of this wait,
 * it publishes at its next beat, as the counts changed. */
void
eshm_count_wait(struct eshm *h, _Atomic uint64_t *waits)
{
	eshm_count_add(waits, 1);
	if (pthread_mutex_trylock(&h->hb_mu) == 0) {
		eshm_counters_flush(h);
		pthread_mutex_unlock(&h->hb_mu);
	}
}

/* Add src's counts to sum. */
static void
counts_add(struct eshm_counts *sum, const struct eshm_counts *src)
{
	eshm_count_add(&sum->msgs, atomic_load_explicit(&src->msgs, memory_order_relaxed));
	eshm_count_add(&sum->bytes, atomic_load_explicit(&src->bytes, memory_order_relaxed));
	eshm_count_add(&sum->waits, atomic_load_explicit(&src->waits, memory_order_relaxed));
	eshm_count_add(&sum->wakes, atomic_load_explicit(&src->wakes, memory_order_relaxed));
}

/* The traffic of channel ch: what its holders that left counted (under
 * the channel's sequence lock), plus what each slot publishes. */
void
eshm_chan_snapshot(const struct eshm_header *hdr, int ch, struct eshm_channel_info *ci)
{
	const struct eshm_chan *c = &hdr->chan[ch];
	struct eshm_counts in = {0}, out = {0}, one;
	eshm_counts_read(&c->cseq, &c->retired_in, &in);
	eshm_counts_read(&c->cseq, &c->retired_out, &out);
	for (int k = 0; k < SLOT_T; k++) {
		int s = ch * SLOTS_PER_CHAN + k;
		eshm_counts_read(&hdr->counts[s].seq, &hdr->counts[s].c, &one);
		counts_add(k < SLOT_R ? &in : &out, &one);
	}
	ci->msgs_in = atomic_load_explicit(&in.msgs, memory_order_relaxed);
	ci->bytes_in = atomic_load_explicit(&in.bytes, memory_order_relaxed);
	ci->waits_full = atomic_load_explicit(&in.waits, memory_order_relaxed);
	ci->msgs_out = atomic_load_explicit(&out.msgs, memory_order_relaxed);
	ci->bytes_out = atomic_load_explicit(&out.bytes, memory_order_relaxed);
	ci->waits_empty = atomic_load_explicit(&out.waits, memory_order_relaxed);
	ci->wakes = atomic_load_explicit(&in.wakes, memory_order_relaxed) +
		    atomic_load_explicit(&out.wakes, memory_order_relaxed);
	ci->framing = (int)atomic_load_explicit(&c->framing, memory_order_relaxed);
	ci->eos = atomic_load_explicit(&c->ended, memory_order_relaxed) != 0;
}
