/* eshm.h - the public API of libeshm: lossless shared-memory channels. */
#ifndef ESHM_H
#define ESHM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ESHM_VERSION_STRING "0.1.0"

/* Longest segment name; names are [A-Za-z0-9._-], not starting with '.' or '-'. */
#define ESHM_NAME_MAX 200

/* A segment NAME is the file ESHM_DIR "/" ESHM_PREFIX NAME. */
#define ESHM_DIR "/dev/shm"
#define ESHM_PREFIX "eshm_"
/* Longest such path, with its NUL. */
#define ESHM_PATH_MAX (sizeof ESHM_DIR + sizeof ESHM_PREFIX + ESHM_NAME_MAX + 1)

/* Bytes per channel: the range eshm_config.capacity may take (it is rounded
 * up to whole 4 KiB pages), and its default. */
#define ESHM_MIN_CAPACITY 4096u
#define ESHM_MAX_CAPACITY (1ul << 31)
#define ESHM_DEFAULT_CAPACITY (1u << 20)

/* Error codes. Every call returns 0 (or a length) on success and a negative
 * code on failure: either one of these or a negated errno value. */
enum {
	ESHM_EOF = -1000,         /* end of stream: the writer finished */
	ESHM_ETIMEDOUT = -1001,   /* the timeout expired */
	ESHM_EBUSY = -1002,       /* the end already has a live holder */
	ESHM_ENOSEG = -1003,      /* no such segment (and not allowed to create) */
	ESHM_ECORRUPT = -1004,    /* the segment's contents are inconsistent */
	ESHM_EMSGSIZE = -1005,    /* message larger than the channel allows */
	ESHM_ETRUNC = -1006,      /* caller's buffer is smaller than the message */
	ESHM_EWRITERLOST = -1007, /* the writer died and no new one came */
	ESHM_ENAME = -1008,       /* invalid segment name */
	ESHM_ETAKEN = -1009,      /* this end was taken over by another process */
	ESHM_ENOEND = -1010,      /* the handle does not hold the end needed */
	ESHM_EMODE = -1011,       /* existing segment is more permissive than asked */
	ESHM_ENOTSEG = -1012,     /* the file is not an eshm segment */
	ESHM_EVERSION = -1013,    /* segment made by an incompatible version */
	ESHM_EINVAL = -1014,      /* bad argument */
	ESHM_EPENDING = -1015,    /* the segment still holds undelivered data */
	ESHM_EREMOVED = -1016,    /* the segment's name was removed, or now names
				   * another segment, while this handle used it */
	ESHM_ETURN = -1017,       /* another writer's raw stream has the channel
				   * to itself: try again when it ends */
	ESHM_ENOGROUP = -1018,    /* no consumer group of that name */
};

enum eshm_role {
	ESHM_ROLE_AUTO = 0,   /* master if free, else slave */
	ESHM_ROLE_MASTER = 1, /* writes m2s, reads s2m */
	ESHM_ROLE_SLAVE = 2,  /* reads m2s, writes s2m */
};

/* Which ends of its role a handle claims. */
enum {
	ESHM_END_WRITE = 1, /* the channel this role writes */
	ESHM_END_READ = 2,  /* the channel this role reads */
	ESHM_END_BOTH = 3,
};

/* How a writer frames its messages; recorded with every message (and, for
 * display, in the channel) and used by eshm-recv to choose its output
 * delimiter: a newline after library and line messages, a NUL after null
 * ones, nothing between pieces of a raw stream. */
enum eshm_framing {
	ESHM_FRAMING_MESSAGE = 0, /* library messages (printed one per line) */
	ESHM_FRAMING_LINE = 1,    /* newline-terminated records */
	ESHM_FRAMING_NULL = 2,    /* NUL-terminated records */
	ESHM_FRAMING_RAW = 3,     /* a byte stream, chunk boundaries not kept */
};

/* Flags for eshm_config.flags. */
enum {
	ESHM_NO_CREATE = 1,        /* wait for the segment instead of creating it */
	ESHM_KEEP = 2,             /* when creating: never remove automatically */
	ESHM_TAKEOVER = 4,         /* take an end whose live holder is stale */
	ESHM_NO_EOS = 8,           /* eshm_close does not mark end of stream */
	ESHM_NO_SIGBUS_GUARD = 16, /* do not install the SIGBUS handler that turns
				    * a segment truncated under us into errors */
	ESHM_EXCLUSIVE = 32,       /* hold the ends alone: refused (ESHM_EBUSY)
				    * while another holder of the end lives, and
				    * refuse others meanwhile; role auto always is */
	ESHM_WAIT_TURN = 64,       /* a raw writer meeting other writers gets
				    * ESHM_ETURN (wait and try again) instead of
				    * ESHM_EBUSY */
	ESHM_TAP = 128,            /* read as a tap (ends ESHM_END_READ only): see
				    * messages as they pass, from those committed
				    * after eshm_open, in no consumer group: hold
				    * no space, never make a writer wait; falling
				    * behind, skip to the release point and count
				    * what was missed (eshm_tap_missed). Each record
				    * is copied out once and checked whole; chunks
				    * point into that copy. A tap does not spin
				    * before it sleeps unless spin_us says so.
				    * At most 16 a channel. (eshm-recv --tap also
				    * asks for 100 us scheduler slices, to run
				    * sooner when woken: see eshm-recv(1).) */
	ESHM_PEEK = 256,           /* read what is pending without taking it (ends
				    * ESHM_END_READ only): the file opened and
				    * mapped read-only, no end held; from the
				    * release point of consumer_group (NULL: the
				    * oldest message held for any group) to the
				    * claim position at eshm_open, then ESHM_EOF.
				    * ESHM_ENOGROUP for a group the channel lacks */
};

/* Limits of a channel: live writers, live readers (of all consumer groups
 * together), consumer groups; the length of a group's name in bytes. */
#define ESHM_MAX_WRITERS 64
#define ESHM_MAX_READERS 64
#define ESHM_MAX_GROUPS 16
#define ESHM_GROUP_NAME_MAX 63
#define ESHM_MAX_TAPS 16 /* taps of a channel */

struct eshm_config {
	int role;               /* enum eshm_role; default ESHM_ROLE_AUTO */
	unsigned ends;          /* ESHM_END_*; default ESHM_END_BOTH */
	size_t capacity;        /* bytes per channel when creating; default 1 MiB */
	unsigned mode;          /* file mode when creating; default 0600 */
	int heartbeat_ms;       /* heartbeat period; default 1 */
	int stale_threshold_ms; /* heartbeat age reported as stale; default 100 */
	int max_retries;        /* waits for a segment or a lost writer; default 50, <0 forever */
	int retry_ms;           /* interval of those waits; default 100 */
	int framing;            /* enum eshm_framing of what this handle writes */
	unsigned flags;         /* ESHM_NO_CREATE | ESHM_KEEP | ESHM_TAKEOVER | ESHM_NO_EOS */
	int spin_us;            /* spin before sleeping in a wait: -1 (default)
				 * adapts, up to 50 us, none when the process
				 * may run on one CPU only (nor for a tap,
				 * which nobody waits on, and whose spin took
				 * the CPU of those it watches); 0 never
				 * spins */
	/* If set, blocking calls return -EINTR within one wait slice (50 ms)
	 * of *interrupt becoming non-zero: point it at the flag your signal
	 * handler sets, so a signal that lands just before a wait still ends
	 * it. NULL by default. */
	const volatile sig_atomic_t *interrupt;
	/* The segment's group, a gid from 0 to INT_MAX. When this handle
	 * creates the segment, it gets this group before it appears under
	 * its name; the creator must belong to the group (its effective gid
	 * or a supplementary group; root may give any), else eshm_open
	 * returns -EPERM saying so. When attaching, an existing segment of
	 * another group is refused (ESHM_EMODE, naming both groups). Members
	 * of the group share the segment only if mode grants group access
	 * (e.g. 0660). -1 (the default): the creator's group when creating,
	 * any group when attaching. Anything else is ESHM_EINVAL. (Last, so
	 * that the fields above keep their offsets.) */
	long group;
	/* The consumer group this handle reads in (borrowed: must stay valid
	 * until eshm_open returns). Each message goes to one reader of each
	 * group: readers of one group share the messages (a worker pool,
	 * each taking batches of whole records), every group gets every
	 * message. A group is created by its first reader, starting at the
	 * oldest message some group still holds, and keeps its place while
	 * it has no reader, until eshm_group_remove. "-" is the unnamed
	 * group; otherwise 1 to ESHM_GROUP_NAME_MAX bytes of letters, digits
	 * and . _ - @ : not starting with - or . (else ESHM_EINVAL). NULL
	 * (the default): the unnamed group. */
	const char *consumer_group;
	/* The most messages this handle takes from its group at once and
	 * holds unreleased: for slow consumers (a runner of jobs, say) that
	 * must not take work others of the group could do meanwhile. At
	 * least one record is taken, whatever it holds. 0 (the default): the
	 * library's choice, up to 64 while others share the group and 512
	 * alone, which is what throughput needs. */
	unsigned batch_msgs;
};

/* Details of a failure, for a message a person can act on. */
struct eshm_error {
	int code;       /* the code the call returned */
	pid_t pid;      /* holder involved, if any, else 0 */
	char what[256]; /* e.g. "channel m2s of q already has a live writer (pid 42)" */
};

typedef struct eshm eshm_t;

/* Fill a config with the defaults. */
void eshm_config_init(struct eshm_config *cfg);

/* Check a segment name; 0 or ESHM_ENAME. */
int eshm_name_check(const char *name);

/* The file of segment name, into buf (len bytes; ESHM_PATH_MAX always
 * fits): 0, or ESHM_ENAME for an invalid name or a buf too small. */
int eshm_segment_path(const char *name, char *buf, size_t len);

/* Whether cfg makes sense, as eshm_open checks it: 0, or ESHM_EINVAL with
 * err->what (err may be NULL) naming the field and its range. */
int eshm_config_check(const struct eshm_config *cfg, struct eshm_error *err);

/* "message", "line", "null" or "raw" for an enum eshm_framing value, NULL
 * for anything else. Static strings. */
const char *eshm_framing_name(int framing);
/* The delimiter that follows each message of that framing when it is
 * written out as a stream (and ends each message of a delimited record):
 * '\n' for message and line, '\0' for null; -1 for raw (nothing) and for
 * anything else. */
int eshm_framing_delim(int framing);

/* Attach to (or create) segment NAME and claim the ends cfg asks for.
 * cfg may be NULL for defaults; err may be NULL. */
int eshm_open(const char *name, const struct eshm_config *cfg, eshm_t **out,
	      struct eshm_error *err);

/* Mark end of stream on the written channel if this handle wrote on it
 * since it attached or since its last eshm_eos (unless ESHM_NO_EOS), release
 * the ends, and remove the segment if this was the last holder and nothing
 * is pending (unless the segment was created with ESHM_KEEP). Frees h,
 * whatever it returns. The same as eshm_detach(h, 0, NULL). */
int eshm_close(eshm_t *h);

/* Flags for eshm_detach. */
enum {
	/* Do not end the stream: the writer failed or was interrupted, and
	 * what it wrote may be incomplete. Readers see a lost writer, as if
	 * the process had died: they drain what was committed, wait for a new
	 * writer (max_retries x retry_ms), then fail with ESHM_EWRITERLOST.
	 * As after a death, the segment stays (eshm-stat shows the writer
	 * dead; eshm-clean removes it once empty). */
	ESHM_DETACH_LOST = 1,
};

/* eshm_close, saying how (flags) and why it failed (err, may be NULL).
 * Frees h whatever it returns. Returns 0, or:
 *   ESHM_EREMOVED  the segment's name was removed (e.g. by systemd-logind's
 *                  RemoveIPC) or replaced while we held it, and messages
 *                  were left in it that nobody can reach any more (err
 *                  says how many); a new segment of the name is never
 *                  touched;
 *   -EPERM         everything was delivered, but the empty segment could
 *                  not be removed: it belongs to another user and /dev/shm
 *                  is sticky (its owner, or eshm-clean, can remove it);
 *   ESHM_ETAKEN, ESHM_ECORRUPT or another code from marking the end. */
int eshm_detach(eshm_t *h, unsigned flags, struct eshm_error *err);

/* Whether the handle may still use its segment: 0, or
 *   ESHM_ECORRUPT  it was truncated under us (e.g. after read(2) into a
 *                  reservation failed with EFAULT);
 *   ESHM_ETAKEN    one of our ends was taken over (--takeover);
 *   ESHM_EREMOVED  its name was removed or now names another segment.
 * Costs two system calls: call it while idle, not per message (the
 * library checks ownership itself before each change to the ring, and
 * removal while it waits and at eshm_detach). */
int eshm_check(eshm_t *h);

/* The role this handle took (ESHM_ROLE_MASTER or ESHM_ROLE_SLAVE). */
int eshm_role(const eshm_t *h);
/* 1 if this handle created the segment. */
int eshm_created(const eshm_t *h);
/* Capacity in bytes of each channel and the largest message it carries. */
size_t eshm_capacity(const eshm_t *h);
size_t eshm_max_message(const eshm_t *h);
/* Why the last failing call on this handle failed, in words. */
const char *eshm_errmsg(const eshm_t *h);

/* Timeouts are in milliseconds: 0 polls, negative waits forever. A wait
 * interrupted by a signal returns -EINTR. */

/* Write one message of len bytes (len may be 0). */
int eshm_write(eshm_t *h, const void *buf, size_t len, int timeout_ms);

/* Read one message into buf; returns its length, ESHM_EOF at end of stream,
 * ESHM_ETRUNC (message left in place) if cap is too small. */
ssize_t eshm_read(eshm_t *h, void *buf, size_t cap, int timeout_ms);

/* Write n messages laid end to end in buf, lens[i] bytes each: one call
 * for many (bindings such as Python's pay per call). Returns how many were
 * written: n, or fewer if the timeout expired or a failure stopped it
 * (eshm_errmsg says which; those before stay written), or a negative code
 * if none was. */
ssize_t eshm_write_batch(eshm_t *h, const void *buf, const uint32_t *lens, size_t n,
			 int timeout_ms);

/* Read up to max messages into buf, laid end to end, their lengths into lens.
 * Waits (timeout_ms) for the first only; then takes what is already
 * there and fits. Returns the count, or ESHM_EOF, ESHM_ETRUNC (first
 * message larger than cap) or another negative code. An end-of-stream
 * mark after some messages is left for the next call. */
ssize_t eshm_read_batch(eshm_t *h, void *buf, size_t cap, uint32_t *lens, size_t max,
			int timeout_ms);

/* Mark end of stream now (eshm_close does it too). */
int eshm_eos(eshm_t *h);

/*
 * Event loops: descriptors that poll(2), epoll(7), select(2), libuv or
 * asyncio wait on, beside sockets, instead of a blocking call.
 *
 * eshm_fileno: a descriptor that becomes readable when the channel this
 * handle reads may have something for it: a message, the end of the
 * stream, or a writer that detached without ending it (all that a read
 * would now return without waiting, bar ESHM_EWRITERLOST, below).
 * Edge-style, re-armed when found empty: once it polls readable, read
 * (eshm_read, eshm_read_batch, eshm_peek or eshm_peek_chunk) with
 * timeout 0 until that returns ESHM_ETIMEDOUT, then wait on it again. That
 * ESHM_ETIMEDOUT re-arms it: the read empties the descriptor, asks the
 * writers to make it readable at their next commit, and looks again; if
 * something came meanwhile it makes the descriptor readable itself. So
 * no wakeup is lost. It may poll readable with nothing to read (another
 * reader of the group took it, or a wakeup meant for another): the read
 * returns ESHM_ETIMEDOUT and re-arms it. Readable at first if something
 * is there already. Release what you peeked before waiting on it.
 *
 * A writer killed outright (SIGKILL) makes nothing readable: nothing runs
 * to do it, and a read with timeout 0 never returns ESHM_EWRITERLOST,
 * which a blocking read returns after waiting max_retries x retry_ms for
 * a new writer. A loop that must notice asks eshm_peer_state
 * (ESHM_PEER_DEAD: the writer died) on a timer of its own.
 *
 * The same descriptor at every call, opened O_NONBLOCK and O_CLOEXEC. It
 * belongs to the handle: never close, read or write it; eshm_close
 * closes it. It is a FIFO, /dev/shm/.eshm-poll.PID.N (PID ours), with the
 * segment's mode and group, so that every process that may write the
 * segment can open it: eshm_close removes it; a poller killed leaves it,
 * and eshm-clean removes it (see eshm_leftovers). Cost: none on a
 * writer's fast path (only when it wakes sleepers does it also write a
 * byte to each poller's FIFO, which it keeps open); a read(2) at each
 * re-arm. Every process writing the channel must use a libeshm that has
 * eshm_fileno: an older one does not make the descriptor readable.
 *
 * Returns the descriptor (>= 0), or:
 *   ESHM_EINVAL   h is NULL;
 *   ESHM_ENOEND   the handle does not read in a consumer group (it only
 *                 writes, or it is a tap or a peek);
 *   ESHM_ETAKEN, ESHM_ECORRUPT  our end is not ours any more;
 *   a negated errno from making, opening or sharing the FIFO in /dev/shm:
 *                 -ENOSPC, -EMFILE, -EACCES, -EPERM (we may not give it
 *                 the segment's group, which its mode needs)...
 *                 eshm_errmsg says which.
 */
int eshm_fileno(eshm_t *h);

/*
 * eshm_fileno_write: the same for the channel this handle writes: a
 * descriptor that becomes readable when readers may have made room after
 * a write (eshm_write, eshm_write_batch, eshm_reserve) with timeout 0
 * found the channel full (ESHM_ETIMEDOUT, which re-arms it). Readable at
 * first unless the channel is full. Readers make room known as they wake
 * writers asleep: once a quarter of the channel is free, or all of it; so
 * it can stay unreadable while the readers stop with less free, even if
 * a smaller message would fit. ESHM_ENOEND for a handle that does not
 * write; otherwise as eshm_fileno, of which it is independent (another
 * FIFO, another descriptor).
 */
int eshm_fileno_write(eshm_t *h);

/* For an event loop, before it waits on a descriptor: look for data
 * (end ESHM_END_READ) or for room for a message of len bytes
 * (ESHM_END_WRITE; len is ignored for reads) by spinning, as a blocking
 * read or write does before it sleeps, and never sleep. A peer that answers
 * within microseconds is then seen without the system calls and the
 * loop's round a descriptor costs. The spin adapts per handle: at most
 * 50 us, shorter as spins fail, none where it cannot pay (one CPU, or more
 * processes on the channel than CPUs). Raises no flag
 * and writes no FIFO. Returns 1 when there is data (or the end of the
 * stream) or room now, 0 when not; then read (write) with timeout 0 and
 * wait on eshm_fileno (eshm_fileno_write). Errors: ESHM_EINVAL (h NULL, end
 * neither), ESHM_ENOEND (h does not hold that end; a tap or a peek does
 * not read in a group), ESHM_ETAKEN,
 * ESHM_EMSGSIZE (len larger than the channel carries), ESHM_ECORRUPT,
 * ESHM_EREMOVED. */
int eshm_spin(eshm_t *h, int end, size_t len);

/* Zero-copy writing: reserve room for at least min bytes; *ptr and *avail
 * give the contiguous room (avail >= min; at most a quarter of the
 * channel's capacity, a sixteenth while a tap is attached, unless min
 * asks for more: the room is claimed at once, and a tap counts claimed
 * room as written over). The reservation
 * may move between calls: its contents are not carried over, except the
 * bytes that eshm_commit_lines carried, which start the new reservation
 * (and count towards min). */
int eshm_reserve(eshm_t *h, size_t min, void **ptr, size_t *avail, int timeout_ms);
/* Publish the first len reserved bytes as one message. */
int eshm_commit(eshm_t *h, size_t len);
/* Publish the first len reserved bytes as messages each terminated by delim
 * ('\n' or '\0'); the last byte must be delim. Returns the message count. */
ssize_t eshm_commit_delimited(eshm_t *h, size_t len, int delim);
/* Publish the complete delim-terminated messages among the first len
 * reserved bytes, and carry the bytes after the last delimiter (an
 * unfinished message) to the start of the next reservation; *carried
 * tells how many. Returns the number of messages published. */
ssize_t eshm_commit_lines(eshm_t *h, size_t len, int delim, size_t *carried);
/* Give back the open reservation (eshm_reserve) without publishing
 * anything; bytes carried by eshm_commit_lines are dropped with it (the
 * unfinished message is abandoned). With no reservation open it does
 * nothing. 0, or ESHM_EINVAL (h NULL), ESHM_ENOEND (h does not write),
 * ESHM_ETAKEN (the end was taken over). */
int eshm_unreserve(eshm_t *h);
/* Wait until the reader has taken everything written so far. */
int eshm_flush(eshm_t *h, int timeout_ms);

/* Zero-copy reading by chunks: a chunk is one message, or a run of whole
 * delimiter-terminated messages. */
struct eshm_chunk {
	const void *data; /* points into the ring; valid until released */
	size_t len;       /* bytes at data */
	size_t nmsgs;     /* messages in the chunk */
	int delim;        /* -1: one message without delimiter; else '\n' or '\0' */
	int framing;      /* enum eshm_framing its writer used */
};
/* The next chunk after those already peeked, holding at most max_msgs
 * messages (0: no limit). ESHM_EOF when the next thing is end of stream. */
int eshm_peek_chunk(eshm_t *h, struct eshm_chunk *ck, size_t max_msgs, int timeout_ms);
/* Release the first nbytes of chunk data peeked so far (whole chunks, or a
 * prefix of one ending on a message boundary or, for raw data, anywhere);
 * ESHM_ALL releases everything peeked, empty messages included. After a
 * partial release, peeking resumes right after the released data. */
#define ESHM_ALL ((size_t)-1)
int eshm_consume(eshm_t *h, size_t nbytes);
/* Forget what was peeked but not released; the next peek starts there. */
void eshm_rewind(eshm_t *h);
/* Take back the chunk the last eshm_peek_chunk returned. */
int eshm_unpeek(eshm_t *h);

/* Zero-copy reading by messages. eshm_peek returns the next unreleased
 * message without consuming it; eshm_release consumes it. */
int eshm_peek(eshm_t *h, const void **ptr, size_t *len, int timeout_ms);
int eshm_release(eshm_t *h);

enum eshm_peer_state {
	ESHM_PEER_NONE = 0,  /* nobody holds the end */
	ESHM_PEER_ALIVE = 1, /* held by a live process with a fresh heartbeat */
	ESHM_PEER_STALE = 2, /* held by a live process whose heartbeat is old */
	ESHM_PEER_DEAD = 3,  /* its holder died without detaching */
};
const char *eshm_peer_state_name(int state);

/* State of the peer on the other side of the channel this handle reads
 * (or, if it only writes, of the one it writes). */
int eshm_peer_state(eshm_t *h);

/* One end of a channel as seen from outside. */
struct eshm_end_info {
	int state;                /* enum eshm_peer_state */
	pid_t pid;                /* holder, or last holder if dead; 0 if none */
	uint64_t start_time;      /* holder's start, clock ticks since boot */
	int64_t heartbeat_age_ms; /* since the last heartbeat, -1 if never */
	uint64_t generation;      /* how many times the end was claimed */
	uint32_t stale_ms;        /* the holder's stale threshold */
	int exclusive;            /* held with ESHM_EXCLUSIVE, or a raw writer */
	uint32_t claimed;         /* a writer's claim not yet committed, in bytes
				   * (0 if none): a dead writer's is skipped when
				   * a reader reaches it */
	int group;                /* a reader's consumer group: its index in
				   * struct eshm_channel_info.groups; -1 for a writer */
	uint64_t held;            /* a reader's batch: record bytes it took and did
				   * not release (a dead reader's go back to its
				   * group once a reader of the group sees it dead) */
};

/* A consumer group of a channel as seen from outside. */
struct eshm_group_info {
	char name[ESHM_GROUP_NAME_MAX + 1]; /* "-" for the unnamed group */
	int live;                           /* readers alive or stale */
	int dead;                           /* readers dead, not yet seen so */
	uint64_t backlog_msgs;              /* not yet released by the group */
	uint64_t backlog_bytes;             /* their payload bytes */
	uint64_t held_bytes;                /* of those, record bytes taken by its
					     * readers (or returned) and not released */
	int returned;                       /* batches returned by readers that left
					     * or died, to be delivered again */
	int64_t created_ns;                 /* CLOCK_REALTIME */
	int64_t oldest_age_ms;              /* age of the oldest message not released
					     * by the group (ms, at most: within
					     * 100 ms or a quarter of the age); -1
					     * when nothing waits or unknown */
	int64_t idle_ms;                    /* how long messages have waited with
					     * none released by the group (ms): the
					     * least of oldest_age_ms and the time
					     * since its readers' heartbeats last saw
					     * it release (within a beat: 100 ms when
					     * busy, up to a quarter of the stale
					     * threshold when idle); -1 when nothing
					     * waits */
};

/* A tap of a channel (ESHM_TAP) as seen from outside. */
struct eshm_tap_info {
	struct eshm_end_info end; /* its holder (group -1, held 0) */
	uint64_t missed_msgs;     /* messages it skipped, falling behind (about) */
	uint64_t missed_bytes;    /* record bytes it skipped (exact) */
	uint64_t behind_bytes;    /* from its position to the claim position */
};

struct eshm_channel_info {
	uint64_t capacity;            /* ring bytes */
	uint64_t used;                /* bytes of undelivered records */
	uint64_t msgs_in, bytes_in;   /* committed by writers */
	uint64_t msgs_out, bytes_out; /* released by readers */
	uint64_t waits_full;          /* times a writer slept for space */
	uint64_t waits_empty;         /* times a reader slept for data */
	uint64_t wakes;               /* futex wake calls made by either side */
	int64_t oldest_age_ms;        /* age of the oldest message some group (or,
				       * with none, the first) has not released:
				       * as eshm_group_info's; -1 if none */
	int framing;                  /* enum eshm_framing of the last writer */
	int eos;                      /* 1 if the stream is marked ended */
	/* the writer: the first live one, else the first dead one; the reader
	 * likewise */
	struct eshm_end_info writer, reader;
	int nwriters; /* writer slots held, live or dead: writers[0, nwriters) */
	struct eshm_end_info writers[ESHM_MAX_WRITERS];
	int nreaders; /* reader slots held, live or dead: readers[0, nreaders) */
	struct eshm_end_info readers[ESHM_MAX_READERS];
	int ngroups; /* consumer groups: groups[0, ngroups) */
	struct eshm_group_info groups[ESHM_MAX_GROUPS];
	int ntaps; /* tap slots held, live or dead: taps[0, ntaps) */
	struct eshm_tap_info taps[ESHM_MAX_TAPS];
};

struct eshm_info {
	char name[ESHM_NAME_MAX + 1];
	int valid;         /* 0: not a usable segment; see problem */
	char problem[256]; /* why not valid */
	uint64_t size;     /* file size */
	unsigned mode;     /* permission bits */
	uid_t uid;
	gid_t gid;
	int64_t created_ns; /* CLOCK_REALTIME at creation */
	pid_t creator_pid;
	int keep;                         /* created with ESHM_KEEP */
	int64_t idle_ms;                  /* since any holder was last seen; -1 if unknown */
	int pending;                      /* undelivered data or end-of-stream mark */
	int live;                         /* some end has a live holder */
	struct eshm_channel_info chan[2]; /* [0] m2s, [1] s2m */
};

/* Read-only inspection of segment NAME: never claims an end, never blocks,
 * never changes the segment. Returns 0 with info->valid set to 0 when the
 * file exists but is not a usable segment, a negative code if it cannot be
 * read at all. */
int eshm_inspect(const char *name, struct eshm_info *info, struct eshm_error *err);

/* The names of the segments in /dev/shm (files eshm_NAME with a valid
 * NAME, whatever they hold), sorted; free with eshm_list_free. Returns
 * the count or a negative code. */
ssize_t eshm_list(char ***names);
void eshm_list_free(char **names, size_t n);

/* Statistics of the channels of an open handle (same as eshm_inspect). */
int eshm_stats(eshm_t *h, struct eshm_info *info);

/* Flags for eshm_unlink. */
enum {
	ESHM_UNLINK_PENDING = 1,    /* also if it holds undelivered data, idle that long */
	ESHM_UNLINK_INVALID = 2,    /* also a file that is not a valid segment */
	ESHM_UNLINK_DRY_RUN = 4,    /* decide, but do not remove */
	ESHM_UNLINK_KEPT = 8,       /* also one created with ESHM_KEEP */
	ESHM_UNLINK_KEPT_IDLE = 16, /* also one created with ESHM_KEEP, if idle that long */
};
/* Remove segment NAME, atomically with respect to attachers. Never removes
 * one with a live holder (ESHM_EBUSY), nor one being attached right now
 * (ESHM_EBUSY); with undelivered data only given ESHM_UNLINK_PENDING and at
 * least min_idle_ms without activity (else ESHM_EPENDING); one created with
 * ESHM_KEEP only given ESHM_UNLINK_KEPT, or ESHM_UNLINK_KEPT_IDLE and as
 * idle (else ESHM_EPENDING); an invalid file
 * only given ESHM_UNLINK_INVALID (else ESHM_ENOTSEG). info (may be NULL)
 * receives what was found under the lock. */
int eshm_unlink(const char *name, unsigned flags, int64_t min_idle_ms, struct eshm_info *info,
		struct eshm_error *err);

/* Leftovers: what a process killed at the wrong time leaves in /dev/shm.
 * - A segment's creation, until the segment gets its name: the file
 *   /dev/shm/.eshm-new.PID.N (ESHM_NEW_PREFIX), which its creator (process
 *   PID) holds locked with flock(2) from the start. A creator killed before
 *   the end leaves it behind, as big as the segment was to be.
 * - A poller's descriptor (eshm_fileno, eshm_fileno_write): the FIFO
 *   /dev/shm/.eshm-poll.PID.N (ESHM_POLL_PREFIX), which its poller (process
 *   PID, the "creator" below) holds locked with flock(2) while it lives.
 *   eshm_close removes it; a poller killed leaves it behind. */
#define ESHM_NEW_PREFIX ".eshm-new."
#define ESHM_POLL_PREFIX ".eshm-poll."
#define ESHM_LEFTOVER_PATH_MAX 64
struct eshm_leftover {
	char path[ESHM_LEFTOVER_PATH_MAX]; /* /dev/shm/.eshm-new.PID.N */
	pid_t creator_pid;                 /* PID, from the name */
	int creator_alive;                 /* 1: being created: its lock is held, or PID
			     * exists and the file changed less than 60 s ago
			     * (the instant before the creator locks it);
			     * 0: its creator died; -1: cannot tell, see error */
	int error;                         /* 0, or why the file could not be looked into:
			     * -EACCES for another user's file we may not read */
	int64_t age_ms;                    /* since the file was last written, >= 0 */
	uint64_t size;                     /* bytes */
	unsigned mode;                     /* permission bits */
	uid_t uid;                         /* owner */
};

/* The leftovers of segment creations in /dev/shm (regular files named
 * .eshm-new.PID.N), sorted by path, as a new array in *out that the caller
 * frees with eshm_leftovers_free (NULL when there are none). Read-only: it
 * opens each file read-only and tries its lock without waiting, shared and
 * released at once, so that it never changes a file nor stops a creation.
 * Returns the count, or ESHM_EINVAL (out is NULL), -ENOMEM, or a negated
 * errno from reading /dev/shm. */
ssize_t eshm_leftovers(struct eshm_leftover **out);
void eshm_leftovers_free(struct eshm_leftover *v);

/* Remove the leftover at path (a path as eshm_leftovers gives it) if its
 * creator died. Its lock is taken without waiting and the path is checked,
 * under the lock, to still name the file locked: a creation in progress is
 * never removed. Never follows a symbolic link. flags: 0 or
 * ESHM_UNLINK_DRY_RUN (decide, remove nothing). info (may be NULL)
 * receives what was found under the lock; err (may be NULL) says why in
 * words. Returns 0, or:
 *   ESHM_EBUSY    its creator is alive (err->pid is the creator's pid);
 *   ESHM_ENOSEG   no such file (removed meanwhile);
 *   ESHM_ENOTSEG  a symbolic link, or not a regular file: never removed;
 *   ESHM_EINVAL   path is not of the form /dev/shm/.eshm-new.PID.N;
 *   -EACCES       another user's file that we may not open;
 *   -EPERM        another user's file: /dev/shm is sticky, so only its
 *                 owner may remove it (a dry run says so too);
 *   another negated errno. */
int eshm_leftover_unlink(const char *path, unsigned flags, struct eshm_leftover *info,
			 struct eshm_error *err);

/* 1 if name is a consumer group's name (see eshm_config.consumer_group),
 * else 0. */
int eshm_group_name_ok(const char *name);

/* Remove consumer group GROUP from segment NAME (from each channel that
 * has it): its place, and what it did not release, are forgotten; space
 * only it held is freed for writers. Refused while the group has a live
 * (or stale) reader. With ESHM_UNLINK_DRY_RUN in flags, decide only.
 * Returns the number of channels it was removed from (1 or 2), or:
 *   ESHM_ENOGROUP  no channel of NAME has that group;
 *   ESHM_EBUSY     a reader of the group lives (err->pid is one);
 *   ESHM_EINVAL    GROUP is not a group name;
 *   ESHM_ENOSEG, ESHM_ENAME, ESHM_ENOTSEG, ESHM_EVERSION, ESHM_ECORRUPT
 *                  as for eshm_inspect; a negated errno (-EACCES: we may
 *                  not write the segment).
 * err (may be NULL) says why in words. */
int eshm_group_remove(const char *name, const char *group, unsigned flags, struct eshm_error *err);

/* What a tap (ESHM_TAP) or a peek (ESHM_PEEK) skipped because it fell
 * behind, since eshm_open: record bytes in *bytes (exact, headers
 * included) and messages in *msgs (counted from the writers' counts,
 * which lag by up to a heartbeat: about); either may be NULL. 0, or
 * ESHM_EINVAL (h NULL), ESHM_ENOEND (h is neither). */
int eshm_tap_missed(eshm_t *h, uint64_t *msgs, uint64_t *bytes);

/* Words for an error code. */
const char *eshm_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
