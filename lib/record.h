/* record.h - the format of a ring's records, in one place: layout, encoding, validation. */
#ifndef ESHM_RECORD_H
#define ESHM_RECORD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "eshm.h"

/*
 * A ring holds records, each 16-byte aligned and never crossing the ring's
 * end:
 *
 *   struct eshm_rec { u64 tag; u32 len; u32 info; } then len payload
 *   bytes, padded to 16
 *   tag  = the record's position XOR the segment's salt once committed:
 *          until then (claimed, being written) it is whatever was there
 *   info = kind (bits 0-3) | writer's framing (bits 4-5) | count (bits 8-31)
 *
 *   MSG    one message, in any framing (raw: a piece of a byte stream)
 *   DELIM  count messages, each ending with the delimiter of its framing
 *          ('\n' for line, '\0' for null); lets line streams go straight
 *          from read(2) into the ring and from the ring to write(2)
 *   PAD    filler up to the ring's end; the next record starts at offset 0
 *          (also the unused end of a claim given back too late)
 *   SKIP   a claim whose writer died before committing it, skipped
 *   TIME   an 8-byte CLOCK_REALTIME stamp (ns) of the records after it
 *
 * A tag is 64 bits of a random salt: bytes left from an earlier lap, or a
 * message's own bytes, are never taken for a committed record (a 2^-64
 * chance, where a zero-filled ring would cost a memset of every byte).
 *
 * Everything about a record that a peer could have scribbled is checked by
 * rec_invalid, which every reader of records calls: the fast paths, the
 * slow ones and the pending walker, so that no path checks less. Changing
 * this header means changing ESHM_FORMAT and the corruption tests.
 */
enum { REC_MSG = 1, REC_DELIM = 2, REC_PAD = 3, REC_SKIP = 4, REC_TIME = 5 };

#define REC_HDR 16u
#define REC_ALIGN 16u
#define REC_MAX_NMSGS 0xffffffu
#define ALIGN16(x) (((x) + 15u) & ~(uint64_t)15u)

struct eshm_rec {
	_Atomic uint64_t tag;
	uint32_t len;
	uint32_t info;
};

static inline uint32_t
rec_info(unsigned kind, int framing, uint32_t nmsgs)
{
	return kind | (uint32_t)framing << 4 | nmsgs << 8;
}

static inline unsigned
rec_kind(const struct eshm_rec *r)
{
	return r->info & 0xfu;
}

static inline int
rec_framing(const struct eshm_rec *r)
{
	return (int)((r->info >> 4) & 3u);
}

static inline uint32_t
rec_nmsgs(const struct eshm_rec *r)
{
	return r->info >> 8;
}

/* Offset of position pos in a ring of cap bytes. A mask when cap is a
 * power of two (the default 1 MiB is): a 64-bit division costs about 40
 * cycles, and the fast paths take an offset or two per message. */
static inline uint64_t
ring_off(uint64_t pos, uint64_t cap)
{
	return (cap & (cap - 1)) == 0 ? pos & (cap - 1) : pos % cap;
}

/* Bytes a record of len payload bytes takes in the ring. */
static inline uint64_t
rec_bytes(uint64_t len)
{
	return REC_HDR + ALIGN16(len);
}

static inline uint64_t
rec_size(const struct eshm_rec *r)
{
	return rec_bytes(r->len);
}

/* Whether the record at pos is committed: its tag, loaded once with
 * acquire, so that the rest of it (stored before) is then visible. */
static inline bool
rec_committed(const unsigned char *ring, uint64_t cap, uint64_t pos, uint64_t salt)
{
	const struct eshm_rec *r = (const struct eshm_rec *)(ring + ring_off(pos, cap));
	return atomic_load_explicit(&r->tag, memory_order_acquire) == (pos ^ salt);
}

/* Commit the record at pos: everything else about it is in place. */
static inline void
rec_commit(unsigned char *ring, uint64_t cap, uint64_t pos, uint64_t salt)
{
	struct eshm_rec *r = (struct eshm_rec *)(ring + ring_off(pos, cap));
	atomic_store_explicit(&r->tag, pos ^ salt, memory_order_release);
}

/* Why the record r at offset off of a cap-byte ring, with avail bytes
 * claimed from off on, cannot be used; NULL if it can. Pure: reads
 * nothing but its arguments, so a header copied once out of shared memory
 * is checked and then used, never fetched again. A delimited record must
 * also end with its delimiter: rec_end_invalid checks that byte, which
 * the caller reads (once) only after this said its length is sound. */
static inline const char *
rec_invalid(const struct eshm_rec *r, uint64_t off, uint64_t cap, uint64_t avail)
{
	if (off % REC_ALIGN || off > cap - REC_HDR || r->len > cap - off - REC_HDR)
		return "record runs past the ring's end";
	if (rec_size(r) > avail)
		return "record runs past what was claimed";
	switch (rec_kind(r)) {
	case REC_MSG:
	case REC_SKIP:
		return NULL;
	case REC_DELIM: {
		int f = rec_framing(r);
		if ((f != ESHM_FRAMING_LINE && f != ESHM_FRAMING_NULL) || r->len == 0 ||
		    rec_nmsgs(r) == 0 || rec_nmsgs(r) > r->len)
			return "bad delimited record";
		return NULL;
	}
	case REC_PAD:
		return r->len == cap - off - REC_HDR ? NULL : "bad padding record";
	case REC_TIME:
		return r->len == 8 ? NULL : "bad time record";
	}
	return "record of unknown kind";
}

/* Whether the record's last payload byte must be checked too. */
static inline bool
rec_has_end(const struct eshm_rec *r)
{
	return rec_kind(r) == REC_DELIM;
}

/* The same for that byte, of a record rec_invalid accepted. */
static inline const char *
rec_end_invalid(const struct eshm_rec *r, unsigned char last)
{
	if (rec_has_end(r) && last != eshm_framing_delim(rec_framing(r)))
		return "bad delimited record";
	return NULL;
}

/* Both, for the committed record at offset off of a ring mapped at ring:
 * its length and kind copied out into *out once, then checked. */
static inline const char *
rec_at_invalid(const unsigned char *ring, uint64_t off, uint64_t cap, uint64_t avail,
	       struct eshm_rec *out)
{
	if (off % REC_ALIGN || off > cap - REC_HDR)
		return "record runs past the ring's end";
	const struct eshm_rec *r = (const struct eshm_rec *)(ring + off);
	out->len = r->len;
	out->info = r->info;
	const char *why = rec_invalid(out, off, cap, avail);
	if (!why && rec_has_end(out))
		why = rec_end_invalid(out, ring[off + REC_HDR + out->len - 1]);
	return why;
}

/* Whether a channel's positions, lower below higher (release and claim,
 * say), can be those of a cap-byte ring: aligned, in order, at most cap
 * apart. */
static inline bool
span_ok(uint64_t higher, uint64_t lower, uint64_t cap)
{
	return !(higher % REC_ALIGN || lower % REC_ALIGN || lower > higher || higher - lower > cap);
}

#endif
