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

/*
 * Segment layout (all integers native-endian; one host only):
 *
 *   offset 0          struct eshm_header (ESHM_HEADER_SIZE bytes, one page)
 *   chan_off[0]       ring of channel m2s, chan_cap[0] bytes
 *   chan_off[1]       ring of channel s2m, chan_cap[1] bytes
 *
 * A ring holds records, each 8-byte aligned and never crossing the ring's
 * end:
 *
 *   struct eshm_rec { u32 len; u32 info; } then len payload bytes, padded to 8
 *   info = kind (bits 0-3) | writer's framing (bits 4-5) | count (bits 8-31)
 *
 *   MSG    one message, in any framing (raw: a piece of a byte stream)
 *   DELIM  nmsgs messages, each ending with the delimiter of its framing
 *          ('\n' for line, '\0' for null); lets line streams go straight
 *          from read(2) into the ring and from the ring to write(2)
 *   PAD    filler up to the ring's end; the next record starts at offset 0
 *   EOS    end of stream
 *
 * head and tail are byte positions that only grow (mod cap gives the
 * offset). Records in [tail, head) are published and unread. A reader that
 * consumed part of the DELIM record at tail records it in skip_pos/skip_word
 * (see ring.c).
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
#define SPIN_START_NS 50000 /* first spin budget of an adaptive wait */
uint64_t eshm_cpu_mask(void);

/* Ends, also the lock byte offsets. */
enum { END_M2S_W = 0, END_M2S_R = 1, END_S2M_W = 2, END_S2M_R = 3, NENDS = 4 };
enum { CH_M2S = 0, CH_S2M = 1 };

enum { REC_MSG = 1, REC_DELIM = 2, REC_PAD = 3, REC_EOS = 4 };
#define REC_KIND(info) ((info) & 0xfu)
#define REC_FRAMING(info) (((info) >> 4) & 3u)
#define REC_F(framing) ((uint32_t)(framing) << 4)
#define REC_NMSGS(info) ((info) >> 8)
#define REC_MAX_NMSGS 0xffffffu
#define REC_HDR 8u
#define ALIGN8(x) (((x) + 7u) & ~(uint64_t)7u)

struct eshm_rec {
	uint32_t len;
	uint32_t info;
};

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
	/* writer's counters, under the sequence lock wseq */
	_Atomic uint32_t wseq;
	_Atomic uint32_t framing;
	_Atomic uint32_t closed;    /* last record written is EOS */
	uint32_t pad3;
	_Atomic uint64_t msgs_in, bytes_in, waits_full, wakes_w;
	char pad4[ESHM_CL - 48];
	/* reader's counters, under the sequence lock rseq */
	_Atomic uint32_t rseq;
	uint32_t pad5;
	_Atomic uint64_t msgs_out, bytes_out, waits_empty, wakes_r;
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
	uint32_t flags;       /* HDR_KEEP */
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

/* Validated, immutable geometry of a segment, copied out at attach. */
struct eshm_geom {
	uint64_t size;
	uint64_t off[2];
	uint64_t cap[2];
	uint32_t flags;
};

/* A side's counters, kept in the handle and published to the segment's
 * counter line by the heartbeat thread (and at close): the hot path then
 * writes no shared line but the index. Written by the owning thread only;
 * atomics so that the heartbeat thread may read them. */
struct counters {
	_Atomic uint64_t msgs, bytes, waits, wakes;
};

static inline void
count_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* How a wait spins before it sleeps; see ring.c. */
struct spin {
	int64_t budget;   /* ns */
	unsigned poll;    /* pauses between two looks at the index */
	unsigned waits, fails;
	bool adaptive;
};

/* Local state of the channel a handle writes. */
struct wside {
	struct eshm_chan *c;
	unsigned char *ring;
	uint64_t cap;
	uint64_t head;      /* our head; published copy is c->head */
	uint64_t tail;      /* cached copy of c->tail */
	uint64_t resv;      /* position of the reserved record, or UINT64_MAX */
	uint64_t resv_avail; /* payload bytes the reservation allows */
	uint64_t need;      /* free bytes wait_space waits for */
	struct counters n;
	uint32_t recflags;  /* REC_F(framing) */
	/* bytes of an unfinished message carried to the next reservation */
	size_t carry;
	unsigned char *carry_at; /* in the ring (beyond head + 8) or in side */
	unsigned char *side;
	size_t side_cap;
	bool wrote;         /* committed data since attach or last EOS */
};

/* Local state of the channel a handle reads. */
struct rside {
	struct eshm_chan *c;
	unsigned char *ring;
	uint64_t cap;
	uint64_t tail;      /* released record position (ours; mirrors c->tail) */
	uint32_t skip;      /* bytes of the record at tail already released */
	uint32_t skipmsgs;
	uint64_t head;      /* cached copy of c->head */
	/* peek cursor: record position and offset in its payload */
	uint64_t cur;
	uint32_t curoff;
	uint32_t curmsgs;   /* messages of that record before curoff */
	uint64_t peeked;    /* payload bytes peeked beyond the release point */
	uint64_t peekmsgs;  /* messages peeked beyond the release point */
	/* cursor before the last chunk, for eshm_unpeek */
	struct {
		uint64_t cur, peeked, peekmsgs;
		uint32_t curoff, curmsgs;
		bool valid;
	} undo;
	int end_w;          /* index of the writer end of this channel */
	struct counters n;
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
	uint64_t gen[NENDS];    /* generation of each end we hold */
	int wend, rend;         /* ends held for writing/reading, or -1 */
	struct spin spin_w, spin_r; /* the space and data waits (ring.c) */
	uint64_t cpus;          /* our CPU affinity, as in struct eshm_slot */
	struct wside w;
	struct rside r;
	dev_t dev;
	ino_t ino;              /* of our file: the name must still lead to it */
	/* heartbeat thread */
	pthread_t hb;
	bool hb_running;
	pthread_mutex_t hb_mu;
	pthread_cond_t hb_cv;
	bool hb_stop;
	int guard;              /* slot in guard.c's table, or -1 */
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

/* guard.c */
int eshm_guard_add(void *base, size_t size, bool handler);
void eshm_guard_remove(int slot);
bool eshm_guard_tripped(int slot);

/* util.c */
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
int eshm_fill_error(struct eshm_error *err, int code, pid_t pid,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
const char *eshm_chan_name(int ch);
const char *eshm_end_desc(int end);
/* "group NAME (gid N)", or "gid N" when it has no name, in buf; for messages */
const char *eshm_group_desc(gid_t gid, char *buf, size_t len);
/* 0 when woken (or *addr no longer val), ESHM_ETIMEDOUT, or -errno */
int eshm_futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t timeout_ns);
void eshm_futex_wake(_Atomic uint32_t *addr);

/* segment.c */
int eshm_segment_create(const char *path, const struct eshm_config *cfg,
			int *fdp);
int eshm_geom_check(const struct eshm_header *hdr, uint64_t file_size,
		    struct eshm_geom *g, char *why, size_t whylen);
bool eshm_same_file(int fd, const char *path, dev_t *dev, ino_t *ino);
/* What channel ch holds for readers: messages and payload bytes not yet
 * released, and whether anything (a message or an end mark a reader must
 * still see) is pending. */
struct eshm_backlog {
	uint64_t msgs, bytes;
	bool pending;
};
int eshm_chan_backlog(int fd, const struct eshm_header *hdr, int ch,
		      const struct eshm_geom *g, struct eshm_backlog *b);
int eshm_chan_pending(int fd, const struct eshm_header *hdr, int ch,
		      const struct eshm_geom *g);

/* handle.c */
int eshm_truncated(struct eshm *h);
int eshm_still_named(struct eshm *h);

/* endpoint.c */
int eshm_end_probe(int fd, int end);
int eshm_end_state(int fd, const struct eshm_header *hdr, int end, int64_t now);
int eshm_ends_claim(struct eshm *h, struct eshm_error *err);
void eshm_ends_release(struct eshm *h, bool lost);
bool eshm_any_live(int fd);
int eshm_heartbeat_start(struct eshm *h);
void eshm_heartbeat_stop(struct eshm *h);
int eshm_end_check(struct eshm *h, int end);

/* ring.c */
int eshm_wside_init(struct eshm *h, int ch);
int eshm_rside_init(struct eshm *h, int ch);
int eshm_ring_eos(struct eshm *h);

/* stats via seqlock */
void eshm_chan_snapshot(const struct eshm_chan *c, struct eshm_channel_info *ci);
void eshm_counters_flush(struct eshm *h);
void eshm_counters_sync(struct eshm *h);

#endif
