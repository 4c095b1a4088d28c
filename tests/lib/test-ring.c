/* test-ring.c - the ring under wrap-around: random sizes, padding, carried lines, limits. */
#include "t.h"

/* xorshift: reproducible pseudo-random sizes */
static uint64_t rng = 88172645463325252ull;
static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
fill(unsigned char *p, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(seq * 31 + i);
}

static int
same(const unsigned char *p, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(seq * 31 + i))
			return 0;
	return 1;
}

static void
open_pair(const char *n, size_t cap, eshm_t **m, eshm_t **s, int framing)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.capacity = cap;
	c.framing = framing;
	c.role = ESHM_ROLE_MASTER;
	*m = *s = NULL;
	if (eshm_open(n, &c, m, NULL))
		return;
	c.role = ESHM_ROLE_SLAVE;
	eshm_open(n, &c, s, NULL);
}

/* Writer runs ahead while there is room, reader catches up in random
 * steps: every ring offset and every padding case gets exercised. */
static void
random_sizes_wrap_many_times(void)
{
	const char *n = t_name();
	eshm_t *m, *s;
	open_pair(n, 8192, &m, &s, ESHM_FRAMING_MESSAGE);
	CHECK(m && s);
	static unsigned char buf[8192];
	uint64_t wseq = 0, rseq = 0, bytes = 0;
	size_t max = eshm_max_message(m);
	while (bytes < 50u << 20) {
		/* write until full */
		for (;;) {
			size_t len = rnd() % 5 == 0 ? rnd() % (max / 2) : rnd() % 200;
			fill(buf, len, wseq);
			int r = eshm_write(m, buf, len, 0);
			if (r == ESHM_ETIMEDOUT)
				break;
			CHECK_EQ(r, 0);
			wseq++;
			bytes += len;
		}
		/* read a random number back */
		uint64_t k = 1 + rnd() % (wseq - rseq);
		for (uint64_t i = 0; i < k; i++) {
			ssize_t len = eshm_read(s, buf, sizeof buf, 0);
			CHECK(len >= 0);
			CHECK(same(buf, (size_t)len, rseq));
			rseq++;
		}
	}
	while (rseq < wseq) {
		ssize_t len = eshm_read(s, buf, sizeof buf, 0);
		CHECK(len >= 0);
		CHECK(same(buf, (size_t)len, rseq));
		rseq++;
	}
	CHECK_EQ(eshm_read(s, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	struct eshm_info info;
	CHECK_EQ(eshm_stats(s, &info), 0); /* publishes the reader's counts */
	CHECK_EQ(eshm_stats(m, &info), 0); /* and the writer's */
	CHECK_EQ(info.chan[0].msgs_in, wseq);
	CHECK_EQ(info.chan[0].msgs_out, wseq);
	CHECK_EQ(info.chan[0].used, 0);
	eshm_close(m);
	eshm_close(s);
}

/* Lines cut at random places across reads and ring wraps come out whole,
 * through the zero-copy reserve/commit_lines and peek_chunk/consume path. */
static void
carried_lines_survive_wraps(void)
{
	const char *n = t_name();
	eshm_t *m, *s;
	open_pair(n, 4096, &m, &s, ESHM_FRAMING_LINE);
	CHECK(m && s);
	/* the stream: "line N\n" for N = 0.. with random extra length */
	static char src[1 << 20];
	size_t srclen = 0;
	uint64_t nlines = 0;
	while (srclen < sizeof src - 2000) {
		int len = snprintf(src + srclen, 64, "line %llu ", (unsigned long long)nlines);
		srclen += (size_t)len;
		size_t extra = rnd() % 5 == 0 ? rnd() % 1500 : rnd() % 20;
		memset(src + srclen, 'x', extra);
		srclen += extra;
		src[srclen++] = '\n';
		nlines++;
	}
	static char out[sizeof src];
	size_t in = 0, outlen = 0, carry = 0;
	uint64_t got = 0;
	while (outlen < srclen) {
		/* feed a random piece, as read(2) would return it */
		if (in < srclen) {
			void *p;
			size_t avail;
			int r = eshm_reserve(m, carry + 1, &p, &avail, 0);
			if (r == 0) {
				size_t piece = 1 + rnd() % 700;
				if (piece > avail - carry)
					piece = avail - carry;
				if (piece > srclen - in)
					piece = srclen - in;
				memcpy((char *)p + carry, src + in, piece);
				in += piece;
				ssize_t k = eshm_commit_lines(m, carry + piece, '\n', &carry);
				CHECK(k >= 0);
			} else {
				CHECK_EQ(r, ESHM_ETIMEDOUT);
			}
		}
		/* drain some chunks */
		int chunks = (int)(rnd() % 4);
		for (int i = 0; i < chunks; i++) {
			struct eshm_chunk ck;
			int r = eshm_peek_chunk(s, &ck, rnd() % 3 == 0 ? 1 + rnd() % 3 : 0, 0);
			if (r == ESHM_ETIMEDOUT)
				break;
			CHECK_EQ(r, 0);
			CHECK_EQ(ck.delim, '\n');
			CHECK(outlen + ck.len <= sizeof out);
			memcpy(out + outlen, ck.data, ck.len);
			outlen += ck.len;
			got += ck.nmsgs;
			CHECK_EQ(eshm_consume(s, ESHM_ALL), 0);
		}
	}
	CHECK_EQ(outlen, srclen);
	CHECK(!memcmp(out, src, srclen));
	CHECK_EQ(got, nlines);
	CHECK_EQ(carry, 0);
	eshm_close(m);
	eshm_close(s);
}

/* A line as long as the channel allows goes through; one byte more is
 * refused with both sizes, and what came before stays committed. */
static void
line_longer_than_channel_is_refused(void)
{
	const char *n = t_name();
	eshm_t *m, *s;
	open_pair(n, 4096, &m, &s, ESHM_FRAMING_LINE);
	CHECK(m && s);
	void *p;
	size_t avail, carry = 0;
	CHECK_EQ(eshm_reserve(m, 1, &p, &avail, 0), 0);
	memcpy(p, "ok\n", 3);
	CHECK_EQ(eshm_commit_lines(m, 3, '\n', &carry), 1);
	size_t max = eshm_max_message(m);
	CHECK_EQ(eshm_reserve(m, max + 1, &p, &avail, 0), ESHM_EMSGSIZE);
	char b[8];
	CHECK_EQ(eshm_read(s, b, sizeof b, 0), 2);
	CHECK(!memcmp(b, "ok", 2));
	eshm_close(m);
	eshm_close(s);
}

/* Released space is reused at once: a writer never waits on padding that
 * the reader has already skipped. */
static void
reader_releases_padding_it_skips(void)
{
	const char *n = t_name();
	eshm_t *m, *s;
	open_pair(n, 4096, &m, &s, ESHM_FRAMING_MESSAGE);
	CHECK(m && s);
	static char buf[4096];
	/* head at 3000: a 2000-byte message must pad the last 1096 bytes */
	CHECK_EQ(eshm_write(m, buf, 2992, 0), 0);
	CHECK_EQ(eshm_read(s, buf, sizeof buf, 0), 2992);
	CHECK_EQ(eshm_write(m, buf, 2000, 0), 0);
	CHECK_EQ(eshm_read(s, buf, sizeof buf, 0), 2000);
	/* the ring is empty again: a 2000-byte write needs no waiting */
	CHECK_EQ(eshm_write(m, buf, 2000, 0), 0);
	CHECK_EQ(eshm_read(s, buf, sizeof buf, 0), 2000);
	eshm_close(m);
	eshm_close(s);
}

/* The bytes the writer's channel holds (claimed and not released). */
static uint64_t
used_bytes(eshm_t *w)
{
	struct eshm_info in;
	if (eshm_stats(w, &in))
		return UINT64_MAX;
	return in.chan[0].used;
}

/* eshm_unreserve gives the room back at once, publishes nothing, and drops
 * the unfinished message eshm_commit_lines carried. */
static void
unreserve_gives_the_room_back_and_publishes_nothing(void)
{
	const char *n = t_name();
	struct eshm_config wc = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	struct eshm_config rc = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	eshm_t *w, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	CHECK_EQ(eshm_unreserve(w), 0); /* none open: nothing to do */
	void *p;
	size_t avail, carried;
	CHECK_EQ(eshm_reserve(w, 100, &p, &avail, 0), 0);
	memcpy(p, "abandoned\n", 10);
	CHECK(used_bytes(w) >= 100);
	CHECK_EQ(eshm_unreserve(w), 0);
	CHECK_EQ(used_bytes(w), 0);
	CHECK_EQ(eshm_commit(w, 10), ESHM_EINVAL);
	char buf[64];
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), ESHM_ETIMEDOUT);
	/* an unfinished line carried, then abandoned with its reservation */
	CHECK_EQ(eshm_reserve(w, 16, &p, &avail, 0), 0);
	memcpy(p, "one\ntw", 6);
	CHECK_EQ(eshm_commit_lines(w, 6, '\n', &carried), 1);
	CHECK_EQ(carried, 2);
	CHECK_EQ(eshm_unreserve(w), 0);
	CHECK_EQ(eshm_reserve(w, 1, &p, &avail, 0), 0);
	memcpy(p, "three\n", 6);
	CHECK_EQ(eshm_commit_lines(w, 6, '\n', &carried), 1);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 3);
	CHECK(memcmp(buf, "one", 3) == 0);
	CHECK_EQ(eshm_read(r, buf, sizeof buf, 0), 5);
	CHECK(memcmp(buf, "three", 5) == 0);
	CHECK_EQ(eshm_unreserve(r), ESHM_ENOEND);
	CHECK_EQ(eshm_unreserve(NULL), ESHM_EINVAL);
	eshm_close(r);
	eshm_close(w);
}

/* eshm_commit_delimited counts every delimiter whatever the bytes around
 * it (high bits set, the delimiter's neighbours) and whatever the length
 * (tails shorter than a word, more than 255 words at once); a reader that
 * releases part of such a record counts the messages it took the same
 * way, and is handed the rest. */
static void
delimiters_are_counted_exactly(void)
{
	const char *n = t_name();
	eshm_t *m, *s;
	open_pair(n, 1 << 20, &m, &s, ESHM_FRAMING_LINE);
	CHECK(m && s);
	static const unsigned char odd[] = {0x01, 0x09, 0x0b, 0x7f, 0x80, 0x81,
					    0x8a, 0xfe, 0xff, 0x8b, 0x0a, 0x00};
	static const size_t lens[] = {1,  2,   7,    8,    9,    15,   16,    17,
				      63, 255, 2039, 2040, 2041, 2048, 65535, 200000};
	for (int d = 0; d <= '\n'; d += '\n') {
		for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
			for (int density = 0; density < 3; density++) {
				size_t len = lens[li];
				void *p;
				size_t avail;
				CHECK_EQ(eshm_reserve(m, len, &p, &avail, 0), 0);
				unsigned char *b = p;
				size_t want = 0, half = 0;
				for (size_t i = 0; i < len; i++) {
					uint64_t x = rnd();
					int delim = i == len - 1 || density == 2 ||
						    (density == 1 ? x % 2 : x % 61 == 0);
					unsigned char c = odd[(x >> 8) % sizeof odd];
					b[i] = delim ? (unsigned char)d
						     : (unsigned char)(c == d ? c ^ 0x80 : c);
					want += delim;
					if (delim && i < len / 2)
						half = i + 1; /* a release that ends there */
				}
				size_t first = 0;
				for (size_t i = 0; i < half; i++)
					first += b[i] == (unsigned char)d;
				CHECK_EQ(eshm_commit_delimited(m, len, d), (ssize_t)want);
				struct eshm_chunk ck;
				CHECK_EQ(eshm_peek_chunk(s, &ck, 0, 0), 0);
				CHECK_EQ(ck.len, len);
				CHECK_EQ(ck.nmsgs, want);
				CHECK_EQ(eshm_consume(s, half), 0);
				if (half < len) {
					CHECK_EQ(eshm_peek_chunk(s, &ck, 0, 0), 0);
					CHECK_EQ(ck.len, len - half);
					CHECK_EQ(ck.nmsgs, want - first);
					CHECK_EQ(eshm_consume(s, ESHM_ALL), 0);
				}
			}
		}
	}
	eshm_close(m);
	eshm_close(s);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"random_sizes_wrap_many_times", random_sizes_wrap_many_times},
		{"carried_lines_survive_wraps", carried_lines_survive_wraps},
		{"line_longer_than_channel_is_refused", line_longer_than_channel_is_refused},
		{"reader_releases_padding_it_skips", reader_releases_padding_it_skips},
		{"unreserve gives the room back and publishes nothing",
		 unreserve_gives_the_room_back_and_publishes_nothing},
		{"delimiters are counted exactly", delimiters_are_counted_exactly},
		{NULL, NULL},
	};
	return t_run(cases, argc, argv);
}
