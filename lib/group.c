/* group.c - the consumer groups of a channel: by name, created, and the release point of all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eshm-int.h"

/*
 * A group keeps its place while it has no reader: its release point is in
 * the segment. The channel's kept is the release point of all groups, the
 * lowest position any of them still holds; writers may claim up to kept +
 * cap. With no group, nothing is released: kept stays where it is, and a
 * new group starts there (it gets everything still kept).
 *
 * Everything read here comes from shared memory: names are compared as
 * bounded strings, states as the two values they may take.
 */

static bool
group_is(const struct eshm_group *g, const char *name)
{
	if (atomic_load_explicit(&g->state, memory_order_acquire) != GROUP_USED)
		return false;
	char n[sizeof g->name];
	memcpy(n, g->name, sizeof n);
	n[sizeof n - 1] = '\0';
	return strcmp(n, name) == 0;
}

/* The index of group name of channel ch, or -1. */
int
eshm_group_find(struct eshm_header *hdr, int ch, const char *name)
{
	for (int i = 0; i < ESHM_GROUPS; i++)
		if (group_is(&hdr->group[ch][i], name))
			return i;
	return -1;
}

/* The least release point of the groups of channel ch, UINT64_MAX if it
 * has none. Loads seq_cst: a writer about to wait pairs them with its wait
 * flag (eshm_kept_refresh). */
static uint64_t
least_release(struct eshm_header *hdr, int ch)
{
	uint64_t low = UINT64_MAX;
	for (int i = 0; i < ESHM_GROUPS; i++) {
		struct eshm_group *g = &hdr->group[ch][i];
		if (atomic_load_explicit(&g->state, memory_order_acquire) != GROUP_USED)
			continue;
		uint64_t r = atomic_load_explicit(&g->release, memory_order_seq_cst);
		if (r < low)
			low = r;
	}
	return low;
}

/* Create group name of channel ch, starting at the release point; its
 * index, or -1 when all ESHM_GROUPS are in use. Under the segment's flock. */
int
eshm_group_create(struct eshm_header *hdr, int ch, const char *name)
{
	struct eshm_chan *c = &hdr->chan[ch];
	for (int i = 0; i < ESHM_GROUPS; i++) {
		struct eshm_group *g = &hdr->group[ch][i];
		if (atomic_load_explicit(&g->state, memory_order_acquire) == GROUP_USED)
			continue;
		/* the oldest message some group still holds: the least of
		 * their release points (kept may lag it, as readers of
		 * several groups move it only now and then), or kept */
		uint64_t at = atomic_load_explicit(&c->kept, memory_order_acquire);
		uint64_t low = least_release(hdr, ch);
		if (low != UINT64_MAX && low > at &&
		    low <= atomic_load_explicit(&c->claim, memory_order_acquire))
			at = low;
		memset(g->name, 0, sizeof g->name);
		snprintf(g->name, sizeof g->name, "%s", name);
		atomic_store_explicit(&g->next, at, memory_order_relaxed);
		atomic_store_explicit(&g->release, at, memory_order_relaxed);
		atomic_store_explicit(&g->skip_pos, UINT64_MAX, memory_order_relaxed);
		atomic_store_explicit(&g->skip_word, 0, memory_order_relaxed);
		atomic_store_explicit(&g->eos_epoch, 0, memory_order_relaxed);
		atomic_store_explicit(&g->holders, 0, memory_order_relaxed);
		atomic_store_explicit(&g->returned, 0, memory_order_relaxed);
		g->created_ns = eshm_now_real();
		atomic_store_explicit(&g->seen_release, at, memory_order_relaxed);
		atomic_store_explicit(&g->moved_ns, eshm_now_mono(), memory_order_relaxed);
		atomic_store_explicit(&g->state, GROUP_USED, memory_order_release);
		atomic_fetch_add_explicit(&c->ngroups, 1, memory_order_seq_cst);
		/* The reader of the one other group stores kept at each message
		 * without the flock, unless it sees ngroups above 1: if it
		 * stored past where we start meanwhile, start there instead
		 * (what it released may be written over already). */
		uint64_t k = atomic_load_explicit(&c->kept, memory_order_seq_cst);
		if (k > at) {
			atomic_store_explicit(&g->next, k, memory_order_relaxed);
			atomic_store_explicit(&g->release, k, memory_order_release);
		}
		return i;
	}
	return -1;
}

/* Move kept to the lowest release point of all groups, given that a
 * group's is now pos. kept is loaded by writers after they announce that
 * they wait for space (the Dekker pair of wait.c): the caller then looks
 * at space_wait. */
static void
kept_update(struct eshm_header *hdr, int ch, uint64_t pos)
{
	struct eshm_chan *c = &hdr->chan[ch];
	uint64_t low = pos;
	/* with one group, its release point (read by the caller) */
	if (atomic_load_explicit(&c->ngroups, memory_order_relaxed) > 1) {
		uint64_t all = least_release(hdr, ch);
		if (all < low)
			low = all;
	}
	/* kept only grows: a lower value another releaser computed loses (a
	 * store could undo a later one, and writers would wait for room that
	 * was freed). A CAS that stores is seq_cst, for the Dekker pair; one
	 * that does not store leaves that to the releaser that did. */
	uint64_t k = atomic_load_explicit(&c->kept, memory_order_relaxed);
	while (k < low && !atomic_compare_exchange_weak_explicit(
				  &c->kept, &k, low, memory_order_seq_cst, memory_order_relaxed))
		;
}

/* Group gi of channel ch, read by one reader alone, released everything
 * below pos: store it, and move kept (with other groups, only when done,
 * the end of the reader's batch: see eshm_kept_refresh). Whether it is
 * the only group. */
bool
eshm_group_released(struct eshm_header *hdr, int ch, int gi, uint64_t pos, bool done)
{
	struct eshm_chan *c = &hdr->chan[ch];
	/* The only group, and its only reader: a store, one miss on the line
	 * writers read (a CAS, a read miss then an upgrade, made 64-byte
	 * throughput 0.62x). Still monotonic: a rescan by a reader joining
	 * meanwhile holds kept at most at our batch's start, below pos. */
	if (atomic_load_explicit(&c->ngroups, memory_order_relaxed) <= 1) {
		atomic_store_explicit(&hdr->group[ch][gi].release, pos, memory_order_release);
		atomic_store_explicit(&c->kept, pos, memory_order_seq_cst);
		return true;
	}
	/* Several groups: kept is the least of their release points, which
	 * other readers write at every message; reading them all and a CAS
	 * on kept at every message made each of 4 groups 0.02x a lone
	 * reader. So kept moves at the end of a batch, and a writer about
	 * to wait computes it itself (eshm_kept_refresh). The Dekker pair
	 * with that writer is the fence below, before the caller looks at
	 * space_wait: a store that writer missed is seen then, or the writer
	 * is seen waiting and woken. */
	atomic_store_explicit(&hdr->group[ch][gi].release, pos, memory_order_release);
	if (done) {
		kept_update(hdr, ch, pos);
		atomic_thread_fence(memory_order_seq_cst);
	}
	return false;
}

/* With several groups, move kept to the least of their release points:
 * for a writer about to wait for space, and a reader about to wake one. */
void
eshm_kept_refresh(struct eshm_header *hdr, int ch)
{
	struct eshm_chan *c = &hdr->chan[ch];
	if (atomic_load_explicit(&c->ngroups, memory_order_relaxed) <= 1)
		return;
	uint64_t low = least_release(hdr, ch);
	if (low != UINT64_MAX)
		kept_update(hdr, ch, low);
}

/*
 * The release point of group gi, read by several readers: the least start
 * of their batches that are not empty, or the group's next when none is.
 * Its readers announce a batch (its start) before they take it from next
 * (both seq_cst), and next is loaded here before the batches: a batch
 * taken after that load starts at or after it. The release point only
 * grows: a lower value, computed from an older look, loses.
 */
void
eshm_group_rescan(struct eshm_header *hdr, int ch, int gi)
{
	struct eshm_group *g = &hdr->group[ch][gi];
	uint64_t low = atomic_load_explicit(&g->next, memory_order_seq_cst);
	for (int k = 0; k < ESHM_READERS; k++) {
		struct eshm_batch *b = &hdr->batch[ch][k];
		if (atomic_load_explicit(&b->state, memory_order_seq_cst) == BATCH_NONE ||
		    atomic_load_explicit(&b->group, memory_order_relaxed) != (uint32_t)gi)
			continue;
		uint64_t s = atomic_load_explicit(&b->start, memory_order_seq_cst);
		if (s != atomic_load_explicit(&b->end, memory_order_relaxed) && s < low)
			low = s;
	}
	uint64_t r = atomic_load_explicit(&g->release, memory_order_relaxed);
	while (r < low && !atomic_compare_exchange_weak_explicit(
				  &g->release, &r, low, memory_order_seq_cst, memory_order_relaxed))
		;
	kept_update(hdr, ch, atomic_load_explicit(&g->release, memory_order_relaxed));
}

/* A reader's heartbeat (now: CLOCK_MONOTONIC ns) notes whether group gi
 * of channel ch released anything since the last look: when no reader's
 * beat sees it move, nobody reads it (eshm_group_info.idle_ms). Readers
 * of one group may race here: each stores what it saw, about the same. */
void
eshm_group_progress(struct eshm_header *hdr, int ch, int gi, int64_t now)
{
	if (gi < 0 || gi >= ESHM_GROUPS)
		return;
	struct eshm_group *g = &hdr->group[ch][gi];
	/* messages released inside a record (lines of one write) move the
	 * skip, not the release point: count its bytes */
	uint64_t rel = atomic_load_explicit(&g->release, memory_order_relaxed);
	if (atomic_load_explicit(&g->skip_pos, memory_order_relaxed) == rel)
		rel += (uint32_t)atomic_load_explicit(&g->skip_word, memory_order_relaxed);
	if (rel == atomic_load_explicit(&g->seen_release, memory_order_relaxed))
		return;
	atomic_store_explicit(&g->seen_release, rel, memory_order_relaxed);
	atomic_store_explicit(&g->moved_ns, now, memory_order_relaxed);
}

/* Whether a group name is one: "-" (the unnamed group), or 1 to 63 of
 * letters, digits, '.', '_', '-', '@', ':' not starting with '-' or '.'. */
int
eshm_group_name_ok(const char *name)
{
	if (!name)
		return 0;
	if (strcmp(name, "-") == 0)
		return 1;
	size_t n = strlen(name);
	if (n == 0 || n > ESHM_GROUP_NAME_MAX || name[0] == '-' || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@' || c == ':'))
			return 0;
	}
	return 1;
}

/* Remove group gi of channel ch, under the flock: its readers' slots (all
 * dead) and batches are cleared, kept moves to the least release point of
 * the others, and writers asleep for space are woken. */
static void
group_drop(struct eshm_header *hdr, int ch, int gi)
{
	struct eshm_chan *c = &hdr->chan[ch];
	for (int k = 0; k < ESHM_READERS; k++) {
		struct eshm_batch *b = &hdr->batch[ch][k];
		struct eshm_slot *sl = &hdr->slot[ch * SLOTS_PER_CHAN + SLOT_R + k];
		uint32_t f = atomic_load_explicit(&sl->flags, memory_order_relaxed);
		if (atomic_load_explicit(&sl->pid, memory_order_relaxed) && slotf_group(f) == gi) {
			atomic_store_explicit(&sl->pid, 0, memory_order_relaxed);
			atomic_store_explicit(&sl->flags, 0, memory_order_relaxed);
		}
		if (atomic_load_explicit(&b->group, memory_order_relaxed) == (uint32_t)gi)
			atomic_store_explicit(&b->state, BATCH_NONE, memory_order_relaxed);
	}
	struct eshm_group *g = &hdr->group[ch][gi];
	atomic_store_explicit(&g->state, GROUP_FREE, memory_order_release);
	uint32_t n = atomic_load_explicit(&c->ngroups, memory_order_relaxed);
	atomic_store_explicit(&c->ngroups, n ? n - 1 : 0, memory_order_relaxed);
	/* with no group left, everything from kept stays kept */
	uint64_t low = least_release(hdr, ch);
	uint64_t k = atomic_load_explicit(&c->kept, memory_order_relaxed);
	uint64_t cl = atomic_load_explicit(&c->claim, memory_order_relaxed);
	if (low != UINT64_MAX && low > k && low <= cl) {
		atomic_store_explicit(&c->kept, low, memory_order_seq_cst);
		if (atomic_load_explicit(&c->space_wait, memory_order_seq_cst)) {
			atomic_store_explicit(&c->space_wait, 0, memory_order_relaxed);
			eshm_futex_wake(&c->space_wait);
			eshm_poll_kick(NULL, hdr, ch, POLL_SPACE);
		}
	}
}

int
eshm_group_remove(const char *name, const char *group, unsigned flags, struct eshm_error *err)
{
	char path[ESHM_PATH_MAX], why[160];
	struct eshm_geom g;
	struct stat st;
	int r;
	if (err)
		memset(err, 0, sizeof *err);
	if ((r = eshm_segment_path(name, path, sizeof path)))
		return eshm_fill_error(err, r, 0, "invalid segment name '%s'", name ? name : "");
	if (!eshm_group_name_ok(group))
		return eshm_fill_error(err, ESHM_EINVAL, 0, "invalid consumer group name '%s'",
				       group ? group : "");
	bool dry = flags & ESHM_UNLINK_DRY_RUN;
	int fd = eshm_open_fd(path, (dry ? O_RDONLY : O_RDWR) | O_NOFOLLOW, 0);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return eshm_fill_error(err, ESHM_ENOSEG, 0, "no segment %s", name);
		return eshm_fill_error(err, -e, 0, "cannot open segment %s: %s", name, strerror(e));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < ESHM_HEADER_SIZE) {
		close(fd);
		return eshm_fill_error(err, ESHM_ENOTSEG, 0, "%s is not an eshm segment", name);
	}
	struct eshm_header *hdr =
		mmap(NULL, ESHM_HEADER_SIZE, PROT_READ | (dry ? 0 : PROT_WRITE), MAP_SHARED, fd, 0);
	if (hdr == MAP_FAILED) {
		int e = errno;
		close(fd);
		return eshm_fill_error(err, -e, 0, "cannot map segment %s: %s", name, strerror(e));
	}
	while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	r = eshm_geom_check(hdr, (uint64_t)st.st_size, &g, why, sizeof why);
	if (r) {
		eshm_fill_error(err, r, 0, "segment %s: %s", name, why);
		goto out;
	}
	int found = 0;
	int where[2] = {-1, -1};
	for (int ch = 0; ch < 2 && !r; ch++) {
		int gi = eshm_group_find(hdr, ch, group);
		if (gi < 0)
			continue;
		for (int k = 0; k < ESHM_READERS; k++) {
			int s = ch * SLOTS_PER_CHAN + SLOT_R + k;
			struct eshm_slot *sl = &hdr->slot[s];
			uint32_t f = atomic_load_explicit(&sl->flags, memory_order_relaxed);
			uint32_t pid = atomic_load_explicit(&sl->pid, memory_order_relaxed);
			if (pid && slotf_group(f) == gi && eshm_end_probe(fd, s) != 0) {
				r = eshm_fill_error(
					err, ESHM_EBUSY, (pid_t)pid,
					"group %s of channel %s of %s has a live reader "
					"(pid %u)",
					group, eshm_chan_name(ch), name, pid);
				break;
			}
		}
		where[ch] = gi;
		found++;
	}
	if (r)
		goto out;
	if (!found) {
		r = eshm_fill_error(err, ESHM_ENOGROUP, 0, "segment %s has no consumer group %s",
				    name, group);
		goto out;
	}
	for (int ch = 0; ch < 2 && !dry; ch++)
		if (where[ch] >= 0)
			group_drop(hdr, ch, where[ch]);
	r = found;
out:
	flock(fd, LOCK_UN);
	munmap(hdr, ESHM_HEADER_SIZE);
	close(fd);
	return r;
}
