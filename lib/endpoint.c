/* endpoint.c - the slots of a segment's channels: claiming them, releasing them, ending a stream. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eshm-int.h"

/*
 * A channel has up to ESHM_WRITERS writers and ESHM_READERS readers, each
 * in a consumer group (see struct eshm_batch for how they share it). Claiming, releasing and ending a
 * stream happen under the segment's flock, so that what one process sees
 * of the slots (who is attached, who died) does not change while it
 * decides: whether it may attach, and whether a stream ended.
 */

static int
slot_pid(const struct eshm *h, int s)
{
	return (int)atomic_load_explicit(&h->hdr->slot[s].pid, memory_order_relaxed);
}

static int
busy(struct eshm *h, struct eshm_error *err, int s, int st)
{
	pid_t pid = slot_pid(h, s);
	return eshm_fill_error(
		err, ESHM_EBUSY, pid, "channel %s of %s already has a %s %s (pid %d)%s",
		eshm_chan_name(slot_chan(s)), h->name, st == ESHM_PEER_STALE ? "stale" : "live",
		eshm_end_desc(s), (int)pid, st == ESHM_PEER_STALE ? "; --takeover takes it" : "");
}

/* Fold a slot's published counts into its channel's retired ones and
 * clear them, so that a new holder starts from zero and nothing is lost
 * from the totals. */
static void
retire_counts(struct eshm *h, int s)
{
	struct eshm_chan *c = &h->hdr->chan[slot_chan(s)];
	struct eshm_counts *dst = slot_is_writer(s) ? &c->retired_in : &c->retired_out;
	struct eshm_counts cur;
	eshm_counts_read(&h->hdr->counts[s].seq, &h->hdr->counts[s].c, &cur);
	uint32_t q = atomic_load_explicit(&c->cseq, memory_order_relaxed) & ~1u;
	atomic_store_explicit(&c->cseq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	_Atomic uint64_t *d[4] = {&dst->msgs, &dst->bytes, &dst->waits, &dst->wakes};
	_Atomic uint64_t *v[4] = {&cur.msgs, &cur.bytes, &cur.waits, &cur.wakes};
	_Atomic uint64_t *z[4] = {&h->hdr->counts[s].c.msgs, &h->hdr->counts[s].c.bytes,
				  &h->hdr->counts[s].c.waits, &h->hdr->counts[s].c.wakes};
	for (int i = 0; i < 4; i++) {
		eshm_count_add(d[i], atomic_load_explicit(v[i], memory_order_relaxed));
		atomic_store_explicit(z[i], 0, memory_order_relaxed);
	}
	atomic_store_explicit(&c->cseq, q + 2, memory_order_release);
}

static struct eshm_batch *
batch_of(struct eshm *h, int s)
{
	return &h->hdr->batch[slot_chan(s)][s % SLOTS_PER_CHAN - SLOT_R];
}

/* Set batch b empty at pos: its end first, so that it never looks empty
 * while it holds something. */
static void
batch_set_empty(struct eshm_batch *b, uint64_t pos)
{
	atomic_store_explicit(&b->end, pos, memory_order_seq_cst);
	atomic_store_explicit(&b->start, pos, memory_order_seq_cst);
}

/*
 * The reader of slot s leaves (it detached, or was seen dead): what its
 * batch holds goes back to its group (BATCH_RETURNED), to be delivered
 * again first; an empty batch is dropped. A batch that starts at or after
 * the group's next was announced and never taken: nothing to give back.
 * Under the flock.
 */
static void
reader_leave(struct eshm *h, int s)
{
	int ch = slot_chan(s);
	struct eshm_batch *b = batch_of(h, s);
	uint32_t gi = atomic_load_explicit(&b->group, memory_order_relaxed);
	if (atomic_load_explicit(&b->state, memory_order_relaxed) != BATCH_HELD)
		return;
	if (gi >= ESHM_GROUPS) { /* scribbled: nothing to return it to */
		atomic_store_explicit(&b->state, BATCH_NONE, memory_order_relaxed);
		return;
	}
	struct eshm_group *g = &h->hdr->group[ch][gi];
	uint64_t st = eshm_batch_start(b, g);
	uint64_t en = atomic_load_explicit(&b->end, memory_order_relaxed);
	uint64_t nx = atomic_load_explicit(&g->next, memory_order_relaxed);
	atomic_store_explicit(&b->start, st, memory_order_relaxed);
	if (en > nx)
		en = nx; /* it died announcing more than it took */
	if (st < en) {
		atomic_store_explicit(&b->state, BATCH_RETURNED, memory_order_relaxed);
		atomic_fetch_add_explicit(&g->returned, 1, memory_order_seq_cst);
		/* readers of the group asleep for data: there is some again */
		atomic_store_explicit(&h->hdr->chan[ch].data_wait, 0, memory_order_relaxed);
		eshm_futex_wake(&h->hdr->chan[ch].data_wait);
		eshm_poll_kick(h, h->hdr, ch, POLL_DATA);
		return;
	}
	batch_set_empty(b, nx);
	atomic_store_explicit(&b->state, BATCH_NONE, memory_order_seq_cst);
	uint32_t n = atomic_load_explicit(&g->holders, memory_order_relaxed);
	atomic_store_explicit(&g->holders, n ? n - 1 : 0, memory_order_seq_cst);
	eshm_group_rescan(h->hdr, ch, (int)gi);
}

/* A slot that held something before us: settle what it left. */
static void
clear_slot(struct eshm *h, int s)
{
	struct eshm_slot *sl = &h->hdr->slot[s];
	if (slot_is_tap(s)) {
		struct eshm_chan *c = &h->hdr->chan[slot_chan(s)];
		uint32_t n = atomic_load_explicit(&c->ntaps, memory_order_relaxed);
		if (atomic_load_explicit(&sl->pid, memory_order_relaxed))
			atomic_store_explicit(&c->ntaps, n ? n - 1 : 0, memory_order_relaxed);
	} else if (!slot_is_writer(s)) {
		reader_leave(h, s);
	}
	if (slot_is_writer(s)) {
		eshm_claim_settle(h->fd, h->hdr, &h->g, h->base, s);
		if (atomic_load_explicit(&sl->pid, memory_order_relaxed)) {
			struct eshm_chan *c = &h->hdr->chan[slot_chan(s)];
			uint32_t n = atomic_load_explicit(&c->nwriters, memory_order_relaxed);
			atomic_store_explicit(&c->nwriters, n ? n - 1 : 0, memory_order_relaxed);
		}
	}
	retire_counts(h, s);
	eshm_poll_forget(h->hdr, s);
	atomic_store_explicit(&sl->pid, 0, memory_order_relaxed);
	atomic_store_explicit(&sl->flags, 0, memory_order_relaxed);
}

/* Take slot s: its heartbeat first, so that an observer never sees our
 * lock with the previous holder's old heartbeat and calls us stale. */
static int
take_slot(struct eshm *h, int s, uint32_t flags, uint64_t *gen, struct eshm_error *err)
{
	struct eshm_slot *sl = &h->hdr->slot[s];
	atomic_store_explicit(&sl->heartbeat_ns, (uint64_t)eshm_now_mono(), memory_order_relaxed);
	int r = eshm_slot_lock(h->fd, s, F_RDLCK);
	if (r < 0)
		return eshm_fill_error(err, r == -EAGAIN ? ESHM_EBUSY : r, 0,
				       "cannot lock the %s slot of channel %s of %s: %s",
				       eshm_end_desc(s), eshm_chan_name(slot_chan(s)), h->name,
				       eshm_strerror(r));
	atomic_store_explicit(&sl->stale_ms, (uint32_t)h->cfg.stale_threshold_ms,
			      memory_order_relaxed);
	atomic_store_explicit(&sl->start_time, eshm_proc_start_time(getpid()),
			      memory_order_relaxed);
	atomic_store_explicit(&sl->cpus, h->cpus, memory_order_relaxed);
	atomic_store_explicit(&sl->flags, flags, memory_order_relaxed);
	atomic_store_explicit(&sl->intent_pos, UINT64_MAX, memory_order_relaxed);
	/* a holder we displaced polled for itself, not for us */
	eshm_poll_forget(h->hdr, s);
	atomic_store_explicit(&sl->pid, (uint32_t)getpid(), memory_order_relaxed);
	atomic_store_explicit(&sl->claimer, (uint32_t)getpid(), memory_order_relaxed);
	*gen = atomic_fetch_add_explicit(&sl->generation, 1, memory_order_relaxed) + 1;
	return 0;
}

/* A free slot of kind [first, first + n): never held, else one whose
 * holder died (its leavings settled); -1 if all are held. */
static int
free_slot(struct eshm *h, int first, int n)
{
	int dead = -1;
	for (int s = first; s < first + n; s++) {
		if (eshm_end_probe(h->fd, s) != 0)
			continue;
		if (!slot_pid(h, s))
			return s;
		if (dead < 0)
			dead = s;
	}
	if (dead >= 0)
		clear_slot(h, dead);
	return dead;
}

/* A new stream: nobody writes now. Writers that died or were lost since
 * the last one are forgotten (their claims settled): their stream is
 * over, the new writer's is another. */
static void
stream_new(struct eshm *h, int ch)
{
	int base = ch * SLOTS_PER_CHAN + SLOT_W;
	for (int s = base; s < base + ESHM_WRITERS; s++)
		if (slot_pid(h, s) && eshm_end_probe(h->fd, s) == 0)
			clear_slot(h, s);
}

/* Writers: many, unless one is exclusive or writes a raw stream. */
static int
claim_writer(struct eshm *h, int ch, bool excl, int64_t now, struct eshm_error *err)
{
	struct eshm_chan *c = &h->hdr->chan[ch];
	int base = ch * SLOTS_PER_CHAN + SLOT_W;
	bool raw = h->cfg.framing == ESHM_FRAMING_RAW, takeover = h->cfg.flags & ESHM_TAKEOVER;
	int take = -1;
	/* an exclusive or raw writer holds the channel */
	/* from shared memory: a slot of this channel's writers, or none */
	uint32_t x = atomic_load_explicit(&c->excl, memory_order_relaxed);
	int xs = x >= 1 && x <= NSLOTS ? (int)(x - 1) : -1;
	if (xs >= base && xs < base + ESHM_WRITERS) {
		int st = eshm_end_state(h->fd, h->hdr, xs, now);
		if (st == ESHM_PEER_STALE && takeover) {
			take = xs;
		} else if (st == ESHM_PEER_ALIVE || st == ESHM_PEER_STALE) {
			uint32_t f =
				atomic_load_explicit(&h->hdr->slot[xs].flags, memory_order_relaxed);
			if ((f & SLOTF_RAW) && !excl && !raw)
				return eshm_fill_error(
					err, ESHM_ETURN, slot_pid(h, xs),
					"channel %s of %s is written by a raw stream (pid %d)",
					eshm_chan_name(ch), h->name, slot_pid(h, xs));
			/* a raw writer asked to wait for its turn waits for any
			 * writer that has the channel alone */
			if (raw && !excl && (h->cfg.flags & ESHM_WAIT_TURN))
				return eshm_fill_error(
					err, ESHM_ETURN, slot_pid(h, xs),
					"channel %s of %s is held by another writer (pid %d)",
					eshm_chan_name(ch), h->name, slot_pid(h, xs));
			return busy(h, err, xs, st);
		}
	}
	/* others, for a writer that wants the channel to itself */
	int other = eshm_locked_in(h->fd, base, ESHM_WRITERS);
	if (take < 0 && other >= 0 && (excl || raw)) {
		int st = eshm_end_state(h->fd, h->hdr, other, now);
		if (st == ESHM_PEER_STALE && takeover &&
		    eshm_locked_in(h->fd, base, other - base) < 0 &&
		    eshm_locked_in(h->fd, other + 1, base + ESHM_WRITERS - other - 1) < 0) {
			take = other;
		} else if (raw && !excl) {
			return eshm_fill_error(
				err, (h->cfg.flags & ESHM_WAIT_TURN) ? ESHM_ETURN : ESHM_EBUSY,
				slot_pid(h, other),
				"channel %s of %s has another writer (pid %d); a raw stream needs "
				"the channel to itself (--wait-turn waits for its turn)",
				eshm_chan_name(ch), h->name, slot_pid(h, other));
		} else {
			return busy(h, err, other, st);
		}
	}
	/* first the leavings of a finished stream: then the new writer takes
	 * the lowest free slot, as often the one its predecessor had */
	if (other < 0 || take == other)
		stream_new(h, ch);
	int s = take;
	if (s >= 0) {
		/* displaced: what it claimed and did not commit is skipped */
		eshm_claim_settle(h->fd, h->hdr, &h->g, h->base, s);
		retire_counts(h, s);
	} else if ((s = free_slot(h, base, ESHM_WRITERS)) < 0) {
		return eshm_fill_error(err, ESHM_EBUSY, 0,
				       "channel %s of %s has %d live writers, the most it takes",
				       eshm_chan_name(ch), h->name, ESHM_WRITERS);
	}
	uint32_t flags = (excl ? SLOTF_EXCLUSIVE : 0) | (raw ? SLOTF_RAW : 0);
	int r = take_slot(h, s, flags, &h->wgen, err);
	if (r)
		return r;
	if (take < 0)
		atomic_fetch_add_explicit(&c->nwriters, 1, memory_order_relaxed);
	atomic_store_explicit(&c->excl, excl || raw ? (uint32_t)s + 1 : 0, memory_order_relaxed);
	atomic_store_explicit(&c->ended, 0, memory_order_relaxed);
	atomic_store_explicit(&c->framing, (uint32_t)h->cfg.framing, memory_order_relaxed);
	h->wend = s;
	h->w.exclusive = excl || raw;
	return 0;
}

static int
reader_group(struct eshm *h, int s)
{
	return (int)(atomic_load_explicit(&h->hdr->slot[s].flags, memory_order_relaxed) >> 8 &
		     0xff);
}

/* Readers of channel ch seen dead leave (their batches go back to their
 * groups); their slots are free again. Under the flock. The number of
 * readers cleared. */
int
eshm_readers_sweep(struct eshm *h, int ch)
{
	int base = ch * SLOTS_PER_CHAN + SLOT_R, n = 0;
	for (int s = base; s < base + ESHM_READERS; s++) {
		/* (our own lock is invisible to us: never probe our slot) */
		if (s == h->rend || !slot_pid(h, s) || eshm_end_probe(h->fd, s) != 0)
			continue;
		clear_slot(h, s);
		n++;
	}
	return n;
}

/* A reader slot free for us: not held, and no batch of it waiting to be
 * delivered again; -1 if none. */
static int
free_reader_slot(struct eshm *h, int ch)
{
	int base = ch * SLOTS_PER_CHAN + SLOT_R;
	for (int s = base; s < base + ESHM_READERS; s++)
		if (!slot_pid(h, s) && eshm_end_probe(h->fd, s) == 0 &&
		    atomic_load_explicit(&batch_of(h, s)->state, memory_order_relaxed) ==
			    BATCH_NONE)
			return s;
	return -1;
}

/* Readers: many per consumer group, unless one is exclusive (then it is
 * the channel's only reader). A stale reader of our group is taken over
 * with ESHM_TAKEOVER, its batch with it. */
static int
claim_reader(struct eshm *h, int ch, bool excl, int64_t now, struct eshm_error *err)
{
	int base = ch * SLOTS_PER_CHAN + SLOT_R;
	bool takeover = h->cfg.flags & ESHM_TAKEOVER;
	int gi = eshm_group_find(h->hdr, ch, h->cgroup);
	int take = -1;
	eshm_readers_sweep(h, ch);
	for (int s = base; s < base + ESHM_READERS; s++) {
		if (!slot_pid(h, s))
			continue;
		int st = eshm_end_state(h->fd, h->hdr, s, now);
		if (st != ESHM_PEER_ALIVE && st != ESHM_PEER_STALE)
			continue;
		uint32_t f = atomic_load_explicit(&h->hdr->slot[s].flags, memory_order_relaxed);
		bool mine = gi >= 0 && reader_group(h, s) == gi;
		if (st == ESHM_PEER_STALE && takeover && mine && take < 0) {
			take = s;
			continue;
		}
		if (excl || (f & SLOTF_EXCLUSIVE))
			return busy(h, err, s, st);
	}
	if (gi < 0 && (gi = eshm_group_create(h->hdr, ch, h->cgroup)) < 0)
		return eshm_fill_error(err, ESHM_EBUSY, 0,
				       "channel %s of %s has %d consumer groups, the most it takes",
				       eshm_chan_name(ch), h->name, ESHM_GROUPS);
	int s = take;
	if (s >= 0)
		retire_counts(h, s);
	else if ((s = free_reader_slot(h, ch)) < 0)
		return eshm_fill_error(err, ESHM_EBUSY, 0,
				       "channel %s of %s has %d readers, the most it takes",
				       eshm_chan_name(ch), h->name, ESHM_READERS);
	int r = take_slot(h, s, (uint32_t)gi << 8 | (excl ? SLOTF_EXCLUSIVE : 0), &h->rgen, err);
	if (r)
		return r;
	if (take < 0) {
		/* a new reader of the group, with an empty batch */
		struct eshm_batch *b = batch_of(h, s);
		struct eshm_group *g = &h->hdr->group[ch][gi];
		batch_set_empty(b, atomic_load_explicit(&g->next, memory_order_relaxed));
		atomic_store_explicit(&b->skip_pos, UINT64_MAX, memory_order_relaxed);
		atomic_store_explicit(&b->group, (uint32_t)gi, memory_order_relaxed);
		atomic_store_explicit(&b->state, BATCH_HELD, memory_order_seq_cst);
		atomic_fetch_add_explicit(&g->holders, 1, memory_order_seq_cst);
	}
	h->rend = s;
	h->r.group = gi;
	return 0;
}

/* Taps: up to ESHM_TAPS a channel, beside any readers, exclusive ones too. */
static int
claim_tap(struct eshm *h, int ch, struct eshm_error *err)
{
	int s = free_slot(h, ch * SLOTS_PER_CHAN + SLOT_T, ESHM_TAPS);
	if (s < 0)
		return eshm_fill_error(err, ESHM_EBUSY, 0,
				       "channel %s of %s has %d taps, the most it takes",
				       eshm_chan_name(ch), h->name, ESHM_TAPS);
	int r = take_slot(h, s, 0, &h->tgen, err);
	if (r)
		return r;
	/* readers done waiting now leave data_wait up for us (wait_data) */
	atomic_fetch_add_explicit(&h->hdr->chan[ch].ntaps, 1, memory_order_seq_cst);
	h->tend = s;
	return 0;
}

/*
 * Take a batch that a reader of our group returned (it left, or died,
 * before releasing it): it becomes ours, whole. 1 when one was taken, 0
 * when there was none. Under the flock.
 */
int
eshm_batch_adopt(struct eshm *h, uint64_t *start, uint64_t *end, uint64_t *skip_word)
{
	int ch = slot_chan(h->rend), gi = h->r.group;
	struct eshm_group *g = &h->hdr->group[ch][gi];
	struct eshm_batch *mine = batch_of(h, h->rend);
	for (int k = 0; k < ESHM_READERS; k++) {
		struct eshm_batch *b = &h->hdr->batch[ch][k];
		if (b == mine ||
		    atomic_load_explicit(&b->state, memory_order_relaxed) != BATCH_RETURNED ||
		    atomic_load_explicit(&b->group, memory_order_relaxed) != (uint32_t)gi)
			continue;
		uint64_t st = atomic_load_explicit(&b->start, memory_order_relaxed);
		uint64_t en = atomic_load_explicit(&b->end, memory_order_relaxed);
		uint64_t sp = atomic_load_explicit(&b->skip_pos, memory_order_relaxed);
		uint64_t sw = atomic_load_explicit(&b->skip_word, memory_order_relaxed);
		/* ours now: announced (start before end, as a new batch is)
		 * before theirs is dropped, so the group's release point never
		 * passes it */
		atomic_store_explicit(&mine->skip_word, sw, memory_order_relaxed);
		atomic_store_explicit(&mine->skip_pos, sp, memory_order_relaxed);
		atomic_store_explicit(&mine->start, st, memory_order_seq_cst);
		atomic_store_explicit(&mine->end, en, memory_order_seq_cst);
		atomic_store_explicit(&b->state, BATCH_NONE, memory_order_seq_cst);
		batch_set_empty(b, 0);
		uint32_t n = atomic_load_explicit(&g->returned, memory_order_relaxed);
		atomic_store_explicit(&g->returned, n ? n - 1 : 0, memory_order_seq_cst);
		n = atomic_load_explicit(&g->holders, memory_order_relaxed);
		atomic_store_explicit(&g->holders, n ? n - 1 : 0, memory_order_seq_cst);
		*start = st;
		*end = en;
		*skip_word = sp == st ? sw : 0;
		return 1;
	}
	return 0;
}

/* Whether role's channels (write wch, read rch) are free to be held
 * exclusively: what role auto asks of master. */
static bool
free_for(struct eshm *h, int wch, int rch, int64_t now)
{
	if (wch >= 0 && eshm_locked_in(h->fd, wch * SLOTS_PER_CHAN + SLOT_W, ESHM_WRITERS) >= 0)
		return false;
	if (rch >= 0 && eshm_live_reader(h->fd, rch) >= 0)
		return false;
	(void)now;
	return true;
}

/* Claim the slots the config asks for. Called with the segment flocked. */
int
eshm_ends_claim(struct eshm *h, struct eshm_error *err)
{
	int64_t now = eshm_now_mono();
	int role = h->cfg.role;
	bool w = h->cfg.ends & ESHM_END_WRITE, rd = h->cfg.ends & ESHM_END_READ;
	/* role auto pairs a master and a slave: each end held alone */
	bool excl = role == ESHM_ROLE_AUTO || (h->cfg.flags & ESHM_EXCLUSIVE);
	if (role == ESHM_ROLE_AUTO)
		role = free_for(h, w ? CH_M2S : -1, rd ? CH_S2M : -1, now) ? ESHM_ROLE_MASTER
									   : ESHM_ROLE_SLAVE;
	int wch = role == ESHM_ROLE_MASTER ? CH_M2S : CH_S2M, rch = !wch;
	int r;
	h->wend = h->rend = -1;
	if (w && (r = claim_writer(h, wch, excl, now, err)))
		return r;
	if (rd && (h->cfg.flags & ESHM_TAP) && (r = claim_tap(h, rch, err)))
		return r;
	if (rd && !(h->cfg.flags & ESHM_TAP) && (r = claim_reader(h, rch, excl, now, err))) {
		eshm_ends_release(h, false);
		return r;
	}
	h->role = role;
	return 0;
}

/* Whether we still own end (no explicit takeover happened). */
int
eshm_end_check(struct eshm *h, int end)
{
	uint64_t g = atomic_load_explicit(&h->hdr->slot[end].generation, memory_order_relaxed);
	uint64_t mine = eshm_gen_of(h, end);
	/* a slot read as zeros may be a truncated segment, not a takeover */
	if (g != mine && eshm_truncated(h))
		return ESHM_ECORRUPT;
	/* generations only grow: one that went back was scribbled over */
	if (g < mine)
		return eshm_seterr(h, ESHM_ECORRUPT,
				   "segment %s is corrupt: the record of our %s end of channel %s "
				   "changed under us (generation %llu, ours %llu)",
				   h->name, eshm_end_desc(end), eshm_chan_name(slot_chan(end)),
				   (unsigned long long)g, (unsigned long long)mine);
	if (g != mine)
		return eshm_seterr(
			h, ESHM_ETAKEN, "the %s end of channel %s of %s was taken over by pid %u",
			eshm_end_desc(end), eshm_chan_name(slot_chan(end)), h->name,
			atomic_load_explicit(&h->hdr->slot[end].claimer, memory_order_relaxed));
	return 0;
}

/* Why we may not touch end, eshm_owns having said so: never 0, even if
 * the slot's generation, read a second time, looks ours again (it went
 * back: scribbled over). */
int
eshm_not_owned(struct eshm *h, int end)
{
	int r = eshm_end_check(h, end);
	if (r)
		return r;
	return eshm_seterr(h, ESHM_ECORRUPT,
			   "segment %s is corrupt: the record of our %s end of channel %s "
			   "changed under us and back",
			   h->name, eshm_end_desc(end), eshm_chan_name(slot_chan(end)));
}

/* Whether any writer of ch but us is attached, or died (or was lost)
 * attached since the stream began. */
static bool
others_write(struct eshm *h, int ch)
{
	int base = ch * SLOTS_PER_CHAN + SLOT_W;
	for (int s = base; s < base + ESHM_WRITERS; s++) {
		if (s == h->wend || !slot_pid(h, s))
			continue;
		if (eshm_end_probe(h->fd, s) == 0)
			return true; /* dead or lost: the stream is lost, not ended */
		uint32_t f = atomic_load_explicit(&h->hdr->slot[s].flags, memory_order_relaxed);
		if (!(f & SLOTF_DONE))
			return true;
	}
	return false;
}

/* Our writer finished its stream: the channel's stream ends if we were
 * the last to write it and none was lost. Under the flock. */
void
eshm_stream_end(struct eshm *h)
{
	struct wside *w = &h->w;
	int ch = slot_chan(h->wend);
	struct eshm_chan *c = &h->hdr->chan[ch];
	struct eshm_slot *sl = &h->hdr->slot[h->wend];
	atomic_fetch_or_explicit(&sl->flags, SLOTF_DONE, memory_order_relaxed);
	w->done = true;
	w->wrote = false;
	if (!others_write(h, ch) && !atomic_load_explicit(&c->ended, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&c->end_epoch, 1, memory_order_relaxed);
		atomic_store_explicit(&c->ended, 1, memory_order_release);
	}
	/* readers decide the end when they see it: wake them */
	atomic_store_explicit(&c->data_wait, 0, memory_order_relaxed);
	eshm_futex_wake(&c->data_wait);
	eshm_poll_kick(h, h->hdr, ch, POLL_DATA);
}

/* We write again after ending our stream: it is open again. Under the
 * flock. */
void
eshm_stream_reopen(struct eshm *h)
{
	struct eshm_chan *c = &h->hdr->chan[slot_chan(h->wend)];
	atomic_fetch_and_explicit(&h->hdr->slot[h->wend].flags, ~(uint32_t)SLOTF_DONE,
				  memory_order_relaxed);
	atomic_store_explicit(&c->ended, 0, memory_order_release);
	h->w.done = false;
}

/*
 * Release our slots, under the flock. The slot keeps its last heartbeat:
 * it tells eshm-clean how long the segment has been idle. A writer that
 * finished ends the stream if it was the last (eshm_stream_end, if it did
 * not already); one that failed or was interrupted (lost) keeps its pid,
 * exactly as if it had died: its readers then see a lost writer, not a
 * finished one.
 */
void
eshm_ends_release(struct eshm *h, bool lost)
{
	if (h->wend >= 0) {
		int s = h->wend;
		struct eshm_slot *sl = &h->hdr->slot[s];
		struct eshm_chan *c = &h->hdr->chan[slot_chan(s)];
		if (eshm_owns(h, s)) {
			int64_t now = eshm_now_mono();
			atomic_store_explicit(&sl->intent_pos, UINT64_MAX, memory_order_relaxed);
			atomic_store_explicit(&sl->heartbeat_ns, (uint64_t)now,
					      memory_order_relaxed);
			/* what we wrote was claimed before now */
			eshm_stamp(h->hdr, slot_chan(s), now, true);
			if (atomic_load_explicit(&c->excl, memory_order_relaxed) == (uint32_t)s + 1)
				atomic_store_explicit(&c->excl, 0, memory_order_relaxed);
			if (!lost) {
				uint32_t n =
					atomic_load_explicit(&c->nwriters, memory_order_relaxed);
				atomic_store_explicit(&c->nwriters, n ? n - 1 : 0,
						      memory_order_relaxed);
				atomic_store_explicit(&sl->pid, 0, memory_order_relaxed);
			}
			/* our counts (flushed by eshm_detach) go to the channel's
			 * totals: the slot's next holder starts from zero */
			retire_counts(h, s);
			/* readers re-decide: the stream may have ended or been lost */
			atomic_store_explicit(&c->data_wait, 0, memory_order_relaxed);
			eshm_futex_wake(&c->data_wait);
			eshm_poll_kick(h, h->hdr, slot_chan(s), POLL_DATA);
		}
		eshm_slot_lock(h->fd, s, F_UNLCK);
		h->wend = -1;
	}
	if (h->rend >= 0) {
		int s = h->rend;
		struct eshm_slot *sl = &h->hdr->slot[s];
		if (eshm_owns(h, s)) {
			int64_t now = eshm_now_mono();
			atomic_store_explicit(&sl->heartbeat_ns, (uint64_t)now,
					      memory_order_relaxed);
			/* what we took and did not release goes back to the group */
			reader_leave(h, s);
			/* what we released since our last beat was progress */
			eshm_group_progress(h->hdr, slot_chan(s), h->r.group, now);
			retire_counts(h, s);
			atomic_store_explicit(&sl->pid, 0, memory_order_relaxed);
		}
		eshm_slot_lock(h->fd, s, F_UNLCK);
		h->rend = -1;
	}
	if (h->tend >= 0) {
		int s = h->tend;
		if (eshm_owns(h, s)) {
			atomic_store_explicit(&h->hdr->slot[s].heartbeat_ns,
					      (uint64_t)eshm_now_mono(), memory_order_relaxed);
			clear_slot(h, s);
		}
		eshm_slot_lock(h->fd, s, F_UNLCK);
		h->tend = -1;
	}
}
