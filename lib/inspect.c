/* inspect.c - look at a segment without touching it, and remove one safely. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eshm-int.h"

/*
 * Inspection reads with pread(2), never mmap(2): a file truncated under us
 * then gives a short read instead of SIGBUS, and nothing we do can change
 * the segment. Counters are read as a sequence lock across separate preads
 * (sequence, data, sequence), which system calls keep in order.
 */

static int
pread_full(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);
	return n == (ssize_t)len ? 0 : -1;
}

#define CHAN_OFF(ch, field)                                                                        \
	((off_t)(offsetof(struct eshm_header, chan) + (size_t)(ch) * sizeof(struct eshm_chan) +    \
		 offsetof(struct eshm_chan, field)))

/* Counts under a sequence lock, into the copy: if the copy caught them
 * half-written (odd sequence), read them again as a sequence lock across
 * separate preads (sequence, counts, sequence), which system calls keep in
 * order. The copy's sequence is then even, for eshm_chan_snapshot. */
static void
fix_counts(int fd, const struct eshm_header *copy, _Atomic uint32_t *seq, void *counts, size_t len)
{
	off_t seq_off = (off_t)((const char *)seq - (const char *)copy);
	off_t counts_off = (off_t)((const char *)counts - (const char *)copy);
	for (int tries = 0; tries < 100 && (atomic_load_explicit(seq, memory_order_relaxed) & 1);
	     tries++) {
		uint32_t s1, s2;
		if (pread_full(fd, &s1, sizeof s1, seq_off) ||
		    pread_full(fd, counts, len, counts_off) ||
		    pread_full(fd, &s2, sizeof s2, seq_off))
			break;
		atomic_store_explicit(seq, s1 == s2 ? s1 : 1, memory_order_relaxed);
	}
	atomic_store_explicit(seq, 0, memory_order_relaxed);
}

static void
fix_counters(int fd, struct eshm_header *copy)
{
	for (int ch = 0; ch < 2; ch++) {
		struct eshm_chan *c = &copy->chan[ch];
		fix_counts(fd, copy, &c->cseq, &c->retired_in,
			   sizeof c->retired_in + sizeof c->retired_out);
	}
	for (int s = 0; s < NSLOTS; s++)
		fix_counts(fd, copy, &copy->counts[s].seq, &copy->counts[s].c,
			   sizeof copy->counts[s].c);
}

/* Bytes writer slot s holds claimed and not committed (0 if none): its
 * announced claim, if made (below claim, not yet released) and its record
 * is not committed. */
static uint32_t
open_claim(int fd, const struct eshm_header *hdr, const struct eshm_geom *g, int s)
{
	const struct eshm_slot *sl = &hdr->slot[s];
	int ch = slot_chan(s);
	uint64_t pos = atomic_load_explicit(&sl->intent_pos, memory_order_relaxed);
	uint32_t size = atomic_load_explicit(&sl->intent_size, memory_order_relaxed);
	uint64_t claim = atomic_load_explicit(&hdr->chan[ch].claim, memory_order_relaxed);
	uint64_t kept = atomic_load_explicit(&hdr->chan[ch].kept, memory_order_relaxed);
	uint64_t cap = g->cap[ch], tag;
	if (pos == UINT64_MAX || pos % REC_ALIGN || pos >= claim || pos < kept || size < REC_HDR ||
	    size > cap - pos % cap ||
	    pread_full(fd, &tag, sizeof tag, (off_t)(g->off[ch] + pos % cap)) ||
	    tag == (pos ^ hdr->salt))
		return 0;
	return size;
}

static void
fill_end(int fd, const struct eshm_header *hdr, const struct eshm_geom *g, int end, int64_t now,
	 struct eshm_end_info *ei)
{
	const struct eshm_slot *s = &hdr->slot[end];
	ei->state = eshm_end_state(fd, hdr, end, now);
	ei->pid = (pid_t)atomic_load_explicit(&s->pid, memory_order_relaxed);
	ei->start_time = atomic_load_explicit(&s->start_time, memory_order_relaxed);
	ei->generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
	ei->stale_ms = atomic_load_explicit(&s->stale_ms, memory_order_relaxed);
	uint64_t hb = atomic_load_explicit(&s->heartbeat_ns, memory_order_relaxed);
	int64_t age = eshm_age_ns(now, hb);
	ei->heartbeat_age_ms = age < 0 ? -1 : age / 1000000;
	uint32_t f = atomic_load_explicit(&s->flags, memory_order_relaxed);
	ei->exclusive = (f & (SLOTF_EXCLUSIVE | SLOTF_RAW)) != 0;
	ei->claimed = slot_is_writer(end) ? open_claim(fd, hdr, g, end) : 0;
	ei->group = -1;
	ei->held = 0;
	if (!slot_is_writer(end) && !slot_is_tap(end)) {
		const struct eshm_batch *b =
			&hdr->batch[slot_chan(end)][end % SLOTS_PER_CHAN - SLOT_R];
		uint32_t gi = atomic_load_explicit(&b->group, memory_order_relaxed);
		uint64_t st = gi < ESHM_GROUPS
				      ? eshm_batch_start(b, &hdr->group[slot_chan(end)][gi])
				      : atomic_load_explicit(&b->start, memory_order_relaxed);
		uint64_t en = atomic_load_explicit(&b->end, memory_order_relaxed);
		if (atomic_load_explicit(&b->state, memory_order_relaxed) == BATCH_HELD &&
		    st < en && en - st <= g->cap[slot_chan(end)])
			ei->held = en - st;
		ei->group = slotf_group(f); /* the group's slot: see fill_groups */
	}
}

/* The consumer groups of channel ch, in slot order, with their backlogs
 * and the age of their oldest message (now: CLOCK_MONOTONIC); readers'
 * group fields become indexes in that list. */
static int
fill_groups(int fd, const struct eshm_header *hdr, const struct eshm_geom *g, int ch, int64_t now,
	    struct eshm_channel_info *ci)
{
	int index[ESHM_GROUPS], n = 0;
	for (int gi = 0; gi < ESHM_GROUPS; gi++) {
		const struct eshm_group *gr = &hdr->group[ch][gi];
		index[gi] = -1;
		if (atomic_load_explicit(&gr->state, memory_order_relaxed) != GROUP_USED)
			continue;
		struct eshm_group_info *gis = &ci->groups[n];
		index[gi] = n++;
		memcpy(gis->name, gr->name, sizeof gis->name);
		gis->name[sizeof gis->name - 1] = '\0';
		gis->created_ns = gr->created_ns;
		gis->returned = (int)atomic_load_explicit(&gr->returned, memory_order_relaxed);
		uint64_t rel = atomic_load_explicit(&gr->release, memory_order_relaxed);
		uint64_t skip = 0, msgs = 0;
		if (atomic_load_explicit(&gr->skip_pos, memory_order_relaxed) == rel) {
			uint64_t sw = atomic_load_explicit(&gr->skip_word, memory_order_relaxed);
			skip = (uint32_t)sw;
			msgs = sw >> 32;
		}
		struct eshm_backlog bl;
		int r = eshm_backlog_from(fd, hdr, ch, g, rel, skip, msgs, &bl);
		if (r)
			return r;
		gis->backlog_msgs = bl.msgs;
		gis->backlog_bytes = bl.bytes;
		gis->oldest_age_ms = bl.msgs ? eshm_stamp_age_ms(hdr, ch, rel, now) : -1;
		gis->idle_ms = gis->oldest_age_ms;
		int64_t moved = atomic_load_explicit(&gr->moved_ns, memory_order_relaxed);
		if (gis->idle_ms > 0 && moved > 0 && moved <= now &&
		    (now - moved) / 1000000 < gis->idle_ms)
			gis->idle_ms = (now - moved) / 1000000;
		if (gis->oldest_age_ms > ci->oldest_age_ms)
			ci->oldest_age_ms = gis->oldest_age_ms;
		for (int k = 0; k < ESHM_READERS; k++) {
			const struct eshm_batch *b = &hdr->batch[ch][k];
			uint32_t bs = atomic_load_explicit(&b->state, memory_order_relaxed);
			uint64_t st = eshm_batch_start(b, gr);
			uint64_t en = atomic_load_explicit(&b->end, memory_order_relaxed);
			if (bs != BATCH_NONE &&
			    atomic_load_explicit(&b->group, memory_order_relaxed) == (uint32_t)gi &&
			    st < en && en - st <= g->cap[ch])
				gis->held_bytes += en - st;
		}
	}
	ci->ngroups = n;
	for (int k = 0; k < ci->nreaders; k++) {
		struct eshm_end_info *ei = &ci->readers[k];
		ei->group = ei->group >= 0 && ei->group < ESHM_GROUPS ? index[ei->group] : -1;
		if (ei->group >= 0) {
			if (ei->state == ESHM_PEER_DEAD)
				ci->groups[ei->group].dead++;
			else
				ci->groups[ei->group].live++;
		}
	}
	if (ci->reader.state == ESHM_PEER_NONE)
		ci->reader.group = -1;
	else if (ci->reader.group >= 0 && ci->reader.group < ESHM_GROUPS)
		ci->reader.group = index[ci->reader.group];
	return 0;
}

/* The holders of n slots from first: those held (live or dead) listed in
 * list (up to max; their count in *count), and in *one the first live
 * one, else the first dead one, else the first slot (none). */
static void
fill_ends(int fd, const struct eshm_header *hdr, const struct eshm_geom *g, int first, int n,
	  int64_t now, struct eshm_end_info *one, struct eshm_end_info *list, int max, int *count)
{
	int live = -1, dead = -1, k = 0;
	struct eshm_end_info ei;
	for (int i = 0; i < n; i++) {
		int s = first + i;
		if (!atomic_load_explicit(&hdr->slot[s].pid, memory_order_relaxed))
			continue;
		fill_end(fd, hdr, g, s, now, &ei);
		if (ei.state == ESHM_PEER_NONE)
			continue;
		if (list && k < max)
			list[k] = ei;
		k++;
		if (ei.state == ESHM_PEER_DEAD) {
			if (dead < 0) {
				dead = s;
				if (live < 0)
					*one = ei;
			}
		} else if (live < 0) {
			live = s;
			*one = ei;
		}
	}
	if (live < 0 && dead < 0)
		fill_end(fd, hdr, g, first, now, one);
	if (count)
		*count = k < max ? k : max;
}

static void __attribute__((format(printf, 2, 3)))
invalid(struct eshm_info *info, const char *fmt, ...)
{
	va_list ap;
	info->valid = 0;
	va_start(ap, fmt);
	vsnprintf(info->problem, sizeof info->problem, fmt, ap);
	va_end(ap);
}

/* The taps of channel ch: their holders and what they missed. */
static void
fill_taps(int fd, const struct eshm_header *hdr, const struct eshm_geom *g, int ch, int64_t now,
	  struct eshm_channel_info *ci)
{
	int base = ch * SLOTS_PER_CHAN + SLOT_T;
	uint64_t cl = atomic_load_explicit(&hdr->chan[ch].claim, memory_order_relaxed);
	ci->ntaps = 0;
	for (int k = 0; k < ESHM_TAPS; k++) {
		if (!atomic_load_explicit(&hdr->slot[base + k].pid, memory_order_relaxed))
			continue;
		struct eshm_tap_info *ti = &ci->taps[ci->ntaps];
		fill_end(fd, hdr, g, base + k, now, &ti->end);
		if (ti->end.state == ESHM_PEER_NONE)
			continue;
		ci->ntaps++;
		ti->end.group = -1;
		ti->end.held = 0;
		const struct eshm_tap *t = &hdr->tap[ch][k];
		ti->missed_msgs = atomic_load_explicit(&t->missed_msgs, memory_order_relaxed);
		ti->missed_bytes = atomic_load_explicit(&t->missed_bytes, memory_order_relaxed);
		uint64_t p = atomic_load_explicit(&t->pos, memory_order_relaxed);
		ti->behind_bytes = p <= cl && cl - p <= g->cap[ch] ? cl - p : 0;
	}
}

/* With no group, the age of the oldest message kept for the first one. */
static int
oldest_kept(int fd, const struct eshm_header *hdr, const struct eshm_geom *g, int ch, int64_t now,
	    struct eshm_channel_info *ci)
{
	if (ci->ngroups)
		return 0;
	uint64_t kept = atomic_load_explicit(&hdr->chan[ch].kept, memory_order_relaxed);
	struct eshm_backlog bl;
	int r = eshm_backlog_from(fd, hdr, ch, g, kept, 0, 0, &bl);
	if (!r && bl.msgs)
		ci->oldest_age_ms = eshm_stamp_age_ms(hdr, ch, kept, now);
	return r;
}

/* Copy the header into copy, its geometry into g: 0, or an ESHM_ code with
 * why saying what is wrong. The release point and the claim position of
 * each channel are read again, each once, release first: a moving pair may
 * still look inconsistent, so look again before calling it corrupt. */
static int
read_header(int fd, uint64_t size, struct eshm_header *copy, struct eshm_geom *g, char *why,
	    size_t whylen)
{
	int r;
	if (size < ESHM_ID_SIZE || pread_full(fd, copy, ESHM_ID_SIZE, 0)) {
		snprintf(why, whylen,
			 "not an eshm segment (%llu bytes, smaller than a segment header)",
			 (unsigned long long)size);
		return ESHM_ENOTSEG;
	}
	if ((r = eshm_geom_check(copy, size, g, why, whylen)))
		return r;
	for (int tries = 0;; tries++) {
		if (pread_full(fd, copy, sizeof *copy, 0)) {
			snprintf(why, whylen, "cannot read the header");
			return ESHM_ECORRUPT;
		}
		bool ok = true;
		for (int ch = 0; ch < 2; ch++) {
			uint64_t k = 0, c = 0;
			if (pread_full(fd, &k, sizeof k, CHAN_OFF(ch, kept)) ||
			    pread_full(fd, &c, sizeof c, CHAN_OFF(ch, claim)) ||
			    !span_ok(c, k, g->cap[ch]))
				ok = false;
			atomic_store_explicit(&copy->chan[ch].kept, k, memory_order_relaxed);
			atomic_store_explicit(&copy->chan[ch].claim, c, memory_order_relaxed);
		}
		if (ok)
			return 0;
		if (tries == 20) {
			snprintf(why, whylen, "channel claim/release positions out of range");
			return ESHM_ECORRUPT;
		}
	}
}

/* Fill info from an open descriptor of the segment's file. Returns 0 (with
 * info->valid telling whether it is a usable segment) or a negative errno. */
static int
inspect_fd(int fd, struct eshm_info *info, struct eshm_geom *g)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	info->size = (uint64_t)st.st_size;
	info->mode = st.st_mode & 07777;
	info->uid = st.st_uid;
	info->gid = st.st_gid;
	info->idle_ms = -1;
	info->live = eshm_any_live(fd);
	if (!S_ISREG(st.st_mode)) {
		invalid(info, "%s", "not a regular file");
		return 0;
	}

	struct eshm_header *copy = malloc(sizeof *copy);
	if (!copy)
		return -ENOMEM;
	int64_t now = eshm_now_mono();
	char why[160];
	int r = read_header(fd, (uint64_t)st.st_size, copy, g, why, sizeof why);
	if (r) {
		invalid(info, r == ESHM_ECORRUPT ? "corrupt: %s" : "%s", why);
		free(copy);
		return 0;
	}
	fix_counters(fd, copy);

	info->valid = 1;
	info->created_ns = copy->created_ns;
	info->creator_pid = (pid_t)copy->creator_pid;
	info->keep = (g->flags & HDR_KEEP) != 0;
	/* idle since the latest sign of life that is not in the future */
	int64_t idle = eshm_age_ns(now, (uint64_t)copy->created_mono);
	for (int s = 0; s < NSLOTS; s++) {
		int64_t a = eshm_age_ns(now, atomic_load_explicit(&copy->slot[s].heartbeat_ns,
								  memory_order_relaxed));
		if (a >= 0 && (idle < 0 || a < idle))
			idle = a;
	}
	info->idle_ms = idle < 0 ? 0 : idle / 1000000;
	for (int ch = 0; ch < 2; ch++) {
		struct eshm_channel_info *ci = &info->chan[ch];
		const struct eshm_chan *c = &copy->chan[ch];
		eshm_chan_snapshot(copy, ch, ci);
		ci->capacity = g->cap[ch];
		ci->used = atomic_load_explicit(&c->claim, memory_order_relaxed) -
			   atomic_load_explicit(&c->kept, memory_order_relaxed);
		int base = ch * SLOTS_PER_CHAN;
		fill_ends(fd, copy, g, base + SLOT_W, ESHM_WRITERS, now, &ci->writer, ci->writers,
			  ESHM_MAX_WRITERS, &ci->nwriters);
		fill_ends(fd, copy, g, base + SLOT_R, ESHM_READERS, now, &ci->reader, ci->readers,
			  ESHM_MAX_READERS, &ci->nreaders);
		fill_taps(fd, copy, g, ch, now, ci);
		ci->oldest_age_ms = -1;
		if (fill_groups(fd, copy, g, ch, now, ci) ||
		    oldest_kept(fd, copy, g, ch, now, ci)) {
			invalid(info, "corrupt: %s", "bad record in channel");
			free(copy);
			return 0;
		}
		int p = eshm_chan_pending(fd, copy, ch, g);
		if (p < 0) {
			invalid(info, "corrupt: %s", "bad record in channel");
			free(copy);
			return 0;
		}
		info->pending |= p;
	}
	free(copy);
	/* a live holder that is stopped must not look idle */
	if (info->live)
		info->idle_ms = 0;
	return 0;
}

/* A symbolic link in place of a segment: say so, with the link's own
 * owner and mode, never following it. */
static void
describe_link(const char *path, struct eshm_info *info)
{
	struct stat st;
	invalid(info, "%s", "a symbolic link");
	if (lstat(path, &st) == 0) {
		info->size = (uint64_t)st.st_size;
		info->mode = st.st_mode & 07777;
		info->uid = st.st_uid;
		info->gid = st.st_gid;
	}
	info->idle_ms = -1;
}

int
eshm_inspect(const char *name, struct eshm_info *info, struct eshm_error *err)
{
	char path[ESHM_PATH_MAX];
	struct eshm_geom g;
	int r;
	if (err)
		memset(err, 0, sizeof *err);
	if (!info)
		return eshm_fill_error(err, ESHM_EINVAL, 0, "no info pointer");
	memset(info, 0, sizeof *info);
	if ((r = eshm_segment_path(name, path, sizeof path)))
		return eshm_fill_error(err, r, 0, "invalid segment name '%s'", name ? name : "");
	snprintf(info->name, sizeof info->name, "%s", name);
	int fd = eshm_open_fd(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return eshm_fill_error(err, ESHM_ENOSEG, 0, "no segment %s", name);
		if (e == ELOOP) {
			describe_link(path, info);
			return 0;
		}
		return eshm_fill_error(err, -e, 0, "cannot open %s: %s", path, eshm_strerror(-e));
	}
	r = inspect_fd(fd, info, &g);
	close(fd);
	if (r)
		return eshm_fill_error(err, r, 0, "cannot inspect %s: %s", name, eshm_strerror(r));
	return 0;
}

int
eshm_stats(eshm_t *h, struct eshm_info *info)
{
	struct eshm_geom g;
	if (!h)
		return ESHM_EINVAL;
	if (!info)
		return eshm_seterr(h, ESHM_EINVAL, "no info to fill");
	memset(info, 0, sizeof *info);
	snprintf(info->name, sizeof info->name, "%s", h->name);
	/* our own counts are published by the heartbeat thread: bring them up
	 * to date first */
	eshm_counters_sync(h);
	/* F_OFD_GETLK never reports the asker's own locks: look through a new
	 * open file description of the same file, or our ends seem dead */
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", h->fd);
	int fd = eshm_open_fd(self, O_RDONLY, 0);
	if (fd < 0)
		return eshm_seterr(h, -errno, "cannot reopen the segment: %s",
				   eshm_strerror(-errno));
	int r = inspect_fd(fd, info, &g);
	close(fd);
	if (r)
		return eshm_seterr(h, r, "cannot inspect segment %s: %s", h->name,
				   eshm_strerror(r));
	return 0;
}

int
eshm_unlink(const char *name, unsigned flags, int64_t min_idle_ms, struct eshm_info *info,
	    struct eshm_error *err)
{
	char path[ESHM_PATH_MAX];
	struct eshm_info local;
	struct eshm_geom g;
	int r;
	if (err)
		memset(err, 0, sizeof *err);
	if (!info)
		info = &local;
	memset(info, 0, sizeof *info);
	if ((r = eshm_segment_path(name, path, sizeof path)))
		return eshm_fill_error(err, r, 0, "invalid segment name '%s'", name ? name : "");
	snprintf(info->name, sizeof info->name, "%s", name);
	int fd = eshm_open_fd(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0 && errno == ELOOP) {
		/* a symbolic link is never a segment of ours; removing the link
		 * itself (not its target) is safe when asked for */
		describe_link(path, info);
		if (!(flags & ESHM_UNLINK_INVALID))
			return eshm_fill_error(err, ESHM_ENOTSEG, 0, "%s is a symbolic link", path);
		if (!(flags & ESHM_UNLINK_DRY_RUN) && unlink(path) < 0)
			return eshm_fill_error(err, -errno, 0, "cannot remove %s: %s", path,
					       eshm_strerror(-errno));
		return 0;
	}
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return eshm_fill_error(err, ESHM_ENOSEG, 0, "no segment %s", name);
		return eshm_fill_error(err, -e, 0, "cannot open %s: %s", path, eshm_strerror(-e));
	}
	/* Never wait: a segment being attached or detached right now is busy. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return eshm_fill_error(err, ESHM_EBUSY, 0,
					       "segment %s is being attached or detached", name);
		return eshm_fill_error(err, -e, 0, "cannot lock %s: %s", path, eshm_strerror(-e));
	}
	r = 0;
	if (!eshm_same_file(fd, path, NULL, NULL)) {
		r = eshm_fill_error(err, ESHM_ENOSEG, 0, "segment %s was removed meanwhile", name);
		goto out;
	}
	if ((r = inspect_fd(fd, info, &g))) {
		r = eshm_fill_error(err, r, 0, "cannot inspect %s: %s", name, eshm_strerror(r));
		goto out;
	}
	if (info->live) {
		pid_t pid = 0;
		for (int ch = 0; ch < 2 && !pid; ch++) {
			if (info->chan[ch].writer.state == ESHM_PEER_ALIVE ||
			    info->chan[ch].writer.state == ESHM_PEER_STALE)
				pid = info->chan[ch].writer.pid;
			else if (info->chan[ch].reader.state == ESHM_PEER_ALIVE ||
				 info->chan[ch].reader.state == ESHM_PEER_STALE)
				pid = info->chan[ch].reader.pid;
		}
		r = eshm_fill_error(err, ESHM_EBUSY, pid, "segment %s has a live holder (pid %d)",
				    name, (int)pid);
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = eshm_fill_error(err, -errno, 0, "cannot stat %s: %s", path,
				    eshm_strerror(-errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = eshm_fill_error(err, ESHM_ENOTSEG, 0,
				    "%s is not a regular file; not removing it", path);
		goto out;
	}
	if (!info->valid && !(flags & ESHM_UNLINK_INVALID)) {
		r = eshm_fill_error(err, ESHM_ENOTSEG, 0, "%s is not a valid segment: %s", path,
				    info->problem);
		goto out;
	}
	if (info->valid && info->keep && !(flags & ESHM_UNLINK_KEPT) &&
	    (!(flags & ESHM_UNLINK_KEPT_IDLE) || info->idle_ms < min_idle_ms)) {
		r = eshm_fill_error(err, ESHM_EPENDING, 0,
				    "segment %s was created to be kept (idle %lld ms)", name,
				    (long long)info->idle_ms);
		goto out;
	}
	if (info->valid && info->pending &&
	    (!(flags & ESHM_UNLINK_PENDING) || info->idle_ms < min_idle_ms)) {
		r = eshm_fill_error(err, ESHM_EPENDING, 0,
				    "segment %s holds undelivered data (idle %lld ms)", name,
				    (long long)info->idle_ms);
		goto out;
	}
	r = eshm_remove_file(path, &st, flags & ESHM_UNLINK_DRY_RUN, err);
out:
	flock(fd, LOCK_UN);
	close(fd);
	return r;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

ssize_t
eshm_list(char ***names)
{
	if (!names)
		return ESHM_EINVAL;
	*names = NULL;
	DIR *d = eshm_opendir_shm();
	if (!d)
		return -errno;
	char **v = NULL;
	size_t n = 0, cap = 0;
	const size_t plen = sizeof ESHM_PREFIX - 1;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name + plen;
		if (strncmp(de->d_name, ESHM_PREFIX, plen) || eshm_name_check(name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **nv = realloc(v, cap * sizeof *v);
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[n] = strdup(name)))
			goto oom;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof *v, cmp_names);
	*names = v;
	return (ssize_t)n;
oom:
	closedir(d);
	eshm_list_free(v, n);
	return -ENOMEM;
}

void
eshm_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
