/* ring-write.c - the writing side of a channel's single-producer/single-consumer ring. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eshm-int.h"

/*
 * Memory ordering of the ring, for both sides (ring-read.c is the other):
 *
 * - Publication. The writer fills a record, then stores head with release
 *   semantics; the reader loads head with acquire semantics before it reads
 *   any record below it. So a reader sees a record only after all its bytes,
 *   and a writer killed half-way leaves nothing visible.
 * - Release. The reader finishes reading a record, then stores tail with
 *   release; the writer loads tail with acquire before it reuses the space,
 *   so it never overwrites bytes the reader is still reading.
 * - Sleeping: the index stores are seq_cst, one half of the Dekker pair
 *   that wait.c explains.
 *
 * Everything read from the shared header or a record (indices, lengths,
 * kinds, counts) is copied into a local, checked, and only then used; a
 * violation is ESHM_ECORRUPT, never an access outside the ring.
 */

static int wcheck(struct eshm *h, uint64_t head, uint64_t tail);

int
eshm_wside_init(struct eshm *h, int ch)
{
	struct wside *w = &h->w;
	w->c = &h->hdr->chan[ch];
	w->ring = h->base + h->g.off[ch];
	w->cap = h->g.cap[ch];
	w->head = atomic_load_explicit(&w->c->head, memory_order_acquire);
	w->tail = atomic_load_explicit(&w->c->tail, memory_order_acquire);
	w->resv = UINT64_MAX;
	w->framing = h->cfg.framing;
	w->wrote = false;
	eshm_counts_read(&w->c->wseq, &w->c->in, &w->n);
	atomic_store_explicit(&w->c->framing, (uint32_t)h->cfg.framing, memory_order_relaxed);
	return wcheck(h, w->head, w->tail);
}

static int
wcheck(struct eshm *h, uint64_t head, uint64_t tail)
{
	if (!span_ok(head, tail, h->w.cap))
		return eshm_corrupt(h, h->wend / 2, "head/tail out of range", head, tail);
	return 0;
}

/* Reload the reader's tail; 0 or ESHM_ECORRUPT. */
static int
wrefresh(struct eshm *h)
{
	struct wside *w = &h->w;
	uint64_t t = atomic_load_explicit(&w->c->tail, memory_order_seq_cst);
	int r = wcheck(h, w->head, t);
	if (r == 0)
		w->tail = t;
	return r;
}

/* 1 when the space wait_space waits for is there */
static int
space_ready(struct eshm *h)
{
	int r = wrefresh(h);
	if (r)
		return r;
	return h->w.tail + h->w.cap - h->w.head >= h->w.need;
}

/* The waiter of a writer: room for w->need bytes beyond the head. */
static int
space_expired(struct eshm *h, bool polled)
{
	return eshm_seterr(h, ESHM_ETIMEDOUT,
			   polled ? "channel %s of %s is full" : "channel %s of %s stayed full",
			   eshm_chan_name(h->wend / 2), h->name);
}

/* a writer whose segment was removed would wait for a reader that can no
 * longer come */
static int
space_idle(struct eshm *h, int64_t now)
{
	(void)now;
	return eshm_still_named(h);
}

/* Wait until at least need bytes are free (beyond the head). */
static int
wait_space(struct eshm *h, uint64_t need, int64_t deadline)
{
	struct wside *w = &h->w;
	w->need = need;
	struct eshm_waiter wt = {
		.flag = &w->c->space_wait,
		.ready = space_ready,
		.idle = space_idle,
		.expired = space_expired,
		.spin = &h->spin_w,
		.end = h->wend,
		.peer = h->wend + 1,
		.waits = &w->n.waits,
	};
	return eshm_wait(h, &wt, deadline);
}

/* Store head and wake the reader if (and only if) it sleeps. */
static void
publish(struct eshm *h, uint64_t newhead)
{
	struct wside *w = &h->w;
	w->head = newhead;
	atomic_store_explicit(&w->c->head, newhead, memory_order_seq_cst);
	if (atomic_load_explicit(&w->c->data_wait, memory_order_seq_cst)) {
		atomic_store_explicit(&w->c->data_wait, 0, memory_order_relaxed);
		eshm_futex_wake(&w->c->data_wait);
		eshm_count_add(&w->n.wakes, 1);
	}
}

static void
put_rec(struct wside *w, uint64_t pos, uint32_t len, uint32_t info)
{
	struct eshm_rec rec = {.len = len, .info = info};
	memcpy(w->ring + pos % w->cap, &rec, sizeof rec);
}

size_t
eshm_max_message(const eshm_t *h)
{
	/* one record header, and 8 bytes always kept for an end-of-stream mark */
	if (!h)
		return 0;
	return (size_t)(h->g.cap[h->wend >= 0 ? h->wend / 2 : 0] - 2 * REC_HDR);
}

int
eshm_reserve(eshm_t *h, size_t min, void **ptr, size_t *avail, int timeout_ms)
{
	if (!h)
		return ESHM_EINVAL;
	if (!ptr || !avail)
		return eshm_seterr(h, ESHM_EINVAL, "no pointer for the reservation or its size");
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	if (!eshm_owns(h, h->wend))
		return eshm_not_owned(h, h->wend);
	struct wside *w = &h->w;
	uint64_t maxmsg = w->cap - 2 * REC_HDR;
	if (min > maxmsg)
		return eshm_seterr(h, ESHM_EMSGSIZE,
				   "a message of %zu bytes exceeds the %llu bytes a "
				   "%llu-byte channel can carry",
				   min, (unsigned long long)maxmsg, (unsigned long long)w->cap);
	if (min < w->carry)
		return eshm_seterr(h, ESHM_EINVAL, "reservation smaller than the carried bytes");
	uint64_t need = REC_HDR + ALIGN8((uint64_t)min);
	int64_t deadline = -2; /* computed lazily: the fast path reads no clock */
	int r;
	w->resv = UINT64_MAX;
	for (;;) {
		uint64_t off = w->head % w->cap;
		uint64_t toend = w->cap - off;
		uint64_t want = toend < need ? toend + REC_HDR : need + REC_HDR;
		if (w->tail + w->cap - w->head < want) {
			if (deadline == -2)
				deadline = eshm_deadline(timeout_ms);
			if ((r = wait_space(h, want, deadline)))
				return r;
		}
		if (toend < need) {
			/* the record does not fit before the ring's end: fill the
			 * rest with a PAD record and start again at offset 0 */
			put_rec(w, w->head, (uint32_t)(toend - REC_HDR), rec_info(REC_PAD, 0, 0));
			publish(h, w->head + toend);
			continue;
		}
		uint64_t room = w->tail + w->cap - w->head - REC_HDR; /* keep EOS room */
		if (room > toend)
			room = toend;
		w->resv = w->head;
		w->resv_avail = room - REC_HDR;
		*ptr = w->ring + off + REC_HDR;
		*avail = (size_t)w->resv_avail;
		if (w->carry && w->carry_at != *ptr) {
			memmove(*ptr, w->carry_at, w->carry);
			w->carry_at = *ptr;
		}
		return 0;
	}
}

/* Write the header of the record at the head, whose payload is in place,
 * publish it and count it. */
static void
write_rec(struct eshm *h, size_t len, uint32_t info, uint64_t nmsgs)
{
	struct wside *w = &h->w;
	put_rec(w, w->head, (uint32_t)len, info);
	w->resv = UINT64_MAX;
	w->carry = 0;
	publish(h, w->head + rec_size((struct eshm_rec){.len = (uint32_t)len}));
	if (!w->wrote) {
		w->wrote = true;
		atomic_store_explicit(&w->c->eos_mark, 0, memory_order_relaxed);
	}
	eshm_count_add(&w->n.msgs, nmsgs);
	eshm_count_add(&w->n.bytes, len);
}

static int
commit_rec(struct eshm *h, size_t len, uint32_t info, uint64_t nmsgs)
{
	struct wside *w = &h->w;
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	if (w->resv == UINT64_MAX || w->resv != w->head)
		return eshm_seterr(h, ESHM_EINVAL, "commit without a reservation");
	if (!eshm_owns(h, h->wend))
		return eshm_not_owned(h, h->wend);
	if (len > w->resv_avail)
		return eshm_seterr(h, ESHM_EINVAL, "commit of %zu bytes exceeds the reservation",
				   len);
	write_rec(h, len, info, nmsgs);
	return 0;
}

int
eshm_commit(eshm_t *h, size_t len)
{
	if (!h)
		return ESHM_EINVAL;
	return commit_rec(h, len, rec_info(REC_MSG, h->w.framing, 1), 1);
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
	struct wside *w = &h->w;
	if (w->resv == UINT64_MAX || len == 0 || len > w->resv_avail)
		return eshm_seterr(h, ESHM_EINVAL, "commit outside the reservation");
	const unsigned char *p = w->ring + w->resv % w->cap + REC_HDR;
	if (p[len - 1] != (unsigned char)delim)
		return eshm_seterr(h, ESHM_EINVAL, "delimited data must end with its delimiter");
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += p[i] == (unsigned char)delim;
	if (n > REC_MAX_NMSGS)
		return eshm_seterr(h, ESHM_EINVAL, "more than %u messages in one commit",
				   REC_MAX_NMSGS);
	uint32_t info =
		rec_info(REC_DELIM, delim ? ESHM_FRAMING_LINE : ESHM_FRAMING_NULL, (uint32_t)n);
	int r = commit_rec(h, len, info, n);
	return r ? r : (ssize_t)n;
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
	unsigned char *p = w->ring + w->resv % w->cap + REC_HDR;
	/* the carried bytes hold no delimiter: search only what is new, so a
	 * long line read in many pieces is not scanned over and over */
	unsigned char *q = memrchr(p + w->carry, delim, len - w->carry);
	if (!q) {
		w->carry = len;
		w->carry_at = p;
		*carried = len;
		return 0;
	}
	size_t done = (size_t)(q - p) + 1, rest = len - done;
	uint64_t avail = w->resv_avail;
	ssize_t n = eshm_commit_delimited(h, done, delim);
	if (n < 0)
		return n;
	if (rest) {
		/* Move the unfinished message now to where the next payload
		 * starts (just past the next record header), so that a padding
		 * header written at the new head cannot land on it; if that
		 * is beyond this reservation, keep it aside. */
		unsigned char *next = p + ALIGN8((uint64_t)done) + REC_HDR;
		if (ALIGN8((uint64_t)done) + REC_HDR + rest <= avail) {
			memmove(next, p + done, rest);
			w->carry_at = next;
		} else {
			if (w->side_cap < rest) {
				unsigned char *ns = realloc(w->side, rest);
				if (!ns)
					return eshm_seterr(h, -ENOMEM, "out of memory");
				w->side = ns;
				w->side_cap = rest;
			}
			memcpy(w->side, p + done, rest);
			w->carry_at = w->side;
		}
	}
	w->carry = rest;
	*carried = rest;
	return n;
}

int
eshm_flush(eshm_t *h, int timeout_ms)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	if (!eshm_owns(h, h->wend))
		return eshm_not_owned(h, h->wend);
	int r = wait_space(h, h->w.cap, eshm_deadline(timeout_ms));
	if (r != ESHM_ETIMEDOUT)
		return r;
	/* not "full": say what we waited for, and for whom */
	int ch = h->wend / 2, rend = h->wend + 1;
	struct eshm_backlog b;
	if (eshm_chan_backlog(h->fd, h->hdr, ch, &h->g, &b))
		b.msgs = b.bytes = 0;
	int st = eshm_end_state(h->fd, h->hdr, rend, eshm_now_mono());
	unsigned pid = atomic_load_explicit(&h->hdr->slot[rend].pid, memory_order_relaxed);
	char who[80];
	if (st == ESHM_PEER_ALIVE || st == ESHM_PEER_STALE)
		snprintf(who, sizeof who, "its reader (pid %u%s) is slow", pid,
			 st == ESHM_PEER_STALE ? ", stale" : "");
	else
		snprintf(who, sizeof who, "no reader is attached");
	return eshm_seterr(h, ESHM_ETIMEDOUT,
			   "%llu messages (%llu bytes) still queued in channel %s of %s after "
			   "waiting %d ms for a reader to take them: %s",
			   (unsigned long long)b.msgs, (unsigned long long)b.bytes,
			   eshm_chan_name(ch), h->name, timeout_ms, who);
}

int
eshm_write(eshm_t *h, const void *buf, size_t len, int timeout_ms)
{
	void *p = NULL;
	size_t avail;
	if (!h)
		return ESHM_EINVAL;
	if (len && !buf)
		return eshm_seterr(h, ESHM_EINVAL, "no buffer for a %zu-byte message", len);
	/* Fast path: the record fits before the ring's end and, by our cached
	 * copy of the tail, in the free space (keeping room for an end mark):
	 * no wait, no padding, no reservation bookkeeping. */
	struct wside *w = &h->w;
	if (h->wend >= 0 && !w->carry && len <= w->cap && eshm_owns(h, h->wend)) {
		uint64_t size = REC_HDR + ALIGN8((uint64_t)len);
		uint64_t off = w->head % w->cap;
		if (size <= w->cap - off && w->tail + w->cap - w->head >= size + REC_HDR) {
			if (len)
				memcpy(w->ring + off + REC_HDR, buf, len);
			write_rec(h, len, rec_info(REC_MSG, w->framing, 1), 1);
			return 0;
		}
	}
	int r = eshm_reserve(h, len, &p, &avail, timeout_ms);
	if (r)
		return r;
	if (len)
		memcpy(p, buf, len);
	return eshm_commit(h, len);
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

/* Append an end-of-stream mark. Never waits: reserve always leaves room
 * for one, and a second mark with nothing written in between is skipped. */
int
eshm_ring_eos(struct eshm *h)
{
	struct wside *w = &h->w;
	if (!eshm_owns(h, h->wend))
		return eshm_not_owned(h, h->wend);
	if (!w->wrote && atomic_load_explicit(&w->c->eos_mark, memory_order_relaxed))
		return 0;
	int r = wrefresh(h);
	if (r)
		return r;
	if (w->tail + w->cap - w->head < REC_HDR)
		return eshm_corrupt(h, h->wend / 2, "no room for end of stream", w->head, w->tail);
	put_rec(w, w->head, 0, rec_info(REC_EOS, 0, 0));
	w->resv = UINT64_MAX;
	publish(h, w->head + REC_HDR);
	atomic_store_explicit(&w->c->eos_mark, 1, memory_order_relaxed);
	w->wrote = false;
	return 0;
}

int
eshm_eos(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	return eshm_ring_eos(h);
}
