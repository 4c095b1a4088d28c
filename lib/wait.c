/* wait.c - waiting for the other side: the spin policy, deadlines, and the one sleep loop. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "eshm-int.h"

/*
 * Sleeping. Sleeper and waker form a Dekker pair: the sleeper stores its
 * flag (data_wait or space_wait) then loads the index; the waker stores the
 * index then loads the flag (ring-write.c publish, ring-read.c rpublish).
 * Both pairs are seq_cst, so at least one side sees the other's store:
 * either the sleeper sees the new index and does not sleep, or the waker
 * sees the flag and wakes it. A side that finds the flag clear makes no
 * system call, which is the common case when the peer keeps up.
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
/*
 * Whether spinning may pay: not when we and those we wait for may all run
 * on one and the same CPU only, nor when there are more of us than CPUs
 * to run on (five processes on two cores: a spin only keeps the one we
 * wait for from running). Who they are (their CPU masks, how many) is
 * looked up in their slots at most every PEERS_NS, not at every wait.
 */
#define PEERS_NS (10 * 1000000LL)

static bool
spin_worth(struct eshm *h, const struct eshm_waiter *w)
{
	struct spin *sp = w->spin;
	int64_t now = eshm_now_mono();
	if (!sp->peers_at || now - sp->peers_at > PEERS_NS) {
		uint64_t cpus = 0;
		int n = 0;
		for (int s = w->peers; s < w->peers + w->npeers; s++) {
			if (!atomic_load_explicit(&h->hdr->slot[s].pid, memory_order_relaxed))
				continue;
			cpus |= atomic_load_explicit(&h->hdr->slot[s].cpus, memory_order_relaxed);
			n++;
		}
		sp->peer_cpus = cpus;
		/* the crowd: every writer and reader of the channel, us
		 * included (four writers and a reader on two cores: a
		 * spinning writer keeps the reader, who would make room,
		 * from running) */
		int first = slot_chan(w->end) * SLOTS_PER_CHAN;
		for (int s = first; s < first + SLOT_T; s++)
			n += (s < w->peers || s >= w->peers + w->npeers) &&
			     atomic_load_explicit(&h->hdr->slot[s].pid, memory_order_relaxed);
		sp->crowd = n;
		sp->peers_at = now;
	}
	int ncpu = __builtin_popcountll(h->cpus | sp->peer_cpus);
	sp->crowded = ncpu > 1 && sp->crowd > ncpu;
	return ncpu > 1 && sp->crowd <= ncpu;
}

/*
 * More of us than CPUs (five processes on two cores: a writer and four
 * readers of four groups): spinning only keeps the one we wait for from
 * running, but sleeping at once is worse still. A reader that caught up
 * sleeps, the writer's next commit wakes it (a system call each side, and
 * the woken reader preempts the writer), it reads that one message and
 * sleeps again: measured, 160,000 wakes a second and each group at 0.21x
 * the rate of a lone reader. Giving up the CPU a few times first lets
 * the others run, the writer among them, and we come back to a batch.
 * 1 if ready, 0 if not, or an error from ready.
 */
#define CROWD_YIELDS 8

static int
yield_until(struct eshm *h, const struct eshm_waiter *w)
{
	if (!w->spin->crowded)
		return 0;
	for (int i = 0; i < CROWD_YIELDS; i++) {
		sched_yield();
		int r = w->ready(h);
		if (r)
			return r;
	}
	return 0;
}

static int
spin_until(struct eshm *h, const struct eshm_waiter *w)
{
	struct spin *sp = w->spin;
	int (*ready)(struct eshm *) = w->ready;
	if (!spin_worth(h, w))
		return 0;
	int64_t budget = spin_probe(sp) ? SPIN_MAX_NS : sp->budget;
	if (budget <= 0)
		return 0;
	int64_t start = eshm_now_mono(), end = start + budget;
	unsigned spent = 0;
	for (unsigned looks = 1;; looks++) {
		for (unsigned i = 0; i < sp->poll; i++)
			eshm_cpu_relax();
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

/* Spin only, as eshm_wait does before it sleeps: 1 if ready, 0 if not
 * (spinning would not pay here, or the budget is spent), or an error. */
int
eshm_spin_only(struct eshm *h, const struct eshm_waiter *w)
{
	int r = w->ready(h);
	return r ? r : spin_until(h, w);
}

/* The CPUs this process may run on, one bit each; bit 63 stands for CPU 63
 * and all above it. */
uint64_t
eshm_cpu_mask(void)
{
	cpu_set_t set;
	uint64_t m = 0;
	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return ~(uint64_t)0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			m |= (uint64_t)1 << (c < 63 ? c : 63);
	return m;
}

/* A deadline on CLOCK_MONOTONIC: -1 never, 0 "do not wait at all" (a
 * poll must neither spin, nor raise a flag that makes the peer wake us,
 * nor teach the spin budget that spinning fails). */
int64_t
eshm_deadline(int timeout_ms)
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

/*
 * Wait until w->ready says so, until deadline (eshm_deadline), for either
 * side: spin first (see above), then sleep on w->flag in slices, so that
 * the caller's interrupt flag is seen at least once a slice (a signal that
 * arrives just before we sleep does not interrupt the sleep), and, each
 * time a whole slice passed with nothing, w->idle can check what only
 * time shows: a writer gone, a name removed. After every sleep, the end
 * must still be ours. 0 when ready, or an error (-EINTR, ESHM_ETIMEDOUT
 * with w->expired's message, or what a check found).
 */
int
eshm_wait(struct eshm *h, const struct eshm_waiter *w, int64_t deadline)
{
	int r = w->ready(h);
	if (r)
		return r < 0 ? r : 0;
	if (deadline == 0)
		return w->expired(h, true);
	if ((r = spin_until(h, w)) || (r = yield_until(h, w)))
		return r < 0 ? r : 0;

	for (bool counted = false, idle = false;; counted = true) {
		if (h->cfg.interrupt && *h->cfg.interrupt) {
			r = eshm_seterr(h, -EINTR, "interrupted");
			break;
		}
		if (idle && (r = w->idle(h, eshm_now_mono())))
			break;
		atomic_store_explicit(w->flag, 1, memory_order_seq_cst);
		if ((r = w->ready(h))) {
			r = r < 0 ? r : 0;
			break;
		}
		int64_t left = slice_left(deadline);
		if (left < 0) {
			r = w->expired(h, false);
			break;
		}
		if (!counted)
			eshm_count_wait(h, w->waits);
		r = eshm_futex_wait(w->flag, 1, left);
		idle = r == ESHM_ETIMEDOUT;
		if (r == -EINTR) {
			r = eshm_seterr(h, -EINTR, "interrupted");
			break;
		}
		if (r < 0 && !idle && eshm_truncated(h)) {
			r = ESHM_ECORRUPT;
			break;
		}
		if ((r = eshm_end_check(h, w->end)))
			break;
	}
	/* Done waiting: lower the flag, so that the other side makes no
	 * needless wake, unless the waiter shares it with others that must
	 * each be woken (readers of other consumer groups): lowered by one
	 * that is done, it would keep them asleep a whole slice with data
	 * there for them (four readers of four groups used 0.33 of 4
	 * CPU-seconds and got 1 M messages/s each). Readers of one group, or
	 * writers, need no such care: any one of them that runs does the
	 * work the others would; and keeping the flag up for them cost a
	 * pool of four readers 0.6x, four writers 0.55x, in needless wakes. */
	if (!w->shared_flag)
		atomic_store_explicit(w->flag, 0, memory_order_relaxed);
	return r;
}
