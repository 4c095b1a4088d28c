/* pace.c - copy standard input to standard output at a steady rate, for
 * the benchmarks: a writer held to RATE bytes a second evenly, in pieces
 * of at most PIECE bytes, each sent when it is due. pv -L is no such
 * writer: measured here, "pv -L 200M" gave 1 ms windows of 1.8 GB/s
 * (it catches up in bursts). A pace that falls behind (it was not run)
 * does not catch up by more than a millisecond's worth.
 *   pace RATE [PIECE]        RATE in bytes/s; PIECE 65536 by default */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CATCH_UP_NS 1000000LL

static long long
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
main(int argc, char **argv)
{
	char *end;
	double rate = argc > 1 ? strtod(argv[1], &end) : 0;
	if (argc < 2 || argc > 3 || *end || rate < 1) {
		fprintf(stderr, "usage: pace RATE [PIECE]   (RATE in bytes/s)\n");
		return 2;
	}
	size_t piece = argc > 2 ? strtoul(argv[2], &end, 10) : 65536;
	if (argc > 2 && (*end || piece == 0)) {
		fprintf(stderr, "pace: bad piece size: %s\n", argv[2]);
		return 2;
	}
	char *buf = malloc(piece);
	if (!buf) {
		perror("pace");
		return 1;
	}
	long long start = now_ns();
	double sent = 0;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, piece);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("pace: read");
			return 1;
		}
		if (n == 0)
			return 0;
		long long due = start + (long long)(sent / rate * 1e9), late = now_ns() - due;
		if (late > CATCH_UP_NS)
			start += late - CATCH_UP_NS;
		else if (late < 0) {
			struct timespec ts = {(time_t)(-late / 1000000000LL),
					      (long)(-late % 1000000000LL)};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				perror("pace: write");
				return 1;
			}
			off += w;
		}
		sent += (double)n;
	}
}
