/* fuzz-segment.c - libFuzzer harness: arbitrary bytes as a segment file, then
 * everything a process does with one: inspect, attach, read, write, close. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "eshm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char name[64], path[128];

static void
read_everything(eshm_t *h)
{
	char buf[16384];
	uint32_t lens[64];
	struct eshm_chunk ck;
	for (int i = 0; i < 8; i++) {
		if (eshm_read(h, buf, sizeof buf, 0) < 0)
			break;
	}
	for (int i = 0; i < 8; i++) {
		if (eshm_peek_chunk(h, &ck, (size_t)i, 0))
			break;
		if (ck.len && ((const char *)ck.data)[0] == 'u')
			eshm_unpeek(h);
		eshm_consume(h, i & 1 ? ESHM_ALL : ck.len / 2);
	}
	eshm_read_batch(h, buf, sizeof buf, lens, 64, 0);
	const void *p;
	size_t len;
	if (eshm_peek(h, &p, &len, 0) == 0)
		eshm_release(h);
	eshm_peer_state(h);
}

static void
write_everything(eshm_t *h)
{
	static const char text[] = "one\ntwo\nthree\nfour";
	void *p;
	size_t avail, carried;
	eshm_write(h, "x", 1, 0);
	eshm_write(h, text, 0, 0);
	uint32_t lens[] = {3, 4, 0};
	eshm_write_batch(h, text, lens, 3, 0);
	if (eshm_reserve(h, 1, &p, &avail, 0) == 0 && avail >= sizeof text) {
		memcpy(p, text, sizeof text - 1);
		eshm_commit_lines(h, sizeof text - 1, '\n', &carried);
	}
	eshm_eos(h);
	eshm_flush(h, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!name[0]) {
		snprintf(name, sizeof name, "fuzz-%d", (int)getpid());
		snprintf(path, sizeof path, "/dev/shm/eshm_%s", name);
	}
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);

	struct eshm_info info;
	eshm_inspect(name, &info, NULL);

	struct eshm_config c;
	eshm_config_init(&c);
	c.flags = ESHM_NO_CREATE | ESHM_KEEP | ESHM_TAKEOVER;
	c.max_retries = 0;
	c.heartbeat_ms = 1000;
	c.stale_threshold_ms = 1000;
	c.spin_us = 0;
	eshm_t *h;
	for (int role = ESHM_ROLE_MASTER; role <= ESHM_ROLE_SLAVE; role++) {
		c.role = role;
		if (eshm_open(name, &c, &h, NULL) == 0) {
			read_everything(h);
			write_everything(h);
			eshm_stats(h, &info);
			eshm_check(h);
			eshm_close(h);
		}
	}
	eshm_unlink(name, ESHM_UNLINK_DRY_RUN | ESHM_UNLINK_PENDING | ESHM_UNLINK_INVALID, 0, &info,
		    NULL);
	unlink(path);
	return 0;
}
