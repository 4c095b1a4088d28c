/* record.h - the format of a ring's records, in one place: layout, encoding, validation. */
#ifndef ESHM_RECORD_H
#define ESHM_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "eshm.h"

/*
 * A ring holds records, each 8-byte aligned and never crossing the ring's
 * end:
 *
 *   struct eshm_rec { u32 len; u32 info; } then len payload bytes, padded to 8
 *   info = kind (bits 0-3) | writer's framing (bits 4-5) | count (bits 8-31)
 *
 *   MSG    one message, in any framing (raw: a piece of a byte stream)
 *   DELIM  count messages, each ending with the delimiter of its framing
 *          ('\n' for line, '\0' for null); lets line streams go straight
 *          from read(2) into the ring and from the ring to write(2)
 *   PAD    filler up to the ring's end; the next record starts at offset 0
 *   EOS    end of stream
 *
 * Everything about a record that a peer could have scribbled is checked by
 * eshm_rec_invalid, which every reader of records calls: the fast paths,
 * the slow ones and the pending walker, so that no path checks less.
 * Changing this header means changing ESHM_FORMAT and the corruption tests.
 */
enum { REC_MSG = 1, REC_DELIM = 2, REC_PAD = 3, REC_EOS = 4 };

#define REC_HDR 8u
#define REC_MAX_NMSGS 0xffffffu
#define ALIGN8(x) (((x) + 7u) & ~(uint64_t)7u)

struct eshm_rec {
	uint32_t len;
	uint32_t info;
};

static inline uint32_t
rec_info(unsigned kind, int framing, uint32_t nmsgs)
{
	return kind | (uint32_t)framing << 4 | nmsgs << 8;
}

static inline unsigned
rec_kind(struct eshm_rec r)
{
	return r.info & 0xfu;
}

static inline int
rec_framing(struct eshm_rec r)
{
	return (int)((r.info >> 4) & 3u);
}

static inline uint32_t
rec_nmsgs(struct eshm_rec r)
{
	return r.info >> 8;
}

/* Bytes the record takes in the ring: header and padded payload. */
static inline uint64_t
rec_size(struct eshm_rec r)
{
	return REC_HDR + ALIGN8((uint64_t)r.len);
}

/* Why the record r at offset off of a cap-byte ring, with avail bytes
 * published from off on, cannot be used; NULL if it can. Pure: reads
 * nothing but its arguments, so a header copied once out of shared memory
 * is checked and then used, never fetched again. A delimited record must
 * also end with its delimiter: rec_end_invalid checks that byte, which
 * the caller reads (once) only after this said its length is sound. */
static inline const char *
rec_invalid(struct eshm_rec r, uint64_t off, uint64_t cap, uint64_t avail)
{
	if (off % 8 || off > cap - REC_HDR || r.len > cap - off - REC_HDR)
		return "record runs past the ring's end";
	if (rec_size(r) > avail)
		return "record runs past the head";
	switch (rec_kind(r)) {
	case REC_MSG:
		return NULL;
	case REC_DELIM: {
		int f = rec_framing(r);
		if ((f != ESHM_FRAMING_LINE && f != ESHM_FRAMING_NULL) || r.len == 0 ||
		    rec_nmsgs(r) == 0 || rec_nmsgs(r) > r.len)
			return "bad delimited record";
		return NULL;
	}
	case REC_PAD:
		return r.len == cap - off - REC_HDR ? NULL : "bad padding record";
	case REC_EOS:
		return r.len == 0 ? NULL : "bad end-of-stream record";
	}
	return "record of unknown kind";
}

/* Whether the record's last payload byte must be checked too. */
static inline bool
rec_has_end(struct eshm_rec r)
{
	return rec_kind(r) == REC_DELIM;
}

/* The same for that byte, of a record rec_invalid accepted. */
static inline const char *
rec_end_invalid(struct eshm_rec r, unsigned char last)
{
	if (rec_has_end(r) && last != eshm_framing_delim(rec_framing(r)))
		return "bad delimited record";
	return NULL;
}

/* Both, for the record at offset off of a ring mapped at ring: copied out
 * into *out once, then checked. */
static inline const char *
rec_at_invalid(const unsigned char *ring, uint64_t off, uint64_t cap, uint64_t avail,
	       struct eshm_rec *out)
{
	if (off % 8 || off > cap - REC_HDR)
		return "record runs past the ring's end";
	memcpy(out, ring + off, sizeof *out);
	const char *why = rec_invalid(*out, off, cap, avail);
	if (!why && rec_has_end(*out))
		why = rec_end_invalid(*out, ring[off + REC_HDR + out->len - 1]);
	return why;
}

/* Whether a channel's head and tail (byte positions that only grow) can
 * be those of a cap-byte ring: aligned, in order, at most cap apart. */
static inline bool
span_ok(uint64_t head, uint64_t tail, uint64_t cap)
{
	return !(head % 8 || tail % 8 || tail > head || head - tail > cap);
}

#endif
