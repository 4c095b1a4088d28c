/* poll.c - descriptors that poll(2) and event loops wait on: a FIFO per polling end. */
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

/*
 * A poller (eshm_fileno, eshm_fileno_write) makes a FIFO, ESHM_DIR/
 * .eshm-poll.PID.N, opens it O_RDWR | O_NONBLOCK, so that it never reads
 * an end of file, and holds a flock(2) lock on it as long as it lives:
 * the kernel drops the lock however the poller dies, which tells a FIFO a
 * killed poller left (leftover.c, eshm-clean). It records N in its slot,
 * then sets its bit in its channel's rpoll (a reader) or wpoll (a writer).
 *
 * Arming is the sleeper's flag: a poller that found nothing raises
 * data_wait (or space_wait) and looks again, as a sleeper does before it
 * sleeps (wait.c). Whoever wakes the sleepers, having lowered the flag,
 * also writes a byte to the FIFO of each poller whose bit is set. So the
 * fast path is what it was: with the flag down, nothing more is loaded
 * and no system call is made; with it up, the masks are in the line the
 * flag is in.
 *
 * The waker opens the FIFO O_RDWR too: it is then a reader itself, so a
 * write never meets a FIFO whose reader is gone, which would raise
 * SIGPIPE in a process that never asked for FIFOs (eshm-send). It keeps
 * the descriptor for the slot's holder (its generation, pid and N: struct
 * eshm_poke), and opens another only when one of them changes.
 */

#define POLL_TRIES 100

/* The bit of slot s in its channel's rpoll or wpoll, and that mask. */
static uint64_t
poll_bit(int s)
{
	int k = s % SLOTS_PER_CHAN - (slot_is_writer(s) ? SLOT_W : SLOT_R);
	return (uint64_t)1 << k;
}

static _Atomic uint64_t *
poll_mask(struct eshm_header *hdr, int s)
{
	struct eshm_chan *c = &hdr->chan[slot_chan(s)];
	return slot_is_writer(s) ? &c->wpoll : &c->rpoll;
}

static void
fifo_path(char *buf, size_t len, uint32_t pid, uint32_t n)
{
	snprintf(buf, len, "%s/%s%u.%u", ESHM_DIR, ESHM_POLL_PREFIX, (unsigned)pid, (unsigned)n);
}

/* A name for the try'th FIFO: random, never 0 (0 in a slot means none). */
static uint32_t
fifo_n(int try)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
		v = (uint32_t)((uint64_t)eshm_now_mono() * 0x9e3779b97f4a7c15ULL >> 32) +
		    (uint32_t)try;
	return v ? v : 1;
}

/* Give our FIFO the segment's mode and group, so that whoever may write
 * the segment may open it (umask must not decide). A group we may not
 * give is no matter when the others' bits grant as much. */
static int
fifo_share(struct eshm *h, int fd, const char *path)
{
	struct stat seg, st;
	if (fstat(h->fd, &seg) < 0 || fstat(fd, &st) < 0)
		return eshm_seterr(h, -errno, "cannot stat %s: %s", path, eshm_strerror(-errno));
	unsigned mode = seg.st_mode & 0666;
	if (fchmod(fd, mode) < 0)
		return eshm_seterr(h, -errno, "cannot set the mode of %s: %s", path,
				   eshm_strerror(-errno));
	if (st.st_gid != seg.st_gid && fchown(fd, (uid_t)-1, seg.st_gid) < 0 &&
	    (mode >> 3 & ~mode & 7)) {
		char g[96];
		return eshm_seterr(h, -errno,
				   "cannot give %s the segment's %s, as its mode %04o needs: %s",
				   path, eshm_group_desc(seg.st_gid, g, sizeof g), mode,
				   eshm_strerror(-errno));
	}
	return 0;
}

/* Make, open and lock our FIFO: ps->fd and its name, or an error. */
static int
fifo_make(struct eshm *h, struct pollside *ps)
{
	for (int try = 0; try < POLL_TRIES; try++) {
		uint32_t n = fifo_n(try);
		fifo_path(ps->path, sizeof ps->path, (uint32_t)getpid(), n);
		if (mkfifo(ps->path, 0600) < 0) {
			if (errno == EEXIST)
				continue;
			return eshm_seterr(h, -errno, "cannot make the FIFO %s: %s", ps->path,
					   eshm_strerror(-errno));
		}
		int fd = eshm_open_fd(ps->path, O_RDWR | O_NONBLOCK | O_NOFOLLOW, 0);
		if (fd < 0 && errno == ENOENT)
			continue; /* a cleaner took it for a dead poller's */
		if (fd < 0) {
			int r = eshm_seterr(h, -errno, "cannot open the FIFO %s: %s", ps->path,
					    eshm_strerror(-errno));
			unlink(ps->path);
			return r;
		}
		/* A cleaner may remove it before we lock it: then the name no
		 * longer leads to it, and we start over (as segment.c does). */
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
		struct stat st;
		if (!eshm_same_file(fd, ps->path, NULL, NULL) || fstat(fd, &st) < 0 ||
		    !S_ISFIFO(st.st_mode)) {
			close(fd);
			continue;
		}
		int r = fifo_share(h, fd, ps->path);
		if (r) {
			unlink(ps->path);
			close(fd);
			return r;
		}
		ps->fd = fd;
		ps->n = n;
		return 0;
	}
	return eshm_seterr(h, -EEXIST, "cannot make a FIFO in %s: %d names taken", ESHM_DIR,
			   POLL_TRIES);
}

/* Our FIFO goes, and its descriptor. */
static void
fifo_remove(struct pollside *ps)
{
	if (eshm_same_file(ps->fd, ps->path, NULL, NULL))
		unlink(ps->path);
	close(ps->fd);
	ps->fd = -1;
}

/* Our descriptor for end: the FIFO made, and made known in end's slot,
 * under the flock, so that no takeover of end comes between our look at
 * it and our marks (take_slot forgets a displaced poller's). 0, 1 if end
 * is not ours any more, or an error. */
int
eshm_poll_open(struct eshm *h, int end, struct pollside *ps)
{
	int r = fifo_make(h, ps);
	if (r)
		return r;
	if ((r = eshm_lock(h, LOCK_EX))) {
		fifo_remove(ps);
		return r;
	}
	if (!eshm_owns(h, end)) {
		flock(h->fd, LOCK_UN);
		fifo_remove(ps);
		return 1;
	}
	/* N before the bit: a waker that sees the bit sees N */
	atomic_store_explicit(&h->hdr->slot[end].poll, ps->n, memory_order_relaxed);
	atomic_fetch_or_explicit(poll_mask(h->hdr, end), poll_bit(end), memory_order_seq_cst);
	flock(h->fd, LOCK_UN);
	return 0;
}

/* Close our descriptor for end: unknown first (if end is still ours),
 * then gone. Under the flock. */
void
eshm_poll_close(struct eshm *h, int end, struct pollside *ps)
{
	if (ps->fd < 0)
		return;
	if (end >= 0 && eshm_owns(h, end)) {
		atomic_fetch_and_explicit(poll_mask(h->hdr, end), ~poll_bit(end),
					  memory_order_seq_cst);
		atomic_store_explicit(&h->hdr->slot[end].poll, 0, memory_order_relaxed);
	}
	fifo_remove(ps);
}

/* Empty our FIFO: what it holds said "look", and we are about to. */
void
eshm_poll_drain(const struct pollside *ps)
{
	char buf[64];
	while (read(ps->fd, buf, sizeof buf) == (ssize_t)sizeof buf)
		;
}

/* Make our descriptor readable. A full FIFO (EAGAIN) is readable already. */
void
eshm_poll_ready(const struct pollside *ps)
{
	char b = 1;
	ssize_t n = write(ps->fd, &b, 1);
	(void)n;
}

/* Slot s has a new holder, or none: whatever poller held it is forgotten
 * (a displaced one still closes its own FIFO). */
void
eshm_poll_forget(struct eshm_header *hdr, int s)
{
	if (slot_is_tap(s))
		return;
	atomic_fetch_and_explicit(poll_mask(hdr, s), ~poll_bit(s), memory_order_seq_cst);
	atomic_store_explicit(&hdr->slot[s].poll, 0, memory_order_relaxed);
}

/* The FIFO of the poller of slot s, opened: a descriptor, or -2 if it
 * cannot be (gone, or something else now has its name). */
static int
fifo_open(uint32_t pid, uint32_t n)
{
	char path[ESHM_LEFTOVER_PATH_MAX];
	struct stat st;
	fifo_path(path, sizeof path, pid, n);
	int fd = eshm_open_fd(path, O_RDWR | O_NONBLOCK | O_NOFOLLOW, 0);
	if (fd < 0)
		return -2;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return -2;
	}
	return fd;
}

/* Write a byte to the FIFO of slot s's poller, through pk (or, without,
 * a descriptor opened for this once). */
static void
poke(struct eshm_header *hdr, int s, struct eshm_poke *pk)
{
	struct eshm_slot *sl = &hdr->slot[s];
	/* each once, into a local: any values make a path, at worst one that
	 * leads nowhere */
	uint32_t pid = atomic_load_explicit(&sl->pid, memory_order_relaxed);
	uint32_t n = atomic_load_explicit(&sl->poll, memory_order_relaxed);
	uint64_t gen = atomic_load_explicit(&sl->generation, memory_order_relaxed);
	struct eshm_poke once = {.fd = -1};
	if (!pid || !n)
		return;
	if (!pk)
		pk = &once;
	if (pk->fd != -1 && (pk->gen != gen || pk->pid != pid || pk->n != n)) {
		if (pk->fd >= 0)
			close(pk->fd);
		pk->fd = -1;
	}
	if (pk->fd == -1) {
		pk->gen = gen;
		pk->pid = pid;
		pk->n = n;
		pk->fd = fifo_open(pid, n);
	}
	if (pk->fd >= 0) {
		char b = 1;
		ssize_t w = write(pk->fd, &b, 1); /* EAGAIN: full, readable already */
		(void)w;
	}
	if (pk == &once && once.fd >= 0)
		close(once.fd);
}

/*
 * Make the descriptors of channel ch's pollers readable: those of its
 * readers (POLL_DATA) or writers (POLL_SPACE). After a wake of the
 * channel's sleepers; h (may be NULL) keeps the FIFOs open.
 */
void
eshm_poll_kick(struct eshm *h, struct eshm_header *hdr, int ch, int what)
{
	struct eshm_chan *c = &hdr->chan[ch];
	uint64_t m = atomic_load_explicit(what == POLL_DATA ? &c->rpoll : &c->wpoll,
					  memory_order_acquire);
	if (!m)
		return;
	if (h && !h->pokes && (h->pokes = malloc(NSLOTS * sizeof *h->pokes)))
		for (int s = 0; s < NSLOTS; s++)
			h->pokes[s].fd = -1;
	int base = ch * SLOTS_PER_CHAN + (what == POLL_DATA ? SLOT_R : SLOT_W);
	for (; m; m &= m - 1) {
		int s = base + __builtin_ctzll(m);
		poke(hdr, s, h && h->pokes ? &h->pokes[s] : NULL);
	}
}

/* The handle goes: the pollers' FIFOs it kept open are closed. */
void
eshm_poll_end(struct eshm *h)
{
	if (!h->pokes)
		return;
	for (int s = 0; s < NSLOTS; s++)
		if (h->pokes[s].fd >= 0)
			close(h->pokes[s].fd);
	free(h->pokes);
	h->pokes = NULL;
}
