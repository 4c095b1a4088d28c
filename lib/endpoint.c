/* endpoint.c - the four ends of a segment: who holds them, claiming, releasing. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eshm-int.h"

/*
 * Liveness is an OFD lock, not a pid: the kernel drops the lock when the
 * last descriptor of the open file description goes away, however the
 * holder dies, and a reused pid cannot fake it. Holders take a read lock;
 * observers ask F_OFD_GETLK whether a write lock would conflict. Read locks
 * (not write locks) let an explicit takeover coexist with a stopped holder.
 */
int
eshm_end_probe(int fd, int end)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = ESHM_LOCK_BASE + end,
		.l_len = 1,
	};
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

static int
end_lock(int fd, int end, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = ESHM_LOCK_BASE + end,
		.l_len = 1,
	};
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* State of one end as seen through fd (which must not hold that end). */
int
eshm_end_state(int fd, const struct eshm_header *hdr, int end, int64_t now)
{
	const struct eshm_slot *s = &hdr->slot[end];
	int locked = eshm_end_probe(fd, end);
	uint32_t pid = atomic_load_explicit(&s->pid, memory_order_relaxed);
	if (locked <= 0)
		return pid ? ESHM_PEER_DEAD : ESHM_PEER_NONE;
	uint64_t hb = atomic_load_explicit(&s->heartbeat_ns, memory_order_relaxed);
	uint32_t stale = atomic_load_explicit(&s->stale_ms, memory_order_relaxed);
	if (stale == 0)
		stale = 100;
	if (eshm_age_ns(now, hb) > (int64_t)stale * 1000000)
		return ESHM_PEER_STALE;
	return ESHM_PEER_ALIVE;
}

bool
eshm_any_live(int fd)
{
	for (int e = 0; e < NENDS; e++)
		if (eshm_end_probe(fd, e) != 0)
			return true;
	return false;
}

static void
role_ends(int role, unsigned ends, int *wend, int *rend)
{
	*wend = *rend = -1;
	if (ends & ESHM_END_WRITE)
		*wend = role == ESHM_ROLE_MASTER ? END_M2S_W : END_S2M_W;
	if (ends & ESHM_END_READ)
		*rend = role == ESHM_ROLE_MASTER ? END_S2M_R : END_M2S_R;
}

/* 0 if end may be claimed now, else ESHM_EBUSY (error filled in). */
static int
end_available(struct eshm *h, int end, int64_t now, struct eshm_error *err)
{
	int st = eshm_end_state(h->fd, h->hdr, end, now);
	if (st == ESHM_PEER_NONE || st == ESHM_PEER_DEAD)
		return 0;
	if (st == ESHM_PEER_STALE && (h->cfg.flags & ESHM_TAKEOVER))
		return 0;
	pid_t pid = (pid_t)atomic_load_explicit(&h->hdr->slot[end].pid, memory_order_relaxed);
	return eshm_fill_error(
		err, ESHM_EBUSY, pid, "channel %s of %s already has a %s %s (pid %d)%s",
		eshm_chan_name(end / 2), h->name, st == ESHM_PEER_STALE ? "stale" : "live",
		eshm_end_desc(end), (int)pid, st == ESHM_PEER_STALE ? "; --takeover takes it" : "");
}

/* Claim the ends the config asks for. Called with the segment flocked. */
int
eshm_ends_claim(struct eshm *h, struct eshm_error *err)
{
	int64_t now = eshm_now_mono();
	int role = h->cfg.role;
	int wend, rend, r;

	if (role == ESHM_ROLE_AUTO) {
		role = ESHM_ROLE_MASTER;
		role_ends(role, h->cfg.ends, &wend, &rend);
		if ((wend >= 0 && end_available(h, wend, now, NULL)) ||
		    (rend >= 0 && end_available(h, rend, now, NULL)))
			role = ESHM_ROLE_SLAVE;
	}
	role_ends(role, h->cfg.ends, &wend, &rend);
	if (wend >= 0 && (r = end_available(h, wend, now, err)))
		return r;
	if (rend >= 0 && (r = end_available(h, rend, now, err)))
		return r;

	uint64_t start = eshm_proc_start_time(getpid());
	int ends[2] = {wend, rend};
	for (int i = 0; i < 2; i++) {
		int e = ends[i];
		if (e < 0)
			continue;
		struct eshm_slot *s = &h->hdr->slot[e];
		/* heartbeat first, so an observer never sees our lock with the
		 * previous holder's old heartbeat and calls us stale */
		atomic_store_explicit(&s->heartbeat_ns, (uint64_t)eshm_now_mono(),
				      memory_order_relaxed);
		r = end_lock(h->fd, e, F_RDLCK);
		if (r < 0) {
			eshm_ends_release(h, false);
			return eshm_fill_error(err, r == -EAGAIN ? ESHM_EBUSY : r, 0,
					       "cannot lock the %s end of channel %s of %s: %s",
					       eshm_end_desc(e), eshm_chan_name(e / 2), h->name,
					       eshm_strerror(r));
		}
		atomic_store_explicit(&s->stale_ms, (uint32_t)h->cfg.stale_threshold_ms,
				      memory_order_relaxed);
		atomic_store_explicit(&s->start_time, start, memory_order_relaxed);
		atomic_store_explicit(&s->cpus, h->cpus, memory_order_relaxed);
		atomic_store_explicit(&s->pid, (uint32_t)getpid(), memory_order_relaxed);
		atomic_store_explicit(&s->claimer, (uint32_t)getpid(), memory_order_relaxed);
		h->gen[e] = atomic_fetch_add_explicit(&s->generation, 1, memory_order_relaxed) + 1;
		h->held[e] = true;
	}
	h->role = role;
	h->wend = wend;
	h->rend = rend;
	return 0;
}

/* Whether we still own end (no explicit takeover happened). */
int
eshm_end_check(struct eshm *h, int end)
{
	uint64_t g = atomic_load_explicit(&h->hdr->slot[end].generation, memory_order_relaxed);
	/* a slot read as zeros may be a truncated segment, not a takeover */
	if (g != h->gen[end] && eshm_truncated(h))
		return ESHM_ECORRUPT;
	/* generations only grow: one that went back was scribbled over */
	if (g < h->gen[end])
		return eshm_seterr(h, ESHM_ECORRUPT,
				   "segment %s is corrupt: the record of our %s end of channel %s "
				   "changed under us (generation %llu, ours %llu)",
				   h->name, eshm_end_desc(end), eshm_chan_name(end / 2),
				   (unsigned long long)g, (unsigned long long)h->gen[end]);
	if (g != h->gen[end])
		return eshm_seterr(
			h, ESHM_ETAKEN, "the %s end of channel %s of %s was taken over by pid %u",
			eshm_end_desc(end), eshm_chan_name(end / 2), h->name,
			atomic_load_explicit(&h->hdr->slot[end].claimer, memory_order_relaxed));
	return 0;
}

/* Release our ends. The slot keeps its last heartbeat: it tells eshm-clean
 * how long the segment has been idle. A writer that failed or was
 * interrupted (lost) also keeps its pid, exactly as if it had died: its
 * readers then see a lost writer, not a finished one. */
void
eshm_ends_release(struct eshm *h, bool lost)
{
	for (int e = 0; e < NENDS; e++) {
		if (!h->held[e])
			continue;
		struct eshm_slot *s = &h->hdr->slot[e];
		bool keep_pid = lost && (e == END_M2S_W || e == END_S2M_W);
		if (eshm_owns(h, e)) {
			atomic_store_explicit(&s->heartbeat_ns, (uint64_t)eshm_now_mono(),
					      memory_order_relaxed);
			if (!keep_pid)
				atomic_store_explicit(&s->pid, 0, memory_order_relaxed);
		}
		end_lock(h->fd, e, F_UNLCK);
		h->held[e] = false;
	}
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
			   h->name, eshm_end_desc(end), eshm_chan_name(end / 2));
}
