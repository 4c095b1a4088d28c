/* ring.c - the lossless single-producer/single-consumer ring of one channel. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eshm-int.h"

/*
 * Memory ordering, once for the whole file:
 *
 * - Publication. The writer fills a record, then stores head with release
 *   semantics; the reader loads head with acquire semantics before it reads
 *   any record below it. So a reader sees a record only after all its bytes,
 *   and a writer killed half-way leaves nothing visible.
 * - Release. The reader finishes reading a record, then stores tail with
 *   release; the writer loads tail with acquire before it reuses the space,
 *   so it never overwrites bytes the reader is still reading.
 * - Sleeping. Sleeper and waker form a Dekker pair: the sleeper stores
 *   its flag (data_wait or space_wait) then loads the index; the waker stores
 *   the index then loads the flag. Both pairs are seq_cst, so at least one
 *   side sees the other's store: either the sleeper sees the new index and
 *   does not sleep, or the waker sees the flag and wakes it. A writer that
 *   finds the flag clear makes no system call, which is the common case
 *   when the reader keeps up.
 * - Counters sit in a line of their own under a sequence lock, so readers
 *   of statistics (eshm-stat) see msgs and bytes from one moment.
 *
 * Everything read from the shared header or a record (indices, lengths,
 * kinds, counts) is copied into a local, checked, and only then used; a
 * violation is ESHM_ECORRUPT, never an access outside the ring.
 */

#define SLICE_NS (50 * 1000000LL) /* liveness re-check period while asleep */

/*
 * Spinning before sleeping. Waking a process asleep on another core costs
 * tens of microseconds (about 45 on the 2-core VM this was tuned on),
 * while a spinning one sees a peer's store in about 0.1: a short spin pays
 * when the peer answers soon. But a spin that ends in sleep is pure loss,
 * and on a shared core it only delays the peer it waits for, so:
 *
 * - the budget (struct spin) starts at about the cost of sleeping and
 *   waking (the classic 2-competitive choice: never worse than twice the
 *   better of spinning or sleeping), grows to cover four times what a
 *   paying spin needed, halves when a spin ends in sleep (a peer that
 *   answers in milliseconds then costs little CPU), and every 16th wait
 *   after a failure probes with the maximum, so that it recovers (without
 *   the probe it never would: a spin shorter than the wait never pays).
 *   A first rule, "2t after a spin of t", measured 43 us median 64 KiB
 *   round trips against 16 us: one slow wait halved it below the typical
 *   one, and it cascaded down. Between SPIN_MIN_NS and SPIN_MAX_NS.
 * - no spinning at all when we and our peer may both run on one and the
 *   same CPU only (pinned together, or a one-CPU machine): there the spin
 *   only keeps the peer from running. Each holder records its affinity in
 *   its slot; a process pinned alone to its own CPU still spins, as it
 *   should (a first rule, "not if we may use one CPU only", stopped that).
 * - the interval between two looks at the index adapts too. A reader that
 *   keeps up with a fast writer would otherwise pull the index's cache line
 *   across cores after every message, stalling the writer's next store:
 *   measured, 16 million 64-byte messages/s against 40 to 60 with sparse
 *   looks. If data is there at the first look, the next wait looks later
 *   (and then finds a batch); if it takes many looks, sooner (a ping-pong
 *   then sees the answer within a few pauses: ~11 ns each there).
 */
#define SPIN_MAX_NS 50000
#define SPIN_MIN_NS 2000
#define POLL_MAX 64 /* pauses between two looks */

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static bool
spin_probe(struct spin *sp)
{
	return sp->adaptive && sp->fails && !(++sp->waits & 15);
}

static void
spin_paid(struct spin *sp, int64_t t, unsigned looks)
{
	if (looks <= 1 && sp->poll < POLL_MAX)
		sp->poll *= 2;
	else if (looks > 8 && sp->poll > 1)
		sp->poll /= 2;
	if (!sp->adaptive)
		return;
	int64_t want = 4 * t + SPIN_MIN_NS;
	if (want > sp->budget)
		sp->budget = want > SPIN_MAX_NS ? SPIN_MAX_NS : want;
	sp->fails = 0;
}

static void
spin_failed(struct spin *sp)
{
	if (!sp->adaptive)
		return;
	sp->budget = sp->budget / 2 < SPIN_MIN_NS ? SPIN_MIN_NS : sp->budget / 2;
	sp->fails++;
}

/* Spin until ready(h) or the budget is spent: 1 if ready, 0 if not, or an
 * error from ready. peer: the end whose holder we wait for. */
static int
spin_until(struct eshm *h, struct spin *sp, int peer, int (*ready)(struct eshm *))
{
	uint64_t both = h->cpus | atomic_load_explicit(&h->hdr->slot[peer].cpus,
							 memory_order_relaxed);
	if (__builtin_popcountll(both) <= 1)
		return 0;
	int64_t budget = spin_probe(sp) ? SPIN_MAX_NS : sp->budget;
	if (budget <= 0)
		return 0;
	int64_t start = eshm_now_mono(), end = start + budget;
	unsigned spent = 0;
	for (unsigned looks = 1;; looks++) {
		for (unsigned i = 0; i < sp->poll; i++)
			cpu_relax();
		int r = ready(h);
		if (r) {
			if (r > 0)
				spin_paid(sp, eshm_now_mono() - start, looks);
			return r;
		}
		if ((spent += sp->poll) >= 64) {
			spent = 0;
			if (eshm_now_mono() >= end)
				break;
		}
	}
	spin_failed(sp);
	return 0;
}

/* A deadline on CLOCK_MONOTONIC: -1 never, 0 "do not wait at all" (a
 * poll must neither spin, nor raise a flag that makes the peer wake us,
 * nor teach the spin budget that spinning fails). */
static int64_t
deadline_of(int timeout_ms)
{
	if (timeout_ms <= 0)
		return timeout_ms < 0 ? -1 : 0;
	return eshm_now_mono() + (int64_t)timeout_ms * 1000000;
}

/* Time left until deadline, capped at SLICE_NS; -1 means "expired". */
static int64_t
slice_left(int64_t deadline)
{
	if (deadline < 0)
		return SLICE_NS;
	int64_t left = deadline - eshm_now_mono();
	if (left <= 0)
		return -1;
	return left < SLICE_NS ? left : SLICE_NS;
}

/* The caller's interrupt flag is set: checked once per wait slice, since a
 * signal that arrives just before we sleep does not interrupt the sleep. */
static bool
interrupted(struct eshm *h)
{
	return h->cfg.interrupt && *h->cfg.interrupt;
}

static int
corrupt(struct eshm *h, int ch, const char *what, uint64_t a, uint64_t b)
{
	/* zeros read from a page the SIGBUS guard replaced: say what happened */
	if (eshm_truncated(h))
		return ESHM_ECORRUPT;
	return eshm_seterr(h, ESHM_ECORRUPT, "segment %s is corrupt: channel %s: %s (%llu, %llu)",
			   h->name, eshm_chan_name(ch), what, (unsigned long long)a,
			   (unsigned long long)b);
}

/* Publish one side's local counters under its sequence lock. */
static void
seq_publish(_Atomic uint32_t *seq, _Atomic uint64_t *dst[4], struct counters *n)
{
	/* odd: a predecessor was killed half-way; we are the only writer now */
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed) & ~1u;
	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(dst[0], atomic_load_explicit(&n->msgs, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(dst[1], atomic_load_explicit(&n->bytes, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(dst[2], atomic_load_explicit(&n->waits, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(dst[3], atomic_load_explicit(&n->wakes, memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(seq, s + 2, memory_order_release);
}

/* Called by the heartbeat thread, or with it stopped or its mutex held:
 * the only writer of the shared counters of our ends. A holder that was
 * taken over must not overwrite its successor's counts.
 *
 * Publishing from the heartbeat thread rather than per message measured
 * about 30% more 64-byte messages per second across two processes (the
 * hot path then writes no shared line but the index); the price is that
 * counts lag by up to one heartbeat, and that a process killed by SIGKILL
 * may leave that much of its counts unpublished. */
void
eshm_counters_flush(struct eshm *h)
{
	if (h->wend >= 0 && eshm_end_check(h, h->wend) == 0) {
		struct eshm_chan *c = h->w.c;
		_Atomic uint64_t *dst[4] = {&c->msgs_in, &c->bytes_in, &c->waits_full, &c->wakes_w};
		seq_publish(&c->wseq, dst, &h->w.n);
	}
	if (h->rend >= 0 && eshm_end_check(h, h->rend) == 0) {
		struct eshm_chan *c = h->r.c;
		_Atomic uint64_t *dst[4] = {&c->msgs_out, &c->bytes_out, &c->waits_empty, &c->wakes_r};
		seq_publish(&c->rseq, dst, &h->r.n);
	}
}

static void
counters_load(struct counters *n, _Atomic uint64_t *src[4])
{
	atomic_store_explicit(&n->msgs, atomic_load_explicit(src[0], memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&n->bytes, atomic_load_explicit(src[1], memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&n->waits, atomic_load_explicit(src[2], memory_order_relaxed),
			      memory_order_relaxed);
	atomic_store_explicit(&n->wakes, atomic_load_explicit(src[3], memory_order_relaxed),
			      memory_order_relaxed);
}

void
eshm_chan_snapshot(const struct eshm_chan *c, struct eshm_channel_info *ci)
{
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t s1 = atomic_load_explicit(&c->wseq, memory_order_acquire);
		ci->msgs_in = atomic_load_explicit(&c->msgs_in, memory_order_relaxed);
		ci->bytes_in = atomic_load_explicit(&c->bytes_in, memory_order_relaxed);
		ci->waits_full = atomic_load_explicit(&c->waits_full, memory_order_relaxed);
		ci->wakes = atomic_load_explicit(&c->wakes_w, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (!(s1 & 1) && s1 == atomic_load_explicit(&c->wseq, memory_order_relaxed))
			break;
		cpu_relax();
	}
	for (int tries = 0; tries < 1000; tries++) {
		uint32_t s1 = atomic_load_explicit(&c->rseq, memory_order_acquire);
		ci->msgs_out = atomic_load_explicit(&c->msgs_out, memory_order_relaxed);
		ci->bytes_out = atomic_load_explicit(&c->bytes_out, memory_order_relaxed);
		ci->waits_empty = atomic_load_explicit(&c->waits_empty, memory_order_relaxed);
		uint64_t wr = atomic_load_explicit(&c->wakes_r, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (!(s1 & 1) && s1 == atomic_load_explicit(&c->rseq, memory_order_relaxed)) {
			ci->wakes += wr;
			break;
		}
		cpu_relax();
	}
	ci->framing = (int)atomic_load_explicit(&c->framing, memory_order_relaxed);
	ci->eos = atomic_load_explicit(&c->closed, memory_order_relaxed) != 0;
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
 * that eshm-stat shows a blocked side as blocked. */
static void
count_wait(struct eshm *h, _Atomic uint64_t *waits)
{
	count_add(waits, 1);
	eshm_counters_sync(h);
}

/* ---------------------------------------------------------------- writer */

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
	w->recflags = REC_F(h->cfg.framing);
	w->wrote = false;
	_Atomic uint64_t *src[4] = {&w->c->msgs_in, &w->c->bytes_in, &w->c->waits_full,
				    &w->c->wakes_w};
	counters_load(&w->n, src);
	atomic_store_explicit(&w->c->framing, (uint32_t)h->cfg.framing,
			      memory_order_relaxed);
	return wcheck(h, w->head, w->tail);
}

static int
wcheck(struct eshm *h, uint64_t head, uint64_t tail)
{
	if (head % 8 || tail % 8 || tail > head || head - tail > h->w.cap)
		return corrupt(h, h->wend / 2, "head/tail out of range", head, tail);
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

/* Wait until at least need bytes are free (beyond the head). Meanwhile
 * re-check, each time a whole slice passed without space, that the name
 * still leads to our segment: a writer whose segment was removed would
 * otherwise wait for a reader that can no longer come. */
static int
wait_space(struct eshm *h, uint64_t need, int64_t deadline)
{
	struct wside *w = &h->w;
	int r;
	if ((r = wrefresh(h)))
		return r;
	if (w->tail + w->cap - w->head >= need)
		return 0;
	if (deadline == 0)
		return eshm_seterr(h, ESHM_ETIMEDOUT, "channel %s of %s is full",
				   eshm_chan_name(h->wend / 2), h->name);
	w->need = need;
	if ((r = spin_until(h, &h->spin_w, h->wend + 1, space_ready)))
		return r < 0 ? r : 0;

	for (bool counted = false, idle = false;; counted = true) {
		if (interrupted(h))
			r = eshm_seterr(h, -EINTR, "interrupted");
		else if (idle)
			r = eshm_still_named(h);
		if (r)
			break;
		atomic_store_explicit(&w->c->space_wait, 1, memory_order_seq_cst);
		if ((r = wrefresh(h)) || w->tail + w->cap - w->head >= need)
			break;
		int64_t left = slice_left(deadline);
		if (left < 0) {
			r = eshm_seterr(h, ESHM_ETIMEDOUT, "channel %s of %s stayed full",
					eshm_chan_name(h->wend / 2), h->name);
			break;
		}
		if (!counted)
			count_wait(h, &w->n.waits);
		r = eshm_futex_wait(&w->c->space_wait, 1, left);
		idle = r == ESHM_ETIMEDOUT;
		if (r == -EINTR)
			return eshm_seterr(h, -EINTR, "interrupted");
		if (r < 0 && !idle && eshm_truncated(h))
			return ESHM_ECORRUPT;
		if ((r = eshm_end_check(h, h->wend)))
			return r;
	}
	atomic_store_explicit(&w->c->space_wait, 0, memory_order_relaxed);
	return r;
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
		count_add(&w->n.wakes, 1);
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
	if (!h || !ptr || !avail)
		return ESHM_EINVAL;
	if (h->wend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not write");
	if (!eshm_owns(h, h->wend))
		return eshm_end_check(h, h->wend);
	struct wside *w = &h->w;
	uint64_t maxmsg = w->cap - 2 * REC_HDR;
	if (min > maxmsg)
		return eshm_seterr(h, ESHM_EMSGSIZE,
				   "a message of %zu bytes exceeds the %llu bytes a "
				   "%llu-byte channel can carry",
				   min, (unsigned long long)maxmsg,
				   (unsigned long long)w->cap);
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
				deadline = deadline_of(timeout_ms);
			if ((r = wait_space(h, want, deadline)))
				return r;
		}
		if (toend < need) {
			/* the record does not fit before the ring's end: fill the
			 * rest with a PAD record and start again at offset 0 */
			put_rec(w, w->head, (uint32_t)(toend - REC_HDR), REC_PAD);
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
	publish(h, w->head + REC_HDR + ALIGN8((uint64_t)len));
	if (!w->wrote) {
		w->wrote = true;
		atomic_store_explicit(&w->c->closed, 0, memory_order_relaxed);
	}
	count_add(&w->n.msgs, nmsgs);
	count_add(&w->n.bytes, len);
}

static int
commit_rec(struct eshm *h, size_t len, uint32_t info, uint64_t nmsgs)
{
	struct wside *w = &h->w;
	if (w->resv == UINT64_MAX || w->resv != w->head)
		return eshm_seterr(h, ESHM_EINVAL, "commit without a reservation");
	if (!eshm_owns(h, h->wend))
		return eshm_end_check(h, h->wend);
	if (len > w->resv_avail)
		return eshm_seterr(h, ESHM_EINVAL, "commit of %zu bytes exceeds the reservation", len);
	write_rec(h, len, info, nmsgs);
	return 0;
}

int
eshm_commit(eshm_t *h, size_t len)
{
	if (!h)
		return ESHM_EINVAL;
	return commit_rec(h, len, REC_MSG | h->w.recflags | (1u << 8), 1);
}

ssize_t
eshm_commit_delimited(eshm_t *h, size_t len, int delim)
{
	if (!h || (delim != '\n' && delim != '\0'))
		return ESHM_EINVAL;
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
	uint32_t info = REC_DELIM | REC_F(delim ? ESHM_FRAMING_LINE : ESHM_FRAMING_NULL) |
			(uint32_t)(n << 8);
	int r = commit_rec(h, len, info, n);
	return r ? r : (ssize_t)n;
}

ssize_t
eshm_commit_lines(eshm_t *h, size_t len, int delim, size_t *carried)
{
	if (!h || !carried || (delim != '\n' && delim != '\0'))
		return ESHM_EINVAL;
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
		return eshm_end_check(h, h->wend);
	int r = wait_space(h, h->w.cap, deadline_of(timeout_ms));
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
			   (unsigned long long)b.msgs, (unsigned long long)b.bytes, eshm_chan_name(ch),
			   h->name, timeout_ms, who);
}

int
eshm_write(eshm_t *h, const void *buf, size_t len, int timeout_ms)
{
	void *p;
	size_t avail;
	if (!h || (len && !buf))
		return ESHM_EINVAL;
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
			write_rec(h, len, REC_MSG | w->recflags | (1u << 8), 1);
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

/* Append an end-of-stream mark. Never waits: reserve always leaves room
 * for one, and a second mark with nothing written in between is skipped. */
int
eshm_ring_eos(struct eshm *h)
{
	struct wside *w = &h->w;
	if (!eshm_owns(h, h->wend))
		return eshm_end_check(h, h->wend);
	if (!w->wrote && atomic_load_explicit(&w->c->closed, memory_order_relaxed))
		return 0;
	int r = wrefresh(h);
	if (r)
		return r;
	if (w->tail + w->cap - w->head < REC_HDR)
		return corrupt(h, h->wend / 2, "no room for end of stream", w->head, w->tail);
	put_rec(w, w->head, 0, REC_EOS);
	w->resv = UINT64_MAX;
	publish(h, w->head + REC_HDR);
	atomic_store_explicit(&w->c->closed, 1, memory_order_relaxed);
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

/* ---------------------------------------------------------------- reader */

int
eshm_rside_init(struct eshm *h, int ch)
{
	struct rside *r = &h->r;
	r->c = &h->hdr->chan[ch];
	r->ring = h->base + h->g.off[ch];
	r->cap = h->g.cap[ch];
	r->end_w = ch == CH_M2S ? END_M2S_W : END_S2M_W;
	uint64_t t = atomic_load_explicit(&r->c->tail, memory_order_acquire);
	uint64_t hd = atomic_load_explicit(&r->c->head, memory_order_acquire);
	if (t % 8 || hd % 8 || t > hd || hd - t > r->cap)
		return corrupt(h, ch, "head/tail out of range", hd, t);
	r->tail = t;
	r->head = hd;
	r->skip = r->skipmsgs = 0;
	if (atomic_load_explicit(&r->c->skip_pos, memory_order_acquire) == t) {
		uint64_t sw = atomic_load_explicit(&r->c->skip_word, memory_order_relaxed);
		r->skip = (uint32_t)sw;
		r->skipmsgs = (uint32_t)(sw >> 32);
	}
	r->lost_since = 0;
	_Atomic uint64_t *src[4] = {&r->c->msgs_out, &r->c->bytes_out, &r->c->waits_empty,
				    &r->c->wakes_r};
	counters_load(&r->n, src);
	eshm_rewind(h);
	return 0;
}

void
eshm_rewind(eshm_t *h)
{
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

/* Reload the writer's head; 0 or ESHM_ECORRUPT. */
static int
rrefresh(struct eshm *h)
{
	struct rside *r = &h->r;
	uint64_t hd = atomic_load_explicit(&r->c->head, memory_order_seq_cst);
	if (hd % 8 || hd < r->head || hd - r->tail > r->cap)
		return corrupt(h, h->rend / 2, "head moved out of range", hd, r->tail);
	r->head = hd;
	return 0;
}

/* Read and check the record at pos (< head). */
static int
rec_at(struct eshm *h, uint64_t pos, struct eshm_rec *out)
{
	struct rside *r = &h->r;
	int ch = h->rend / 2;
	uint64_t off = pos % r->cap;
	struct eshm_rec rec;
	memcpy(&rec, r->ring + off, sizeof rec);
	uint32_t kind = REC_KIND(rec.info);
	if (rec.len > r->cap - off - REC_HDR)
		return corrupt(h, ch, "record runs past the ring's end", pos, rec.len);
	uint64_t size = REC_HDR + ALIGN8((uint64_t)rec.len);
	if (size > r->head - pos)
		return corrupt(h, ch, "record runs past the head", pos, rec.len);
	switch (kind) {
	case REC_MSG:
		break;
	case REC_DELIM: {
		uint32_t f = REC_FRAMING(rec.info);
		unsigned char d = f == ESHM_FRAMING_NULL ? '\0' : '\n';
		if ((f != ESHM_FRAMING_LINE && f != ESHM_FRAMING_NULL) || rec.len == 0 || REC_NMSGS(rec.info) == 0 ||
		    REC_NMSGS(rec.info) > rec.len || r->ring[off + REC_HDR + rec.len - 1] != d)
			return corrupt(h, ch, "bad delimited record", pos, rec.len);
		break;
	}
	case REC_PAD:
		if (rec.len != r->cap - off - REC_HDR)
			return corrupt(h, ch, "bad padding record", pos, rec.len);
		break;
	case REC_EOS:
		if (rec.len != 0)
			return corrupt(h, ch, "bad end-of-stream record", pos, rec.len);
		break;
	default:
		return corrupt(h, ch, "record of unknown kind", pos, kind);
	}
	*out = rec;
	return 0;
}

/* 1 when the head moved beyond the cursor */
static int
data_ready(struct eshm *h)
{
	int r = rrefresh(h);
	if (r)
		return r;
	return h->r.head != h->r.cur;
}

/* Wait until the head moves beyond the cursor. Meanwhile re-check, every
 * slice, whether the writer died and whether the name still leads to our
 * segment; give up ESHM_EWRITERLOST once the writer has been lost for
 * max_retries * retry_ms with no new writer, ESHM_EREMOVED at once. */
static int
wait_data(struct eshm *h, int64_t deadline)
{
	struct rside *r = &h->r;
	int rc;
	if ((rc = rrefresh(h)))
		return rc;
	if (r->head != r->cur)
		return 0;
	if (deadline == 0)
		return eshm_seterr(h, ESHM_ETIMEDOUT, "no data");
	if ((rc = spin_until(h, &h->spin_r, r->end_w, data_ready)))
		return rc < 0 ? rc : 0;

	for (bool counted = false;; counted = true) {
		if (interrupted(h)) {
			rc = eshm_seterr(h, -EINTR, "interrupted");
			break;
		}
		atomic_store_explicit(&r->c->data_wait, 1, memory_order_seq_cst);
		if ((rc = rrefresh(h)))
			break;
		if (r->head != r->cur) {
			r->lost_since = 0;
			break;
		}
		/* Is the writer alive, is our name still ours? Asked only once
		 * a slice has passed with no data: it costs system calls
		 * (F_OFD_GETLK, lstat), which a sleeping handoff on a shared
		 * core would pay every time. */
		int64_t now = eshm_now_mono();
		int st = ESHM_PEER_ALIVE;
		if (counted) {
			if ((rc = eshm_still_named(h)))
				break;
			st = eshm_end_state(h->fd, h->hdr, r->end_w, now);
		}
		if (st == ESHM_PEER_DEAD) {
			if (!r->lost_since)
				r->lost_since = now;
			int64_t limit = (int64_t)h->cfg.max_retries * h->cfg.retry_ms * 1000000;
			if (h->cfg.max_retries >= 0 && now - r->lost_since >= limit) {
				rc = eshm_seterr(h, ESHM_EWRITERLOST,
						 "writer lost: the writer of channel %s of %s ended "
						 "without ending its stream (it died, failed or was "
						 "interrupted) and no new one came within %d ms",
						 eshm_chan_name(h->rend / 2), h->name,
						 h->cfg.max_retries * h->cfg.retry_ms);
				break;
			}
		} else {
			r->lost_since = 0;
		}
		int64_t left = slice_left(deadline);
		if (left < 0) {
			rc = eshm_seterr(h, ESHM_ETIMEDOUT, "nothing arrived on channel %s of %s",
					 eshm_chan_name(h->rend / 2), h->name);
			break;
		}
		if (!counted)
			count_wait(h, &r->n.waits);
		rc = eshm_futex_wait(&r->c->data_wait, 1, left);
		if (rc == -EINTR)
			return eshm_seterr(h, -EINTR, "interrupted");
		if (rc < 0 && rc != ESHM_ETIMEDOUT && eshm_truncated(h))
			return ESHM_ECORRUPT;
		if ((rc = eshm_end_check(h, h->rend)))
			return rc;
	}
	atomic_store_explicit(&r->c->data_wait, 0, memory_order_relaxed);
	return rc;
}

/* Store tail (and the partial-record mark) and wake the writer if it sleeps. */
static void
rpublish(struct eshm *h)
{
	struct rside *r = &h->r;
	atomic_store_explicit(&r->c->tail, r->tail, memory_order_seq_cst);
	if (r->skip) {
		/* The skip applies only while skip_pos equals tail. Store the word
		 * before the position: a reader killed between the two leaves a
		 * position that does not match, so the next reader re-reads the
		 * whole record (duplicates, never loss). */
		atomic_store_explicit(&r->c->skip_word,
				      (uint64_t)r->skip | (uint64_t)r->skipmsgs << 32,
				      memory_order_release);
		atomic_store_explicit(&r->c->skip_pos, r->tail, memory_order_release);
	}
	if (atomic_load_explicit(&r->c->space_wait, memory_order_seq_cst)) {
		atomic_store_explicit(&r->c->space_wait, 0, memory_order_relaxed);
		eshm_futex_wake(&r->c->space_wait);
		count_add(&r->n.wakes, 1);
	}
}

static int peek_chunk(struct eshm *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms,
		      bool take_eos);

int
eshm_peek_chunk(eshm_t *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms)
{
	return peek_chunk(h, ck, max_msgs, timeout_ms, true);
}

/* take_eos: consume an end-of-stream mark met with nothing peeked before it;
 * otherwise it is only reported, and stays for the next call. */
static int
peek_chunk(struct eshm *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms, bool take_eos)
{
	if (!h || !ck)
		return ESHM_EINVAL;
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not read");
	struct rside *r = &h->r;
	int64_t deadline = -2;
	int rc;
	for (;;) {
		if (r->cur == r->head) {
			if ((rc = rrefresh(h)))
				return rc;
			if (r->cur == r->head) {
				if (deadline == -2)
					deadline = deadline_of(timeout_ms);
				if (timeout_ms == 0)
					return eshm_seterr(h, ESHM_ETIMEDOUT, "no data");
				if ((rc = wait_data(h, deadline)))
					return rc;
				continue;
			}
		}
		/* a new batch: a displaced reader hands nothing more on */
		if (!r->peekmsgs && !eshm_owns(h, h->rend))
			return eshm_end_check(h, h->rend);
		struct eshm_rec rec;
		if ((rc = rec_at(h, r->cur, &rec)))
			return rc;
		uint64_t off = r->cur % r->cap;
		uint64_t size = REC_HDR + ALIGN8((uint64_t)rec.len);
		const unsigned char *payload = r->ring + off + REC_HDR;
		switch (REC_KIND(rec.info)) {
		case REC_PAD:
			r->cur += size;
			r->curoff = r->curmsgs = 0;
			if (!r->peeked && !r->peekmsgs) {
				/* release padding at once: a writer may be waiting
				 * for exactly that space */
				r->tail = r->cur;
				r->skip = r->skipmsgs = 0;
				rpublish(h);
			}
			continue;
		case REC_EOS:
			/* reported, but consumed only once everything before it
			 * has been released */
			if (r->peeked || r->peekmsgs || !take_eos)
				return ESHM_EOF;
			r->tail = r->cur + size;
			r->skip = r->skipmsgs = 0;
			rpublish(h);
			eshm_rewind(h);
			return ESHM_EOF;
		case REC_MSG:
			save_undo(r);
			if (r->curoff > rec.len)
				return corrupt(h, h->rend / 2, "skip beyond record", r->cur, r->curoff);
			ck->data = payload + r->curoff;
			ck->len = rec.len - r->curoff;
			ck->nmsgs = 1;
			ck->delim = -1;
			ck->framing = (int)REC_FRAMING(rec.info);
			r->cur += size;
			r->curoff = r->curmsgs = 0;
			r->peeked += ck->len;
			r->peekmsgs++;
			return 0;
		case REC_DELIM: {
			uint32_t n = REC_NMSGS(rec.info);
			if (r->curoff >= rec.len || r->curmsgs >= n)
				return corrupt(h, h->rend / 2, "skip beyond record", r->cur, r->curoff);
			save_undo(r);
			int d = REC_FRAMING(rec.info) == ESHM_FRAMING_NULL ? '\0' : '\n';
			const unsigned char *p = payload + r->curoff;
			size_t left = rec.len - r->curoff;
			ck->data = p;
			ck->delim = d;
			ck->framing = (int)REC_FRAMING(rec.info);
			if (max_msgs && max_msgs < n - r->curmsgs) {
				/* stop after max_msgs delimiters, inside the record */
				size_t len = 0;
				for (size_t i = 0; i < max_msgs; i++) {
					const unsigned char *q = memchr(p + len, d, left - len);
					if (!q)
						return corrupt(h, h->rend / 2, "message count too high",
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
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not read");
	if (!eshm_owns(h, h->rend))
		return eshm_end_check(h, h->rend);
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
		count_add(&r->n.msgs, msgs);
		count_add(&r->n.bytes, bytes);
		return 0;
	}
	if (nbytes > r->peeked)
		return eshm_seterr(h, ESHM_EINVAL, "release of %zu bytes, only %llu peeked",
				   nbytes, (unsigned long long)r->peeked);
	/* A prefix: only after a failed write, so walking the records again
	 * costs nothing that matters. */
	uint64_t msgs = 0, bytes = 0;
	int rc = 0;
	while (nbytes > 0) {
		struct eshm_rec rec;
		if ((rc = rec_at(h, r->tail, &rec)))
			break;
		uint64_t size = REC_HDR + ALIGN8((uint64_t)rec.len);
		uint32_t kind = REC_KIND(rec.info);
		if (kind == REC_PAD) {
			r->tail += size;
			r->skip = r->skipmsgs = 0;
			continue;
		}
		if (kind == REC_EOS || r->skip > rec.len) {
			rc = eshm_seterr(h, ESHM_EINVAL, "release past the peeked data");
			break;
		}
		uint64_t rem = rec.len - r->skip;
		uint32_t n = kind == REC_MSG ? 1 : REC_NMSGS(rec.info);
		if (nbytes >= rem) {
			nbytes -= rem;
			bytes += rem;
			msgs += n > r->skipmsgs ? n - r->skipmsgs : 0;
			r->tail += size;
			r->skip = r->skipmsgs = 0;
			continue;
		}
		/* part of a record: a whole number of messages, or raw bytes */
		const unsigned char *p = r->ring + r->tail % r->cap + REC_HDR + r->skip;
		if (kind == REC_DELIM) {
			int d = REC_FRAMING(rec.info) == ESHM_FRAMING_NULL ? '\0' : '\n';
			if (p[nbytes - 1] != (unsigned char)d) {
				rc = eshm_seterr(h, ESHM_EINVAL, "release ends inside a message");
				break;
			}
			uint32_t k = 0;
			for (size_t i = 0; i < nbytes; i++)
				k += p[i] == (unsigned char)d;
			r->skipmsgs += k;
			msgs += k;
		} else if (REC_FRAMING(rec.info) != ESHM_FRAMING_RAW) {
			rc = eshm_seterr(h, ESHM_EINVAL, "release ends inside a message");
			break;
		}
		r->skip += (uint32_t)nbytes;
		bytes += nbytes;
		nbytes = 0;
	}
	if (bytes || msgs) {
		rpublish(h);
		count_add(&r->n.msgs, msgs);
		count_add(&r->n.bytes, bytes);
	}
	/* what was peeked beyond the released prefix will be peeked again */
	eshm_rewind(h);
	return rc;
}

int
eshm_peek(eshm_t *h, const void **ptr, size_t *len, int timeout_ms)
{
	struct eshm_chunk ck;
	if (!h || !ptr || !len)
		return ESHM_EINVAL;
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
	if (h->rend < 0)
		return eshm_seterr(h, ESHM_ENOEND, "this handle does not read");
	if (h->r.peekmsgs == 0)
		return eshm_seterr(h, ESHM_EINVAL, "nothing peeked");
	return eshm_consume(h, SIZE_MAX);
}

/* A whole MSG record waiting at the tail, with nothing peeked: copy it out
 * and release it, with the checks rec_at makes. Its length, or -1 when this
 * short path does not apply (the general path then decides). */
static ssize_t
fast_read(struct eshm *h, void *buf, size_t cap)
{
	struct rside *r = &h->r;
	if (h->rend < 0 || r->cur != r->tail || r->skip || r->peekmsgs)
		return -1;
	if (r->tail == r->head) {
		rrefresh(h); /* an error is reported by the general path */
		if (r->tail == r->head)
			return -1;
	}
	uint64_t off = r->tail % r->cap;
	struct eshm_rec rec;
	memcpy(&rec, r->ring + off, sizeof rec);
	uint64_t size = REC_HDR + ALIGN8((uint64_t)rec.len);
	if (REC_KIND(rec.info) != REC_MSG || rec.len > r->cap - off - REC_HDR ||
	    size > r->head - r->tail || rec.len > cap)
		return -1;
	if (!eshm_owns(h, h->rend))
		return -1; /* the general path says why */
	if (rec.len)
		memcpy(buf, r->ring + off + REC_HDR, rec.len);
	r->tail += size;
	r->cur = r->tail;
	r->curoff = r->curmsgs = 0;
	r->undo.valid = false;
	rpublish(h);
	count_add(&r->n.msgs, 1);
	count_add(&r->n.bytes, rec.len);
	return (ssize_t)rec.len;
}

ssize_t
eshm_read(eshm_t *h, void *buf, size_t cap, int timeout_ms)
{
	const void *p;
	size_t len;
	if (!h)
		return ESHM_EINVAL;
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
	if (!h || !lens || !max || (cap && !buf))
		return ESHM_EINVAL;
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

ssize_t
eshm_write_batch(eshm_t *h, const void *buf, const uint32_t *lens, size_t n, int timeout_ms)
{
	if (!h || (n && !lens))
		return ESHM_EINVAL;
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
