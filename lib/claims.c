/* claims.c - writers' open claims: whose a claimed record is, and skipping one whose writer died. */
#include "eshm-int.h"

/*
 * A writer announces each claim in its slot (intent_pos, intent_size)
 * before it makes it, and keeps it there until the record is committed.
 * So a record that is claimed but not committed is either being written
 * by a live writer (wait for it), or its writer died (or was displaced)
 * and it will never be: then it is overwritten by a SKIP record, so that
 * no reader waits for a dead writer, ever.
 *
 * A writer that announced pos but whose CAS lost (someone else claimed
 * pos) announces its next attempt at once: two announcements of one
 * position, one of them stale, last for an instant, or, if that writer died
 * in the instant, until the slot is cleared. When several dead writers
 * announced pos, the size kept is the one whose end is a record boundary
 * that exists: the claim position, or a committed record.
 */

/* Who claimed pos: CLAIM_LIVE (a live writer: wait), CLAIM_DEAD (only
 * writers that died: *size bytes to skip), or CLAIM_NONE (nobody
 * announced it: look again, it may have just been committed). Slot `gone`
 * (-1 for none) counts as dead whether its holder lives or not: one that
 * was displaced. */
int
eshm_claim_owner(int fd, struct eshm_header *hdr, uint64_t cap, uint64_t salt,
		 const unsigned char *ring, int ch, uint64_t pos, uint64_t claim, int gone,
		 uint32_t *size)
{
	int state = CLAIM_NONE;
	uint32_t best = 0;
	for (int k = 0; k < ESHM_WRITERS; k++) {
		int s = ch * SLOTS_PER_CHAN + SLOT_W + k;
		const struct eshm_slot *sl = &hdr->slot[s];
		if (atomic_load_explicit(&sl->intent_pos, memory_order_acquire) != pos)
			continue;
		uint64_t n = atomic_load_explicit(&sl->intent_size, memory_order_relaxed);
		if (s != gone && eshm_end_probe(fd, s) != 0)
			return CLAIM_LIVE;
		/* a size that cannot be: scribbled, never trusted */
		if (n < REC_HDR || n % REC_ALIGN || n > cap - ring_off(pos, cap) || n > claim - pos)
			continue;
		uint64_t end = pos + n;
		if (state == CLAIM_NONE || end == claim || rec_committed(ring, cap, end, salt))
			best = (uint32_t)n;
		state = CLAIM_DEAD;
	}
	*size = best;
	return state;
}

/* Overwrite the dead claim [pos, pos + size) with a SKIP record: its
 * header first, then the tag with a compare-and-swap, so that of several
 * readers doing the same at once one writes it, and none overwrites a
 * record committed meanwhile. */
void
eshm_claim_skip(unsigned char *ring, uint64_t cap, uint64_t salt, uint64_t pos, uint32_t size)
{
	struct eshm_rec *r = (struct eshm_rec *)(ring + ring_off(pos, cap));
	uint64_t old = atomic_load_explicit(&r->tag, memory_order_acquire);
	if (old == (pos ^ salt))
		return;
	r->len = size - REC_HDR;
	r->info = rec_info(REC_SKIP, 0, 0);
	atomic_compare_exchange_strong_explicit(&r->tag, &old, pos ^ salt, memory_order_acq_rel,
						memory_order_acquire);
}

/* Settle the open claim of writer slot s, whose holder is gone (died,
 * lost, displaced): skip it if it was made and never committed, so that
 * the slot can be reused. Under the segment's flock. */
void
eshm_claim_settle(int fd, struct eshm_header *hdr, const struct eshm_geom *g, unsigned char *base,
		  int s)
{
	struct eshm_slot *sl = &hdr->slot[s];
	int ch = slot_chan(s);
	uint64_t pos = atomic_load_explicit(&sl->intent_pos, memory_order_acquire);
	atomic_store_explicit(&sl->intent_pos, UINT64_MAX, memory_order_relaxed);
	if (pos == UINT64_MAX)
		return;
	struct eshm_chan *c = &hdr->chan[ch];
	uint64_t claim = atomic_load_explicit(&c->claim, memory_order_acquire);
	uint64_t kept = atomic_load_explicit(&c->kept, memory_order_acquire);
	uint64_t cap = g->cap[ch], salt = hdr->salt;
	unsigned char *ring = base + g->off[ch];
	/* not made (pos not below claim), long released, or committed */
	if (pos % REC_ALIGN || pos >= claim || pos < kept || claim - pos > cap ||
	    rec_committed(ring, cap, pos, salt))
		return;
	uint32_t size;
	/* put back for the look: the others announcing pos decide with it */
	atomic_store_explicit(&sl->intent_pos, pos, memory_order_relaxed);
	int who = eshm_claim_owner(fd, hdr, cap, salt, ring, ch, pos, claim, s, &size);
	atomic_store_explicit(&sl->intent_pos, UINT64_MAX, memory_order_relaxed);
	if (who != CLAIM_DEAD)
		return;
	/* the last claim made: given back, as its writer would have (a sole
	 * writer's reservation may span the whole ring, which no reader might
	 * come to skip); else skipped */
	uint64_t end = pos + size;
	claim_hw_raise(c, end);
	if (!atomic_compare_exchange_strong_explicit(&c->claim, &end, pos, memory_order_seq_cst,
						     memory_order_relaxed))
		eshm_claim_skip(ring, cap, salt, pos, size);
}
