/* test-groups.c - readers sharing a consumer group, groups as subscriptions, redelivery,
 * the age of a group's oldest message. */
#include "eshm-int.h" /* white-box: the samples of the claim over time */
#include "t.h"

/* A writer (master, write end) and its config, KEEP so that the segment
 * outlives readers coming and going. */
static struct eshm_config
writer_cfg(void)
{
	struct eshm_config c = t_cfg(ESHM_ROLE_MASTER, ESHM_END_WRITE);
	c.flags |= ESHM_KEEP;
	return c;
}

static struct eshm_config
reader_cfg(const char *group)
{
	struct eshm_config c = t_cfg(ESHM_ROLE_SLAVE, ESHM_END_READ);
	c.consumer_group = group;
	return c;
}

/* n messages "0".."n-1", one record each */
static int
write_numbers(eshm_t *w, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		char b[16];
		int l = snprintf(b, sizeof b, "%d", i);
		int r = eshm_write(w, b, (size_t)l, 0);
		if (r)
			return r;
	}
	return 0;
}

/* a message read as a number, or a negative code */
static long
read_number(eshm_t *r, int timeout_ms)
{
	char b[16];
	ssize_t n = eshm_read(r, b, sizeof b - 1, timeout_ms);
	if (n < 0)
		return n;
	b[n] = '\0';
	return strtol(b, NULL, 10);
}

static void
readers_of_a_group_share_its_messages_disjointly(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(), rc = reader_cfg("pool");
	eshm_t *w, *a, *b;
	OPEN(w, n, &wc);
	OPEN(a, n, &rc);
	OPEN(b, n, &rc);
	CHECK_EQ(write_numbers(w, 0, 1000), 0);
	static char seen[1000];
	memset(seen, 0, sizeof seen);
	int got_a = 0, got_b = 0;
	/* in turns: each takes batches, neither gets what the other took */
	for (int k = 0; k < 1000; k++) {
		long v = read_number(k % 2 ? b : a, 0);
		if (v == ESHM_ETIMEDOUT)
			v = read_number(k % 2 ? a : b, 0);
		CHECK(v >= 0 && v < 1000);
		CHECK_EQ(seen[v], 0);
		seen[v] = 1;
		if (k % 2)
			got_b++;
		else
			got_a++;
	}
	CHECK_EQ(read_number(a, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(read_number(b, 0), ESHM_ETIMEDOUT);
	CHECK(got_a > 0 && got_b > 0);
	eshm_close(a);
	eshm_close(b);
	eshm_close(w);
	eshm_unlink(n, ESHM_UNLINK_KEPT | ESHM_UNLINK_PENDING, 0, NULL, NULL);
}

static void
a_channel_takes_64_readers_and_names_the_limit(void)
{
	const char *n = t_name();
	struct eshm_config rc = reader_cfg(NULL);
	rc.flags |= ESHM_KEEP;
	static eshm_t *r[ESHM_MAX_READERS];
	int opened = 0;
	for (; opened < ESHM_MAX_READERS; opened++)
		OPEN(r[opened], n, &rc);
	eshm_t *extra;
	struct eshm_error e;
	CHECK_EQ(eshm_open(n, &rc, &extra, &e), ESHM_EBUSY);
	CHECK(strstr(e.what, "has 64 readers, the most it takes") != NULL);
	for (int i = 0; i < opened; i++)
		eshm_close(r[i]);
	eshm_unlink(n, ESHM_UNLINK_KEPT, 0, NULL, NULL);
}

static void
what_a_reader_peeked_goes_back_to_its_group_first(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(), rc = reader_cfg(NULL);
	eshm_t *w, *a, *b;
	OPEN(w, n, &wc);
	CHECK_EQ(write_numbers(w, 0, 10), 0);
	OPEN(a, n, &rc);
	/* a takes 0 and peeks 1 and 2 without releasing them */
	CHECK_EQ(read_number(a, 0), 0);
	struct eshm_chunk ck;
	CHECK_EQ(eshm_peek_chunk(a, &ck, 1, 0), 0);
	CHECK_EQ(eshm_peek_chunk(a, &ck, 1, 0), 0);
	CHECK_EQ(eshm_close(a), 0);
	CHECK_EQ(write_numbers(w, 10, 2), 0);
	OPEN(b, n, &rc);
	for (int i = 1; i < 12; i++)
		CHECK_EQ(read_number(b, 0), i);
	eshm_close(b);
	eshm_close(w);
	eshm_unlink(n, ESHM_UNLINK_KEPT | ESHM_UNLINK_PENDING, 0, NULL, NULL);
}

static void
a_killed_readers_batch_is_delivered_again(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(), rc = reader_cfg("workers");
	eshm_t *w, *b;
	OPEN(w, n, &wc);
	CHECK_EQ(write_numbers(w, 0, 10), 0);
	pid_t pid = fork();
	if (pid == 0) {
		eshm_t *a;
		char buf[16];
		if (eshm_open(n, &rc, &a, NULL) || eshm_read(a, buf, sizeof buf, 0) < 0)
			_exit(1);
		/* took the whole batch, released one: die holding the rest */
		const void *p;
		size_t len;
		if (eshm_peek(a, &p, &len, 0))
			_exit(1);
		raise(SIGKILL);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFSIGNALED(st));
	OPEN(b, n, &rc);
	struct eshm_info info;
	CHECK_EQ(eshm_inspect(n, &info, NULL), 0);
	/* seen dead when b attached: its batch came back */
	CHECK_EQ(info.chan[0].ngroups, 1);
	CHECK_EQ(info.chan[0].groups[0].returned, 1);
	for (int i = 1; i < 10; i++)
		CHECK_EQ(read_number(b, 0), i);
	CHECK_EQ(read_number(b, 0), ESHM_ETIMEDOUT);
	eshm_close(b);
	eshm_close(w);
	eshm_unlink(n, ESHM_UNLINK_KEPT | ESHM_UNLINK_PENDING, 0, NULL, NULL);
}

static void
every_group_gets_every_message_and_keeps_its_place(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(), ra = reader_cfg("a"), rb = reader_cfg("b");
	eshm_t *w, *a, *b;
	OPEN(w, n, &wc);
	OPEN(a, n, &ra);
	OPEN(b, n, &rb);
	CHECK_EQ(write_numbers(w, 0, 5), 0);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(read_number(a, 0), i);
	CHECK_EQ(eshm_close(b), 0);
	CHECK_EQ(write_numbers(w, 5, 5), 0);
	OPEN(b, n, &rb);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(read_number(b, 0), i);
	for (int i = 5; i < 10; i++)
		CHECK_EQ(read_number(a, 0), i);
	struct eshm_info info;
	CHECK_EQ(eshm_inspect(n, &info, NULL), 0);
	CHECK_EQ(info.chan[0].ngroups, 2);
	CHECK_EQ(info.chan[0].nreaders, 2);
	CHECK(!strcmp(info.chan[0].groups[0].name, "a"));
	CHECK(!strcmp(info.chan[0].groups[info.chan[0].readers[1].group].name, "b"));
	eshm_close(a);
	eshm_close(b);
	eshm_close(w);
	eshm_unlink(n, ESHM_UNLINK_KEPT | ESHM_UNLINK_PENDING, 0, NULL, NULL);
}

static void
a_removed_group_frees_the_space_it_held(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(), ra = reader_cfg("fast"), rs = reader_cfg("slow");
	wc.capacity = 4096;
	eshm_t *w, *a, *s;
	OPEN(w, n, &wc);
	OPEN(s, n, &rs);
	CHECK_EQ(eshm_close(s), 0);
	OPEN(a, n, &ra);
	char big[1000] = {0}, got[1000];
	int k = 0;
	while (eshm_write(w, big, sizeof big, 0) == 0) {
		CHECK_EQ(eshm_read(a, got, sizeof got, 0), (ssize_t)sizeof got);
		k++;
	}
	/* full: slow holds it all */
	CHECK(k >= 3);
	struct eshm_error e;
	CHECK_EQ(eshm_group_remove(n, "fast", 0, &e), ESHM_EBUSY);
	CHECK(strstr(e.what, "has a live reader") != NULL);
	CHECK_EQ(eshm_group_remove(n, "nobody", 0, &e), ESHM_ENOGROUP);
	CHECK_EQ(eshm_group_remove(n, "bad name", 0, &e), ESHM_EINVAL);
	CHECK_EQ(eshm_group_remove(n, "slow", ESHM_UNLINK_DRY_RUN, &e), 1);
	CHECK_EQ(eshm_write(w, big, sizeof big, 0), ESHM_ETIMEDOUT);
	CHECK_EQ(eshm_group_remove(n, "slow", 0, &e), 1);
	CHECK_EQ(eshm_write(w, big, sizeof big, 0), 0);
	eshm_close(a);
	eshm_close(w);
	eshm_unlink(n, ESHM_UNLINK_KEPT | ESHM_UNLINK_PENDING, 0, NULL, NULL);
}

static void
group_names_are_checked(void)
{
	const char *n = t_name();
	static const char *bad[] = {
		"",    "-x",  ".x",
		"a b", "a/b", "0123456789012345678901234567890123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct eshm_config rc = reader_cfg(bad[i]);
		eshm_t *h;
		struct eshm_error e;
		CHECK_EQ(eshm_group_name_ok(bad[i]), 0);
		CHECK_EQ(eshm_open(n, &rc, &h, &e), ESHM_EINVAL);
		CHECK(strstr(e.what, "consumer group") != NULL);
	}
	CHECK_EQ(eshm_group_name_ok("-"), 1);
	CHECK_EQ(eshm_group_name_ok("billing.v2@eu:1"), 1);
	CHECK(!t_exists(n));
}

static void
an_exclusive_reader_is_the_only_one(void)
{
	const char *n = t_name();
	struct eshm_config rc = reader_cfg(NULL), rx = reader_cfg("other");
	rc.flags |= ESHM_KEEP;
	rx.flags |= ESHM_EXCLUSIVE;
	eshm_t *a, *x;
	struct eshm_error e;
	OPEN(a, n, &rc);
	CHECK_EQ(eshm_open(n, &rx, &x, &e), ESHM_EBUSY);
	CHECK(strstr(e.what, "already has a live reader") != NULL);
	CHECK_EQ(e.pid, getpid());
	eshm_close(a);
	OPEN(x, n, &rx);
	CHECK_EQ(eshm_open(n, &rc, &a, &e), ESHM_EBUSY);
	eshm_close(x);
	eshm_unlink(n, ESHM_UNLINK_KEPT, 0, NULL, NULL);
}

/* Five days of a writer at 10 messages of 64 bytes a second, sampled as
 * its heartbeat does (every STAMP_NS): the age of a message of any age
 * is never under-stated, and over-stated by at most a quarter plus a
 * sample period; beyond what the samples span, at least the oldest's. */
static void
an_age_is_known_to_a_quarter_over_days(void)
{
	struct eshm_header *hdr = calloc(1, sizeof *hdr);
	CHECK(hdr);
	const int64_t step = STAMP_NS, n = 5LL * 24 * 3600 * 1000000000 / STAMP_NS;
	int64_t t0 = 1000000000, now = t0;
	CHECK_EQ(eshm_stamp_age_ms(hdr, 0, 0, now), -1);
	for (int64_t i = 0; i < n; i++, now += step) {
		atomic_store(&hdr->chan[0].claim, (uint64_t)i * 64);
		eshm_stamp(hdr, 0, now, false);
	}
	/* the message claimed at sample i is at 64 * i, made at t0 + i * step */
	static const int64_t ages_s[] = {0, 1, 60, 3600, 6 * 3600, 24 * 3600, 4 * 24 * 3600};
	for (size_t k = 0; k < sizeof ages_s / sizeof *ages_s; k++) {
		int64_t i = n - 1 - ages_s[k] * 1000000000 / step;
		int64_t truth = (now - (t0 + i * step)) / 1000000;
		int64_t got = eshm_stamp_age_ms(hdr, 0, (uint64_t)i * 64, now);
		if (got < truth || got > truth + truth / 4 + step / 1000000 + 1) {
			fprintf(stderr, "age %lld s: got %lld ms, truth %lld ms\n",
				(long long)ages_s[k], (long long)got, (long long)truth);
			CHECK(0);
		}
	}
	/* older than every sample kept: at least the oldest's age */
	int64_t span = eshm_stamp_age_ms(hdr, 0, UINT64_MAX, now);
	CHECK(eshm_stamp_age_ms(hdr, 0, 0, now) > 0);
	CHECK(eshm_stamp_age_ms(hdr, 0, 0, now) >= span);
	/* not a sample more often than every STAMP_NS, unless forced */
	uint64_t seq = atomic_load(&hdr->stamps[0].seq);
	eshm_stamp(hdr, 0, now - step + 1, false);
	CHECK_EQ(atomic_load(&hdr->stamps[0].seq), seq);
	eshm_stamp(hdr, 0, now - step + 1, true);
	CHECK_EQ(atomic_load(&hdr->stamps[0].seq), seq + 1);
	free(hdr);
}

/* Group NAME of channel m2s as eshm_stats sees it, into *out: 0, or -1. */
static int
group_now(eshm_t *h, const char *name, struct eshm_group_info *out)
{
	static struct eshm_info in;
	if (eshm_stats(h, &in))
		return -1;
	for (int k = 0; k < in.chan[0].ngroups; k++)
		if (strcmp(in.chan[0].groups[k].name, name) == 0) {
			*out = in.chan[0].groups[k];
			return 0;
		}
	return -1;
}

static void
a_group_is_idle_while_its_readers_release_nothing(void)
{
	const char *n = t_name();
	struct eshm_config wc = writer_cfg(), rc = reader_cfg("g");
	eshm_t *w, *r;
	OPEN(w, n, &wc);
	OPEN(r, n, &rc);
	CHECK_EQ(write_numbers(w, 0, 10), 0);
	CHECK_EQ(read_number(r, 0), 0);
	CHECK_EQ(read_number(r, 0), 1);
	/* then nothing for a while: idle as long as the oldest has waited,
	 * about (the reads were just after the writes) */
	struct eshm_group_info g;
	for (int i = 0; i < 500; i++) {
		CHECK_EQ(group_now(w, "g", &g), 0);
		if (g.oldest_age_ms > 400)
			break;
		t_nap_ms(10);
	}
	CHECK(g.oldest_age_ms > 400);
	CHECK(g.idle_ms > 300);
	CHECK(g.idle_ms <= g.oldest_age_ms);
	/* a release: its heartbeat sees it, and the group is busy again
	 * while its oldest message still waits */
	CHECK_EQ(read_number(r, 0), 2);
	for (int i = 0; i < 200; i++) {
		CHECK_EQ(group_now(w, "g", &g), 0);
		if (g.idle_ms < 100)
			break;
		t_nap_ms(10);
	}
	CHECK(g.idle_ms < 100);
	CHECK(g.oldest_age_ms > 400);
	CHECK_EQ(g.backlog_msgs, 7);
	/* nothing waiting: neither */
	for (int k = 3; k < 10; k++)
		CHECK_EQ(read_number(r, 0), k);
	CHECK_EQ(group_now(w, "g", &g), 0);
	CHECK_EQ(g.idle_ms, -1);
	CHECK_EQ(g.oldest_age_ms, -1);
	eshm_close(r);
	eshm_close(w);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"readers_of_a_group_share_its_messages_disjointly",
		 readers_of_a_group_share_its_messages_disjointly},
		{"a_channel_takes_64_readers_and_names_the_limit",
		 a_channel_takes_64_readers_and_names_the_limit},
		{"what_a_reader_peeked_goes_back_to_its_group_first",
		 what_a_reader_peeked_goes_back_to_its_group_first},
		{"a_killed_readers_batch_is_delivered_again",
		 a_killed_readers_batch_is_delivered_again},
		{"every_group_gets_every_message_and_keeps_its_place",
		 every_group_gets_every_message_and_keeps_its_place},
		{"a_removed_group_frees_the_space_it_held",
		 a_removed_group_frees_the_space_it_held},
		{"group_names_are_checked", group_names_are_checked},
		{"an_exclusive_reader_is_the_only_one", an_exclusive_reader_is_the_only_one},
		{"an_age_is_known_to_a_quarter_over_days", an_age_is_known_to_a_quarter_over_days},
		{"a_group_is_idle_while_its_readers_release_nothing",
		 a_group_is_idle_while_its_readers_release_nothing},
		{NULL, NULL},
	};
	return t_run(cases, argc, argv);
}
