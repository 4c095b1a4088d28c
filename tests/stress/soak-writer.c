/* soak-writer.c - the crash soak's writer: numbered, checksummed messages
 * as fast as the channel takes them, and the last sequence it knows
 * committed in a progress file.
 *   soak-writer NAME EPOCH PROGRESS-FILE
 * A message is the text "EPOCH SEQ PAYLOAD CRC" (hex payload of varying
 * length, CRC-32 of the rest), so that eshm-recv prints one per line.
 * SIGTERM: finish the current message, mark end of stream, exit 0. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eshm.h"

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static unsigned long
crc32(const char *p, size_t n)
{
	unsigned long c = 0xffffffffUL;
	for (size_t i = 0; i < n; i++) {
		c ^= (unsigned char)p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320UL & (0UL - (c & 1)));
	}
	return c ^ 0xffffffffUL;
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: soak-writer NAME EPOCH PROGRESS-FILE\n");
		return 2;
	}
	struct sigaction sa = {.sa_handler = on_term};
	sigaction(SIGTERM, &sa, NULL);
	int pf = open(argv[3], O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (pf < 0) {
		perror(argv[3]);
		return 1;
	}
	struct eshm_config c;
	eshm_config_init(&c);
	c.role = ESHM_ROLE_MASTER;
	c.ends = ESHM_END_WRITE;
	c.capacity = 64 * 1024; /* small: it fills and wraps all the time */
	c.framing = ESHM_FRAMING_LINE;
	c.interrupt = &stop;
	eshm_t *h;
	struct eshm_error err;
	int r = eshm_open(argv[1], &c, &h, &err);
	if (r) {
		fprintf(stderr, "soak-writer: %s\n", err.what);
		return 1;
	}
	unsigned long epoch = strtoul(argv[2], NULL, 10), x = epoch * 2654435761UL + 1;
	char msg[2048], pl[1024];
	for (unsigned long seq = 0; !stop; seq++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		size_t n = (x >> 33) % 400;
		for (size_t i = 0; i < n; i++)
			pl[i] = "0123456789abcdef"[(x >> (i % 60)) & 15];
		pl[n] = '\0';
		int len = snprintf(msg, sizeof msg, "%lu %lu %s", epoch, seq, pl);
		len += snprintf(msg + len, sizeof msg - (size_t)len, " %08lx",
				crc32(msg, (size_t)len));
		r = eshm_write(h, msg, (size_t)len, -1);
		if (r == -4 /* EINTR */ && stop)
			break;
		if (r) {
			fprintf(stderr, "soak-writer: %s\n", eshm_errmsg(h));
			return 1;
		}
		/* paced, about 10,000 a second: the soak is about crashes, not
		 * volume (unpaced, ten minutes made tens of gigabytes of output);
		 * the small ring still fills and wraps all the time */
		if (seq % 10 == 9) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
		/* committed; a kill before this line makes the log lag by one */
		char line[32];
		int l = snprintf(line, sizeof line, "%020lu\n", seq);
		if (pwrite(pf, line, (size_t)l, 0) != l)
			return 1;
	}
	eshm_eos(h);
	eshm_close(h);
	return 0;
}
