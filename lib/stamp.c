/* stamp.c - when the claim position was where: the age of the oldest message. */
#include "eshm-int.h"

/*
 * A record says nothing of when it was written (a clock call per 64-byte
 * message would cost more than the message), so the age of the oldest
 * message a group has not released comes from samples of the claim
 * position: "at time T, the claim was at P", so that every record at P or
 * beyond was claimed after T. Writers take them: at attach, at detach, and
 * from their heartbeat thread at most every STAMP_NS (a writer's heartbeat
 * beats at least every quarter of the stale threshold, so an idle writer
 * keeps the newest sample fresh; nothing on the path of a message).
 *
 * Samples go to STAMP_LEVELS rings of STAMP_SLOTS: level k keeps one
 * sample in 4^k, so the newest 16 samples are all there, then one in 4,
 * one in 16... a span of 16 * 4^9 samples (about 5 days at STAMP_NS) in
 * 2.5 KiB, and an age is known to within STAMP_NS or a quarter of itself.
 * A sample is written as: pos made invalid, time, pos: one that reads the
 * same pos before and after the time has a time that goes with it.
 */

/* Sample channel ch's claim now (CLOCK_MONOTONIC ns), unless a writer did
 * within STAMP_NS and !force. */
void
eshm_stamp(struct eshm_header *hdr, int ch, int64_t now, bool force)
{
	struct eshm_stamps *t = &hdr->stamps[ch];
	int64_t last = atomic_load_explicit(&t->last_ns, memory_order_relaxed);
	if (!force && now - last < STAMP_NS && now >= last)
		return;
	/* one sampler at a time: the others' samples would say the same */
	if (!atomic_compare_exchange_strong_explicit(&t->last_ns, &last, now, memory_order_relaxed,
						     memory_order_relaxed))
		return;
	/* loaded after the clock was read: the claim was at most here then */
	uint64_t pos = atomic_load_explicit(&hdr->chan[ch].claim, memory_order_acquire);
	uint64_t n = atomic_fetch_add_explicit(&t->seq, 1, memory_order_relaxed);
	for (int k = 0; k < STAMP_LEVELS; k++) {
		struct eshm_stamp *e = &t->s[k][(n >> (2 * k)) % STAMP_SLOTS];
		atomic_store_explicit(&e->pos, UINT64_MAX, memory_order_relaxed);
		atomic_store_explicit(&e->ns, now, memory_order_release);
		atomic_store_explicit(&e->pos, pos, memory_order_release);
		if (n & ((UINT64_C(4) << (2 * k)) - 1))
			break;
	}
}

/*
 * The age (ms) of a record at pos of channel ch, from the samples in hdr
 * (a copy, or the live header): its age is at most now minus the newest
 * sample at or below pos. When every sample is beyond pos (older than all
 * that are kept), the age is at least the oldest sample's: that is
 * returned. -1 when there is no sample (a segment no writer attached).
 */
int64_t
eshm_stamp_age_ms(const struct eshm_header *hdr, int ch, uint64_t pos, int64_t now)
{
	const struct eshm_stamps *t = &hdr->stamps[ch];
	uint64_t best_pos = 0;
	int64_t best = -1, oldest = -1;
	for (int k = 0; k < STAMP_LEVELS; k++) {
		for (int i = 0; i < STAMP_SLOTS; i++) {
			const struct eshm_stamp *e = &t->s[k][i];
			uint64_t p = atomic_load_explicit(&e->pos, memory_order_acquire);
			int64_t ns = atomic_load_explicit(&e->ns, memory_order_acquire);
			if (p == UINT64_MAX || ns <= 0 ||
			    atomic_load_explicit(&e->pos, memory_order_relaxed) != p)
				continue;
			if (p <= pos &&
			    (best < 0 || p > best_pos || (p == best_pos && ns > best))) {
				best_pos = p;
				best = ns;
			}
			if (oldest < 0 || ns < oldest)
				oldest = ns;
		}
	}
	int64_t at = best >= 0 ? best : oldest;
	if (at < 0)
		return -1;
	return now > at ? (now - at) / 1000000 : 0;
}
