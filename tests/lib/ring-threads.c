/* ring-threads.c - writer and reader threads over one ring, for ThreadSanitizer:
 * sequence-numbered messages of varying size, each with a checksum; one
 * writer, then four sharing the channel, then four writers and a pool of
 * three readers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "t.h"

static long count = 1000000;

struct msg {
	uint64_t seq; /* writer << 56 | its message number */
	uint64_t sum; /* over seq and the fill bytes */
};

#define NW 4
struct writer_arg {
	eshm_t *h;
	int id;
	long count;
};

static uint64_t
checksum(uint64_t seq, const unsigned char *p, size_t len)
{
	uint64_t h = seq * 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void *
writer(void *arg)
{
	struct writer_arg *a = arg;
	eshm_t *w = a->h;
	unsigned char buf[600];
	for (long i = 0; i < a->count; i++) {
		size_t fill = (size_t)(i * 7919) % (sizeof buf - sizeof(struct msg));
		struct msg m = {(uint64_t)a->id << 56 | (uint64_t)i, 0};
		for (size_t k = 0; k < fill; k++)
			buf[sizeof m + k] = (unsigned char)(i + k);
		m.sum = checksum(m.seq, buf + sizeof m, fill);
		memcpy(buf, &m, sizeof m);
		if (i % 2) {
			if (eshm_write(w, buf, sizeof m + fill, -1))
				return (void *)1;
		} else {
			/* the zero-copy path too */
			void *p;
			size_t avail;
			if (eshm_reserve(w, sizeof m + fill, &p, &avail, -1))
				return (void *)1;
			memcpy(p, buf, sizeof m + fill);
			if (eshm_commit(w, sizeof m + fill))
				return (void *)1;
		}
	}
	return NULL;
}

static long nwriters = 1;

/* every writer's messages, whole and in its order */
static void *
reader(void *arg)
{
	eshm_t *r = arg;
	uint64_t next[NW] = {0};
	for (long i = 0; i < count * nwriters; i++) {
		const void *p;
		size_t len;
		if (eshm_peek(r, &p, &len, -1) || len < sizeof(struct msg))
			return (void *)1;
		struct msg m;
		memcpy(&m, p, sizeof m);
		const unsigned char *fill = (const unsigned char *)p + sizeof m;
		uint64_t id = m.seq >> 56, k = m.seq & ((1ull << 56) - 1);
		if (id >= NW || k != next[id]++ || m.sum != checksum(m.seq, fill, len - sizeof m)) {
			fprintf(stderr, "message %ld: bad (seq %llu)\n", i,
				(unsigned long long)m.seq);
			return (void *)1;
		}
		if (eshm_release(r))
			return (void *)1;
	}
	return NULL;
}

/* nw writer threads, each with its own handle, and one reader */
static void
writers_and_reader(const char *n, int nw)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.capacity = 64 * 1024;
	c.role = ESHM_ROLE_MASTER;
	c.ends = ESHM_END_WRITE;
	struct writer_arg wa[NW];
	for (int i = 0; i < nw; i++) {
		OPEN(wa[i].h, n, &c);
		wa[i].id = i;
		wa[i].count = count;
	}
	eshm_t *r;
	c.role = ESHM_ROLE_SLAVE;
	c.ends = ESHM_END_READ;
	OPEN(r, n, &c);
	nwriters = nw;
	pthread_t tw[NW], tr;
	void *rw, *rr;
	pthread_create(&tr, NULL, reader, r);
	for (int i = 0; i < nw; i++)
		pthread_create(&tw[i], NULL, writer, &wa[i]);
	for (int i = 0; i < nw; i++) {
		pthread_join(tw[i], &rw);
		CHECK(rw == NULL);
	}
	pthread_join(tr, &rr);
	CHECK(rr == NULL);
	struct eshm_info info;
	for (int i = 0; i < nw; i++)
		CHECK_EQ(eshm_stats(wa[i].h, &info), 0); /* publishes each writer's counts */
	CHECK_EQ(eshm_stats(r, &info), 0);               /* and the reader's */
	CHECK_EQ(info.chan[0].msgs_in, count * nw);
	CHECK_EQ(info.chan[0].msgs_out, count * nw);
	for (int i = 0; i < nw; i++)
		eshm_close(wa[i].h);
	eshm_close(r);
}

static void
two_threads_pass_every_message_intact(void)
{
	writers_and_reader(t_name(), 1);
}

/* Four writers share the channel: the sole writer's in-ring reservations
 * meet staged ones, claims race, and each writer's order holds. */
static void
four_writers_pass_every_message_intact(void)
{
	long all = count;
	count = all / NW;
	writers_and_reader(t_name(), NW);
	count = all;
}

/* A reader of a pool: until the end of stream, each writer's messages in
 * its order (not all of them: the others take some), intact; what it got
 * marked in seen, none twice. */
#define NR 3
static unsigned char *seen[NW];
static _Atomic long pool_got;

static void *
pool_reader(void *arg)
{
	eshm_t *r = arg;
	int64_t last[NW];
	for (int i = 0; i < NW; i++)
		last[i] = -1;
	for (;;) {
		const void *p;
		size_t len;
		int rc = eshm_peek(r, &p, &len, -1);
		if (rc == ESHM_EOF)
			return NULL;
		if (rc || len < sizeof(struct msg)) {
			fprintf(stderr, "pool: %s (%d, %zu bytes)\n", eshm_errmsg(r), rc, len);
			return (void *)1;
		}
		struct msg m;
		memcpy(&m, p, sizeof m);
		const unsigned char *fill = (const unsigned char *)p + sizeof m;
		uint64_t id = m.seq >> 56, k = m.seq & ((1ull << 56) - 1);
		if (id >= NW || (int64_t)k <= last[id] || k >= (uint64_t)count ||
		    m.sum != checksum(m.seq, fill, len - sizeof m)) {
			fprintf(stderr, "pool: bad message (seq %llu)\n",
				(unsigned long long)m.seq);
			return (void *)1;
		}
		last[id] = (int64_t)k;
		/* each message to one reader: a byte each, written by one thread */
		if (seen[id][k]++) {
			fprintf(stderr, "pool: message %llu twice\n", (unsigned long long)m.seq);
			return (void *)1;
		}
		atomic_fetch_add(&pool_got, 1);
		if ((rc = eshm_release(r))) {
			fprintf(stderr, "pool: release: %s (%d)\n", eshm_errmsg(r), rc);
			return (void *)1;
		}
	}
}

/* Four writers and three readers of one consumer group: batches taken
 * with a CAS race, the group's release point moves under them. */
static void
four_writers_and_a_pool_of_three_readers(void)
{
	const char *n = t_name();
	long all = count;
	count = all / NW;
	struct eshm_config c;
	eshm_config_init(&c);
	c.capacity = 64 * 1024;
	c.role = ESHM_ROLE_MASTER;
	c.ends = ESHM_END_WRITE;
	struct writer_arg wa[NW];
	for (int i = 0; i < NW; i++) {
		OPEN(wa[i].h, n, &c);
		wa[i].id = i;
		wa[i].count = count;
		seen[i] = calloc((size_t)count, 1);
		CHECK(seen[i] != NULL);
	}
	eshm_t *r[NR];
	c.role = ESHM_ROLE_SLAVE;
	c.ends = ESHM_END_READ;
	c.consumer_group = "pool";
	for (int i = 0; i < NR; i++)
		OPEN(r[i], n, &c);
	pthread_t tw[NW], tr[NR];
	void *res;
	for (int i = 0; i < NR; i++)
		pthread_create(&tr[i], NULL, pool_reader, r[i]);
	for (int i = 0; i < NW; i++)
		pthread_create(&tw[i], NULL, writer, &wa[i]);
	for (int i = 0; i < NW; i++) {
		pthread_join(tw[i], &res);
		CHECK(res == NULL);
	}
	/* the last writer to leave ends the stream: every reader ends */
	for (int i = 0; i < NW; i++)
		eshm_close(wa[i].h);
	for (int i = 0; i < NR; i++) {
		pthread_join(tr[i], &res);
		CHECK(res == NULL);
	}
	CHECK_EQ(atomic_load(&pool_got), count * NW);
	for (int i = 0; i < NR; i++)
		eshm_close(r[i]);
	for (int i = 0; i < NW; i++)
		free(seen[i]);
	count = all;
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"two_threads_pass_every_message_intact", two_threads_pass_every_message_intact},
		{"four_writers_pass_every_message_intact", four_writers_pass_every_message_intact},
		{"four_writers_and_a_pool_of_three_readers",
		 four_writers_and_a_pool_of_three_readers},
		{NULL, NULL},
	};
	if (argc > 1)
		count = atol(argv[1]);
	printf("%ld messages\n", count);
	return t_run(cases, 1, argv);
}
