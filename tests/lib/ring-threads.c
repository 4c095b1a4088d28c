/* ring-threads.c - writer and reader threads over one ring, for ThreadSanitizer:
 * sequence-numbered messages of varying size, each with a checksum. */
#include <pthread.h>
#include <stdint.h>

#include "t.h"

static const char *name;
static long count = 1000000;

struct msg {
	uint64_t seq;
	uint64_t sum; /* over seq and the fill bytes */
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
	eshm_t *w = arg;
	unsigned char buf[600];
	for (long i = 0; i < count; i++) {
		size_t fill = (size_t)(i * 7919) % (sizeof buf - sizeof(struct msg));
		struct msg m = {(uint64_t)i, 0};
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

static void *
reader(void *arg)
{
	eshm_t *r = arg;
	for (long i = 0; i < count; i++) {
		const void *p;
		size_t len;
		if (eshm_peek(r, &p, &len, -1) || len < sizeof(struct msg))
			return (void *)1;
		struct msg m;
		memcpy(&m, p, sizeof m);
		const unsigned char *fill = (const unsigned char *)p + sizeof m;
		if (m.seq != (uint64_t)i || m.sum != checksum(m.seq, fill, len - sizeof m)) {
			fprintf(stderr, "message %ld: bad (seq %llu)\n", i,
				(unsigned long long)m.seq);
			return (void *)1;
		}
		if (eshm_release(r))
			return (void *)1;
	}
	return NULL;
}

static void
two_threads_pass_every_message_intact(void)
{
	struct eshm_config c;
	eshm_config_init(&c);
	c.capacity = 64 * 1024;
	c.role = ESHM_ROLE_MASTER;
	c.ends = ESHM_END_WRITE;
	eshm_t *w, *r;
	OPEN(w, name, &c);
	c.role = ESHM_ROLE_SLAVE;
	c.ends = ESHM_END_READ;
	OPEN(r, name, &c);
	pthread_t tw, tr;
	void *rw, *rr;
	pthread_create(&tr, NULL, reader, r);
	pthread_create(&tw, NULL, writer, w);
	pthread_join(tw, &rw);
	pthread_join(tr, &rr);
	CHECK(rw == NULL);
	CHECK(rr == NULL);
	struct eshm_info info;
	CHECK_EQ(eshm_stats(w, &info), 0); /* publishes the writer's counts */
	CHECK_EQ(eshm_stats(r, &info), 0); /* and the reader's */
	CHECK_EQ(info.chan[0].msgs_in, count);
	CHECK_EQ(info.chan[0].msgs_out, count);
	eshm_close(w);
	eshm_close(r);
}

int
main(int argc, char **argv)
{
	static const struct t_case cases[] = {
		{"two_threads_pass_every_message_intact", two_threads_pass_every_message_intact},
		{NULL, NULL},
	};
	if (argc > 1)
		count = atol(argv[1]);
	name = t_name();
	printf("%ld messages\n", count);
	return t_run(cases, 1, argv);
}
