/* eshm-int.h - private declarations of libeshm: segment layout, handle. */
#ifndef ESHM_INT_H
#define ESHM_INT_H

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eshm.h"
#include "record.h"

/*
 * Segment layout (all integers native-endian; one host only):
 *
 *   offset 0          struct eshm_header (ESHM_HEADER_SIZE bytes, one page)
 *   chan_off[0]       ring of channel m2s, chan_cap[0] bytes
 *   chan_off[1]       ring of channel s2m, chan_cap[1] bytes
 *
 * Each ring holds records (record.h).
 *
 * head and tail are byte positions that only grow (mod cap gives the
 * offset). Records in [tail, head) are published and unread. A reader that
 * consumed part of the DELIM record at tail records it in skip_pos/skip_word
 * (see ring-read.c).
 *
 * Liveness: each of the four ends is held by an OFD read lock on byte
 * ESHM_LOCK_BASE + end of the file; the kernel drops it when the holder dies.
 * Claims and removal are serialised by flock(2) on the file.
 */

#define ESHM_MAGIC 0x314d48534545ULL /* "EESHM1" */
#define ESHM_FORMAT 1
#define ESHM_HEADER_SIZE 4096u
#define ESHM_CL 64
#define ESHM_LOCK_BASE 0
/* a segment being created: ESHM_DIR/.eshm-new.PID.N, flocked by its creator */
#define ESHM_NEW_PREFIX ".eshm-new."

/* Ends, also the lock byte offsets. */
enum { END_M2S_W = 0, END_M2S_R = 1, END_S2M_W = 2, END_S2M_R = 3, NENDS = 4 };
enum { CH_M2S = 0, CH_S2M = 1 };

/* Holder of one end. Written by its holder (and its heartbeat thread). */
struct eshm_slot {
	_Atomic uint32_t pid;          /* 0 when nobody holds it */
	_Atomic uint32_t stale_ms;     /* the holder's stale threshold */
	_Atomic uint64_t start_time;   /* holder's start, ticks since boot */
	_Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC; kept at detach */
	_Atomic uint64_t generation;   /* number of claims so far */
	_Atomic uint64_t cpus;         /* CPUs it may run on (bit 63: 63 and up) */
	_Atomic uint32_t claimer;      /* pid of the last claim, kept after detach:
					* names the taker to a displaced holder */
	char pad[ESHM_CL - 44];
};

/* One side's traffic: in the handle (written by its thread only; atomics,
 * as the heartbeat thread reads them) and, published, in the channel. */
struct eshm_counts {
	_Atomic uint64_t msgs, bytes, waits, wakes;
};

static inline void
eshm_count_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* One channel's shared state; each line has one main writer. */
struct eshm_chan {
	/* written by the channel's writer on every publish */
	_Atomic uint64_t head;
	char pad0[ESHM_CL - 8];
	/* written by the channel's reader on every release */
	_Atomic uint64_t tail;
	_Atomic uint64_t skip_pos;  /* record position skip_word applies to */
	_Atomic uint64_t skip_word; /* bytes (low 32) | messages (high 32) */
	char pad1[ESHM_CL - 24];
	/* futex words: 1 while the reader (data) or writer (space) sleeps */
	_Atomic uint32_t data_wait;
	_Atomic uint32_t space_wait;
	char pad2[ESHM_CL - 8];
	/* written by the writer: its counts, under the sequence lock wseq
	 * (messages and bytes in, waits for space, wakes of the reader) */
	_Atomic uint32_t wseq;
	_Atomic uint32_t framing;
	_Atomic uint32_t eos_mark; /* the last record written is an end mark */
	uint32_t pad3;
	struct eshm_counts in;
	char pad4[ESHM_CL - 48];
	/* written by the reader: its counts, under rseq (messages and bytes
	 * out, waits for data, wakes of the writer) */
	_Atomic uint32_t rseq;
	uint32_t pad5;
	struct eshm_counts out;
	char pad6[ESHM_CL - 40];
};

struct eshm_header {
	uint64_t magic;
	uint32_t format;
	uint32_t header_size;
	uint64_t segment_size;
	int64_t created_ns;   /* CLOCK_REALTIME */
	int64_t created_mono; /* CLOCK_MONOTONIC */
	uint32_t creator_pid;
	uint32_t creator_uid;
	uint32_t flags; /* HDR_KEEP */
	uint32_t pad0;
	uint64_t chan_off[2];
	uint64_t chan_cap[2];
	char pad1[ESHM_CL * 2 - 88];
	struct eshm_slot slot[NENDS];
	struct eshm_chan chan[2];
};

#define HDR_KEEP 1u

_Static_assert(sizeof(struct eshm_slot) == ESHM_CL, "slot is one line");
_Static_assert(sizeof(struct eshm_chan) == 5 * ESHM_CL, "channel lines");
_Static_assert(sizeof(struct eshm_header) <= ESHM_HEADER_SIZE, "header fits");
_Static_assert(offsetof(struct eshm_header, slot) % ESHM_CL == 0, "aligned");
_Static_assert(offsetof(struct eshm_header, chan) % ESHM_CL == 0, "aligned");
/* format 1's offsets of the counts */
_Static_assert(offsetof(struct eshm_chan, in) == 3 * ESHM_CL + 16, "counts in");
_Static_assert(offsetof(struct eshm_chan, out) == 4 * ESHM_CL + 8, "counts out");

/* Validated, immutable geometry of a segment, copied out at attach. */
struct eshm_geom {
	uint64_t size;
	uint64_t off[2];
	uint64_t cap[2];
	uint32_t flags;
};

/* How a wait spins before it sleeps; see wait.c. */
struct spin {
	int64_t budget; /* ns */
	unsigned poll;  /* pauses between two looks at the index */
	unsigned waits, fails;
	bool adaptive;
};

/* Local state of the channel a handle writes. */
struct wside {
	struct eshm_chan *c;
	unsigned char *ring;
	uint64_t cap;
	uint64_t head;       /* our head; published copy is c->head */
	uint64_t tail;       /* cached copy of c->tail */
	uint64_t resv;       /* position of the reserved record, or UINT64_MAX */
	uint64_t resv_avail; /* payload bytes the reservation allows */
	uint64_t need;       /* free bytes wait_space waits for */
	struct eshm_counts n;
	int framing; /* what this handle writes */
	/* bytes of an unfinished message carried to the next reservation */
	size_t carry;
	unsigned char *carry_at; /* in the ring (beyond head + 8) or in side */
	unsigned char *side;
	size_t side_cap;
	bool wrote; /* committed data since attach or last EOS */
};

/* Local state of the channel a handle reads. */
struct rside {
	struct eshm_chan *c;
	unsigned char *ring;
	uint64_t cap;
	uint64_t tail; /* released record position (ours; mirrors c->tail) */
	uint32_t skip; /* bytes of the record at tail already released */
	uint32_t skipmsgs;
	uint64_t head; /* cached copy of c->head */
	/* peek cursor: record position and offset in its payload */
	uint64_t cur;
	uint32_t curoff;
	uint32_t curmsgs;  /* messages of that record before curoff */
	uint64_t peeked;   /* payload bytes peeked beyond the release point */
	uint64_t peekmsgs; /* messages peeked beyond the release point */
	/* cursor before the last chunk, for eshm_unpeek */
	struct {
		uint64_t cur, peeked, peekmsgs;
		uint32_t curoff, curmsgs;
		bool valid;
	} undo;
	int end_w; /* index of the writer end of this channel */
	struct eshm_counts n;
	int64_t lost_since; /* CLOCK_MONOTONIC ns the writer was seen dead, or 0 */
};

struct eshm {
	char name[ESHM_NAME_MAX + 1];
	char path[ESHM_PATH_MAX];
	int fd;
	unsigned char *base;
	struct eshm_header *hdr;
	struct eshm_geom g;
	struct eshm_config cfg;
	int role;
	bool created;
	bool held[NENDS];
	uint64_t gen[NENDS];        /* generation of each end we hold */
	int wend, rend;             /* ends held for writing/reading, or -1 */
	struct spin spin_w, spin_r; /* the space and data waits (ring.c) */
	uint64_t cpus;              /* our CPU affinity, as in struct eshm_slot */
	struct wside w;
	struct rside r;
	dev_t dev;
	ino_t ino; /* of our file: the name must still lead to it */
	/* heartbeat thread */
	pthread_t hb;
	bool hb_running;
	pthread_mutex_t hb_mu;
	pthread_cond_t hb_cv;
	bool hb_stop;
	int guard; /* slot in guard.c's table, or -1 */
	char err[256];
};

/* Nanoseconds from then (a time read from shared memory, so anything) to
 * now, or -1 if then is 0 or after now: in unsigned arithmetic, as a
 * signed subtraction of a hostile value would overflow. */
static inline int64_t
eshm_age_ns(int64_t now, uint64_t then)
{
	if (!then || now < 0 || then > (uint64_t)now)
		return -1;
	return (int64_t)((uint64_t)now - then);
}

/*
 * Whether we still hold end: nobody took it over. Asked before every change
 * we make to the ring (a commit, an end mark, a release), so that a holder
 * displaced while stopped touches nothing when it resumes; eshm_end_check
 * says why not. One load of our slot's line, which only our heartbeat
 * writes: measured free on a 64-byte round trip (580 against 572 ns,
 * eshm-bench -c latency, medians of 7). Not where it costs: a copy of the
 * generation in the tail's line, loaded just before the release stores
 * tail, made it 637 (a read miss, then an upgrade, where the store alone
 * takes one miss); and a check at the top of peek_chunk, 765 (the
 * compiler no longer splits that function): it is made at the start of
 * each batch instead, so that a displaced reader hands nothing more on.
 */
static inline bool
eshm_owns(const struct eshm *h, int end)
{
	return atomic_load_explicit(&h->hdr->slot[end].generation, memory_order_relaxed) ==
	       h->gen[end];
}

/* x86 pause, arm yield: a spinning look at shared memory */
static inline void
eshm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* util.c: clocks, paths, descriptors, error text, futexes */
int eshm_open_fd(const char *path, int flags, unsigned mode);
/* ESHM_DIR opened for readdir, its descriptor above 2; NULL and errno */
DIR *eshm_opendir_shm(void);
struct stat;
/* unlink(path) of a file st describes (or, dry, say whether it would go):
 * 0, or a negated errno with err saying why in words */
int eshm_remove_file(const char *path, const struct stat *st, bool dry, struct eshm_error *err);
int64_t eshm_now_mono(void);
int64_t eshm_now_real(void);
uint64_t eshm_proc_start_time(pid_t pid);
int eshm_seterr(struct eshm *h, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int eshm_fill_error(struct eshm_error *err, int code, pid_t pid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *eshm_chan_name(int ch);
const char *eshm_end_desc(int end);
/* "group NAME (gid N)", or "gid N" when it has no name, in buf; for messages */
const char *eshm_group_desc(gid_t gid, char *buf, size_t len);
/* 0 when woken (or *addr no longer val), ESHM_ETIMEDOUT, or -errno */
int eshm_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);
void eshm_futex_wake(_Atomic uint32_t *addr);

/* segment.c: creating a segment file, its geometry, what it holds */
int eshm_segment_create(const char *path, const struct eshm_config *cfg, int *fdp);
int eshm_geom_check(const struct eshm_header *hdr, uint64_t file_size, struct eshm_geom *g,
		    char *why, size_t whylen);
bool eshm_same_file(int fd, const char *path, dev_t *dev, ino_t *ino);
/* What channel ch holds for readers: messages and payload bytes not yet
 * released, and whether anything (a message or an end mark a reader must
 * still see) is pending. */
struct eshm_backlog {
	uint64_t msgs, bytes;
	bool pending;
};
int eshm_chan_backlog(int fd, const struct eshm_header *hdr, int ch, const struct eshm_geom *g,
		      struct eshm_backlog *b);
int eshm_chan_pending(int fd, const struct eshm_header *hdr, int ch, const struct eshm_geom *g);

/* guard.c: the segment under us, still whole and still named */
int eshm_guard_add(void *base, size_t size, bool handler);
void eshm_guard_remove(int slot);
int eshm_truncated(struct eshm *h);
int eshm_still_named(struct eshm *h);
int eshm_corrupt(struct eshm *h, int ch, const char *what, uint64_t a, uint64_t b);
/* What is left in the segment: its messages and bytes; whether anything
 * is pending (a message, or an end mark a reader must see). */
bool eshm_left_in(struct eshm *h, uint64_t *msgs, uint64_t *bytes);
int eshm_removed_error(struct eshm *h, uint64_t msgs, uint64_t bytes);

/* endpoint.c: the four ends, who holds them, claims and releases */
int eshm_end_probe(int fd, int end);
int eshm_end_state(int fd, const struct eshm_header *hdr, int end, int64_t now);
int eshm_ends_claim(struct eshm *h, struct eshm_error *err);
void eshm_ends_release(struct eshm *h, bool lost);
bool eshm_any_live(int fd);
int eshm_end_check(struct eshm *h, int end);
int eshm_not_owned(struct eshm *h, int end);

/* heartbeat.c */
int eshm_heartbeat_start(struct eshm *h);
void eshm_heartbeat_stop(struct eshm *h);

/* counters.c */
void eshm_counts_read(const _Atomic uint32_t *seq, const struct eshm_counts *src,
		      struct eshm_counts *out);
void eshm_chan_snapshot(const struct eshm_chan *c, struct eshm_channel_info *ci);
void eshm_counters_flush(struct eshm *h);
void eshm_counters_sync(struct eshm *h);
void eshm_count_wait(struct eshm *h, _Atomic uint64_t *waits);

/* wait.c: spinning, deadlines, sleeping */
#define SPIN_START_NS 50000 /* first spin budget of an adaptive wait */
uint64_t eshm_cpu_mask(void);
int64_t eshm_deadline(int timeout_ms);
/* What a wait waits for, on either side of a channel. */
struct eshm_waiter {
	_Atomic uint32_t *flag;                      /* futex word the other side wakes */
	int (*ready)(struct eshm *h);                /* 1 ready, 0 not yet, or an error */
	int (*idle)(struct eshm *h, int64_t now);    /* after a whole slice without
						    * progress: 0, or an error */
	int (*expired)(struct eshm *h, bool polled); /* the ESHM_ETIMEDOUT, said */
	struct spin *spin;
	int end;                 /* ours: still ours after a sleep? */
	int peer;                /* the end we wait for */
	_Atomic uint64_t *waits; /* counted once per wait that sleeps */
};
int eshm_wait(struct eshm *h, const struct eshm_waiter *w, int64_t deadline);

/* ring-write.c, ring-read.c */
int eshm_wside_init(struct eshm *h, int ch);
int eshm_rside_init(struct eshm *h, int ch);
int eshm_ring_eos(struct eshm *h);

#endif
