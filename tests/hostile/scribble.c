/* scribble.c - a hostile peer: writes random values over a live segment's
 * header (holder slots, indices, futex words, counters) for a while.
 *   scribble NAME SECONDS [SEED]
 * Prints how many writes it made. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t x = 88172645463325252ull;

static uint64_t
rnd(void)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: scribble NAME SECONDS [SEED]\n");
		return 2;
	}
	char path[256];
	snprintf(path, sizeof path, "/dev/shm/eshm_%s", argv[1]);
	double end = now() + atof(argv[2]);
	if (argc > 3)
		x ^= strtoull(argv[3], NULL, 10) * 0x9e3779b97f4a7c15ull;
	int fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	/* the header page only: the geometry at its start is copied by every
	 * holder at attach, so scribble after it, where holders keep looking */
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	long writes = 0;
	while (now() < end) {
		size_t off = 128 + (rnd() % (4096 - 128 - 8)) / 4 * 4;
		uint64_t v;
		switch (rnd() % 4) {
		case 0:
			v = rnd();
			break;
		case 1:
			v = rnd() % 64;
			break;
		case 2:
			v = 0;
			break;
		default: /* near what is there: indices that look plausible */
			memcpy(&v, p + off, sizeof v);
			v += (rnd() % 17) * 8 - 64;
			break;
		}
		memcpy(p + off, &v, rnd() % 2 ? 8 : 4);
		writes++;
		struct timespec ts = {0, (long)(rnd() % 200000)};
		nanosleep(&ts, NULL);
	}
	printf("%ld\n", writes);
	return 0;
}
