/* ring-read.c - the reading side of a channel's ring: a reader of a consumer group. */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "eshm-int.h"

/* Memory ordering: see ring-write.c. A record is read only after its tag
 * (acquire) says it is committed; releasing stores the group's release
 * point and kept (seq_cst, for the Dekker pair of wait.c) only after the
 * released bytes were read.
 *
 * A reader reads its batch (struct eshm_batch): committed records it took
 * from its group's next with a CAS, [tail, bend). When it has read them
 * all it takes more: a batch some reader of the group returned, first,
 * else the records after next; while it holds records it did not release,
 * only those right after them (next == bend), so that its batch stays one
 * range. Alone in its group (no other batch counts in holders), it takes
 * bigger batches, and its tail is the group's release point: one CAS per
 * refill is all that sharing costs it. */

static void save_undo(struct rside *r);
static int peek_chunk(struct eshm *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms,
		      bool take_eos);
static int rrefresh(struct eshm *h);

int
eshm_rside_init(struct eshm *h, int ch)
{
	struct rside *r = &h->r;
	r->c = &h->hdr->chan[ch];
	r->grp = &h->hdr->group[ch][r->group];
	r->b = &h->hdr->batch[ch][h->rend % SLOTS_PER_CHAN - SLOT_R];
	r->ring = h->base + h->g.off[ch];
	r->cap = h->g.cap[ch];
	r->salt = h->hdr->salt;
	uint64_t nx, hd;
	for (int tries = 0;; tries++) {
		/* (others may go a lap further between the two loads: look again) */
		nx = atomic_load_explicit(&r->grp->next, memory_order_acquire);
		hd = atomic_load_explicit(&r->c->claim, memory_order_acquire);
		if (span_ok(hd, nx, r->cap))
			break;
		if (tries == 100)
			return eshm_corrupt(h, ch, "claim/group next out of range", hd, nx);
	}
	/* our batch: empty, or the one of the stale reader we took over */
	uint64_t st = eshm_batch_start(r->b, r->grp);
	uint64_t en = atomic_load_explicit(&r->b->end, memory_order_relaxed);
	r->skip = r->skipmsgs = 0;
	if (st < en && st < nx) {
		if (en > nx)
			en = nx;
		if (!span_ok(hd, st, r->cap))
			return eshm_corrupt(h, ch, "batch out of range", st, en);
		if (atomic_load_explicit(&r->b->skip_pos, memory_order_acquire) == st) {
			uint64_t sw = atomic_load_explicit(&r->b->skip_word, memory_order_relaxed);
			r->skip = (uint32_t)sw;
			r->skipmsgs = (uint32_t)(sw >> 32);
		}
		r->tail = st;
		r->bend = en;
	} else {
		r->tail = r->bend = nx;
	}
	r->shared = true; /* until our first batch says otherwise */
	r->head = hd;
	r->eos_seen = atomic_load_explicit(&r->grp->eos_epoch, memory_order_relaxed);
	r->swept_at = 0;
	r->lost_since = 0;
	memset(&r->n, 0, sizeof r->n);
	eshm_rewind(h);
	return 0;
}

void
eshm_rewind(eshm_t *h)
{
	if (h->tend >= 0 || h->peeking) {
		eshm_tap_rewind(h);
		return;
	}
	struct rside *r = &h->r;
	r->cur = r->tail;
	r->curoff = r->skip;
	r->curmsgs = r->skipmsgs;
	r->peeked = 0;
	r->peekmsgs = 0;
	r->undo.valid = false;
}

int
eshm_unpeek(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->tend >= 0 || h->peeking)
		return eshm_tap_unpeek(h);
	struct rside *r = &h->r;
	if (!r->undo.valid)
		return eshm_seterr(h, ESHM_EINVAL, "nothing to take back");
	r->cur = r->undo.cur;
	r->curoff = r->undo.curoff;
	r->curmsgs = r->undo.curmsgs;
	r->peeked = r->undo.peeked;
	r->peekmsgs = r->undo.peekmsgs;
	r->undo.valid = false;
	return 0;
}

static void
save_undo(struct rside *r)
{
	r->undo.cur = r->cur;
	r->undo.curoff = r->curoff;
	r->undo.curmsgs = r->curmsgs;
	r->undo.peeked = r->peeked;
	r->undo.peekmsgs = r->peekmsgs;
	r->undo.valid = true;
}

/* Reload the claim position; 0 or ESHM_ECORRUPT. It may have gone back
 * since we last looked (a sole writer gives back the end of a reservation
 * it did not use), never below our cursor: we pass only committed
 * records, and a reservation is given back before its record commits. */
static int
rrefresh(struct eshm *h)
{
	struct rside *r = &h->r;
	for (int tries = 0;; tries++) {
		bool held = r->tail != r->bend;
		if (!held) {
			/* Holding nothing, our place is the group's next, where our
			 * next batch starts (others took what was before it).
			 * Loaded before the claim: records are taken only once
			 * claimed. */
			uint64_t n = atomic_load_explicit(&r->grp->next, memory_order_acquire);
			if (n > r->bend) {
				r->tail = r->cur = r->bend = n;
				r->skip = r->skipmsgs = r->curoff = r->curmsgs = 0;
			} else if (n < r->bend) {
				/* we took up to bend from next, or adopted a batch
				 * below it, and next only grows */
				return eshm_corrupt(h, slot_chan(h->rend), "group next went back",
						    n, r->bend);
			}
		}
		uint64_t hd = atomic_load_explicit(&r->c->claim, memory_order_seq_cst);
		if (hd >= r->bend && span_ok(hd, r->tail, r->cap)) {
			r->head = hd;
			return 0;
		}
		/* Holding nothing, we may have been preempted between the two
		 * loads while the others went more than a lap further: look
		 * again. Holding a batch, the ring cannot pass it. */
		if (held || tries == 100)
			return eshm_corrupt(h, slot_chan(h->rend), "claim moved out of range", hd,
					    r->tail);
	}
}

/* Read and check the committed record at pos (< head). */
static int
rec_at(struct eshm *h, uint64_t pos, struct eshm_rec *out)
{
	struct rside *r = &h->r;
	out->len = out->info = 0;
	const char *why =
		rec_at_invalid(r->ring, ring_off(pos, r->cap), r->cap, r->head - pos, out);
	/* The claim we saw may be older than the record: one that was given
	 * back (see rrefresh) and claimed again, further, by the record we
	 * now see committed. Its claim was made before its commit: look again,
	 * and check the record again, from a fresh copy. */
	if (why && rec_size(out) > r->head - pos && rrefresh(h) == 0)
		why = rec_at_invalid(r->ring, ring_off(pos, r->cap), r->cap, r->head - pos, out);
	return why ? eshm_corrupt(h, slot_chan(h->rend), why, pos, out->len) : 0;
}

/* Whether the stream ended and we have not delivered its end. */
static bool
end_pending(const struct rside *r)
{
	return atomic_load_explicit(&r->c->ended, memory_order_acquire) &&
	       r->eos_seen != atomic_load_explicit(&r->c->end_epoch, memory_order_relaxed);
}

/* Whether our group has nothing left for anyone: every record claimed was
 * taken, none is to be delivered again, and no other reader of the group
 * holds a batch (it could die and return it). */
static bool
group_drained(struct eshm *h)
{
	struct rside *r = &h->r;
	if (atomic_load_explicit(&r->grp->next, memory_order_acquire) != r->head ||
	    atomic_load_explicit(&r->grp->returned, memory_order_acquire))
		return false;
	if (atomic_load_explicit(&r->grp->holders, memory_order_acquire) <= 1)
		return true;
	int ch = slot_chan(h->rend);
	for (int k = 0; k < ESHM_READERS; k++) {
		struct eshm_batch *b = &h->hdr->batch[ch][k];
		if (b == r->b ||
		    atomic_load_explicit(&b->state, memory_order_acquire) == BATCH_NONE ||
		    atomic_load_explicit(&b->group, memory_order_relaxed) != (uint32_t)r->group)
			continue;
		uint64_t st = eshm_batch_start(b, r->grp);
		if (st < atomic_load_explicit(&b->end, memory_order_relaxed) && st < r->head)
			return false;
	}
	return true;
}

/* 1 when the group has records beyond next, a returned batch, or the end
 * of the stream for us */
static int
data_ready(struct eshm *h)
{
	int r = rrefresh(h);
	if (r)
		return r;
	struct rside *rs = &h->r;
	if (rs->head == atomic_load_explicit(&rs->grp->next, memory_order_acquire) &&
	    !atomic_load_explicit(&rs->grp->returned, memory_order_acquire) &&
	    !(end_pending(rs) && group_drained(h)))
		return 0;
	rs->lost_since = 0;
	return 1;
}

/* Our descriptor's reader found nothing (a read with timeout 0): empty
 * its FIFO, raise data_wait, and look again, as a sleeper does before it
 * sleeps (wait.c): a commit after this look sees the flag and writes the
 * FIFO; one before it is seen here, and we write the FIFO ourselves. The
 * look is at the claim, whose store pairs with the flag's load (a record
 * claimed and not yet committed counts: its commit may load the flag
 * before our store). */
static void
rearm(struct eshm *h)
{
	eshm_poll_drain(&h->pr);
	atomic_store_explicit(&h->r.c->data_wait, 1, memory_order_seq_cst);
	if (data_ready(h))
		eshm_poll_ready(&h->pr);
}

/* A poll (polled) found nothing: that re-arms our descriptor. */
static int
data_expired(struct eshm *h, bool polled)
{
	if (polled && h->pr.fd >= 0)
		rearm(h);
	if (polled)
		return eshm_seterr(h, ESHM_ETIMEDOUT, "no data");
	return eshm_seterr(h, ESHM_ETIMEDOUT, "nothing arrived on channel %s of %s",
			   eshm_chan_name(slot_chan(h->rend)), h->name);
}

/* Whether the stream is lost: no writer attached, and one died (or failed)
 * attached since the stream began. */
static bool
stream_lost(struct eshm *h)
{
	int base = slot_chan(h->rend) * SLOTS_PER_CHAN + SLOT_W;
	if (eshm_locked_in(h->fd, base, ESHM_WRITERS) != -1)
		return false;
	for (int s = base; s < base + ESHM_WRITERS; s++)
		if (atomic_load_explicit(&h->hdr->slot[s].pid, memory_order_relaxed) &&
		    eshm_end_probe(h->fd, s) == 0)
			return true;
	return false;
}

/* With other readers in the group (or batches to deliver again), look for
 * readers of the channel that died: what they held goes back to their
 * groups. At most every 50 ms: it costs a system call per reader. */
static int
sweep(struct eshm *h, int64_t now)
{
	struct rside *r = &h->r;
	if (atomic_load_explicit(&r->grp->holders, memory_order_relaxed) <= 1 ||
	    now - r->swept_at < 50 * 1000000LL)
		return 0;
	r->swept_at = now;
	int rc = eshm_lock(h, LOCK_EX);
	if (rc)
		return rc;
	eshm_readers_sweep(h, slot_chan(h->rend));
	flock(h->fd, LOCK_UN);
	return 0;
}

/* After a whole slice with no data: is our name still ours, did a reader
 * of the group die, and is the stream lost? (Asked only then: it costs system calls, lstat and
 * F_OFD_GETLK, which a sleeping handoff on a shared core would pay every
 * time.) Give up with ESHM_EWRITERLOST once it has been lost for
 * max_retries * retry_ms with no new writer. */
static int
data_idle(struct eshm *h, int64_t now)
{
	struct rside *r = &h->r;
	int rc = eshm_still_named(h);
	if (rc)
		return rc;
	if ((rc = sweep(h, now)))
		return rc;
	if (!stream_lost(h)) {
		r->lost_since = 0;
		return 0;
	}
	if (!r->lost_since)
		r->lost_since = now;
	int64_t limit = (int64_t)h->cfg.max_retries * h->cfg.retry_ms * 1000000;
	if (h->cfg.max_retries >= 0 && now - r->lost_since >= limit)
		return eshm_seterr(h, ESHM_EWRITERLOST,
				   "writer lost: a writer of channel %s of %s ended "
				   "without ending its stream (it died, failed or was "
				   "interrupted) and no new one came within %d ms",
				   eshm_chan_name(slot_chan(h->rend)), h->name,
				   h->cfg.max_retries * h->cfg.retry_ms);
	return 0;
}

/* How a reader waits for data: a record claimed beyond the cursor, or the
 * end of the stream. */
static struct eshm_waiter
data_waiter(struct eshm *h)
{
	return (struct eshm_waiter){
		.flag = &h->r.c->data_wait,
		.ready = data_ready,
		.idle = data_idle,
		.expired = data_expired,
		.spin = &h->spin_r,
		.end = h->rend,
		.peers = slot_chan(h->rend) * SLOTS_PER_CHAN + SLOT_W,
		.npeers = ESHM_WRITERS,
		.waits = &h->r.n.waits,
		/* (and a poller's: lowered by us, it would miss the next
		 * commit) */
		.shared_flag = atomic_load_explicit(&h->r.c->ngroups, memory_order_relaxed) > 1 ||
			       atomic_load_explicit(&h->r.c->ntaps, memory_order_relaxed) > 0 ||
			       atomic_load_explicit(&h->r.c->rpoll, memory_order_relaxed) != 0,
	};
}

static int
wait_data(struct eshm *h, int64_t deadline)
{
	struct eshm_waiter wt = data_waiter(h);
	return eshm_wait(h, &wt, deadline);
}

/* eshm_spin's reading side: readers of a consumer group, as eshm_fileno. */
int
eshm_spin_data(struct eshm *h)
{
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not read in a consumer group");
	if (!eshm_owns(h, h->rend))
		return eshm_not_owned(h, h->rend);
	struct eshm_waiter wt = data_waiter(h);
	return eshm_spin_only(h, &wt);
}

/*
 * The record at the cursor is claimed, not yet committed. Its writer is
 * copying it in (wait: spin a little, then yield, then sleep in short
 * slices, as a writer preempted in the middle may take a scheduler slice),
 * or died (skip it: nobody ever waits for a dead writer).
 */
#define COMMIT_SLEEP_NS 1000000LL
#define COMMIT_YIELDS 1000

static int
wait_commit(struct eshm *h, int64_t *deadline, int timeout_ms)
{
	struct rside *r = &h->r;
	int ch = slot_chan(h->rend), rc;
	for (unsigned round = 0;; round++) {
		if (rec_committed(r->ring, r->cap, r->cur, r->salt))
			return 0;
		/* the claim we saw may have been given back: then there is
		 * nothing to wait for here, but for data */
		if ((rc = rrefresh(h)))
			return rc;
		if (r->head == r->cur)
			return 0;
		if (round < 64) {
			for (int i = 0; i < 16; i++)
				eshm_cpu_relax();
			continue;
		}
		if (round < 64 + COMMIT_YIELDS) {
			sched_yield();
			continue;
		}
		uint32_t size;
		int who = eshm_claim_owner(h->fd, h->hdr, r->cap, r->salt, r->ring, ch, r->cur,
					   r->head, -1, &size);
		if (who == CLAIM_DEAD) {
			eshm_claim_skip(r->ring, r->cap, r->salt, r->cur, size);
			continue;
		}
		if (*deadline == -2)
			*deadline = eshm_deadline(timeout_ms);
		int64_t left = *deadline < 0 ? COMMIT_SLEEP_NS : *deadline - eshm_now_mono();
		if (*deadline >= 0 && left <= 0)
			return data_expired(h, timeout_ms == 0);
		if (h->cfg.interrupt && *h->cfg.interrupt)
			return eshm_seterr(h, -EINTR, "interrupted");
		atomic_store_explicit(&r->c->data_wait, 1, memory_order_seq_cst);
		if (!rec_committed(r->ring, r->cap, r->cur, r->salt)) {
			rc = eshm_futex_wait(&r->c->data_wait, 1,
					     left < COMMIT_SLEEP_NS ? left : COMMIT_SLEEP_NS);
			if (rc == -EINTR)
				return eshm_seterr(h, -EINTR, "interrupted");
		}
		if ((rc = eshm_end_check(h, h->rend)))
			return rc;
	}
}

/* The end of the stream, for us, when our group is drained and nothing is
 * peeked: decided under the flock, so that no writer attaches meanwhile.
 * Every reader of the group gets it (a pool ends together); the group
 * records that it was delivered, so that a reader coming later does not.
 * ESHM_EOF once, or 0 if it was not the end after all. */
static int
take_end(struct eshm *h)
{
	struct rside *r = &h->r;
	int rc = eshm_lock(h, LOCK_SH);
	if (rc)
		return rc;
	if (rrefresh(h) == 0 && r->cur == r->tail && r->tail == r->bend && end_pending(r) &&
	    group_drained(h)) {
		uint32_t e = atomic_load_explicit(&r->c->end_epoch, memory_order_relaxed);
		atomic_store_explicit(&r->grp->eos_epoch, e, memory_order_relaxed);
		r->eos_seen = e;
		rc = ESHM_EOF;
	}
	flock(h->fd, LOCK_UN);
	return rc;
}

/* Whether enough is free to wake writers asleep for room (see rpublish). */
static bool
room_to_wake(const struct rside *r)
{
	uint64_t cl = atomic_load_explicit(&r->c->claim, memory_order_relaxed);
	uint64_t k = atomic_load_explicit(&r->c->kept, memory_order_relaxed);
	return cl <= k || k + r->cap - cl >= r->cap / 4;
}

/*
 * The wakes of rpublish, apart and never inlined: rare, while rpublish
 * runs at every release, and inlined they had it keep one register more
 * saved at each call (measured: 64-byte throughput 0.97x).
 */
static __attribute__((noinline, cold)) void
wake_writers(struct eshm *h)
{
	struct rside *r = &h->r;
	atomic_store_explicit(&r->c->space_wait, 0, memory_order_relaxed);
	eshm_futex_wake(&r->c->space_wait);
	eshm_count_add(&r->n.wakes, 1);
	eshm_poll_kick(h, h->hdr, slot_chan(h->rend), POLL_SPACE);
}

static __attribute__((noinline, cold)) void
wake_group(struct eshm *h)
{
	struct rside *r = &h->r;
	atomic_store_explicit(&r->c->data_wait, 0, memory_order_relaxed);
	eshm_futex_wake(&r->c->data_wait);
	eshm_poll_kick(h, h->hdr, slot_chan(h->rend), POLL_DATA);
}

/* Store what we released in our batch and, alone in the group, as the
 * group's release point (with others, the least of all batches, once
 * ours is done); wake writers that sleep for space. */
static void
rpublish(struct eshm *h)
{
	struct rside *r = &h->r;
	int ch = slot_chan(h->rend);
	if (r->skip) {
		/* The skip applies only while skip_pos equals the start. Store
		 * the word before the position: a reader killed between the two
		 * leaves a position that does not match, so the record is
		 * delivered again whole (duplicates, never loss). */
		uint64_t sw = (uint64_t)r->skip | (uint64_t)r->skipmsgs << 32;
		atomic_store_explicit(&r->b->skip_word, sw, memory_order_release);
		atomic_store_explicit(&r->b->skip_pos, r->tail, memory_order_release);
		if (!r->shared) {
			atomic_store_explicit(&r->grp->skip_word, sw, memory_order_release);
			atomic_store_explicit(&r->grp->skip_pos, r->tail, memory_order_release);
		}
	}
	bool done = r->tail == r->bend && !r->skip;
	if (!r->shared) {
		/* Alone, the group's release point is our tail, exact: our
		 * batch's start is stored when it is done (one store fewer per
		 * message: 64-byte throughput 1.07x), and who reads it takes the
		 * greater of the two (eshm_batch_start). */
		/* with other groups, kept moves (and writers wake) at the end
		 * of our batch, and a writer that waits computes kept itself */
		bool only = eshm_group_released(h->hdr, ch, r->group, r->tail, done);
		/* Then the batch is empty, not before: a reader that joined
		 * the group meanwhile rescans the release point (the least
		 * start of non-empty batches, else next) and moves it past
		 * ours once it sees our batch empty; had it seen that before
		 * our store above, the store would take the release point
		 * back (found: two runners left a group's release point four
		 * jobs behind, which stayed queued for good). */
		if (done)
			atomic_store_explicit(&r->b->start, r->tail, memory_order_release);
		/* And one that joined while we read alone, and released what
		 * it took after our batch before we were done, left the
		 * release point at our batch (not empty then): now that it
		 * is, move it on ourselves. A reader that joins counts itself
		 * in holders (seq_cst) before it takes anything: if we miss
		 * it here, its rescans come after our stores and see them. */
		if (done && atomic_load_explicit(&r->grp->holders, memory_order_seq_cst) > 1)
			eshm_group_rescan(h->hdr, ch, r->group);
		if (!only && !done)
			return;
	} else if (done) {
		/* Our batch is empty now: seq_cst, as the rescans of two readers
		 * finishing at once must not both miss the other's store (each
		 * would hold the release point at the other's batch). */
		atomic_store_explicit(&r->b->start, r->tail, memory_order_seq_cst);
		eshm_group_rescan(h->hdr, ch, r->group);
	} else {
		atomic_store_explicit(&r->b->start, r->tail, memory_order_release);
		return;
	}
	/* Writers asleep for room are woken once a quarter of the ring is
	 * free, or everything is: not at every message, which would have
	 * them take turns at each freed record, every one a system call (four
	 * writers on two cores made a wake per 50 messages). With less free,
	 * more is queued, which we are about to release. */
	if (atomic_load_explicit(&r->c->space_wait, memory_order_seq_cst) && room_to_wake(r))
		wake_writers(h);
	/* the last batch of an ended stream: readers of the group waiting
	 * for the others to finish may end now */
	if (r->shared && atomic_load_explicit(&r->c->ended, memory_order_relaxed) &&
	    atomic_load_explicit(&r->c->data_wait, memory_order_relaxed))
		wake_group(h);
}

/* Set our (empty) batch at pos: nothing held. */
static void
batch_empty(struct rside *r, uint64_t pos)
{
	atomic_store_explicit(&r->b->end, pos, memory_order_seq_cst);
	atomic_store_explicit(&r->b->start, pos, memory_order_seq_cst);
	r->tail = r->cur = r->bend = pos;
	r->skip = r->skipmsgs = r->curoff = r->curmsgs = 0;
}

/* Take a batch a reader of the group returned; 1 if one was. */
static int
adopt(struct eshm *h)
{
	struct rside *r = &h->r;
	uint64_t st, en, sw;
	int rc = eshm_lock(h, LOCK_EX);
	if (rc)
		return rc;
	int got = eshm_batch_adopt(h, &st, &en, &sw);
	flock(h->fd, LOCK_UN);
	if (got <= 0)
		return got;
	if (rrefresh(h) == 0 && (st >= en || en > r->head || !span_ok(r->head, st, r->cap)))
		return eshm_corrupt(h, slot_chan(h->rend), "returned batch out of range", st, en);
	r->tail = r->cur = st;
	r->bend = en;
	r->skip = r->curoff = (uint32_t)sw;
	r->skipmsgs = r->curmsgs = (uint32_t)(sw >> 32);
	r->shared = true;
	return 1;
}

/* Bounds of a batch: while others share the group, small enough that the
 * work spreads, big enough that the CAS on next is rare; alone, what the
 * walk over its headers (read again right after) keeps in the cache. */
#define BATCH_MSGS 64
#define BATCH_MSGS_ALONE 512

/* The messages a batch may take: the library's bound, or fewer as the
 * caller asked (batch_msgs), counting those it holds already (peeked,
 * not released); at least one record. */
static uint64_t
batch_limit(const struct eshm *h, bool alone)
{
	uint64_t lim = alone ? BATCH_MSGS_ALONE : BATCH_MSGS;
	unsigned want = h->cfg.batch_msgs;
	if (want) {
		uint64_t have = h->r.peekmsgs;
		uint64_t left = want > have ? want - have : 1;
		if (left < lim)
			lim = left;
	}
	return lim;
}

/*
 * Our batch is read to its end (cur == bend): take more. 1 when we have
 * more, 0 when there is none now (the caller waits, or returns), or an
 * error. Waits (deadline, timeout_ms) only for a claimed record at next
 * to be committed.
 */
static int
take_batch(struct eshm *h, int64_t *deadline, int timeout_ms)
{
	struct rside *r = &h->r;
	int ch = slot_chan(h->rend), rc;
	bool held = r->tail != r->bend;
	if (!held && atomic_load_explicit(&r->grp->returned, memory_order_acquire) &&
	    (rc = adopt(h)) != 0)
		return rc;
	for (;;) {
		/* (holding nothing, this moves us to the group's next) */
		if ((rc = rrefresh(h)))
			return rc;
		uint64_t n = r->bend;
		if (held && atomic_load_explicit(&r->grp->next, memory_order_acquire) != n)
			return 0; /* what follows went to another reader */
		if (n == r->head)
			return 0;
		if (!span_ok(r->head, n, r->cap))
			return eshm_corrupt(h, ch, "group next out of range", n, r->head);
		if (!rec_committed(r->ring, r->cap, n, r->salt)) {
			if ((rc = wait_commit(h, deadline, timeout_ms)))
				return rc;
			continue;
		}
		/* the committed records at next, as many as a batch takes */
		bool alone = atomic_load_explicit(&r->grp->holders, memory_order_acquire) <= 1;
		uint64_t e = n, msgs = 0, maxb = alone ? r->cap / 4 : r->cap / 8;
		uint64_t lim = batch_limit(h, alone);
		while (e < r->head && rec_committed(r->ring, r->cap, e, r->salt)) {
			struct eshm_rec rec;
			if (rec_at_invalid(r->ring, ring_off(e, r->cap), r->cap, r->head - e,
					   &rec)) {
				/* taken, released and written over since we looked? */
				if (atomic_load_explicit(&r->grp->next, memory_order_acquire) != n)
					break;
				if ((rc = rec_at(h, e, &rec)))
					return rc;
			}
			e += rec_size(&rec);
			msgs += rec_kind(&rec) == REC_MSG     ? 1
				: rec_kind(&rec) == REC_DELIM ? rec_nmsgs(&rec)
							      : 0;
			if (msgs >= lim || e - n >= maxb)
				break;
		}
		if (e == n)
			continue;
		/* Announce, then take (see eshm_group_rescan): the CAS releases
		 * the announcement to whoever loads next, and a rescan that
		 * loads an older next holds the release point below n anyway;
		 * so plain stores, whatever order a rescan sees them in. */
		if (held) {
			atomic_store_explicit(&r->b->end, e, memory_order_relaxed);
		} else {
			atomic_store_explicit(&r->b->skip_pos, UINT64_MAX, memory_order_relaxed);
			atomic_store_explicit(&r->b->end, e, memory_order_relaxed);
			atomic_store_explicit(&r->b->start, n, memory_order_relaxed);
		}
		if (atomic_compare_exchange_strong_explicit(
			    &r->grp->next, &n, e, memory_order_acq_rel, memory_order_relaxed)) {
			r->bend = e;
			/* a reader that joined took its first batch after adding
			 * itself to holders: if that was before ours, the CAS
			 * chain makes its count visible here */
			r->shared =
				atomic_load_explicit(&r->grp->holders, memory_order_acquire) > 1;
			return 1;
		}
		/* another reader took it first */
		if (held) {
			atomic_store_explicit(&r->b->end, r->bend, memory_order_seq_cst);
			return 0;
		}
		/* withdrawn: a rescan meanwhile may have held the release point
		 * at our announcement, so look again */
		batch_empty(r, r->tail);
		eshm_group_rescan(h->hdr, ch, r->group);
	}
}

int
eshm_peek_chunk(eshm_t *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms)
{
	return peek_chunk(h, ck, max_msgs, timeout_ms, true);
}

int
eshm_fileno(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->pr.fd >= 0)
		return h->pr.fd;
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND,
				   "this handle does not read in a consumer group (a tap or a "
				   "peek has no descriptor)");
	int rc = eshm_poll_open(h, h->rend, &h->pr);
	if (rc)
		return rc > 0 ? eshm_not_owned(h, h->rend) : rc;
	rearm(h);
	return h->pr.fd;
}

/* take_eos: take the end of the stream when it is met with nothing peeked
 * before it; otherwise it is only reported, and stays for the next call. */
static int
peek_chunk(struct eshm *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms, bool take_eos)
{
	if (!h)
		return ESHM_EINVAL;
	if (!ck)
		return eshm_seterr(h, ESHM_EINVAL, "no chunk to fill");
	if (h->tend >= 0 || h->peeking)
		return eshm_tap_peek_chunk(h, ck, max_msgs, timeout_ms);
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not read");
	struct rside *r = &h->r;
	int ch = slot_chan(h->rend);
	int64_t deadline = -2;
	int rc;
	for (;;) {
		/* a new batch: a displaced reader hands nothing more on */
		if (!r->peekmsgs && !eshm_owns(h, h->rend))
			return eshm_not_owned(h, h->rend);
		if (r->cur == r->bend) {
			/* (with messages peeked, only records committed already) */
			int to = r->peekmsgs ? 0 : timeout_ms;
			if ((rc = take_batch(h, &deadline, to)) < 0)
				return rc;
			if (rc)
				continue;
			if (r->tail != r->bend && timeout_ms == 0 && h->pr.fd >= 0)
				rearm(h);
			if (r->tail != r->bend)
				return eshm_seterr(
					h, ESHM_ETIMEDOUT,
					r->bend == atomic_load_explicit(&r->grp->next,
									memory_order_relaxed)
						? "no data"
						: "no more data for this reader: what "
						  "follows went to other readers of its "
						  "group (release what was peeked)");
			if (end_pending(r) && group_drained(h)) {
				if (r->peeked || r->peekmsgs || !take_eos)
					return ESHM_EOF;
				if ((rc = take_end(h)))
					return rc;
				continue;
			}
			if (deadline == -2)
				deadline = eshm_deadline(timeout_ms);
			if (timeout_ms == 0)
				return data_expired(h, true);
			if ((rc = wait_data(h, deadline)))
				return rc;
			continue;
		}
		struct eshm_rec rec;
		if ((rc = rec_at(h, r->cur, &rec)))
			return rc;
		uint64_t off = ring_off(r->cur, r->cap);
		uint64_t size = rec_size(&rec);
		const unsigned char *payload = r->ring + off + REC_HDR;
		switch (rec_kind(&rec)) {
		case REC_PAD:
		case REC_SKIP:
		case REC_TIME:
			r->cur += size;
			r->curoff = r->curmsgs = 0;
			if (!r->peeked && !r->peekmsgs) {
				/* release filler at once: a writer may be waiting
				 * for exactly that space */
				r->tail = r->cur;
				r->skip = r->skipmsgs = 0;
				rpublish(h);
			}
			continue;
		case REC_MSG:
			save_undo(r);
			if (r->curoff > rec.len)
				return eshm_corrupt(h, ch, "skip beyond record", r->cur, r->curoff);
			ck->data = payload + r->curoff;
			ck->len = rec.len - r->curoff;
			ck->nmsgs = 1;
			ck->delim = -1;
			ck->framing = rec_framing(&rec);
			r->cur += size;
			r->curoff = r->curmsgs = 0;
			r->peeked += ck->len;
			r->peekmsgs++;
			return 0;
		case REC_DELIM: {
			uint32_t n = rec_nmsgs(&rec);
			if (r->curoff >= rec.len || r->curmsgs >= n)
				return eshm_corrupt(h, ch, "skip beyond record", r->cur, r->curoff);
			save_undo(r);
			int d = eshm_framing_delim(rec_framing(&rec));
			const unsigned char *p = payload + r->curoff;
			size_t left = rec.len - r->curoff;
			ck->data = p;
			ck->delim = d;
			ck->framing = rec_framing(&rec);
			if (max_msgs && max_msgs < n - r->curmsgs) {
				/* stop after max_msgs delimiters, inside the record */
				size_t len = 0;
				for (size_t i = 0; i < max_msgs; i++) {
					const unsigned char *q = memchr(p + len, d, left - len);
					if (!q)
						return eshm_corrupt(h, ch, "message count too high",
								    r->cur, n);
					len = (size_t)(q - p) + 1;
				}
				ck->len = len;
				ck->nmsgs = max_msgs;
				r->curoff += (uint32_t)len;
				r->curmsgs += (uint32_t)max_msgs;
			} else {
				ck->len = left;
				ck->nmsgs = n - r->curmsgs;
				r->cur += size;
				r->curoff = r->curmsgs = 0;
			}
			r->peeked += ck->len;
			r->peekmsgs += ck->nmsgs;
			return 0;
		}
		}
	}
}

int
eshm_consume(eshm_t *h, size_t nbytes)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->tend >= 0 || h->peeking)
		return eshm_tap_consume(h, nbytes);
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not read");
	if (!eshm_owns(h, h->rend))
		return eshm_not_owned(h, h->rend);
	struct rside *r = &h->r;
	if (nbytes == SIZE_MAX || nbytes == r->peeked) {
		/* everything peeked, including empty messages and padding */
		if (r->cur == r->tail && r->curoff == r->skip)
			return 0;
		uint64_t msgs = r->peekmsgs, bytes = r->peeked;
		r->tail = r->cur;
		r->skip = r->curoff;
		r->skipmsgs = r->curmsgs;
		r->peeked = r->peekmsgs = 0;
		r->undo.valid = false;
		rpublish(h);
		eshm_count_add(&r->n.msgs, msgs);
		eshm_count_add(&r->n.bytes, bytes);
		return 0;
	}
	if (nbytes > r->peeked)
		return eshm_seterr(h, ESHM_EINVAL, "release of %zu bytes, only %llu peeked", nbytes,
				   (unsigned long long)r->peeked);
	/* A prefix: only after a failed write, so walking the records again
	 * costs nothing that matters. */
	uint64_t msgs = 0, bytes = 0;
	int rc = 0;
	while (nbytes > 0) {
		struct eshm_rec rec;
		if ((rc = rec_at(h, r->tail, &rec)))
			break;
		uint64_t size = rec_size(&rec);
		unsigned kind = rec_kind(&rec);
		if (kind == REC_PAD || kind == REC_SKIP || kind == REC_TIME) {
			r->tail += size;
			r->skip = r->skipmsgs = 0;
			continue;
		}
		if (r->skip > rec.len) {
			rc = eshm_seterr(h, ESHM_EINVAL, "release past the peeked data");
			break;
		}
		uint64_t rem = rec.len - r->skip;
		uint32_t n = kind == REC_MSG ? 1 : rec_nmsgs(&rec);
		if (nbytes >= rem) {
			nbytes -= rem;
			bytes += rem;
			msgs += n > r->skipmsgs ? n - r->skipmsgs : 0;
			r->tail += size;
			r->skip = r->skipmsgs = 0;
			continue;
		}
		/* part of a record: a whole number of messages, or raw bytes */
		const unsigned char *p = r->ring + ring_off(r->tail, r->cap) + REC_HDR + r->skip;
		if (kind == REC_DELIM) {
			int d = eshm_framing_delim(rec_framing(&rec));
			if (p[nbytes - 1] != (unsigned char)d) {
				rc = eshm_seterr(h, ESHM_EINVAL, "release ends inside a message");
				break;
			}
			uint32_t k = (uint32_t)eshm_count_byte(p, nbytes, d);
			r->skipmsgs += k;
			msgs += k;
		} else if (rec_framing(&rec) != ESHM_FRAMING_RAW) {
			rc = eshm_seterr(h, ESHM_EINVAL, "release ends inside a message");
			break;
		}
		r->skip += (uint32_t)nbytes;
		bytes += nbytes;
		nbytes = 0;
	}
	if (bytes || msgs) {
		rpublish(h);
		eshm_count_add(&r->n.msgs, msgs);
		eshm_count_add(&r->n.bytes, bytes);
	}
	/* what was peeked beyond the released prefix will be peeked again */
	eshm_rewind(h);
	return rc;
}

int
eshm_peek(eshm_t *h, const void **ptr, size_t *len, int timeout_ms)
{
	struct eshm_chunk ck = {0}; /* (filled when 0 is returned; the compiler cannot tell) */
	if (!h)
		return ESHM_EINVAL;
	if (!ptr || !len)
		return eshm_seterr(h, ESHM_EINVAL, "no pointer for the message or its length");
	eshm_rewind(h);
	int rc = eshm_peek_chunk(h, &ck, 1, timeout_ms);
	if (rc)
		return rc;
	*ptr = ck.data;
	*len = ck.delim >= 0 ? ck.len - 1 : ck.len;
	return 0;
}

int
eshm_release(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->tend >= 0 || h->peeking) {
		if (h->t.cur == h->t.off)
			return eshm_seterr(h, ESHM_EINVAL, "nothing peeked");
		return eshm_tap_consume(h, SIZE_MAX);
	}
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not read");
	if (h->r.peekmsgs == 0)
		return eshm_seterr(h, ESHM_EINVAL, "nothing peeked");
	return eshm_consume(h, SIZE_MAX);
}

/* Alone in the group, our batch read and released: take the records
 * committed after it, as take_batch does, without its detours (a reader
 * that keeps up with its writer refills at nearly every message). false
 * when this does not apply: the general path then decides. */
static bool
fast_refill(struct eshm *h)
{
	struct rside *r = &h->r;
	uint64_t n = r->bend;
	uint64_t hd = r->head;
	if (hd <= n)
		hd = atomic_load_explicit(&r->c->claim, memory_order_seq_cst);
	if (hd <= n || !span_ok(hd, n, r->cap) ||
	    atomic_load_explicit(&r->grp->returned, memory_order_relaxed))
		return false;
	/* The records' tags and lengths only: what each holds is checked
	 * as it is read (fast_read, or the general path, which says why a
	 * record is bad). A batch ends before a record that is not
	 * committed or runs past the claim or the ring. */
	const unsigned char *ring = r->ring;
	const uint64_t cap = r->cap, salt = r->salt, lim = n + cap / 4 < hd ? n + cap / 4 : hd;
	uint64_t e = n;
	if (n % REC_ALIGN)
		return false;
	for (uint64_t recs = 0, most = batch_limit(h, true); e < lim && recs < most; recs++) {
		/* The headers are a chain of loads, each from a line the
		 * writer's core wrote: fetch the lines 2 KiB ahead meanwhile,
		 * so that their misses overlap (a prefetch never faults, and
		 * the offset stays in the ring). 64-byte throughput against
		 * the reader before batches (eshm-bench, interleaved, medians
		 * of 7): 0.69x without, 0.70x prefetching only below the
		 * claim, 0.85x past it too (lines writers are about to fill
		 * come early as well); the same in a helper function measured
		 * 0.68x: the code's layout matters as much here. */
		__builtin_prefetch(ring + ring_off(e + 2048, cap));
		__builtin_prefetch(ring + ring_off(e + 2048 + 64, cap));
		uint64_t off = ring_off(e, cap);
		const struct eshm_rec *p = (const struct eshm_rec *)(ring + off);
		if (atomic_load_explicit(&p->tag, memory_order_acquire) != (e ^ salt))
			break;
		uint64_t len = p->len;
		if (off > cap - REC_HDR || len > cap - off - REC_HDR || rec_bytes(len) > hd - e)
			break;
		e += rec_bytes(len);
	}
	if (e == n)
		return false;
	atomic_store_explicit(&r->b->end, e, memory_order_relaxed);
	atomic_store_explicit(&r->b->start, n, memory_order_relaxed);
	if (!atomic_compare_exchange_strong_explicit(&r->grp->next, &n, e, memory_order_acq_rel,
						     memory_order_relaxed)) {
		/* not alone any more */
		atomic_store_explicit(&r->b->end, r->bend, memory_order_relaxed);
		r->shared = true;
		return false;
	}
	r->bend = e;
	r->head = hd;
	r->shared = atomic_load_explicit(&r->grp->holders, memory_order_acquire) > 1;
	return true;
}

/* A whole MSG record waiting at the tail, with nothing peeked: copy it out
 * and release it, checked as every record is. Its length, or -1 when this
 * short path does not apply (the general path then decides, and says why
 * a record is bad). */
static ssize_t
fast_read(struct eshm *h, void *buf, size_t cap)
{
	struct rside *r = &h->r;
	if (h->rend < 0 || r->cur != r->tail || r->skip || r->peekmsgs)
		return -1;
	if (r->tail == r->bend && (r->shared || !fast_refill(h)))
		return -1;
	uint64_t off = ring_off(r->tail, r->cap);
	struct eshm_rec rec;
	if (rec_at_invalid(r->ring, off, r->cap, r->bend - r->tail, &rec) ||
	    rec_kind(&rec) != REC_MSG || rec.len > cap)
		return -1;
	if (!eshm_owns(h, h->rend))
		return -1; /* the general path says why */
	if (rec.len)
		memcpy(buf, r->ring + off + REC_HDR, rec.len);
	r->tail += rec_size(&rec);
	r->cur = r->tail;
	r->curoff = r->curmsgs = 0;
	r->undo.valid = false;
	rpublish(h);
	eshm_count_add(&r->n.msgs, 1);
	eshm_count_add(&r->n.bytes, rec.len);
	return (ssize_t)rec.len;
}

ssize_t
eshm_read(eshm_t *h, void *buf, size_t cap, int timeout_ms)
{
	const void *p;
	size_t len;
	if (!h)
		return ESHM_EINVAL;
	if (cap && !buf)
		return eshm_seterr(h, ESHM_EINVAL, "no buffer for the message");
	ssize_t n = fast_read(h, buf, cap);
	if (n >= 0)
		return n;
	int rc = eshm_peek(h, &p, &len, timeout_ms);
	if (rc)
		return rc;
	if (len > cap) {
		eshm_rewind(h);
		return eshm_seterr(h, ESHM_ETRUNC, "message of %zu bytes, buffer of %zu", len, cap);
	}
	if (len)
		memcpy(buf, p, len);
	rc = eshm_release(h);
	return rc ? rc : (ssize_t)len;
}

ssize_t
eshm_read_batch(eshm_t *h, void *buf, size_t cap, uint32_t *lens, size_t max, int timeout_ms)
{
	if (!h)
		return ESHM_EINVAL;
	if (!lens || !max || (cap && !buf))
		return eshm_seterr(h, ESHM_EINVAL, "no buffer, lengths or room for a message");
	ssize_t n = eshm_read(h, buf, cap, timeout_ms);
	if (n < 0)
		return n;
	lens[0] = (uint32_t)n;
	size_t got = 1, off = (size_t)n;
	/* then only whole messages already there and fitting; an end-of-stream
	 * mark stops the batch and stays for the next call */
	while (got < max) {
		n = fast_read(h, (char *)buf + off, cap - off);
		if (n >= 0) {
			lens[got++] = (uint32_t)n;
			off += (size_t)n;
			continue;
		}
		/* a run of delimited messages (from eshm-send), or anything else */
		struct eshm_chunk ck;
		eshm_rewind(h);
		if (peek_chunk(h, &ck, max - got, 0, false))
			break;
		const unsigned char *p = ck.data, *end = p + ck.len;
		size_t before = got;
		if (ck.delim < 0) {
			if (ck.len <= cap - off) {
				memcpy((char *)buf + off, p, ck.len);
				lens[got++] = (uint32_t)ck.len;
				off += ck.len;
				p = end;
			}
		} else {
			while (p < end && got < max) {
				const unsigned char *q = memchr(p, ck.delim, (size_t)(end - p));
				size_t l = q ? (size_t)(q - p) : 0;
				if (!q || l > cap - off)
					break;
				memcpy((char *)buf + off, p, l);
				lens[got++] = (uint32_t)l;
				off += l;
				p = q + 1;
			}
		}
		if (got == before) {
			eshm_rewind(h);
			break;
		}
		/* release exactly what was copied: all of the chunk (empty
		 * messages included), or the messages before where we stopped */
		size_t used = (size_t)(p - (const unsigned char *)ck.data);
		if (eshm_consume(h, used == ck.len ? ESHM_ALL : used)) {
			got = before; /* not released: they will be read again */
			break;
		}
	}
	return (ssize_t)got;
}
