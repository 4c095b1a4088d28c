/* test-corrupt.c - damaged segments give clear errors, never crashes or stray accesses. */
#include <fcntl.h>
#include <sys/mman.h>

#include "eshm-int.h"
#include "t.h"

static char path[256];

/* A kept segment with a message in m2s, closed, ready to be damaged. */
static int
make_segment(const char *n)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.capacity = 4096;
	c.role = ESHM_ROLE_MASTER;
	c.flags = ESHM_KEEP | ESHM_NO_EOS;
	eshm_t *h;
	if (eshm_open(n, &c, &h, NULL))
		return -1;
	if (eshm_write(h, "payload", 7, 0))
		return -1;
	eshm_close(h);
	snprintf(path, sizeof path, "/dev/shm/eshm_%.64s", n);
	return 0;
}

static void
poke(off_t off, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		if (pwrite(fd, p, len, off) != (ssize_t)len)
			abort();
		close(fd);
	}
}

static void
poke64(off_t off, uint64_t v)
{
	poke(off, &v, sizeof v);
}

#define CHAN(ch, f)                                                                                \
	((off_t)(offsetof(struct eshm_header, chan) + (ch) * sizeof(struct eshm_chan) +            \
		 offsetof(struct eshm_chan, f)))

/* open must fail with code and a message containing text; inspect must
 * report the file as invalid */
static void
expect_open_fails(const char *n, int code, const char *text)
{
	eshm_t *h;
	struct eshm_error e;
	int r = eshm_open(n, NULL, &h, &e);
	CHECK_EQ(r, code);
	if (!strstr(e.what, text)) {
		fprintf(stderr, "message '%s' lacks '%s'\n", e.what, text);
		CHECK(0);
	}
	struct eshm_info info;
	CHECK_EQ(eshm_inspect(n, &info, &e), 0);
	CHECK(!info.valid);
}

static void
header_damage_is_reported(void)
{
	const char *n = t_name();
	CHECK_EQ(make_segment(n), 0);
	poke64(offsetof(struct eshm_header, magic), 0x1234);
	expect_open_fails(n, ESHM_ENOTSEG, "not an eshm segment");
	poke64(offsetof(struct eshm_header, magic), ESHM_MAGIC);

	uint32_t v = 99;
	poke(offsetof(struct eshm_header, format), &v, sizeof v);
	expect_open_fails(n, ESHM_EVERSION, "version 99");
	/* a segment of format 1 (its header starts the same): both versions named */
	v = 1;
	poke(offsetof(struct eshm_header, format), &v, sizeof v);
	expect_open_fails(n, ESHM_EVERSION, "format version 1, this is version 2");
	v = ESHM_FORMAT;
	poke(offsetof(struct eshm_header, format), &v, sizeof v);
	/* the same format from a build with another header layout (56 KiB,
	 * before the samples of the claim): another version, not damage */
	v = 57344;
	poke(offsetof(struct eshm_header, header_size), &v, sizeof v);
	expect_open_fails(n, ESHM_EVERSION, "a 57344-byte header, this build's has 61440");
	v = ESHM_HEADER_SIZE;
	poke(offsetof(struct eshm_header, header_size), &v, sizeof v);

	poke64(offsetof(struct eshm_header, segment_size), 1 << 30);
	expect_open_fails(n, ESHM_ECORRUPT, "is corrupt: header says");
	poke64(offsetof(struct eshm_header, segment_size), ESHM_HEADER_SIZE + 2 * 4096);

	const uint64_t r0 = ESHM_HEADER_SIZE, r1 = ESHM_HEADER_SIZE + 4096;
	poke64(offsetof(struct eshm_header, chan_off) + 8, r1 + 4096);
	expect_open_fails(n, ESHM_ECORRUPT, "does not fit");
	poke64(offsetof(struct eshm_header, chan_off) + 8, r1);
	poke64(offsetof(struct eshm_header, chan_cap), 100);
	expect_open_fails(n, ESHM_ECORRUPT, "does not fit");
	poke64(offsetof(struct eshm_header, chan_cap), 4096);
	poke64(offsetof(struct eshm_header, chan_off), r0 + 1);
	expect_open_fails(n, ESHM_ECORRUPT, "does not fit");
	poke64(offsetof(struct eshm_header, chan_off), r0);

	/* repaired: usable again */
	eshm_t *h;
	struct eshm_config c;
	eshm_config_init(&c);
	c.role = ESHM_ROLE_SLAVE;
	OPEN(h, n, &c);
	char buf[16];
	CHECK_EQ(eshm_read(h, buf, sizeof buf, 0), 7);
	eshm_close(h);
	unlink(path);
}

static void
index_damage_is_reported(void)
{
	const char *n = t_name();
	CHECK_EQ(make_segment(n), 0);
	poke64(CHAN(0, claim), 3); /* not a record boundary */
	expect_open_fails(n, ESHM_ECORRUPT, "is corrupt");
	poke64(CHAN(0, claim), 1 << 20); /* beyond the release point + capacity */
	expect_open_fails(n, ESHM_ECORRUPT, "out of range");
	poke64(CHAN(0, claim), 32);
	poke64(CHAN(0, kept), 48); /* released beyond what was claimed */
	expect_open_fails(n, ESHM_ECORRUPT, "out of range");
	unlink(path);
}

/* damage to records, found by the reader while reading */
static void
record_damage_is_reported_on_read(void)
{
	struct {
		const char *what;
		uint32_t len, info;
	} cases[] = {
		{"unknown kind", 7, 9},
		{"past the ring's end", 5000, rec_info(REC_MSG, 0, 1)},
		{"past what was claimed", 100, rec_info(REC_MSG, 0, 1)},
		{"bad delimited record", 7,
		 rec_info(REC_DELIM, ESHM_FRAMING_MESSAGE, 1)}, /* framing */
		{"bad delimited record", 7,
		 rec_info(REC_DELIM, ESHM_FRAMING_LINE, 1)}, /* no '\n' at the end */
		{"bad padding record", 7, rec_info(REC_PAD, 0, 0)},
		{"bad time record", 7, rec_info(REC_TIME, 0, 0)},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *n = t_name();
		CHECK_EQ(make_segment(n), 0);
		/* the record stays committed (its tag is kept): only its length
		 * and kind are damaged */
		uint32_t li[2] = {cases[i].len, cases[i].info};
		poke(ESHM_HEADER_SIZE + offsetof(struct eshm_rec, len), li, sizeof li);
		struct eshm_config c;
		eshm_config_init(&c);
		c.role = ESHM_ROLE_SLAVE;
		eshm_t *h;
		OPEN(h, n, &c);
		char buf[16];
		CHECK_EQ(eshm_read(h, buf, sizeof buf, 0), ESHM_ECORRUPT);
		if (!strstr(eshm_errmsg(h), cases[i].what) ||
		    !strstr(eshm_errmsg(h), "is corrupt")) {
			fprintf(stderr, "message '%s' lacks '%s'\n", eshm_errmsg(h), cases[i].what);
			CHECK(0);
		}
		eshm_close(h);
		unlink(path);
	}
}

/* a peer moving the head out of range while we read */
static void
head_moved_out_of_range_while_attached(void)
{
	const char *n = t_name();
	CHECK_EQ(make_segment(n), 0);
	struct eshm_config c;
	eshm_config_init(&c);
	c.role = ESHM_ROLE_SLAVE;
	eshm_t *h;
	OPEN(h, n, &c);
	char buf[16];
	CHECK_EQ(eshm_read(h, buf, sizeof buf, 0), 7);
	poke64(CHAN(0, claim), 1ull << 40);
	CHECK_EQ(eshm_read(h, buf, sizeof buf, 0), ESHM_ECORRUPT);
	CHECK(strstr(eshm_errmsg(h), "claim moved out of range") != NULL);
	/* the writer side of s2m: a release point beyond the claims, noticed
	 * when the writer next reads it (once its cached view looks full) */
	poke64(CHAN(1, kept), 4096 * 8);
	static char big[1000];
	int r, k = 0;
	while ((r = eshm_write(h, big, sizeof big, 0)) == 0 && k < 10)
		k++;
	CHECK_EQ(r, ESHM_ECORRUPT);
	CHECK(strstr(eshm_errmsg(h), "claim/release point out of range") != NULL);
	eshm_close(h);
	unlink(path);
}

/* Random bytes over the shared header (geometry kept valid) never crash a
 * reader or writer; under ASan this also proves no access outside the map. */
static void
random_header_bytes_never_crash(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int round = 0; round < 300; round++) {
		const char *n = t_name();
		t_nnames--; /* reuse the name slot: one segment at a time */
		CHECK_EQ(make_segment(n), 0);
		unsigned char junk[64];
		for (size_t i = 0; i < sizeof junk; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			junk[i] = (unsigned char)x;
		}
		/* somewhere in the slots, channel lines or first record */
		off_t where = (off_t)(offsetof(struct eshm_header, slot) +
				      x % (sizeof(struct eshm_header) -
					   offsetof(struct eshm_header, slot)));
		if (round % 3 == 0)
			where = ESHM_HEADER_SIZE + (off_t)(x % 64);
		poke(where, junk, 1 + x % 24);
		struct eshm_config c;
		eshm_config_init(&c);
		c.role = ESHM_ROLE_SLAVE;
		c.max_retries = 0;
		eshm_t *h;
		if (eshm_open(n, &c, &h, NULL) == 0) {
			char buf[8192];
			for (int i = 0; i < 4; i++) {
				ssize_t r = eshm_read(h, buf, sizeof buf, 0);
				CHECK(r >= 0 || r == ESHM_ETIMEDOUT || r == ESHM_ECORRUPT ||
				      r == ESHM_EOF || r == ESHM_ETRUNC || r == ESHM_EWRITERLOST);
				r = eshm_write(h, buf, (size_t)(x % 3000), 0);
				CHECK(r == 0 || r == ESHM_ETIMEDOUT || r == ESHM_ECORRUPT);
			}
			struct eshm_info info;
			eshm_stats(h, &info);
			eshm_close(h);
		}
		struct eshm_info info;
		struct eshm_error e;
		eshm_inspect(n, &info, &e);
		unlink(path);
	}
}

static void
truncated_file_is_not_a_segment(void)
{
	const char *n = t_name();
	CHECK_EQ(make_segment(n), 0);
	CHECK_EQ(truncate(path, 40), 0);
	expect_open_fails(n, ESHM_ENOTSEG, "smaller than a header");
	unlink(path);
	CHECK_EQ(make_segment(n), 0);
	CHECK_EQ(truncate(path, 100), 0); /* its identity, not the rest */
	expect_open_fails(n, ESHM_ECORRUPT, "less than its");
	CHECK_EQ(truncate(path, ESHM_HEADER_SIZE + 4096), 0);
	expect_open_fails(n, ESHM_ECORRUPT, "header says");
	unlink(path);
}

/* another process truncates the file while we hold it mapped: errors, not
 * SIGBUS (the guard replaces the vanished pages with zeros) */
static void
truncated_under_holders_gives_errors(void)
{
	const char *n = t_name();
	struct eshm_config c;
	eshm_config_init(&c);
	c.role = ESHM_ROLE_MASTER;
	eshm_t *m, *s;
	OPEN(m, n, &c);
	c.role = ESHM_ROLE_SLAVE;
	OPEN(s, n, &c);
	CHECK_EQ(eshm_write(m, "before", 6, 0), 0);
	snprintf(path, sizeof path, "/dev/shm/eshm_%.64s", n);
	CHECK_EQ(truncate(path, 0), 0);
	char buf[64];
	CHECK_EQ(eshm_read(s, buf, sizeof buf, 100), ESHM_ECORRUPT);
	CHECK(strstr(eshm_errmsg(s), "truncated") != NULL);
	int r = eshm_write(m, "after", 5, 100);
	CHECK(r == ESHM_ECORRUPT || r == 0); /* a cached tail may still allow one */
	CHECK_EQ(eshm_check(m), ESHM_ECORRUPT);
	CHECK(strstr(eshm_errmsg(m), "truncated") != NULL);
	struct eshm_info info;
	eshm_stats(s, &info);
	eshm_close(m);
	eshm_close(s);
	unlink(path);
}

/* times from shared memory at the edges of their range: no overflow
 * (UBSan in the sanitizer build says so), sane ages */
static void
extreme_times_are_no_arithmetic_trap(void)
{
	const char *n = t_name();
	CHECK_EQ(make_segment(n), 0);
	const uint64_t values[] = {0, 1, INT64_MAX, (uint64_t)INT64_MAX + 1, UINT64_MAX};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		uint64_t v = values[i];
		poke(offsetof(struct eshm_header, created_ns), &v, sizeof v);
		poke(offsetof(struct eshm_header, created_mono), &v, sizeof v);
		for (int e = 0; e < NSLOTS; e++)
			poke((off_t)(offsetof(struct eshm_header, slot) +
				     e * sizeof(struct eshm_slot) +
				     offsetof(struct eshm_slot, heartbeat_ns)),
			     &v, sizeof v);
		struct eshm_info info;
		struct eshm_error e;
		CHECK_EQ(eshm_inspect(n, &info, &e), 0);
		CHECK(info.idle_ms >= 0);
		CHECK(info.chan[0].writer.heartbeat_age_ms >= -1);
		struct eshm_config c;
		eshm_config_init(&c);
		c.role = ESHM_ROLE_SLAVE;
		eshm_t *h;
		OPEN(h, n, &c);
		CHECK(eshm_peer_state(h) >= 0);
		eshm_close(h);
	}
	unlink(path);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"header_damage_is_reported", header_damage_is_reported},
		{"index_damage_is_reported", index_damage_is_reported},
		{"record_damage_is_reported_on_read", record_damage_is_reported_on_read},
		{"head_moved_out_of_range_while_attached", head_moved_out_of_range_while_attached},
		{"random_header_bytes_never_crash", random_header_bytes_never_crash},
		{"truncated_file_is_not_a_segment", truncated_file_is_not_a_segment},
		{"truncated_under_holders_gives_errors", truncated_under_holders_gives_errors},
		{"extreme_times_are_no_arithmetic_trap", extreme_times_are_no_arithmetic_trap},
		{NULL, NULL},
	};
	return t_run(cases, argc, argv);
}
