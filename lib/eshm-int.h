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
 * Segment layout, format 2 (all integers native-endian; one host only):
 *
 *   offset 0          struct eshm_header (header_size bytes, whole pages)
 *   chan_off[0]       ring of channel m2s, chan_cap[0] bytes
 *   chan_off[1]       ring of channel s2m, chan_cap[1] bytes
 *
 * Each ring holds records (record.h), 16-byte aligned, at byte positions
 * that only grow (mod cap gives the offset). A record is committed when
 * its header's tag is its position XOR the segment's salt; until then its
 * space is claimed, not readable.
 *
 * Writers (many per channel): a writer announces a claim in its slot
 * (intent_pos, intent_size), claims [claim, claim + size) with a CAS on the
 * channel's claim position, fills the record and commits it by storing
 * the tag. Its slot says where its open claim is, so a reader that meets
 * a claim whose writer died skips it (writes a SKIP record there), and
 * nobody waits for a dead writer. Claims may reach kept + cap, where kept
 * is the release point: the lowest position some group still holds (with
 * one group, its release; with none, where the last one stopped).
 *
 * Readers belong to consumer groups. A group has its release point
 * (release, and skip_pos/skip_word for a delimited record released in
 * part) and hands out what its readers take (next). Every group gets every
 * record; space is freed when every group released it. Taps read without
 * belonging to a group and hold no space: a copy is valid if claim did not
 * pass its position + cap meanwhile. (Format 2 has the places for groups'
 * batches, many readers per group and taps; this library uses one reader
 * per group, the unnamed group "-".)
 *
 * End of stream: a writer that finishes while no other writer is attached
 * and none died ends the stream (end_epoch++, ended = 1, under the flock);
 * a writer attaching clears ended. A group delivers the end once (its
 * eos_epoch) when it is drained, ended is set and no writer is attached.
 *
 * Liveness: each slot is held by an OFD read lock on byte ESHM_LOCK_BASE +
 * slot id of the file; the kernel drops it when the holder dies. Claims,
 * detaching and removal are serialised by flock(2) on the file.
 */

#define ESHM_MAGIC 0x314d48534545ULL /* "EESHM1": eshm's; the version is format */
#define ESHM_FORMAT 2
#define ESHM_CL 64
#define ESHM_LOCK_BASE 0

enum { CH_M2S = 0, CH_S2M = 1 };

/* Slots of a channel, by kind: slot id = channel * SLOTS_PER_CHAN + kind
 * base + index. The slot id is also the byte its holder's lock covers. */
#define ESHM_WRITERS ESHM_MAX_WRITERS
#define ESHM_READERS ESHM_MAX_READERS
#define ESHM_GROUPS ESHM_MAX_GROUPS
#define ESHM_TAPS 16
enum {
	SLOT_W = 0,
	SLOT_R = SLOT_W + ESHM_WRITERS,
	SLOT_T = SLOT_R + ESHM_READERS,
	SLOTS_PER_CHAN = SLOT_T + ESHM_TAPS,
	NSLOTS = 2 * SLOTS_PER_CHAN,
};

static inline int
slot_chan(int s)
{
	return s / SLOTS_PER_CHAN;
}

static inline bool
slot_is_writer(int s)
{
	return s % SLOTS_PER_CHAN < SLOT_R;
}

static inline bool
slot_is_tap(int s)
{
	return s % SLOTS_PER_CHAN >= SLOT_T;
}

/* Flags of a slot. */
enum {
	SLOTF_EXCLUSIVE = 1, /* a writer or reader that admits no other */
	SLOTF_RAW = 2,       /* a writer of a raw stream: the channel is its own */
	SLOTF_DONE = 4,      /* a writer that ended its stream and writes no more */
};
/* A reader's consumer group (its index) in its slot's flags. */
static inline int
slotf_group(uint32_t f)
{
	return (int)(f >> 8 & 0xff);
}

/* Holder of one slot. Written by its holder (and its heartbeat thread). */
struct eshm_slot {
	_Atomic uint32_t pid;          /* 0 when free; kept by a holder that died
					* or was lost */
	_Atomic uint32_t stale_ms;     /* the holder's stale threshold */
	_Atomic uint64_t start_time;   /* holder's start, ticks since boot */
	_Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC; kept at detach */
	_Atomic uint64_t generation;   /* number of claims so far */
	_Atomic uint64_t cpus;         /* CPUs it may run on (bit 63: 63 and up) */
	_Atomic uint32_t claimer;      /* pid of the last claim, kept after detach:
					* names the taker to a displaced holder */
	_Atomic uint32_t flags;        /* SLOTF_*; a reader's group in bits 8-15 */
	_Atomic uint64_t intent_pos;   /* a writer's open claim (or the claim it is
					* about to make), UINT64_MAX if none */
	_Atomic uint32_t intent_size;  /* its bytes */
	_Atomic uint32_t poll;         /* N of the holder's descriptor, the FIFO
					* ESHM_DIR/.eshm-poll.PID.N (poll.c), or 0 */
};

/* One side's traffic: in the handle (written by its thread only; atomics,
 * as the heartbeat thread reads them) and, published, in the segment. */
struct eshm_counts {
	_Atomic uint64_t msgs, bytes, waits, wakes;
};

static inline void
eshm_count_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* The counts a holder publishes, under its own sequence lock. */
struct eshm_slot_counts {
	_Atomic uint32_t seq;
	uint32_t pad0;
	struct eshm_counts c;
	char pad1[ESHM_CL - 40];
};

/* A consumer group of a channel. */
struct eshm_group {
	/* what the group's readers take next (their batches start here) */
	_Atomic uint64_t next;
	char pad0[ESHM_CL - 8];
	/* written at each release */
	_Atomic uint64_t release;   /* released by the group below this */
	_Atomic uint64_t skip_pos;  /* record position skip_word applies to */
	_Atomic uint64_t skip_word; /* bytes (low 32) | messages (high 32) */
	_Atomic uint32_t state;     /* GROUP_FREE or GROUP_USED */
	_Atomic uint32_t eos_epoch; /* the channel's end_epoch it has delivered */
	int64_t created_ns;         /* CLOCK_REALTIME */
	_Atomic uint32_t holders;   /* batches of its readers (struct eshm_batch
				     * not BATCH_NONE): attached readers, dead
				     * ones not yet swept, returned batches */
	_Atomic uint32_t returned;  /* of those, BATCH_RETURNED: to deliver again */
	/* the group's progress, sampled by its readers' heartbeats: the
	 * release point last seen (plus the skip's bytes when it applies
	 * there), and when it was first seen there
	 * (CLOCK_MONOTONIC ns; 0: unknown, in a segment of an older build) */
	_Atomic uint64_t seen_release;
	_Atomic int64_t moved_ns;
	char name[ESHM_CL]; /* "-" for the unnamed group; NUL-terminated */
};
enum { GROUP_FREE = 0, GROUP_USED = 1 };

/*
 * What a reader of a group took and did not release yet: records
 * [start, end), of which the first skip_word bytes (low 32) and messages
 * (high 32) are released when skip_pos == start. Taken from the group's
 * next (a CAS); start follows the reader's releases. An empty batch
 * (start == end) holds nothing. A reader that leaves (or is seen dead)
 * with a batch not empty returns it (BATCH_RETURNED), and the next reader
 * of the group to want more takes it first, whole.
 */
struct eshm_batch {
	_Atomic uint64_t start;
	_Atomic uint64_t end;
	_Atomic uint64_t skip_pos;
	_Atomic uint64_t skip_word;
	_Atomic uint32_t state; /* BATCH_* */
	_Atomic uint32_t group; /* index of the group it belongs to */
	char pad[ESHM_CL - 40];
};
enum { BATCH_NONE = 0, BATCH_HELD = 1, BATCH_RETURNED = 2 };

/* Where batch b of group g starts: a reader alone in its group stores
 * its batch's start only when the batch is done, and the group's release
 * point (its tail) says how far it got; otherwise the start is exact,
 * and never below the release point. From shared memory: a release
 * point outside the batch is ignored. */
static inline uint64_t
eshm_batch_start(const struct eshm_batch *b, const struct eshm_group *g)
{
	uint64_t st = atomic_load_explicit(&b->start, memory_order_acquire);
	uint64_t en = atomic_load_explicit(&b->end, memory_order_relaxed);
	uint64_t rel = atomic_load_explicit(&g->release, memory_order_acquire);
	return rel > st && rel <= en ? rel : st;
}

/* What a tap has seen and missed. */
struct eshm_tap {
	_Atomic uint64_t pos;
	_Atomic uint64_t missed_msgs, missed_bytes;
	char pad[ESHM_CL - 24];
};

/* Samples of a channel's claim position over time (stamp.c). */
#define STAMP_LEVELS 10
#define STAMP_SLOTS 16
#define STAMP_NS (100 * 1000000LL)
struct eshm_stamp {
	_Atomic uint64_t pos; /* the claim was at most here at ns; UINT64_MAX while written */
	_Atomic int64_t ns;   /* CLOCK_MONOTONIC */
};
struct eshm_stamps {
	_Atomic int64_t last_ns; /* the newest sample's */
	_Atomic uint64_t seq;    /* samples taken */
	char pad[ESHM_CL - 16];
	struct eshm_stamp s[STAMP_LEVELS][STAMP_SLOTS];
};

/* One channel's shared state. The lines writers write on every message
 * and those readers write are 128 bytes apart (a pair of lines the CPU
 * fetches together). */
struct eshm_chan {
	/* written by writers on every claim */
	_Atomic uint64_t claim;
	/* the highest claim made: a claim given back (a reservation, in
	 * part or whole, or a dead writer's) goes back below bytes that may
	 * have been written; taps check their copies against this too
	 * (tap.c). Raised before the claim goes back; 0 in a segment made
	 * before it, which only a build with it gives back under. */
	_Atomic uint64_t claim_hw;
	char pad0[2 * ESHM_CL - 16];
	/* the release point of all groups, when there are several (with one,
	 * its release is read instead) */
	_Atomic uint64_t kept;
	_Atomic uint32_t ngroups;
	_Atomic uint32_t ntaps; /* taps attached (a hint: dead ones count until
				 * their slot is taken again) */
	char pad2[ESHM_CL - 16];
	/* futex words: 1 while a reader (data) or a writer (space) sleeps,
	 * or a poller waits on its descriptor */
	_Atomic uint32_t data_wait;
	_Atomic uint32_t space_wait;
	/* the pollers (poll.c): bit k for reader slot SLOT_R + k (rpoll)
	 * and writer slot SLOT_W + k (wpoll) of the channel; in the line the
	 * waker loads the flag from anyway (zeros in a segment made before) */
	_Atomic uint64_t rpoll;
	_Atomic uint64_t wpoll;
	char pad3[ESHM_CL - 24];
	/* the stream, changed under the flock */
	_Atomic uint32_t framing;   /* of the last writer to attach */
	_Atomic uint32_t excl;      /* slot + 1 of an exclusive or raw writer, or 0 */
	_Atomic uint32_t nwriters;  /* writers attached (a hint: dead ones count
				     * until they are cleared) */
	_Atomic uint32_t end_epoch; /* streams ended so far */
	_Atomic uint32_t ended;     /* the stream ended; no writer came since */
	_Atomic uint32_t cseq;      /* sequence lock of the retired counts */
	char pad4[ESHM_CL - 24];
	/* counts of holders gone, under cseq */
	struct eshm_counts retired_in, retired_out;
};

/* Before a claim goes back below end: raise the channel's claim_hw to it
 * (writers of one channel may do so at once: a CAS loop). */
static inline void
claim_hw_raise(struct eshm_chan *c, uint64_t end)
{
	uint64_t hw = atomic_load_explicit(&c->claim_hw, memory_order_relaxed);
	while (hw < end &&
	       !atomic_compare_exchange_weak_explicit(&c->claim_hw, &hw, end, memory_order_seq_cst,
						      memory_order_relaxed))
		;
}

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
	uint64_t salt; /* tags records: random, per segment */
	char pad1[ESHM_CL * 2 - 96];
	struct eshm_chan chan[2];
	struct eshm_group group[2][ESHM_GROUPS];
	struct eshm_slot slot[NSLOTS];
	struct eshm_slot_counts counts[NSLOTS];
	struct eshm_tap tap[2][ESHM_TAPS];
	struct eshm_batch batch[2][ESHM_READERS]; /* of reader slot SLOT_R + k */
	struct eshm_stamps stamps[2];
};

#define HDR_KEEP 1u
/* the header's first bytes, the same in every format: magic, version, sizes */
#define ESHM_ID_SIZE offsetof(struct eshm_header, pad1)
#define ESHM_HEADER_SIZE ((sizeof(struct eshm_header) + 4095) & ~(size_t)4095)

_Static_assert(sizeof(struct eshm_slot) == ESHM_CL, "slot is one line");
_Static_assert(ESHM_WRITERS <= 64 && ESHM_READERS <= 64, "a bit each in rpoll, wpoll");
_Static_assert(sizeof(struct eshm_slot_counts) == ESHM_CL, "counts are one line");
_Static_assert(sizeof(struct eshm_group) == 3 * ESHM_CL, "group lines");
_Static_assert(sizeof(struct eshm_batch) == ESHM_CL, "batch is one line");
_Static_assert(sizeof(struct eshm_chan) % ESHM_CL == 0, "channel lines");
_Static_assert(offsetof(struct eshm_header, chan) % (2 * ESHM_CL) == 0, "aligned");
_Static_assert(offsetof(struct eshm_chan, kept) == 2 * ESHM_CL, "claim apart");

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
	/* those this side waits for, looked up now and then (wait.c) */
	uint64_t peer_cpus;
	int crowd;
	bool crowded; /* more of us than CPUs (wait.c yield_until) */
	int64_t peers_at;
};

/* Local state of the channel a handle writes. */
struct wside {
	struct eshm_chan *c;
	struct eshm_slot *s; /* our slot */
	unsigned char *ring;
	uint64_t cap;
	uint64_t salt;
	uint64_t limit; /* cached release point: claims may reach limit + cap */
	/* the open reservation: in the ring at resv (claimed, resv_len bytes,
	 * a sole or exclusive writer's), or staged in side (resv == STAGED) */
	uint64_t resv;          /* UINT64_MAX: none */
	uint64_t resv_len;      /* record bytes claimed at resv */
	uint64_t resv_avail;    /* payload bytes the reservation allows */
	unsigned char *resv_at; /* where its payload starts */
	uint64_t need;          /* free bytes wait_space waits for */
	uint64_t last_end;      /* end of the last record we committed */
	int timeout_ms;         /* of the open reservation, for a staged commit */
	bool done;              /* we ended our stream (eshm_eos) */
	struct eshm_counts n;
	int framing;    /* what this handle writes */
	bool exclusive; /* no other writer may attach: claim the ring directly */
	/* bytes of an unfinished message carried to the next reservation,
	 * at the start of side */
	size_t carry;
	unsigned char *side;
	size_t side_cap;
	bool wrote; /* committed data since attach or last end of stream */
	/* test hook: claims left until we kill ourselves between a claim and
	 * its commit (ESHM_TEST_KILL_AT=N: at the Nth claim), 0 for never */
	uint64_t kill_at;
};
#define STAGED (UINT64_MAX - 1)

/* Local state of the channel a handle reads. */
struct rside {
	struct eshm_chan *c;
	struct eshm_group *grp;
	int group; /* its index */
	unsigned char *ring;
	uint64_t cap;
	uint64_t salt;
	struct eshm_batch *b; /* our batch */
	uint64_t tail;        /* released record position (our batch's start) */
	uint64_t bend;        /* our batch's end: we may read records in [tail, bend) */
	bool shared;          /* others hold batches of the group: its release point
			* is the least of theirs (else it is our tail) */
	uint32_t eos_seen;    /* the channel's end_epoch we delivered (or had been
			     * when we came) */
	int64_t swept_at;     /* CLOCK_MONOTONIC ns we last looked for dead
			     * readers of the group */
	uint32_t skip;        /* bytes of the record at tail already released */
	uint32_t skipmsgs;
	uint64_t head; /* cached copy of c->claim: records before it are claimed */
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
	struct eshm_counts n;
	int64_t lost_since; /* CLOCK_MONOTONIC ns the stream was seen lost, or 0 */
};

/* A tap's or a peek's reading (tap.c): the record copied out last. */
struct tapper {
	int ch;
	uint64_t cap, salt;
	uint64_t pos;     /* the next record */
	uint64_t stop;    /* a peek ends here; UINT64_MAX for a tap */
	uint64_t skip_at; /* the first record's position when part of it was
			   * released already, else UINT64_MAX */
	uint32_t skip;    /* and its payload bytes released */
	unsigned char *buf;
	size_t bufcap;
	bool have; /* buf holds the record at at */
	uint64_t at;
	uint32_t len, info;                  /* of that record */
	uint32_t off;                        /* payload bytes consumed */
	uint32_t cur;                        /* payload bytes peeked */
	uint32_t undo;                       /* cur before the last peek */
	uint32_t nmsgs;                      /* messages in the record, by its header */
	uint32_t offmsgs, curmsgs, undomsgs; /* messages before off, cur, undo */
	uint32_t eos_seen;                   /* the end of stream delivered last */
	bool skipped;                        /* it fell behind since this was last cleared */
	uint64_t msgs_at_open, seen_msgs;
	uint64_t missed_msgs, missed_bytes;
	_Atomic uint64_t waits;
	struct eshm_tap *line; /* ours in the header, for a tap */
};

/* A descriptor of ours that poll(2) waits on: our FIFO (poll.c). */
struct pollside {
	int fd; /* opened O_RDWR and flocked, or -1 */
	uint32_t n;
	char path[ESHM_LEFTOVER_PATH_MAX]; /* ESHM_DIR/.eshm-poll.PID.N */
};

/* A poller's FIFO we write to, cached by slot (poll.c). */
struct eshm_poke {
	uint64_t gen;
	uint32_t pid, n; /* the slot's holder and its FIFO's N, when opened */
	int fd;          /* -1: none open; -2: that FIFO could not be opened */
};

struct eshm {
	char name[ESHM_NAME_MAX + 1];
	char path[ESHM_PATH_MAX];
	char cgroup[ESHM_GROUP_NAME_MAX + 1]; /* the consumer group it reads in */
	int fd;
	unsigned char *base;
	struct eshm_header *hdr;
	struct eshm_geom g;
	struct eshm_config cfg;
	int role;
	bool created;
	int wend, rend;      /* slots held for writing/reading, or -1 */
	uint64_t wgen, rgen; /* their generations when we claimed them */
	int tend;            /* tap slot held, or -1 */
	uint64_t tgen;
	bool peeking; /* ESHM_PEEK: read-only, no slot */
	struct tapper t;
	struct spin spin_w, spin_r; /* the space and data waits (wait.c) */
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
	/* descriptors of eshm_fileno and eshm_fileno_write (poll.c) */
	struct pollside pr, pw;
	struct eshm_poke *pokes; /* by slot: NSLOTS, or NULL until we wake a poller */
	char err[256];
};

/* The generation we claimed slot `end` (ours: h->wend or h->rend) with. */
static inline uint64_t
eshm_gen_of(const struct eshm *h, int end)
{
	return end == h->wend ? h->wgen : end == h->tend ? h->tgen : h->rgen;
}

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
	       eshm_gen_of(h, end);
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
/* flock the segment through signals: 0, or -errno with h's message set */
int eshm_lock(struct eshm *h, int op);
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
/* Bytes equal to d (as an unsigned char) in the n bytes at p. */
uint64_t eshm_count_byte(const void *p, size_t n, int d);

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
int eshm_backlog_from(int fd, const struct eshm_header *hdr, int ch, const struct eshm_geom *g,
		      uint64_t kept, uint64_t skip, uint64_t skipmsgs, struct eshm_backlog *b);

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

/* liveness.c: who holds a slot (OFD locks) */
int eshm_locked_in(int fd, int first, int n);
int eshm_end_probe(int fd, int slot);
int eshm_end_state(int fd, const struct eshm_header *hdr, int slot, int64_t now);
bool eshm_any_live(int fd);
int eshm_live_reader(int fd, int ch);
int eshm_slot_lock(int fd, int slot, short type);

/* claims.c: writers' open claims */
enum { CLAIM_NONE, CLAIM_LIVE, CLAIM_DEAD };
int eshm_claim_owner(int fd, struct eshm_header *hdr, uint64_t cap, uint64_t salt,
		     const unsigned char *ring, int ch, uint64_t pos, uint64_t claim, int gone,
		     uint32_t *size);
void eshm_claim_skip(unsigned char *ring, uint64_t cap, uint64_t salt, uint64_t pos, uint32_t size);
void eshm_claim_settle(int fd, struct eshm_header *hdr, const struct eshm_geom *g,
		       unsigned char *base, int s);

/* group.c: consumer groups */
int eshm_group_find(struct eshm_header *hdr, int ch, const char *name);
int eshm_group_create(struct eshm_header *hdr, int ch, const char *name);
bool eshm_group_released(struct eshm_header *hdr, int ch, int gi, uint64_t pos, bool done);
void eshm_kept_refresh(struct eshm_header *hdr, int ch);
void eshm_group_rescan(struct eshm_header *hdr, int ch, int gi);
void eshm_group_progress(struct eshm_header *hdr, int ch, int gi, int64_t now);

/* endpoint.c: claiming and releasing slots, ending streams (under the flock) */
int eshm_ends_claim(struct eshm *h, struct eshm_error *err);
void eshm_ends_release(struct eshm *h, bool lost);
int eshm_end_check(struct eshm *h, int end);
int eshm_not_owned(struct eshm *h, int end);
void eshm_stream_end(struct eshm *h);
void eshm_stream_reopen(struct eshm *h);
int eshm_readers_sweep(struct eshm *h, int ch);
int eshm_batch_adopt(struct eshm *h, uint64_t *start, uint64_t *end, uint64_t *skip_word);

/* tap.c: taps and peeks */
int eshm_tap_peek_chunk(struct eshm *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms);
int eshm_tap_consume(struct eshm *h, size_t nbytes);
void eshm_tap_rewind(struct eshm *h);
int eshm_tap_unpeek(struct eshm *h);
void eshm_tap_init(struct eshm *h, int ch, uint64_t start, uint64_t stop, uint64_t skip_at,
		   uint32_t skip);

/* stamp.c: the age of the oldest message */
void eshm_stamp(struct eshm_header *hdr, int ch, int64_t now, bool force);
int64_t eshm_stamp_age_ms(const struct eshm_header *hdr, int ch, uint64_t pos, int64_t now);

/* heartbeat.c */
int eshm_heartbeat_start(struct eshm *h);
void eshm_heartbeat_stop(struct eshm *h);

/* counters.c */
void eshm_counts_read(const _Atomic uint32_t *seq, const struct eshm_counts *src,
		      struct eshm_counts *out);
void eshm_chan_snapshot(const struct eshm_header *hdr, int ch, struct eshm_channel_info *ci);
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
	int peers, npeers;       /* the slots of those we wait for */
	_Atomic uint64_t *waits; /* counted once per wait that sleeps */
	bool shared_flag;        /* others that must each be woken sleep on
				  * flag too: leave it up when done */
};
int eshm_wait(struct eshm *h, const struct eshm_waiter *w, int64_t deadline);
int eshm_spin_only(struct eshm *h, const struct eshm_waiter *w);
int eshm_spin_data(struct eshm *h);              /* ring-read.c */
int eshm_spin_space(struct eshm *h, size_t len); /* ring-write.c */

/* poll.c: the descriptors of eshm_fileno, eshm_fileno_write */
enum { POLL_DATA = 0, POLL_SPACE = 1 };
int eshm_poll_open(struct eshm *h, int end, struct pollside *ps);
void eshm_poll_close(struct eshm *h, int end, struct pollside *ps);
void eshm_poll_drain(const struct pollside *ps);
void eshm_poll_ready(const struct pollside *ps);
void eshm_poll_kick(struct eshm *h, struct eshm_header *hdr, int ch, int what);
void eshm_poll_forget(struct eshm_header *hdr, int slot);
void eshm_poll_end(struct eshm *h);

/* ring-write.c, ring-read.c */
int eshm_wside_init(struct eshm *h, int ch);
int eshm_rside_init(struct eshm *h, int ch);
void eshm_release_reservation(struct eshm *h);

#endif
