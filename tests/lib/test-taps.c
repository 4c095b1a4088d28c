/* test-taps.c - taps (ESHM_TAP): chunks and their message counts, taking
 * back and releasing parts of them, and skipping what was written over. */
#include "eshm-int.h"
#include "t.h"

static struct eshm_config
writer_cfg(size_t capacity)
{
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	c.flags |= ESHM_KEEP;
	c.capacity = capacity;
	return c;
}

static struct eshm_config
tap_cfg(void)
{
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	c.flags |= ESHM_TAP;
	return c;
}

/* Lines "i\n" for i in [from, to), as delimited records of up to per lines
 * each. 0 or a negative code. */
static int
write_lines(eshm_t *w, int from, int to, int per)
{
	while (from < to) {
		void *p;
		size_t avail;
		int r = eshm_reserve(w, (size_t)per * 12, &p, &avail, 1000);
		if (r)
			return r;
		size_t len = 0;
		for (int k = 0; k < per && from < to; k++, from++)
			len += (size_t)snprintf((char *)p + len, avail - len, "%d\n", from);
		if (eshm_commit_delimited(w, len, '\n') < 0)
			return -1;
	}
	return 0;
}

static size_t
newlines(const struct eshm_chunk *ck)
{
	size_t n = 0;
	for (size_t i = 0; i < ck->len; i++)
		n += ((const char *)ck->data)[i] == '\n';
	return n;
}

/* The line at the start of chunk data, as a number. */
static long
first_line(const struct eshm_chunk *ck)
{
	char b[16];
	size_t n = ck->len < sizeof b - 1 ? ck->len : sizeof b - 1;
	memcpy(b, ck->data, n);
	b[n] = '\0';
	return strtol(b, NULL, 10);
}

static void
a_chunk_counts_the_messages_it_holds(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(1 << 20), tc = tap_cfg();
	eshm_t *w, *t;
	OPEN(w, n, &wc);
	OPEN(t, n, &tc);
	CHECK_EQ(write_lines(w, 0, 1000, 100), 0);
	/* in pieces of 7 lines, then whatever is left of each record: every
	 * chunk's count is its lines, and the lines come in order */
	long next = 0;
	for (int k = 0; next < 1000; k++) {
		struct eshm_chunk ck;
		CHECK_EQ(eshm_peek_chunk(t, &ck, k % 2 ? 7 : 0, 0), 0);
		CHECK_EQ(ck.delim, '\n');
		CHECK_EQ(ck.nmsgs, newlines(&ck));
		CHECK(ck.nmsgs > 0);
		CHECK_EQ(first_line(&ck), next);
		CHECK_EQ(eshm_consume(t, ESHM_ALL), 0);
		next += (long)ck.nmsgs;
	}
	CHECK_EQ(next, 1000);
	struct eshm_chunk ck;
	CHECK_EQ(eshm_peek_chunk(t, &ck, 0, 0), ESHM_ETIMEDOUT);
	eshm_close(t);
	eshm_close(w);
}

static void
what_is_taken_back_or_released_in_part_comes_again_counted_right(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(1 << 20), tc = tap_cfg();
	eshm_t *w, *t;
	OPEN(w, n, &wc);
	OPEN(t, n, &tc);
	CHECK_EQ(write_lines(w, 0, 50, 50), 0);
	struct eshm_chunk a, b;
	/* taken back: the same lines again */
	CHECK_EQ(eshm_peek_chunk(t, &a, 5, 0), 0);
	CHECK_EQ(a.nmsgs, 5);
	CHECK_EQ(eshm_unpeek(t), 0);
	CHECK_EQ(eshm_peek_chunk(t, &b, 0, 0), 0);
	CHECK_EQ(first_line(&b), 0);
	CHECK_EQ(b.nmsgs, 50);
	CHECK_EQ(b.nmsgs, newlines(&b));
	/* forgotten: again from the start */
	eshm_rewind(t);
	CHECK_EQ(eshm_peek_chunk(t, &a, 10, 0), 0);
	CHECK_EQ(a.nmsgs, 10);
	/* the first 3 of those 10 released: the rest starts at line 3 */
	size_t three = (size_t)(strchr(strchr(strchr(a.data, '\n') + 1, '\n') + 1, '\n') -
				(const char *)a.data) +
		       1;
	CHECK_EQ(eshm_consume(t, three), 0);
	CHECK_EQ(eshm_peek_chunk(t, &b, 0, 0), 0);
	CHECK_EQ(first_line(&b), 3);
	CHECK_EQ(b.nmsgs, 47);
	CHECK_EQ(b.nmsgs, newlines(&b));
	CHECK_EQ(eshm_consume(t, ESHM_ALL), 0);
	/* a writer's next record is counted afresh */
	CHECK_EQ(write_lines(w, 50, 60, 10), 0);
	CHECK_EQ(eshm_peek_chunk(t, &b, 0, 0), 0);
	CHECK_EQ(first_line(&b), 50);
	CHECK_EQ(b.nmsgs, 10);
	eshm_close(t);
	eshm_close(w);
}

static void
a_tap_left_behind_skips_what_was_written_over_and_counts_it(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(ESHM_MIN_CAPACITY), tc = tap_cfg();
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *w, *t, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	OPEN(t, n, &tc);
	/* six rings' worth through the reader while the tap looks away */
	int lines = 0;
	char buf[4096];
	for (int round = 0; round < 64; round++) {
		CHECK_EQ(write_lines(w, lines, lines + 100, 25), 0);
		lines += 100;
		for (int got = 0; got < 100;) {
			ssize_t m = eshm_read(r, buf, sizeof buf, 1000);
			CHECK(m > 0);
			got++;
		}
	}
	/* and a record the reader has not taken: the release point */
	int held = lines;
	CHECK_EQ(write_lines(w, lines, lines + 40, 40), 0);
	lines += 40;
	uint64_t msgs, bytes;
	CHECK_EQ(eshm_tap_missed(t, &msgs, &bytes), 0);
	CHECK_EQ(bytes, 0);
	/* what it reads now: from the release point, in order, up to the
	 * last line; what it missed, in bytes and about in messages */
	struct eshm_chunk ck;
	CHECK_EQ(eshm_peek_chunk(t, &ck, 0, 0), 0);
	long next = held;
	do {
		CHECK_EQ(first_line(&ck), next);
		CHECK_EQ(ck.nmsgs, newlines(&ck));
		next += (long)ck.nmsgs;
		CHECK_EQ(eshm_consume(t, ESHM_ALL), 0);
	} while (eshm_peek_chunk(t, &ck, 0, 0) == 0);
	CHECK_EQ(next, lines);
	CHECK_EQ(eshm_tap_missed(t, &msgs, &bytes), 0);
	CHECK(bytes > 0);
	CHECK(msgs >= 1);
	eshm_close(t);
	eshm_close(r);
	eshm_close(w);
}

/*
 * A reservation is claimed at once, and a tap counts claimed room as
 * written over. A writer that reserved all the free room (up to the
 * release point + capacity) made a tap only a few records behind the
 * reader skip, though nothing it had not read was written over; one that
 * reserved a quarter of the ring, a tap more than three quarters of a
 * ring behind (traced: the tap a millisecond late on two busy cores, 850
 * KB behind in a 1 MiB ring, eshm-send's reservation claimed 240 KB).
 * With a tap attached, reservations claim at most a sixteenth of the ring
 * beyond what they need, so a tap less than fifteen sixteenths of a ring
 * behind the writer misses nothing, however close behind it the reader
 * is.
 */
static void
a_tap_seven_eighths_of_a_ring_behind_the_writer_misses_nothing(void)
{
	const char *n = t_name();
	const size_t cap = 1 << 16;
	struct eshm_config wc = writer_cfg(cap), tc = tap_cfg();
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *w, *t = NULL, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	/* lines through the writer and the reader, in records of 25; the
	 * tap comes at three quarters of the ring and reads nothing until
	 * the writer's claim is seven eighths of a ring further, the reader
	 * with it */
	const _Atomic uint64_t *claim = &w->hdr->chan[CH_M2S].claim;
	int lines = 0, first = -1;
	uint64_t written = 0, start = 0;
	char buf[4096];
	while (first < 0 || atomic_load(claim) - start < (uint64_t)cap * 7 / 8) {
		if (first < 0 && written >= (uint64_t)cap * 3 / 4) {
			OPEN(t, n, &tc);
			first = lines;
			start = atomic_load(claim);
		}
		CHECK_EQ(write_lines(w, lines, lines + 25, 25), 0);
		for (int k = 0; k < 25; k++) {
			ssize_t m = eshm_read(r, buf, sizeof buf, 1000);
			CHECK(m > 0);
			written += (uint64_t)m + 1;
		}
		lines += 25;
	}
	/* a reservation waiting for input, as eshm-send's does */
	void *p;
	size_t avail;
	CHECK_EQ(eshm_reserve(w, 1, &p, &avail, 0), 0);
	/* the tap has every line since it came, and missed nothing */
	struct eshm_chunk ck;
	long next = first;
	while (eshm_peek_chunk(t, &ck, 0, 0) == 0) {
		CHECK_EQ(first_line(&ck), next);
		next += (long)ck.nmsgs;
		CHECK_EQ(eshm_consume(t, ESHM_ALL), 0);
	}
	uint64_t msgs, bytes;
	CHECK_EQ(eshm_tap_missed(t, &msgs, &bytes), 0);
	CHECK_EQ(bytes, 0);
	CHECK_EQ(next, lines);
	eshm_close(t);
	eshm_close(r);
	eshm_close(w);
}

/*
 * A writer may write anywhere in its reservation and then give part of it
 * back (eshm_unreserve; or a commit shorter than what it wrote, as the
 * bytes eshm_commit_lines carries): the claim position then falls back
 * below bytes it wrote. A tap a ring behind, looking at the claim after
 * its copy, took a record written over so for whole. The copy must be
 * checked against the highest claim ever made.
 */
static void
a_tap_never_takes_a_record_written_in_room_given_back(void)
{
	const char *n = t_name();
	const size_t cap = 1 << 16, len = 1024 - REC_HDR; /* records of 1 KiB */
	struct eshm_config wc = writer_cfg(cap), tc = tap_cfg();
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *w, *t, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	char msg[1024], buf[1024];
	memset(msg, 'a', len);
	for (int i = 0; i < 2 + 62; i++) {
		if (i == 2)
			OPEN(t, n, &tc); /* at 2 KiB */
		CHECK_EQ(eshm_write(w, msg, len, 0), 0);
		CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), (ssize_t)len);
	}
	/* the writer at 64 KiB: its reservation covers the tap's first
	 * record (2 KiB on, a ring ago), and it writes over its message */
	void *p;
	size_t avail;
	CHECK_EQ(eshm_reserve(w, 1, &p, &avail, 0), 0);
	CHECK(avail >= 2048 + len);
	memset((char *)p + 2048, 'Z', len);
	CHECK_EQ(eshm_unreserve(w), 0);
	/* the tap: never a Z; what it skipped, counted */
	struct eshm_chunk ck;
	int r_;
	size_t seen = 0;
	while ((r_ = eshm_peek_chunk(t, &ck, 0, 0)) == 0) {
		CHECK(memchr(ck.data, 'Z', ck.len) == NULL);
		seen++;
		CHECK_EQ(eshm_consume(t, ESHM_ALL), 0);
	}
	CHECK_EQ(r_, ESHM_ETIMEDOUT);
	uint64_t msgs, bytes;
	CHECK_EQ(eshm_tap_missed(t, &msgs, &bytes), 0);
	CHECK(bytes >= 1024);
	CHECK(seen < 62);
	eshm_close(t);
	eshm_close(r);
	eshm_close(w);
}

/* A lone writer's reservation offers up to a quarter of the ring (fewer
 * commits for a writer that reads its input into it), a sixteenth while
 * a tap is attached, and a quarter again once the tap is gone. */
static void
a_reservation_claims_less_with_a_tap_attached(void)
{
	const char *n = t_name();
	const size_t cap = 1 << 16;
	struct eshm_config wc = writer_cfg(cap), tc = tap_cfg();
	eshm_t *w, *t;
	OPEN(w, n, &wc);
	void *p;
	size_t avail;
	CHECK_EQ(eshm_reserve(w, 1, &p, &avail, 0), 0);
	CHECK_EQ(avail, cap / 4 - REC_HDR);
	CHECK_EQ(eshm_unreserve(w), 0);
	OPEN(t, n, &tc);
	CHECK_EQ(eshm_reserve(w, 1, &p, &avail, 0), 0);
	CHECK_EQ(avail, cap / 16 - REC_HDR);
	CHECK_EQ(eshm_unreserve(w), 0);
	/* min still has its way */
	CHECK_EQ(eshm_reserve(w, cap / 2, &p, &avail, 0), 0);
	CHECK(avail >= cap / 2);
	CHECK_EQ(eshm_unreserve(w), 0);
	eshm_close(t);
	CHECK_EQ(eshm_reserve(w, 1, &p, &avail, 0), 0);
	CHECK_EQ(avail, cap / 4 - REC_HDR);
	eshm_close(w);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"a chunk counts the messages it holds", a_chunk_counts_the_messages_it_holds},
		{"what is taken back or released in part comes again, counted right",
		 what_is_taken_back_or_released_in_part_comes_again_counted_right},
		{"a tap left behind skips what was written over and counts it",
		 a_tap_left_behind_skips_what_was_written_over_and_counts_it},
		{"a tap seven eighths of a ring behind the writer misses nothing",
		 a_tap_seven_eighths_of_a_ring_behind_the_writer_misses_nothing},
		{"a reservation claims less with a tap attached",
		 a_reservation_claims_less_with_a_tap_attached},
		{"a tap never takes a record written in room given back",
		 a_tap_never_takes_a_record_written_in_room_given_back},
		{NULL, NULL},
	};
	return t_run(cases, argc, argv);
}
