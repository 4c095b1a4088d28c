/* handle.c - eshm_open and eshm_close: attach, claim, detach, remove when done. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eshm-int.h"

void
eshm_config_init(struct eshm_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->role = ESHM_ROLE_AUTO;
	cfg->ends = ESHM_END_BOTH;
	cfg->capacity = ESHM_DEFAULT_CAPACITY;
	cfg->mode = 0600;
	cfg->heartbeat_ms = 1;
	cfg->stale_threshold_ms = 100;
	cfg->max_retries = 50;
	cfg->retry_ms = 100;
	cfg->framing = ESHM_FRAMING_MESSAGE;
	cfg->spin_us = -1;
	cfg->group = -1;
}

int
eshm_config_check(const struct eshm_config *c, struct eshm_error *err)
{
	if (!c)
		return eshm_fill_error(err, ESHM_EINVAL, 0, "no config");
	const char *bad = NULL;
	if (c->role < ESHM_ROLE_AUTO || c->role > ESHM_ROLE_SLAVE)
		bad = "role must be auto, master or slave";
	else if (c->ends < 1 || c->ends > ESHM_END_BOTH)
		bad = "ends must be ESHM_END_WRITE, ESHM_END_READ or both";
	else if (c->capacity < ESHM_MIN_CAPACITY || c->capacity > ESHM_MAX_CAPACITY)
		bad = "capacity must be between 4 KiB and 2 GiB";
	else if (c->mode & ~0777u)
		bad = "mode must be permission bits (at most 0777)";
	else if (c->heartbeat_ms < 1 || c->heartbeat_ms > 60000)
		bad = "heartbeat must be between 1 ms and 60 s";
	else if (c->stale_threshold_ms < c->heartbeat_ms)
		bad = "stale threshold must be at least the heartbeat period";
	else if (c->retry_ms < 1)
		bad = "retry interval must be at least 1 ms";
	else if (c->framing < ESHM_FRAMING_MESSAGE || c->framing > ESHM_FRAMING_RAW)
		bad = "unknown framing";
	else if (c->spin_us < -1 || c->spin_us > 1000000)
		bad = "spin must be -1 (adaptive) or 0 to 1000000 us";
	else if (c->group != -1 && (c->group < 0 || (unsigned long)c->group > INT_MAX))
		bad = "group must be -1 (the creator's) or a gid from 0 to INT_MAX";
	else if (c->consumer_group && !eshm_group_name_ok(c->consumer_group))
		bad = "consumer group must be - or 1 to 63 letters, digits, '.', '_', '-', '@', "
		      "':' not starting with '-' or '.'";
	if (bad)
		return eshm_fill_error(err, ESHM_EINVAL, 0, "%s", bad);
	return 0;
}

static int
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	return nanosleep(&ts, NULL) < 0 ? -errno : 0;
}

/* Explain why open(2) of an existing segment failed; group is the one
 * asked for, or -1. */
static int
open_error(const char *name, const char *path, int e, long group, struct eshm_error *err)
{
	struct stat st;
	if (e == ELOOP)
		return eshm_fill_error(err, -ELOOP, 0,
				       "%s is a symbolic link; refusing to follow it", path);
	if (e == EACCES && lstat(path, &st) == 0) {
		/* its group is often the answer: a user's own primary group
		 * where another user's segment was meant to be shared */
		char has[96], want[96] = "";
		eshm_group_desc(st.st_gid, has, sizeof has);
		if (group >= 0 && st.st_gid != (gid_t)group)
			eshm_group_desc((gid_t)group, want, sizeof want);
		return eshm_fill_error(err, -EACCES, 0,
				       "permission denied: %s belongs to uid %u with mode %04o "
				       "and %s%s%s%s",
				       path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
				       has, want[0] ? ", not " : "", want,
				       want[0] ? " as asked" : "");
	}
	return eshm_fill_error(err, -e, 0, "cannot open segment %s: %s", name, eshm_strerror(-e));
}

/* The group asked for cannot be given: the creator is not a member. */
static int
not_member_error(const struct eshm *h, struct eshm_error *err)
{
	char g[96];
	eshm_group_desc((gid_t)h->cfg.group, g, sizeof g);
	return eshm_fill_error(err, -EPERM, 0,
			       "cannot create segment %s with %s: you are not a member of it",
			       h->name, g);
}

/* Checks on a file we opened but did not create: is it a segment at all. */
static int
check_file(const char *path, const struct stat *st, struct eshm_error *err)
{
	if (!S_ISREG(st->st_mode))
		return eshm_fill_error(err, ESHM_ENOTSEG, 0, "%s is not a regular file", path);
	if ((uint64_t)st->st_size < ESHM_ID_SIZE)
		return eshm_fill_error(
			err, ESHM_ENOTSEG, 0,
			"%s is not an eshm segment (%lld bytes, smaller than a header)", path,
			(long long)st->st_size);
	return 0;
}

/* Then whose it is and how it is shared. */
static int
check_owner(struct eshm *h, const struct stat *st, struct eshm_error *err)
{
	unsigned mode = st->st_mode & 0777;
	if (mode & ~h->cfg.mode)
		return eshm_fill_error(err, ESHM_EMODE, 0,
				       "segment %s has mode %04o, wider than the %04o asked for "
				       "(pass --mode %04o to accept it)",
				       h->name, mode, h->cfg.mode, mode);
	if (h->cfg.group >= 0 && st->st_gid != (gid_t)h->cfg.group) {
		char has[96], want[96];
		return eshm_fill_error(err, ESHM_EMODE, 0,
				       "segment %s belongs to %s, not to %s as asked", h->name,
				       eshm_group_desc(st->st_gid, has, sizeof has),
				       eshm_group_desc((gid_t)h->cfg.group, want, sizeof want));
	}
	/* A segment of another user is someone else's data, or a trap set
	 * for ours: accept it only when sharing was asked for. */
	if (st->st_uid != geteuid() && !(h->cfg.mode & 0077))
		return eshm_fill_error(err, ESHM_EMODE, 0,
				       "segment %s belongs to uid %u, not to us "
				       "(pass --mode to share segments between users)",
				       h->name, (unsigned)st->st_uid);
	return 0;
}

/* Open the segment's file, creating it if allowed; returns with it flocked. */
static int
open_locked(struct eshm *h, const char *path, struct eshm_error *err)
{
	for (int attempt = 0;;) {
		int fd = eshm_open_fd(path, O_RDWR | O_NOFOLLOW, 0);
		if (fd < 0 && errno == ENOENT) {
			if (!(h->cfg.flags & ESHM_NO_CREATE)) {
				int r = eshm_segment_create(path, &h->cfg, &fd);
				if (r == -EEXIST)
					continue; /* someone else created it: attach */
				if (r == ESHM_EINVAL)
					return eshm_fill_error(err, r, 0, "invalid capacity");
				if (r == -EPERM && h->cfg.group >= 0)
					return not_member_error(h, err);
				if (r < 0)
					return eshm_fill_error(err, r, 0,
							       "cannot create segment %s: %s",
							       h->name, eshm_strerror(r));
				h->fd = fd;
				h->created = true;
				return 0;
			}
			if (h->cfg.max_retries >= 0 && attempt >= h->cfg.max_retries)
				return eshm_fill_error(err, ESHM_ENOSEG, 0,
						       "no segment %s (waited %d x %d ms)", h->name,
						       h->cfg.max_retries, h->cfg.retry_ms);
			attempt++;
			int r = sleep_ms(h->cfg.retry_ms);
			if (r || (h->cfg.interrupt && *h->cfg.interrupt))
				return eshm_fill_error(err, -EINTR, 0, "interrupted");
			continue;
		}
		if (fd < 0)
			return open_error(h->name, path, errno, h->cfg.group, err);
		if (flock(fd, LOCK_EX) < 0) {
			int e = errno;
			close(fd);
			return eshm_fill_error(err, -e, 0, "cannot lock segment %s: %s", h->name,
					       eshm_strerror(-e));
		}
		/* removed (or replaced) between our open and our lock: start over */
		if (!eshm_same_file(fd, path, NULL, NULL)) {
			close(fd);
			continue;
		}
		h->fd = fd;
		return 0;
	}
}

/*
 * ESHM_PEEK: the file read-only, mapped read-only, no slot, no heartbeat:
 * reading starts at the release point of the consumer group asked for
 * (any: the channel's, the oldest message held for some group) and ends
 * at the claim position seen now. any_group: none was named.
 */
static int
open_peek(struct eshm *h, bool any_group, struct eshm_error *err)
{
	int fd = eshm_open_fd(h->path, O_RDONLY | O_NOFOLLOW, 0);
	if (fd < 0 && errno == ENOENT)
		return eshm_fill_error(err, ESHM_ENOSEG, 0, "no segment %s", h->name);
	if (fd < 0)
		return open_error(h->name, h->path, errno, -1, err);
	h->fd = fd;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return eshm_fill_error(err, -errno, 0, "cannot stat segment %s", h->name);
	if (!S_ISREG(st.st_mode))
		return eshm_fill_error(err, ESHM_ENOTSEG, 0, "%s is not a regular file", h->path);
	void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED)
		return eshm_fill_error(err, -errno, 0, "cannot map segment %s: %s", h->name,
				       eshm_strerror(-errno));
	h->base = base;
	h->hdr = base;
	h->g.size = (uint64_t)st.st_size;
	h->guard = eshm_guard_add(base, (size_t)st.st_size, !(h->cfg.flags & ESHM_NO_SIGBUS_GUARD));
	char why[160];
	int r = eshm_geom_check(h->hdr, (uint64_t)st.st_size, &h->g, why, sizeof why);
	if (r)
		return eshm_fill_error(err, r, 0, "segment %s: %s", h->name, why);
	int role = h->cfg.role == ESHM_ROLE_MASTER ? ESHM_ROLE_MASTER : ESHM_ROLE_SLAVE;
	int ch = role == ESHM_ROLE_MASTER ? CH_S2M : CH_M2S;
	struct eshm_chan *c = &h->hdr->chan[ch];
	uint64_t start = atomic_load_explicit(&c->kept, memory_order_acquire), skip_at = UINT64_MAX;
	uint32_t skip = 0;
	if (!any_group) {
		int gi = eshm_group_find(h->hdr, ch, h->cgroup);
		if (gi < 0)
			return eshm_fill_error(err, ESHM_ENOGROUP, 0,
					       "channel %s of %s has no consumer group %s",
					       eshm_chan_name(ch), h->name, h->cgroup);
		struct eshm_group *g = &h->hdr->group[ch][gi];
		start = atomic_load_explicit(&g->release, memory_order_acquire);
		if (atomic_load_explicit(&g->skip_pos, memory_order_acquire) == start) {
			skip_at = start;
			skip = (uint32_t)atomic_load_explicit(&g->skip_word, memory_order_relaxed);
		}
	}
	h->peeking = true;
	h->role = role;
	eshm_tap_init(h, ch, start, atomic_load_explicit(&c->claim, memory_order_acquire), skip_at,
		      skip);
	return 0;
}

int
eshm_open(const char *name, const struct eshm_config *cfg, eshm_t **out, struct eshm_error *err)
{
	char path[ESHM_PATH_MAX];
	struct stat st;
	int r;

	if (err)
		memset(err, 0, sizeof *err);
	if (!out)
		return eshm_fill_error(err, ESHM_EINVAL, 0, "no handle pointer");
	*out = NULL;
	if ((r = eshm_segment_path(name, path, sizeof path)))
		return eshm_fill_error(err, r, 0, "invalid segment name '%s': %s", name ? name : "",
				       eshm_strerror(r));
	struct eshm *h = calloc(1, sizeof *h);
	if (!h)
		return eshm_fill_error(err, -ENOMEM, 0, "out of memory");
	if (cfg)
		h->cfg = *cfg;
	else
		eshm_config_init(&h->cfg);
	if ((r = eshm_config_check(&h->cfg, err))) {
		free(h);
		return r;
	}
	snprintf(h->name, sizeof h->name, "%s", name);
	snprintf(h->path, sizeof h->path, "%s", path);
	snprintf(h->cgroup, sizeof h->cgroup, "%s",
		 h->cfg.consumer_group ? h->cfg.consumer_group : "-");
	h->cfg.consumer_group = h->cgroup;
	h->fd = -1;
	h->guard = -1;
	h->pr.fd = h->pw.fd = -1;
	/* A tap does not spin by default: nobody waits on its answer, and on
	 * two cores a tap spinning beside a writer and a reader took the CPU
	 * they needed (half-rate runs, 1 MiB ring: it missed data in 8 runs
	 * of 48, against 12 of 36 with the spin). */
	bool tap = (h->cfg.flags & ESHM_TAP) && h->cfg.spin_us < 0;
	struct spin sp = {
		.budget = tap                   ? 0
			  : h->cfg.spin_us >= 0 ? (int64_t)h->cfg.spin_us * 1000
						: SPIN_START_NS,
		.poll = 1,
		.adaptive = h->cfg.spin_us < 0 && !tap,
	};
	h->spin_w = h->spin_r = sp;
	h->cpus = eshm_cpu_mask();
	h->wend = h->rend = h->tend = -1;
	if (h->cfg.flags & (ESHM_TAP | ESHM_PEEK)) {
		if (h->cfg.ends != ESHM_END_READ || (~h->cfg.flags & (ESHM_TAP | ESHM_PEEK)) == 0) {
			free(h);
			return eshm_fill_error(err, ESHM_EINVAL, 0,
					       "a tap or a peek reads only (ends ESHM_END_READ), "
					       "and is one or the other");
		}
		if (h->cfg.role == ESHM_ROLE_AUTO)
			h->cfg.role = ESHM_ROLE_SLAVE;
	}
	if (h->cfg.flags & ESHM_PEEK) {
		if ((r = open_peek(h, !cfg || !cfg->consumer_group, err)))
			goto fail;
		*out = h;
		return 0;
	}

	if ((r = open_locked(h, path, err)))
		goto fail;
	if (fstat(h->fd, &st) < 0) {
		r = eshm_fill_error(err, -errno, 0, "cannot stat segment %s", name);
		goto fail;
	}
	if (!h->created && (r = check_file(path, &st, err)))
		goto fail;
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	void *base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
	if (base == MAP_FAILED) {
		r = eshm_fill_error(err, -errno, 0, "cannot map segment %s: %s", name,
				    eshm_strerror(-errno));
		goto fail;
	}
	h->base = base;
	h->hdr = base;
	h->g.size = (uint64_t)st.st_size;
	h->guard = eshm_guard_add(base, (size_t)st.st_size, !(h->cfg.flags & ESHM_NO_SIGBUS_GUARD));
	char why[160];
	if ((r = eshm_geom_check(h->hdr, (uint64_t)st.st_size, &h->g, why, sizeof why))) {
		if (r == ESHM_ENOTSEG)
			r = eshm_fill_error(err, r, 0, "%s is %s", path, why);
		else if (r == ESHM_EVERSION)
			r = eshm_fill_error(err, r, 0,
					    "segment %s was made by another version of eshm: %s; "
					    "read it with that version, or remove it",
					    name, why);
		else
			r = eshm_fill_error(err, r, 0, "segment %s is corrupt: %s", name, why);
		goto fail;
	}
	if (!h->created && (r = check_owner(h, &st, err)))
		goto fail;
	if ((r = eshm_ends_claim(h, err)))
		goto fail;
	if (h->tend >= 0) {
		int ch = slot_chan(h->tend);
		uint64_t at = atomic_load_explicit(&h->hdr->chan[ch].claim, memory_order_acquire);
		eshm_tap_init(h, ch, at, UINT64_MAX, UINT64_MAX, 0);
	}
	if ((h->wend >= 0 && (r = eshm_wside_init(h, slot_chan(h->wend)))) ||
	    (h->rend >= 0 && (r = eshm_rside_init(h, slot_chan(h->rend))))) {
		r = eshm_fill_error(err, r, 0, "%s", h->err);
		eshm_ends_release(h, false);
		goto fail;
	}
	if ((r = eshm_heartbeat_start(h))) {
		eshm_ends_release(h, false);
		r = eshm_fill_error(err, r, 0, "cannot start heartbeat thread: %s",
				    eshm_strerror(r));
		goto fail;
	}
	flock(h->fd, LOCK_UN);
	*out = h;
	return 0;
fail:
	eshm_poll_end(h);
	if (h->base) {
		eshm_guard_remove(h->guard);
		munmap(h->base, h->g.size);
	}
	if (h->fd >= 0) {
		/* a segment we created and could not use must not linger */
		if (h->created && eshm_same_file(h->fd, path, NULL, NULL))
			unlink(path);
		close(h->fd);
	}
	free(h);
	return r;
}

int
eshm_close(eshm_t *h)
{
	return eshm_detach(h, 0, NULL);
}

int
eshm_detach(eshm_t *h, unsigned flags, struct eshm_error *err)
{
	if (err)
		memset(err, 0, sizeof *err);
	if (!h)
		return 0;
	int rc = 0;
	if (h->peeking) {
		eshm_guard_remove(h->guard);
		munmap(h->base, h->g.size);
		close(h->fd);
		free(h->t.buf);
		free(h);
		return 0;
	}
	bool lost = flags & ESHM_DETACH_LOST;
	bool owned = h->wend >= 0 && eshm_owns(h, h->wend);
	if (owned)
		eshm_release_reservation(h);
	eshm_heartbeat_stop(h);
	eshm_counters_flush(h);

	/* Under the flock, an attacher cannot claim an end between our check
	 * and our unlink; one that opened the file before the unlink notices
	 * afterwards that the name is gone and starts over. */
	while (flock(h->fd, LOCK_EX) < 0 && errno == EINTR)
		;
	/* our descriptors, while the ends they are known by are ours */
	eshm_poll_close(h, h->rend, &h->pr);
	eshm_poll_close(h, h->wend, &h->pw);
	/* End the stream we wrote, if we wrote one and finished: a handle that
	 * holds a write end it never used (a slave that only reads, say) must
	 * not end a stream it never wrote. An empty stream is ended with
	 * eshm_eos, as eshm-send does. */
	if (!lost && owned && h->w.wrote && !(h->cfg.flags & ESHM_NO_EOS))
		eshm_stream_end(h);
	eshm_ends_release(h, lost);
	uint64_t msgs, bytes;
	bool last = !eshm_any_live(h->fd);
	bool pend = eshm_left_in(h, &msgs, &bytes);
	if (!eshm_same_file(h->fd, h->path, NULL, NULL)) {
		/* Never touch what the name leads to now. If we were the last
		 * holder, what is left here is lost: say so. */
		if (last && msgs && !rc)
			rc = eshm_removed_error(h, msgs, bytes);
	} else if (!lost && !(h->g.flags & HDR_KEEP) && last && !pend && unlink(h->path) < 0 &&
		   (errno == EPERM || errno == EACCES) && !rc) {
		/* (a lost writer leaves the segment, as a dead one does: a
		 * reader that comes later must learn that the stream broke) */
		struct stat st;
		unsigned uid = fstat(h->fd, &st) == 0 ? (unsigned)st.st_uid : 0;
		rc = eshm_seterr(h, -EPERM,
				 "cannot remove the drained segment %s: it belongs to uid %u "
				 "and %s is sticky, so only its owner (or eshm-clean run by "
				 "them) can remove it",
				 h->name, uid, ESHM_DIR);
	}
	flock(h->fd, LOCK_UN);
	if (rc)
		eshm_fill_error(err, rc, 0, "%s", h->err);
	eshm_poll_end(h);
	eshm_guard_remove(h->guard);
	munmap(h->base, h->g.size);
	close(h->fd);
	free(h->w.side);
	free(h->t.buf);
	free(h);
	return rc;
}

int
eshm_check(eshm_t *h)
{
	int r;
	if (!h)
		return ESHM_EINVAL;
	if ((r = eshm_truncated(h)))
		return r;
	if (h->wend >= 0 && (r = eshm_end_check(h, h->wend)))
		return r;
	if (h->rend >= 0 && (r = eshm_end_check(h, h->rend)))
		return r;
	if (h->tend >= 0 && (r = eshm_end_check(h, h->tend)))
		return r;
	return eshm_still_named(h);
}

int
eshm_role(const eshm_t *h)
{
	return h ? h->role : ESHM_EINVAL;
}

int
eshm_created(const eshm_t *h)
{
	return h && h->created;
}

size_t
eshm_capacity(const eshm_t *h)
{
	return h ? (size_t)h->g.cap[0] : 0;
}

const char *
eshm_errmsg(const eshm_t *h)
{
	return h ? h->err : "no handle";
}

int
eshm_peer_state(eshm_t *h)
{
	if (!h)
		return ESHM_EINVAL;
	/* the other side of the channel we read (or write): the best state
	 * any of its holders has, else the worst (dead before none) */
	int first, n;
	if (h->rend >= 0 || h->tend >= 0 || h->peeking) {
		int ch = h->rend >= 0 ? slot_chan(h->rend) : h->t.ch;
		first = ch * SLOTS_PER_CHAN + SLOT_W;
		n = ESHM_WRITERS;
	} else {
		first = slot_chan(h->wend) * SLOTS_PER_CHAN + SLOT_R;
		n = ESHM_READERS;
	}
	static const int rank[] = {[ESHM_PEER_NONE] = 0,
				   [ESHM_PEER_DEAD] = 1,
				   [ESHM_PEER_STALE] = 2,
				   [ESHM_PEER_ALIVE] = 3};
	int best = ESHM_PEER_NONE;
	int64_t now = eshm_now_mono();
	for (int s = first; s < first + n; s++) {
		if (!atomic_load_explicit(&h->hdr->slot[s].pid, memory_order_relaxed))
			continue;
		int st = eshm_end_state(h->fd, h->hdr, s, now);
		if (rank[st] > rank[best])
			best = st;
	}
	return best;
}

const char *
eshm_peer_state_name(int state)
{
	switch (state) {
	case ESHM_PEER_NONE:
		return "none";
	case ESHM_PEER_ALIVE:
		return "alive";
	case ESHM_PEER_STALE:
		return "stale";
	case ESHM_PEER_DEAD:
		return "dead";
	}
	return "?";
}

int
eshm_spin(eshm_t *h, int end, size_t len)
{
	if (!h)
		return ESHM_EINVAL;
	if (end == ESHM_END_READ)
		return eshm_spin_data(h);
	if (end == ESHM_END_WRITE)
		return eshm_spin_space(h, len);
	return eshm_seterr(h, ESHM_EINVAL, "end must be ESHM_END_READ or ESHM_END_WRITE");
}
