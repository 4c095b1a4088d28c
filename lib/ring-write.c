/* ring-write.c - the writing side of a channel's ring: claims and commits, many writers at once. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#include "eshm-int.h"

/*
 * Memory ordering of the ring, for both sides (ring-read.c is the other):
 *
 * - Claiming. A writer announces its claim in its slot (release), then
 *   moves the channel's claim position with a CAS (seq_cst). Positions
 *   below claim are taken; readers look at a record there only once its tag
 *   says it is committed.
 * - Publication. The writer fills the record, then stores its tag with
 *   release semantics; a reader loads the tag with acquire before it reads
 *   the rest. So a reader sees a record only after all its bytes, and a
 *   writer killed half-way leaves a claim that is skipped, never read.
 * - Release. A reader finishes reading a record, then stores its group's
 *   release point and kept with release (seq_cst); a writer loads kept with
 *   acquire before it claims the space, so it never overwrites bytes a
 *   reader is still reading.
 * - Sleeping: the claim CAS and kept's store are one half of the Dekker
 *   pairs that wait.c explains; the writer looks at data_wait after its
 *   commit, the reader at space_wait after its release.
 *
 * Everything read from the shared header or a record (positions, lengths,
 * kinds, counts) is copied into a local, checked, and only then used; a
 * violation is ESHM_ECORRUPT, never an access outside the ring.
 *
 * A writer that is alone on its channel (exclusive, or the only one
 * attached) reserves straight in the ring, so eshm-send reads into it
 * with no copy, and gives back what it did not use; with others, a
 * reservation is staged in the handle and copied in at commit, so that no
 * claim is held while the caller fills it.
 */

/* Reload the release point; 0 or ESHM_ECORRUPT. Other writers move the
 * claim meanwhile, so it is checked against claims loaded before and
 * after: kept only grows and never passes the claim (a reservation given
 * back goes no lower than where it started, at or above kept), and no
 * claim reaches beyond kept + cap. So the one before is at most kept +
 * cap, and the one after at least kept. */
static int
wrefresh(struct eshm *h)
{
	struct wside *w = &h->w;
	uint64_t before = atomic_load_explicit(&w->c->claim, memory_order_relaxed);
	uint64_t k = atomic_load_explicit(&w->c->kept, memory_order_seq_cst);
	uint64_t after = atomic_load_explicit(&w->c->claim, memory_order_relaxed);
	if (k % REC_ALIGN || before % REC_ALIGN || after % REC_ALIGN || k > after ||
	    (before > k && before - k > w->cap))
		return eshm_corrupt(h, slot_chan(h->wend), "claim/release point out of range",
				    after, k);
	w->limit = k;
	return 0;
}

int
eshm_wside_init(struct eshm *h, int ch)
{
	struct wside *w = &h->w;
	w->c = &h->hdr->chan[ch];
	w->s = &h->hdr->slot[h->wend];
	w->ring = h->base + h->g.off[ch];
	w->cap = h->g.cap[ch];
	w->salt = h->hdr->salt;
	w->resv = UINT64_MAX;
	w->framing = h->cfg.framing;
	w->wrote = false;
	memset(&w->n, 0, sizeof w->n);
	const char *k = getenv("ESHM_TEST_KILL_AT");
	w->kill_at = k ? strtoull(k, NULL, 10) : 0;
	/* what we write is claimed after now (a writer may end before its
	 * heartbeat beats once) */
	eshm_stamp(h->hdr, ch, eshm_now_mono(), true);
	return wrefresh(h);
}

/* 1 when the space wait_space waits for is there */
static int
space_ready(struct eshm *h)
{
	/* with several groups, readers move kept only now and then */
	eshm_kept_refresh(h->hdr, slot_chan(h->wend));
	int r = wrefresh(h);
	if (r)
		return r;
	uint64_t cl = atomic_load_explicit(&h->w.c->claim, memory_order_relaxed);
	return cl + h->w.need - h->w.limit <= h->w.cap;
}

/* Our descriptor's writer found the channel full (a write with timeout
 * 0): empty its FIFO, raise space_wait, and look again, as a sleeper does
 * before it sleeps (wait.c): a release after this look sees the flag and
 * writes the FIFO (if it frees enough: rpublish); one before it is seen
 * here, and we write the FIFO ourselves. */
static void
space_rearm(struct eshm *h)
{
	eshm_poll_drain(&h->pw);
	atomic_store_explicit(&h->w.c->space_wait, 1, memory_order_seq_cst);
	if (space_ready(h))
		eshm_poll_ready(&h->pw);
}

static int
space_expired(struct eshm *h, bool polled)
{
	if (polled && h->pw.fd >= 0)
		space_rearm(h);
	return eshm_seterr(h, ESHM_ETIMEDOUT,
			   polled ? "channel %s of %s is full" : "channel %s of %s stayed full",
			   eshm_chan_name(slot_chan(h->wend)), h->name);
}

/* a writer whose segment was removed would wait for a reader that can no
 * longer come */
static int
space_idle(struct eshm *h, int64_t now)
{
	(void)now;
	return eshm_still_named(h);
}

/* Wait for our channel's readers to release something: until ready(h)
 * says so, or expired(h) says why not (wait.c). */
static struct eshm_waiter
readers_waiter(struct eshm *h, int (*ready)(struct eshm *), int (*expired)(struct eshm *, bool))
{
	return (struct eshm_waiter){
		.flag = &h->w.c->space_wait,
		.ready = ready,
		.idle = space_idle,
		.expired = expired,
		.spin = &h->spin_w,
		.end = h->wend,
		.peers = slot_chan(h->wend) * SLOTS_PER_CHAN + SLOT_R,
		.npeers = ESHM_READERS,
		.waits = &h->w.n.waits,
		/* a poller's flag must stay up for it: lowered by a sleeper
		 * done waiting, it would miss the next release */
		.shared_flag = atomic_load_explicit(&h->w.c->wpoll, memory_order_relaxed) != 0,
	};
}

static int
wait_readers(struct eshm *h, int (*ready)(struct eshm *), int (*expired)(struct eshm *, bool),
	     int64_t deadline)
{
	struct eshm_waiter wt = readers_waiter(h, ready, expired);
	return eshm_wait(h, &wt, deadline);
}

/* Wait until need bytes beyond the claim position are free. */
static int
wait_space(struct eshm *h, uint64_t need, int64_t deadline)
{
	h->w.need = need;
	return wait_readers(h, space_ready, space_expired, deadline);
}

/* Whether need bytes are free beyond the claim position now, by our
 * cached release point or a fresh one. */
static bool
space_now(struct eshm *h, uint64_t need)
{
	struct wside *w = &h->w;
	uint64_t cl = atomic_load_explicit(&w->c->claim, memory_order_relaxed);
	if (cl + need - w->limit <= w->cap)
		return true;
	w->need = need;
	return space_ready(h) == 1;
}

/* Fill in the header of the record at pos and commit it. */
static void
put_rec(struct wside *w, uint64_t pos, uint32_t len, uint32_t info)
{
	struct eshm_rec *r = (struct eshm_rec *)(w->ring + ring_off(pos, w->cap));
	r->len = len;
	r->info = info;
	rec_commit(w->ring, w->cap, pos, w->salt);
}

/* Wake readers asleep for data, after a commit. */
static void
wake_readers(struct eshm *h)
{
	struct wside *w = &h->w;
	if (atomic_load_explicit(&w->c->data_wait, memory_order_seq_cst)) {
		atomic_store_explicit(&w->c->data_wait, 0, memory_order_relaxed);
		eshm_futex_wake(&w->c->data_wait);
		eshm_count_add(&w->n.wakes, 1);
		eshm_poll_kick(h, h->hdr, slot_chan(h->wend), POLL_DATA);
	}
}

/* The test hook: die (SIGKILL, as a crash would) holding the claim just
 * made, when ESHM_TEST_KILL_AT says so. One predictable branch. */
static inline void
test_kill_point(struct wside *w)
{
	if (__builtin_expect(w->kill_at != 0, 0) && --w->kill_at == 0)
		raise(SIGKILL);
}

/* Whether a tap is attached to our channel (its slot has a holder). Taps
 * come and go: this is looked at for each reservation. */
static bool
tapped(const struct eshm *h)
{
	int first = slot_chan(h->wend) * SLOTS_PER_CHAN + SLOT_T;
	for (int s = first; s < first + ESHM_TAPS; s++)
		if (atomic_load_explicit(&h->hdr->slot[s].pid, memory_order_relaxed))
			return true;
	return false;
}

/* Announce a claim of need bytes at c in our slot, then try to make it. */
static inline bool
try_claim(struct wside *w, uint64_t *c, uint64_t need)
{
	atomic_store_explicit(&w->s->intent_size, (uint32_t)need, memory_order_relaxed);
	atomic_store_explicit(&w->s->intent_pos, *c, memory_order_release);
	/*
	 * An exclusive writer is the only one that moves the claim: a plain
	 * store. A locked compare-and-swap on the line the reader keeps
	 * reading waits for it every time: measured, 30M 64-byte messages/s
	 * against 50M with the store (eshm-bench -c throughput -s 64). A
	 * seq_cst store, as the Dekker pair with a sleeping reader needs the
	 * claim before data_wait is looked at (wake_readers).
	 */
	if (w->exclusive) {
		atomic_store_explicit(&w->c->claim, *c + need, memory_order_seq_cst);
		return true;
	}
	return atomic_compare_exchange_weak_explicit(&w->c->claim, c, *c + need,
						     memory_order_seq_cst, memory_order_relaxed);
}

/*
 * Claim `size` record bytes (at least; with `more`, as many more as are
 * free before the ring's end, up to a quarter of the ring, a sixteenth
 * with a tap attached): *pos and *got.
 * A record never crosses the ring's end: one that does not fit is preceded
 * by a PAD record we claim and commit first. Waits (deadline) for room.
 */
static int
claim(struct eshm *h, uint64_t size, bool more, int64_t *deadline, int timeout_ms, uint64_t *pos,
      uint64_t *got)
{
	struct wside *w = &h->w;
	uint64_t c = atomic_load_explicit(&w->c->claim, memory_order_relaxed);
	int r;
	for (;;) {
		uint64_t off = ring_off(c, w->cap), toend = w->cap - off;
		bool pad = size > toend;
		uint64_t need = pad ? toend : size;
		if (c + need - w->limit > w->cap) {
			if ((r = wrefresh(h)))
				return r;
			if (c + need - w->limit > w->cap) {
				if (*deadline == -2)
					*deadline = eshm_deadline(timeout_ms);
				if ((r = wait_space(h, need, *deadline)))
					return r;
			}
			c = atomic_load_explicit(&w->c->claim, memory_order_relaxed);
			continue;
		}
		if (more && !pad) {
			/* as much as is free before the ring's end, up to a
			 * quarter of the ring, a sixteenth with a tap attached:
			 * a tap counts claimed room as written over, so a
			 * reservation of all the free room would make one a
			 * record behind the reader skip. */
			uint64_t free = w->limit + w->cap - c, most = w->cap / (tapped(h) ? 16 : 4);
			uint64_t more_room = free < toend ? free : toend;
			if (more_room > most)
				more_room = most;
			more_room -= more_room % REC_ALIGN;
			if (more_room > need)
				need = more_room;
		}
		if (!try_claim(w, &c, need))
			continue;
		if (pad) {
			put_rec(w, c, (uint32_t)(need - REC_HDR), rec_info(REC_PAD, 0, 0));
			c += need;
			continue;
		}
		*pos = c;
		*got = need;
		test_kill_point(w);
		return 0;
	}
}

/* The first commit after the end of our stream reopens it. */
static int
reopen(struct eshm *h)
{
	int r = eshm_lock(h, LOCK_EX);
	if (r)
		return r;
	eshm_stream_reopen(h);
	flock(h->fd, LOCK_UN);
	return 0;
}

/* Commit the record at pos: len payload bytes of nmsgs messages. */
static int
commit_at(struct eshm *h, uint64_t pos, size_t len, uint32_t info, uint64_t nmsgs)
{
	struct wside *w = &h->w;
	if (!w->wrote) {
		if (w->done) {
			int r = reopen(h);
			if (r)
				return r;
		}
		w->wrote = true;
	}
	put_rec(w, pos, (uint32_t)len, info);
	w->last_end = pos + rec_bytes(len);
	eshm_count_add(&w->n.msgs, nmsgs);
	eshm_count_add(&w->n.bytes, len);
	wake_readers(h);
	return 0;
}

size_t
eshm_max_message(const eshm_t *h)
{
	/* one record header in a ring */
	if (!h)
		return 0;
	return (size_t)(h->g.cap[h->wend >= 0 ? slot_chan(h->wend) : 0] - REC_HDR);
}

static int
too_long(struct eshm *h, size_t len)
{
	uint64_t max = h->w.cap - REC_HDR;
	return eshm_seterr(h, ESHM_EMSGSIZE,
			   "a message of %zu bytes exceeds the %llu bytes a "
			   "%llu-byte channel can carry",
			   len, (unsigned long long)max, (unsigned long long)h->w.cap);
}

/* 0 when h writes and its end is still its own; else the error, said. */
static inline int
own_wend(struct eshm *h)
{
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	return eshm_owns(h, h->wend) ? 0 : eshm_not_owned(h, h->wend);
}

/* Whether we reserve straight in the ring: nobody else can claim. */
static bool
alone(struct eshm *h)
{
	return h->w.exclusive || atomic_load_explicit(&h->w.c->nwriters, memory_order_relaxed) <= 1;
}

/* Room in the handle for n bytes of a staged reservation. */
static int
side_room(struct eshm *h, size_t n)
{
	struct wside *w = &h->w;
	if (w->side_cap >= n)
		return 0;
	unsigned char *ns = realloc(w->side, n);
	if (!ns)
		return eshm_seterr(h, -ENOMEM, "out of memory");
	w->side = ns;
	w->side_cap = n;
	return 0;
}

#define STAGE_MIN (64u << 10) /* room a staged reservation offers at least */

int
eshm_reserve(eshm_t *h, size_t min, void **ptr, size_t *avail, int timeout_ms)
{
	if (!h)
		return ESHM_EINVAL;
	if (!ptr || !avail)
		return eshm_seterr(h, ESHM_EINVAL, "no pointer for the reservation or its size");
	int own = own_wend(h);
	if (own)
		return own;
	struct wside *w = &h->w;
	if (min > w->cap - REC_HDR)
		return too_long(h, min);
	if (min < w->carry)
		return eshm_seterr(h, ESHM_EINVAL, "reservation smaller than the carried bytes");
	eshm_release_reservation(h);
	w->timeout_ms = timeout_ms;
	if (!alone(h)) {
		/* room for min bytes first, as a reservation in the ring would
		 * wait for it (a poll finds the channel full as it is); it is
		 * claimed at commit */
		if (!space_now(h, rec_bytes(min))) {
			int r = wait_space(h, rec_bytes(min), eshm_deadline(timeout_ms));
			if (r)
				return r;
		}
		/* the commit waits for room only if another writer took it
		 * meanwhile: as this reservation allows, a poll's as long as
		 * it takes (it was granted because there was room) */
		w->timeout_ms = timeout_ms ? timeout_ms : -1;
		/* a record must find that much contiguous room in the ring
		 * among the others' records: at most a quarter of it, unless
		 * asked for more */
		size_t n = STAGE_MIN < w->cap / 4 ? STAGE_MIN : (size_t)(w->cap / 4);
		if (n < min)
			n = min;
		int r = side_room(h, n);
		if (r)
			return r;
		w->resv = STAGED;
		w->resv_at = w->side;
		w->resv_avail = n;
		*ptr = w->side;
		*avail = n;
		return 0;
	}
	int64_t deadline = -2; /* computed lazily: the fast path reads no clock */
	uint64_t pos, got;
	int r = claim(h, rec_bytes(min), true, &deadline, timeout_ms, &pos, &got);
	if (r)
		return r;
	w->resv = pos;
	w->resv_len = got;
	w->resv_at = w->ring + ring_off(pos, w->cap) + REC_HDR;
	w->resv_avail = got - REC_HDR;
	if (w->carry)
		memcpy(w->resv_at, w->side, w->carry);
	*ptr = w->resv_at;
	*avail = (size_t)w->resv_avail;
	return 0;
}

/*
 * Publish the first len reserved bytes as one record. A staged one is
 * claimed now (waiting for room as the reservation's timeout allows) and
 * copied in; one in the ring gives back what it did not use, or, if
 * another writer claimed after it meanwhile, fills it with a SKIP record.
 */
static int
commit_rec(struct eshm *h, size_t len, uint32_t info, uint64_t nmsgs)
{
	struct wside *w = &h->w;
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	if (w->resv == UINT64_MAX)
		return eshm_seterr(h, ESHM_EINVAL, "commit without a reservation");
	if (!eshm_owns(h, h->wend))
		return eshm_not_owned(h, h->wend);
	if (len > w->resv_avail)
		return eshm_seterr(h, ESHM_EINVAL, "commit of %zu bytes exceeds the reservation",
				   len);
	uint64_t used = rec_bytes(len), pos;
	if (w->resv == STAGED) {
		int64_t deadline = -2;
		uint64_t got;
		int r = claim(h, used, false, &deadline, w->timeout_ms, &pos, &got);
		if (r)
			return r;
		memcpy(w->ring + ring_off(pos, w->cap) + REC_HDR, w->side, len);
	} else {
		pos = w->resv;
		uint64_t end = pos + w->resv_len, want = pos + used;
		if (want < end)
			claim_hw_raise(w->c, end);
		if (want < end && !atomic_compare_exchange_strong_explicit(&w->c->claim, &end, want,
									   memory_order_seq_cst,
									   memory_order_relaxed))
			put_rec(w, want, (uint32_t)(pos + w->resv_len - want - REC_HDR),
				rec_info(REC_SKIP, 0, 0));
	}
	w->resv = UINT64_MAX;
	w->carry = 0;
	return commit_at(h, pos, len, info, nmsgs);
}

/* Give back an open reservation in the ring (a SKIP record if it cannot
 * be given back); a staged one just ends. */
void
eshm_release_reservation(struct eshm *h)
{
	struct wside *w = &h->w;
	if (w->resv != UINT64_MAX && w->resv != STAGED) {
		uint64_t end = w->resv + w->resv_len, want = w->resv;
		claim_hw_raise(w->c, end);
		if (!atomic_compare_exchange_strong_explicit(
			    &w->c->claim, &end, want, memory_order_seq_cst, memory_order_relaxed)) {
			put_rec(w, w->resv, (uint32_t)(w->resv_len - REC_HDR),
				rec_info(REC_SKIP, 0, 0));
			wake_readers(h);
		}
	}
	w->resv = UINT64_MAX;
}

int
eshm_commit(eshm_t *h, size_t len)
{
	if (!h)
		return ESHM_EINVAL;
	return commit_rec(h, len, rec_info(REC_MSG, h->w.framing, 1), 1);
}

/* Messages in the first len reserved bytes: each ends with delim; the last
 * byte must be delim. */
static ssize_t
count_delimited(struct eshm *h, size_t len, int delim)
{
	struct wside *w = &h->w;
	if (w->resv == UINT64_MAX || len == 0 || len > w->resv_avail)
		return eshm_seterr(h, ESHM_EINVAL, "commit outside the reservation");
	const unsigned char *p = w->resv_at;
	if (p[len - 1] != (unsigned char)delim)
		return eshm_seterr(h, ESHM_EINVAL, "delimited data must end with its delimiter");
	uint64_t n = eshm_count_byte(p, len, delim);
	if (n > REC_MAX_NMSGS)
		return eshm_seterr(h, ESHM_EINVAL, "more than %u messages in one commit",
				   REC_MAX_NMSGS);
	return (ssize_t)n;
}

ssize_t
eshm_commit_delimited(eshm_t *h, size_t len, int delim)
{
	if (!h)
		return ESHM_EINVAL;
	if (delim != '\n' && delim != '\0')
		return eshm_seterr(h, ESHM_EINVAL, "the delimiter must be '\\n' or '\\0', not %d",
				   delim);
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	ssize_t n = count_delimited(h, len, delim);
	if (n < 0)
		return n;
	uint32_t info =
		rec_info(REC_DELIM, delim ? ESHM_FRAMING_LINE : ESHM_FRAMING_NULL, (uint32_t)n);
	int r = commit_rec(h, len, info, (uint64_t)n);
	return r ? r : n;
}

ssize_t
eshm_commit_lines(eshm_t *h, size_t len, int delim, size_t *carried)
{
	if (!h)
		return ESHM_EINVAL;
	if (!carried || (delim != '\n' && delim != '\0'))
		return eshm_seterr(h, ESHM_EINVAL,
				   "no pointer for the carried bytes, or a delimiter other than "
				   "'\\n' or '\\0'");
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	struct wside *w = &h->w;
	if (w->resv == UINT64_MAX || len > w->resv_avail || len < w->carry)
		return eshm_seterr(h, ESHM_EINVAL, "commit outside the reservation");
	unsigned char *p = w->resv_at;
	/* the carried bytes hold no delimiter: search only what is new, so a
	 * long line read in many pieces is not scanned over and over */
	unsigned char *q = memrchr(p + w->carry, delim, len - w->carry);
	size_t done = q ? (size_t)(q - p) + 1 : 0, rest = len - done;
	/* the unfinished message goes aside, to start the next reservation */
	int r = side_room(h, rest);
	if (r)
		return r;
	if (w->resv == STAGED) {
		ssize_t n = 0;
		if (done && (n = eshm_commit_delimited(h, done, delim)) < 0)
			return n;
		if (rest)
			memmove(w->side, w->side + done, rest);
		w->carry = rest;
		*carried = rest;
		return n;
	}
	if (rest)
		memcpy(w->side, p + done, rest);
	ssize_t n = 0;
	if (done)
		n = eshm_commit_delimited(h, done, delim);
	else
		eshm_release_reservation(h);
	if (n < 0)
		return n;
	w->carry = rest;
	*carried = rest;
	return n;
}

int
eshm_write(eshm_t *h, const void *buf, size_t len, int timeout_ms)
{
	if (!h)
		return ESHM_EINVAL;
	if (len && !buf)
		return eshm_seterr(h, ESHM_EINVAL, "no buffer for a %zu-byte message", len);
	struct wside *w = &h->w;
	int own = own_wend(h);
	if (own)
		return own;
	if (len > w->cap - REC_HDR)
		return too_long(h, len);
	if (w->carry)
		return eshm_seterr(h, ESHM_EINVAL,
				   "a message is being carried (eshm_commit_lines)");
	eshm_release_reservation(h);
	uint64_t size = rec_bytes(len), pos, got;
	/* Fast path: the record fits before the ring's end and, by our cached
	 * release point, in the free space: one claim, no wait, no padding. */
	uint64_t c = atomic_load_explicit(&w->c->claim, memory_order_relaxed);
	if (size <= w->cap - ring_off(c, w->cap) && c + size - w->limit <= w->cap &&
	    try_claim(w, &c, size)) {
		pos = c;
		test_kill_point(w);
	} else {
		int64_t deadline = -2;
		int r = claim(h, size, false, &deadline, timeout_ms, &pos, &got);
		if (r)
			return r;
	}
	if (len)
		memcpy(w->ring + ring_off(pos, w->cap) + REC_HDR, buf, len);
	return commit_at(h, pos, len, rec_info(REC_MSG, w->framing, 1), 1);
}

ssize_t
eshm_write_batch(eshm_t *h, const void *buf, const uint32_t *lens, size_t n, int timeout_ms)
{
	if (!h)
		return ESHM_EINVAL;
	if (n && !lens)
		return eshm_seterr(h, ESHM_EINVAL, "no lengths for %zu messages", n);
	const char *p = buf;
	size_t i = 0;
	for (; i < n; i++) {
		int r = eshm_write(h, p, lens[i], timeout_ms);
		if (r)
			return i ? (ssize_t)i : r;
		p += lens[i];
	}
	return (ssize_t)i;
}

/* 1 when every group released what we wrote */
static int
taken_ready(struct eshm *h)
{
	int r = wrefresh(h);
	if (r)
		return r;
	return h->w.limit >= h->w.last_end;
}

static int
taken_expired(struct eshm *h, bool polled)
{
	(void)h;
	(void)polled;
	return ESHM_ETIMEDOUT;
}

int
eshm_flush(eshm_t *h, int timeout_ms)
{
	if (!h)
		return ESHM_EINVAL;
	int own = own_wend(h);
	if (own)
		return own;
	int r = wait_readers(h, taken_ready, taken_expired, eshm_deadline(timeout_ms));
	if (r != ESHM_ETIMEDOUT)
		return r;
	/* say what we waited for, and for whom */
	int ch = slot_chan(h->wend);
	struct eshm_backlog b;
	if (eshm_chan_backlog(h->fd, h->hdr, ch, &h->g, &b))
		b.msgs = b.bytes = 0;
	int rs = eshm_live_reader(h->fd, ch);
	char who[80];
	if (rs >= 0)
		snprintf(who, sizeof who, "its reader (pid %u) is slow",
			 atomic_load_explicit(&h->hdr->slot[rs].pid, memory_order_relaxed));
	else
		snprintf(who, sizeof who, "no reader is attached");
	return eshm_seterr(h, ESHM_ETIMEDOUT,
			   "%llu messages (%llu bytes) still queued in channel %s of %s after "
			   "waiting %d ms for a reader to take them: %s",
			   (unsigned long long)b.msgs, (unsigned long long)b.bytes,
			   eshm_chan_name(ch), h->name, timeout_ms, who);
}

int
eshm_eos(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	int own = own_wend(h);
	if (own)
		return own;
	eshm_release_reservation(h);
	int r = eshm_lock(h, LOCK_EX);
	if (r)
		return r;
	eshm_stream_end(h);
	flock(h->fd, LOCK_UN);
	return 0;
}

int
eshm_fileno_write(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->pw.fd >= 0)
		return h->pw.fd;
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	int r = eshm_poll_open(h, h->wend, &h->pw);
	if (r)
		return r > 0 ? eshm_not_owned(h, h->wend) : r;
	/* readable at once unless the channel is full */
	h->w.need = REC_HDR;
	space_rearm(h);
	return h->pw.fd;
}

int
eshm_unreserve(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	int own = own_wend(h);
	if (own)
		return own;
	eshm_release_reservation(h);
	h->w.carry = 0;
	return 0;
}

/* eshm_spin's writing side: room for a message of len bytes. */
int
eshm_spin_space(struct eshm *h, size_t len)
{
	int own = own_wend(h);
	if (own)
		return own;
	if (len > h->w.cap - REC_HDR)
		return too_long(h, len);
	h->w.need = rec_bytes(len);
	struct eshm_waiter wt = readers_waiter(h, space_ready, space_expired);
	return eshm_spin_only(h, &wt);
}
