/* tap.c - looking without taking: taps on a live channel, and peek at what is pending. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eshm-int.h"

/*
 * A tap (ESHM_TAP) reads a channel without belonging to any consumer
 * group: it holds no space, so writers never wait for it, and what it
 * reads may be written over at any time. It therefore copies each record
 * into memory of its own, then looks at the claim position: the copy is
 * whole only if no writer claimed past the record's position + capacity
 * meanwhile (a writer claims before it writes, and claims only up to the
 * release point + capacity). A tap that finds its record written over
 * (it fell behind) skips to the release point, where the data is still
 * held for some group, and counts what it skipped. Chunks it hands out
 * point into its copy, valid until the next peek after a consume.
 *
 * A peek (ESHM_PEEK) is a tap on a read-only mapping with no slot: it
 * starts at a group's release point (or the channel's, the oldest
 * message held for any group) and ends, as at an end of stream, at the
 * first record not committed when it gets there or at the claim
 * position seen at open.
 */

/* What a record of len payload bytes stands for in messages. */
static uint64_t
rec_msgs(uint32_t info)
{
	struct eshm_rec r = {.info = info};
	return rec_kind(&r) == REC_DELIM ? rec_nmsgs(&r) : rec_kind(&r) == REC_MSG;
}

/* Delimiters d in n bytes at p (n is at most a record's length). */
static uint32_t
count_delims(const unsigned char *p, size_t n, int d)
{
	return (uint32_t)eshm_count_byte(p, n, d);
}

/* Skip from t->pos to the release point: what lies between was released
 * by every group and written over (or about to be). Messages skipped are
 * counted from the writers' counts (published every heartbeat). */
static void
skip_behind(struct eshm *h)
{
	struct tapper *t = &h->t;
	struct eshm_chan *c = &h->hdr->chan[t->ch];
	uint64_t k = atomic_load_explicit(&c->kept, memory_order_acquire);
	uint64_t cl = atomic_load_explicit(&c->claim, memory_order_acquire);
	/* not below what was claimed a ring ago, not above the claim */
	if (cl > t->cap && k < cl - t->cap)
		k = cl - t->cap;
	if (k > cl || k % REC_ALIGN)
		k = cl; /* scribbled: start again where writers are */
	if (k <= t->pos)
		return;
	struct eshm_channel_info ci;
	eshm_chan_snapshot(h->hdr, t->ch, &ci);
	/* messages in [pos, k): by the writers' counts, all messages committed
	 * so far less what we saw and what lies beyond k, which we estimate
	 * at the channel's mean record size */
	uint64_t in = ci.msgs_in - t->msgs_at_open, behind = t->seen_msgs;
	uint64_t est = 0;
	if (in > behind) {
		est = in - behind;
		uint64_t ahead = cl - k, all = cl - t->pos;
		if (all)
			est -= (uint64_t)((double)est * ((double)ahead / (double)all));
	}
	if (!est)
		est = 1; /* at least a record was lost */
	t->missed_bytes += k - t->pos;
	t->missed_msgs += est;
	t->seen_msgs += est; /* so that the next estimate starts after these */
	t->pos = k;
	if (t->line) {
		atomic_store_explicit(&t->line->missed_msgs, t->missed_msgs, memory_order_relaxed);
		atomic_store_explicit(&t->line->missed_bytes, t->missed_bytes,
				      memory_order_relaxed);
	}
	t->skipped = true;
}

/* Whether the claim position shows the record at pos intact: nobody
 * claimed past pos + capacity (so nobody wrote over it), now or in a
 * claim given back since (claim_hw: a writer may have written all of its
 * reservation and given part back). A claim_hw more than a ring beyond
 * the claim is none a writer made (it claims up to the release point +
 * capacity, and the release point never passes the claim): scribbled. */
static bool
intact(struct tapper *t, const struct eshm_chan *c, uint64_t pos)
{
	atomic_thread_fence(memory_order_acquire);
	uint64_t cl = atomic_load_explicit(&c->claim, memory_order_acquire);
	uint64_t hw = atomic_load_explicit(&c->claim_hw, memory_order_acquire);
	if (hw > cl && hw - cl <= t->cap)
		cl = hw;
	return cl <= pos + t->cap;
}

enum { FILL_OK = 1, FILL_NONE = 0 };

/*
 * Copy the next record into t->buf: FILL_OK, FILL_NONE when the record at
 * t->pos is not there yet (claimed and not committed, or not claimed), or
 * an error. Filler records are passed; a tap that fell behind skips.
 */
static int
fill(struct eshm *h)
{
	struct tapper *t = &h->t;
	struct eshm_chan *c = &h->hdr->chan[t->ch];
	const unsigned char *ring = h->base + h->g.off[t->ch];
	for (int rounds = 0;; rounds++) {
		if (rounds > 1000000)
			return eshm_seterr(h, ESHM_ECORRUPT,
					   "segment %s is corrupt: no record "
					   "boundary found on channel %s",
					   h->name, eshm_chan_name(t->ch));
		if (t->pos >= t->stop)
			return FILL_NONE;
		uint64_t cl = atomic_load_explicit(&c->claim, memory_order_acquire);
		if (cl == t->pos)
			return FILL_NONE;
		if (cl < t->pos || cl - t->pos > t->cap || t->pos % REC_ALIGN) {
			if (cl < t->pos && t->pos - cl < t->cap)
				return FILL_NONE; /* a reservation given back */
			skip_behind(h);
			continue;
		}
		uint64_t off = ring_off(t->pos, t->cap);
		const struct eshm_rec *p = (const struct eshm_rec *)(ring + off);
		if (atomic_load_explicit(&p->tag, memory_order_acquire) != (t->pos ^ t->salt)) {
			if (!intact(t, c, t->pos)) {
				skip_behind(h);
				continue;
			}
			return FILL_NONE; /* being written */
		}
		struct eshm_rec rec;
		const char *why = rec_at_invalid(ring, off, t->cap, cl - t->pos, &rec);
		if (why) {
			if (!intact(t, c, t->pos)) {
				skip_behind(h);
				continue;
			}
			return eshm_seterr(h, ESHM_ECORRUPT,
					   "segment %s is corrupt: channel %s: %s", h->name,
					   eshm_chan_name(t->ch), why);
		}
		uint64_t size = rec_size(&rec);
		unsigned kind = rec_kind(&rec);
		if (kind != REC_MSG && kind != REC_DELIM) {
			if (!intact(t, c, t->pos)) {
				skip_behind(h);
				continue;
			}
			t->pos += size;
			continue;
		}
		if (rec.len > t->bufcap) {
			unsigned char *nb = realloc(t->buf, rec.len);
			if (!nb)
				return eshm_seterr(h, -ENOMEM,
						   "out of memory for a copy of %u bytes", rec.len);
			t->buf = nb;
			t->bufcap = rec.len;
		}
		if (rec.len)
			memcpy(t->buf, ring + off + REC_HDR, rec.len);
		if (!intact(t, c, t->pos)) {
			skip_behind(h);
			continue;
		}
		/* the copy is ours now: check what the checks of rec_at_invalid
		 * could not see before it was copied */
		if (kind == REC_DELIM &&
		    t->buf[rec.len - 1] != (unsigned char)eshm_framing_delim(rec_framing(&rec)))
			return eshm_seterr(h, ESHM_ECORRUPT,
					   "segment %s is corrupt: channel %s: %s", h->name,
					   eshm_chan_name(t->ch), "bad delimited record");
		t->len = rec.len;
		t->info = rec.info;
		t->at = t->pos;
		t->off = t->cur = t->undo = 0;
		t->nmsgs = (uint32_t)rec_msgs(rec.info);
		t->offmsgs = t->curmsgs = t->undomsgs = 0;
		t->pos += size;
		if (t->at == t->skip_at && t->skip <= t->len) {
			t->off = t->cur = t->skip;
			if (kind == REC_DELIM)
				t->offmsgs = t->curmsgs = count_delims(
					t->buf, t->skip, eshm_framing_delim(rec_framing(&rec)));
			t->skip_at = UINT64_MAX;
		}
		t->have = true;
		if (t->line)
			atomic_store_explicit(&t->line->pos, t->pos, memory_order_relaxed);
		return FILL_OK;
	}
}

/* Waiting for a tap's data: a record at its position, or the end of the
 * stream. */
static bool
tap_end_pending(struct eshm *h)
{
	struct eshm_chan *c = &h->hdr->chan[h->t.ch];
	return atomic_load_explicit(&c->ended, memory_order_acquire) &&
	       h->t.eos_seen != atomic_load_explicit(&c->end_epoch, memory_order_relaxed) &&
	       atomic_load_explicit(&c->claim, memory_order_acquire) == h->t.pos;
}

static int
tap_ready(struct eshm *h)
{
	struct eshm_chan *c = &h->hdr->chan[h->t.ch];
	return atomic_load_explicit(&c->claim, memory_order_acquire) != h->t.pos ||
	       tap_end_pending(h);
}

static int
tap_idle(struct eshm *h, int64_t now)
{
	(void)now;
	return eshm_still_named(h);
}

static int
tap_expired(struct eshm *h, bool polled)
{
	if (polled)
		return eshm_seterr(h, ESHM_ETIMEDOUT, "no data");
	return eshm_seterr(h, ESHM_ETIMEDOUT, "nothing arrived on channel %s of %s",
			   eshm_chan_name(h->t.ch), h->name);
}

/* Wait for the record at our position to be committed (a writer copying
 * it in), or written over: yield a few times, then sleep until the commit
 * wakes us (a tap that kept yielding while the writer waits for a CPU
 * took, on two cores, the time the writer needed to commit). round counts
 * the looks so far. */
#define WRITTEN_YIELDS 16
#define WRITTEN_SLEEP_NS 1000000LL

static int
wait_written(struct eshm *h, unsigned round, int64_t deadline)
{
	struct tapper *t = &h->t;
	struct eshm_chan *c = &h->hdr->chan[t->ch];
	if (h->cfg.interrupt && *h->cfg.interrupt)
		return eshm_seterr(h, -EINTR, "interrupted");
	int64_t left = deadline < 0 ? WRITTEN_SLEEP_NS : deadline - eshm_now_mono();
	if (deadline >= 0 && left <= 0)
		return tap_expired(h, deadline == 0);
	if (round < WRITTEN_YIELDS) {
		sched_yield();
		return 0;
	}
	atomic_store_explicit(&c->data_wait, 1, memory_order_seq_cst);
	if (!rec_committed(h->base + h->g.off[t->ch], t->cap, t->pos, t->salt)) {
		int r = eshm_futex_wait(&c->data_wait, 1,
					left < WRITTEN_SLEEP_NS ? left : WRITTEN_SLEEP_NS);
		if (r == -EINTR)
			return eshm_seterr(h, -EINTR, "interrupted");
	}
	return 0; /* look again from the start */
}

int
eshm_tap_peek_chunk(struct eshm *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms)
{
	struct tapper *t = &h->t;
	if (h->tend >= 0 && !eshm_owns(h, h->tend))
		return eshm_not_owned(h, h->tend);
	int64_t deadline = -2;
	unsigned round = 0;
	while (!t->have || t->cur == t->len) {
		/* a copy partly peeked and not consumed stays: the chunks
		 * handed out point into it */
		if (t->have && t->cur != t->off)
			return eshm_seterr(h, ESHM_ETIMEDOUT,
					   "no more in this record: consume what was peeked");
		t->have = false;
		int r = fill(h);
		if (r < 0)
			return r;
		if (r == FILL_OK) {
			if (t->len == t->cur && rec_msgs(t->info) == 0)
				t->have = false;
			continue;
		}
		if (h->tend < 0)
			return ESHM_EOF; /* a peek ends at what was pending */
		if (tap_end_pending(h)) {
			t->eos_seen = atomic_load_explicit(&h->hdr->chan[t->ch].end_epoch,
							   memory_order_relaxed);
			return ESHM_EOF;
		}
		if (deadline == -2)
			deadline = eshm_deadline(timeout_ms);
		if (timeout_ms == 0)
			return tap_expired(h, true);
		struct eshm_chan *c = &h->hdr->chan[t->ch];
		if (atomic_load_explicit(&c->claim, memory_order_acquire) != t->pos) {
			/* claimed, not committed yet */
			if ((r = wait_written(h, round++, deadline)))
				return r;
			continue;
		}
		struct eshm_waiter wt = {
			.flag = &c->data_wait,
			.ready = tap_ready,
			.idle = tap_idle,
			.expired = tap_expired,
			.spin = &h->spin_r,
			.end = h->tend,
			.peers = t->ch * SLOTS_PER_CHAN + SLOT_W,
			.npeers = ESHM_WRITERS,
			.waits = &t->waits,
			.shared_flag = true,
		};
		if ((r = eshm_wait(h, &wt, deadline)))
			return r;
	}
	/* a chunk of the copy: the rest of a message record, or lines */
	struct eshm_rec rec = {.len = t->len, .info = t->info};
	ck->data = t->buf + t->cur;
	ck->framing = rec_framing(&rec);
	if (rec_kind(&rec) == REC_MSG) {
		ck->len = t->len - t->cur;
		ck->nmsgs = 1;
		ck->delim = -1;
	} else {
		/* the header's count spares a look at every message when
		 * the rest is taken; a count it belies is recounted */
		int d = eshm_framing_delim(rec_framing(&rec));
		size_t n = 0, end = t->cur;
		if (max_msgs == 0 || max_msgs >= (size_t)t->nmsgs - t->curmsgs) {
			end = t->len;
			n = t->nmsgs > t->curmsgs ? t->nmsgs - t->curmsgs
						  : count_delims(t->buf + t->cur, end - t->cur, d);
		}
		while (end < t->len && n < max_msgs) {
			const unsigned char *q = memchr(t->buf + end, d, t->len - end);
			end = q ? (size_t)(q - t->buf) + 1 : t->len;
			n++;
		}
		ck->len = end - t->cur;
		ck->nmsgs = n;
		ck->delim = d;
	}
	t->undo = t->cur;
	t->undomsgs = t->curmsgs;
	t->cur += (uint32_t)ck->len;
	t->curmsgs += (uint32_t)ck->nmsgs;
	return 0;
}

int
eshm_tap_consume(struct eshm *h, size_t nbytes)
{
	struct tapper *t = &h->t;
	size_t peeked = t->cur - t->off;
	if (nbytes == SIZE_MAX || nbytes >= peeked)
		nbytes = peeked;
	struct eshm_rec rec = {.len = t->len, .info = t->info};
	uint64_t msgs = 0;
	if (nbytes == peeked) {
		msgs = t->curmsgs - t->offmsgs;
	} else if (rec_kind(&rec) == REC_DELIM) {
		/* a prefix: only after a failed write */
		msgs = count_delims(t->buf + t->off, nbytes, eshm_framing_delim(rec_framing(&rec)));
	} else if (t->off + nbytes == t->len) {
		msgs = 1;
	}
	t->off += (uint32_t)nbytes;
	t->cur = t->off;
	t->offmsgs += (uint32_t)msgs;
	t->curmsgs = t->offmsgs;
	t->seen_msgs += msgs;
	eshm_count_add(&h->r.n.msgs, msgs);
	eshm_count_add(&h->r.n.bytes, nbytes);
	return 0;
}

void
eshm_tap_rewind(struct eshm *h)
{
	h->t.cur = h->t.off;
	h->t.curmsgs = h->t.offmsgs;
}

int
eshm_tap_unpeek(struct eshm *h)
{
	struct tapper *t = &h->t;
	if (t->undo < t->off || t->undo > t->cur)
		return eshm_seterr(h, ESHM_EINVAL, "nothing to take back");
	t->cur = t->undo;
	t->curmsgs = t->undomsgs;
	return 0;
}

/* Start reading channel ch as a tap (at the claim: what comes next) or a
 * peek (at start, up to stop). */
void
eshm_tap_init(struct eshm *h, int ch, uint64_t start, uint64_t stop, uint64_t skip_at,
	      uint32_t skip)
{
	struct tapper *t = &h->t;
	struct eshm_chan *c = &h->hdr->chan[ch];
	t->ch = ch;
	t->cap = h->g.cap[ch];
	t->salt = h->hdr->salt;
	t->pos = start;
	t->stop = stop;
	t->skip_at = skip_at;
	t->skip = skip;
	t->eos_seen = atomic_load_explicit(&c->ended, memory_order_acquire)
			      ? atomic_load_explicit(&c->end_epoch, memory_order_relaxed)
			      : UINT32_MAX;
	struct eshm_channel_info ci;
	eshm_chan_snapshot(h->hdr, ch, &ci);
	t->msgs_at_open = ci.msgs_in;
	t->line = NULL;
	if (h->tend >= 0) {
		t->line = &h->hdr->tap[ch][h->tend % SLOTS_PER_CHAN - SLOT_T];
		atomic_store_explicit(&t->line->pos, start, memory_order_relaxed);
		atomic_store_explicit(&t->line->missed_msgs, 0, memory_order_relaxed);
		atomic_store_explicit(&t->line->missed_bytes, 0, memory_order_relaxed);
	}
}

int
eshm_tap_missed(eshm_t *h, uint64_t *msgs, uint64_t *bytes)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->tend < 0 && !h->peeking)
		return eshm_seterr(h, ESHM_ENOEND, "this handle is no tap");
	if (msgs)
		*msgs = h->t.missed_msgs;
	if (bytes)
		*bytes = h->t.missed_bytes;
	return 0;
}
