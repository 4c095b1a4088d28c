/* segment.c - create a segment file, validate its geometry, decide whether it holds anything. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eshm-int.h"

static uint64_t
page_round(uint64_t n)
{
	return (n + 4095) & ~(uint64_t)4095;
}

/*
 * Create the segment under a private temporary name (O_CREAT|O_EXCL, never
 * following links), size it with posix_fallocate so that a full /dev/shm is
 * an error now rather than a SIGBUS later, write the header, and only then
 * link it to its real name. An attacher therefore never sees a
 * half-initialised segment, and link(2) fails with EEXIST if another
 * process won the race.
 *
 * The flock is taken as soon as the temporary file exists: it says "still
 * being created" for as long as we live, and the kernel drops it however
 * we die, so eshm-clean can tell a creation in progress from what a killed
 * creator left (see leftover.c). A cleaner may still take the file in the
 * instant before our flock (only if our pid looks dead to it, e.g. from
 * another pid namespace): then the name no longer leads to our file, and
 * we start over. On success *fdp is open and flock(LOCK_EX)ed.
 * Returns 0, a negative code, or 1 to start over. -EPERM means the
 * creator may not give the file cfg->group.
 */
/* The segment's salt, which tags its committed records: random, never 0.
 * getrandom(2) does not block once the system's pool is ready; a clock
 * and our pid mixed in are enough where it fails (a fresh container). */
static uint64_t
salt(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
		v = (uint64_t)eshm_now_mono() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() << 32 ^
		    (uint64_t)eshm_now_real();
	return v ? v : 0x5eed;
}

static int
create_once(const char *path, const struct eshm_config *cfg, uint64_t cap, int *fdp)
{
	uint64_t size = ESHM_HEADER_SIZE + 2 * cap;
	char tmp[64];
	int fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		snprintf(tmp, sizeof tmp, "%s/%s%d.%lld", ESHM_DIR, ESHM_NEW_PREFIX, (int)getpid(),
			 (long long)(eshm_now_mono() + i) % 1000000007);
		fd = eshm_open_fd(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, cfg->mode & 0777);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;

	int r = 0;
	if (flock(fd, LOCK_EX) < 0) {
		r = -errno;
		goto fail;
	}
	/* removed by a cleaner before we locked it: the name is not ours now */
	if (!eshm_same_file(fd, tmp, NULL, NULL)) {
		close(fd);
		return 1;
	}
	/* umask must not decide who may read our data */
	if (fchmod(fd, cfg->mode & 0777) < 0) {
		r = -errno;
		goto fail;
	}
	/* before the name exists, so that nobody sees it with the wrong
	 * group; the kernel allows it to members of the group (and root) */
	if (cfg->group >= 0 && fchown(fd, (uid_t)-1, (gid_t)cfg->group) < 0) {
		r = -errno;
		goto fail;
	}
	int e = posix_fallocate(fd, 0, (off_t)size);
	if (e) {
		r = -e;
		goto fail;
	}

	struct eshm_header *hdr = calloc(1, sizeof *hdr);
	if (!hdr) {
		r = -ENOMEM;
		goto fail;
	}
	hdr->magic = ESHM_MAGIC;
	hdr->format = ESHM_FORMAT;
	hdr->header_size = ESHM_HEADER_SIZE;
	hdr->segment_size = size;
	hdr->created_ns = eshm_now_real();
	hdr->created_mono = eshm_now_mono();
	hdr->creator_pid = (uint32_t)getpid();
	hdr->creator_uid = (uint32_t)geteuid();
	hdr->flags = (cfg->flags & ESHM_KEEP) ? HDR_KEEP : 0;
	hdr->salt = salt();
	for (int ch = 0; ch < 2; ch++) {
		hdr->chan_off[ch] = ESHM_HEADER_SIZE + ch * cap;
		hdr->chan_cap[ch] = cap;
		atomic_store_explicit(&hdr->chan[ch].framing, ESHM_FRAMING_MESSAGE,
				      memory_order_relaxed);
	}
	for (int sl = 0; sl < NSLOTS; sl++)
		atomic_store_explicit(&hdr->slot[sl].intent_pos, UINT64_MAX, memory_order_relaxed);
	ssize_t wr = pwrite(fd, hdr, sizeof *hdr, 0);
	int we = errno;
	free(hdr);
	if (wr != (ssize_t)sizeof *hdr) {
		r = wr < 0 && we ? -we : -EIO;
		goto fail;
	}
	if (link(tmp, path) < 0) {
		if (errno == ENOENT) { /* removed under us after all: start over */
			close(fd);
			return 1;
		}
		r = -errno;
		goto fail;
	}
	unlink(tmp);
	*fdp = fd; /* still flocked: the caller relies on it */
	return 0;
fail:
	unlink(tmp);
	close(fd);
	return r;
}

int
eshm_segment_create(const char *path, const struct eshm_config *cfg, int *fdp)
{
	uint64_t cap = page_round(cfg->capacity);
	if (cap < ESHM_MIN_CAPACITY || cap > ESHM_MAX_CAPACITY)
		return ESHM_EINVAL;
	/* bounded: only a cleaner that keeps removing our files starves us */
	for (int attempt = 0; attempt < 100; attempt++) {
		int r = create_once(path, cfg, cap, fdp);
		if (r <= 0)
			return r;
	}
	return -ENOENT;
}

/* Copy the geometry out of a header and check it against the file; every
 * later access uses the copy, never the shared fields again. Only the
 * header's first ESHM_ID_SIZE bytes need be there: a segment of another
 * format is told by its version, whatever its size. */
int
eshm_geom_check(const struct eshm_header *hdr, uint64_t file_size, struct eshm_geom *g, char *why,
		size_t whylen)
{
	struct eshm_header h;
	memcpy(&h, hdr, offsetof(struct eshm_header, pad1));
	if (h.magic != ESHM_MAGIC) {
		snprintf(why, whylen, "not an eshm segment (bad magic)");
		return ESHM_ENOTSEG;
	}
	if (h.format != ESHM_FORMAT) {
		snprintf(why, whylen, "format version %u, this is version %u", h.format,
			 ESHM_FORMAT);
		return ESHM_EVERSION;
	}
	if (h.header_size != ESHM_HEADER_SIZE) {
		/* made by a build of this format with another header layout */
		snprintf(why, whylen,
			 "format version %u with a %u-byte header, this build's has %zu", h.format,
			 h.header_size, (size_t)ESHM_HEADER_SIZE);
		return ESHM_EVERSION;
	}
	if (file_size < ESHM_HEADER_SIZE) {
		snprintf(why, whylen, "the file has %llu bytes, less than its %zu-byte header",
			 (unsigned long long)file_size, (size_t)ESHM_HEADER_SIZE);
		return ESHM_ECORRUPT;
	}
	if (h.segment_size != file_size) {
		snprintf(why, whylen, "header says %llu bytes, file has %llu",
			 (unsigned long long)h.segment_size, (unsigned long long)file_size);
		return ESHM_ECORRUPT;
	}
	uint64_t end = ESHM_HEADER_SIZE;
	for (int ch = 0; ch < 2; ch++) {
		uint64_t off = h.chan_off[ch], cap = h.chan_cap[ch];
		if (off % 4096 || cap % 4096 || cap < ESHM_MIN_CAPACITY ||
		    cap > ESHM_MAX_CAPACITY || off < end || off > file_size ||
		    cap > file_size - off) {
			snprintf(why, whylen,
				 "channel %s ring (offset %llu, %llu bytes) "
				 "does not fit the %llu-byte file",
				 eshm_chan_name(ch), (unsigned long long)off,
				 (unsigned long long)cap, (unsigned long long)file_size);
			return ESHM_ECORRUPT;
		}
		g->off[ch] = off;
		g->cap[ch] = cap;
		end = off + cap;
	}
	g->size = file_size;
	g->flags = h.flags;
	return 0;
}

/* Whether fd still is the file at path (not removed or replaced since). */
bool
eshm_same_file(int fd, const char *path, dev_t *dev, ino_t *ino)
{
	struct stat a, b;
	if (fstat(fd, &a) < 0 || a.st_nlink == 0 || lstat(path, &b) < 0)
		return false;
	if (dev)
		*dev = a.st_dev;
	if (ino)
		*ino = a.st_ino;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Bytes the uncommitted record at pos was claimed with, as a writer slot
 * announces it (in the copy hdr), or 0 if none does soundly. */
static uint64_t
claimed_size(const struct eshm_header *hdr, int ch, uint64_t pos, uint64_t claim, uint64_t cap)
{
	for (int k = 0; k < ESHM_WRITERS; k++) {
		const struct eshm_slot *sl = &hdr->slot[ch * SLOTS_PER_CHAN + SLOT_W + k];
		if (atomic_load_explicit(&sl->intent_pos, memory_order_relaxed) != pos)
			continue;
		uint64_t n = atomic_load_explicit(&sl->intent_size, memory_order_relaxed);
		if (n >= REC_HDR && !(n % REC_ALIGN) && n <= cap - pos % cap && n <= claim - pos)
			return n;
	}
	return 0;
}

/* Whether a reader yet to come must see the end of channel ch's stream:
 * it ended, and no group exists (nobody read it yet: so that
 * `true | eshm-send q` then `eshm-recv q` works), or a group that was not
 * told lost its reader without a detach (it will be started again and must
 * see the end). Groups whose readers all detached leave no segment behind
 * for marks that nobody will read. */
static bool
end_pending(const struct eshm_header *hdr, int ch)
{
	const struct eshm_chan *c = &hdr->chan[ch];
	if (!atomic_load_explicit(&c->ended, memory_order_relaxed))
		return false;
	uint32_t epoch = atomic_load_explicit(&c->end_epoch, memory_order_relaxed);
	bool any = false;
	for (int gi = 0; gi < ESHM_GROUPS; gi++) {
		const struct eshm_group *gr = &hdr->group[ch][gi];
		if (atomic_load_explicit(&gr->state, memory_order_relaxed) != GROUP_USED)
			continue;
		any = true;
		if (atomic_load_explicit(&gr->eos_epoch, memory_order_relaxed) == epoch)
			continue;
		for (int k = 0; k < ESHM_READERS; k++) {
			const struct eshm_slot *sl = &hdr->slot[ch * SLOTS_PER_CHAN + SLOT_R + k];
			uint32_t f = atomic_load_explicit(&sl->flags, memory_order_relaxed);
			if (atomic_load_explicit(&sl->pid, memory_order_relaxed) &&
			    (int)(f >> 8 & 0xff) == gi)
				return true;
		}
	}
	return !any;
}

/* The part of the record at kept that every group at kept released
 * already: the least of their skips. */
static void
kept_skip(const struct eshm_header *hdr, int ch, uint64_t kept, uint64_t *skip, uint64_t *msgs)
{
	bool first = true;
	*skip = *msgs = 0;
	for (int gi = 0; gi < ESHM_GROUPS; gi++) {
		const struct eshm_group *gr = &hdr->group[ch][gi];
		if (atomic_load_explicit(&gr->state, memory_order_relaxed) != GROUP_USED ||
		    atomic_load_explicit(&gr->release, memory_order_relaxed) != kept)
			continue;
		uint64_t b = 0, m = 0;
		if (atomic_load_explicit(&gr->skip_pos, memory_order_relaxed) == kept) {
			uint64_t sw = atomic_load_explicit(&gr->skip_word, memory_order_relaxed);
			b = (uint32_t)sw;
			m = sw >> 32;
		}
		if (first || b < *skip)
			*skip = b;
		if (first || m < *msgs)
			*msgs = m;
		first = false;
	}
}

/*
 * What channel ch holds for readers: the messages and payload bytes from
 * the release point (kept: what some group has not released) to the claim
 * position, and whether a later reader must still get something: a
 * message, or an end-of-stream mark (end_pending). Claims not committed
 * are stepped over with their announced size: a live writer's will be
 * committed (and its holder keeps the segment anyway), a dead writer's
 * skipped; one that nobody announces (a scribbled segment) makes the
 * channel pending, as what follows it cannot be told.
 * Reads records with pread, so it works on a file that is not mapped;
 * hdr is a copy (or the mapping) whose kept and claim were read once.
 * Returns 0 or ESHM_ECORRUPT.
 */
int
eshm_chan_backlog(int fd, const struct eshm_header *hdr, int ch, const struct eshm_geom *g,
		  struct eshm_backlog *b)
{
	const struct eshm_chan *c = &hdr->chan[ch];
	uint64_t kept = atomic_load_explicit(&c->kept, memory_order_acquire);
	uint64_t skip, skipmsgs;
	kept_skip(hdr, ch, kept, &skip, &skipmsgs);
	int r = eshm_backlog_from(fd, hdr, ch, g, kept, skip, skipmsgs, b);
	if (!r)
		b->pending |= end_pending(hdr, ch);
	return r;
}

/* The same, from position kept, of whose record skip bytes and skipmsgs
 * messages are released (the backlog of one group, from its release
 * point); pending says only whether a message is there. */
int
eshm_backlog_from(int fd, const struct eshm_header *hdr, int ch, const struct eshm_geom *g,
		  uint64_t kept, uint64_t skip, uint64_t skipmsgs, struct eshm_backlog *b)
{
	const struct eshm_chan *c = &hdr->chan[ch];
	uint64_t claim = atomic_load_explicit(&c->claim, memory_order_acquire);
	uint64_t cap = g->cap[ch], salt = hdr->salt;
	memset(b, 0, sizeof *b);
	if (!span_ok(claim, kept, cap))
		return ESHM_ECORRUPT;
	/* each step advances by at least 16 bytes, so at most cap/16 steps */
	for (uint64_t pos = kept; pos < claim;) {
		uint64_t off = pos % cap;
		struct eshm_rec rec;
		unsigned char last;
		if (pread(fd, &rec, sizeof rec, (off_t)(g->off[ch] + off)) != (ssize_t)sizeof rec)
			return ESHM_ECORRUPT;
		if (atomic_load_explicit(&rec.tag, memory_order_relaxed) != (pos ^ salt)) {
			uint64_t n = claimed_size(hdr, ch, pos, claim, cap);
			if (!n) {
				b->pending = true;
				break;
			}
			pos += n;
			continue;
		}
		if (rec_invalid(&rec, off, cap, claim - pos))
			return ESHM_ECORRUPT;
		if (rec_has_end(&rec) &&
		    (pread(fd, &last, 1, (off_t)(g->off[ch] + off + REC_HDR + rec.len - 1)) != 1 ||
		     rec_end_invalid(&rec, last)))
			return ESHM_ECORRUPT;
		uint64_t n = 0, len = rec.len;
		if (rec_kind(&rec) == REC_MSG)
			n = 1;
		else if (rec_kind(&rec) == REC_DELIM)
			n = rec_nmsgs(&rec);
		if (n && pos == kept) { /* partly released: count the rest */
			len = skip < len ? len - skip : 0;
			n = skipmsgs < n ? n - skipmsgs : 0;
		}
		if (n) {
			b->msgs += n;
			b->bytes += len;
			b->pending = true;
		}
		pos += rec_size(&rec);
	}
	return 0;
}

/* Whether channel ch holds something a later reader must get: 1, 0, or
 * ESHM_ECORRUPT. */
int
eshm_chan_pending(int fd, const struct eshm_header *hdr, int ch, const struct eshm_geom *g)
{
	struct eshm_backlog b;
	int r = eshm_chan_backlog(fd, hdr, ch, g, &b);
	return r ? r : b.pending;
}
