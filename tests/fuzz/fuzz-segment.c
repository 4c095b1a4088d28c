/* fuzz-segment.c - libFuzzer harness: a segment file damaged at will, then
 * everything a process does with one: inspect, attach, read, write, close.
 *
 * A format-2 header is 60 KiB, more than a fuzzer mutates well; so an input
 * is a list of patches over one of a few real segments made at start-up
 * (templates: many writers' messages, a full ring, a wrapped one, lines
 * partly read, an ended stream, a dead writer's open claim):
 *
 *   byte 0        template (modulo their number); with bit 7 set, the rest
 *                 of the input is the whole file instead (identity, sizes)
 *   then patches  3 bytes offset (little-endian, modulo the file's size),
 *                 1 byte length, that many bytes written there
 *
 * mkseeds.c writes seeds that aim at the shared fields: claim and release
 * points, groups, writer slots and their claims, record headers.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eshm-int.h"
#include "fuzz-templates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char name[64], path[128];
static struct fuzz_template tpl[FUZZ_NTEMPLATES];

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

/* The file the input describes, in buf (malloc'd): its size, or 0. */
static size_t
build_file(const uint8_t *data, size_t size, unsigned char **buf)
{
	if (size == 0)
		return 0;
	if (data[0] & 0x80) {
		*buf = malloc(size);
		if (*buf && size > 1)
			memcpy(*buf, data + 1, size - 1);
		return *buf ? size - 1 : 0;
	}
	const struct fuzz_template *t = &tpl[data[0] % FUZZ_NTEMPLATES];
	if (!t->size || !(*buf = malloc(t->size)))
		return 0;
	memcpy(*buf, t->bytes, t->size);
	for (size_t i = 1; i + 4 <= size;) {
		size_t off =
			(data[i] | (size_t)data[i + 1] << 8 | (size_t)data[i + 2] << 16) % t->size;
		size_t len = data[i + 3];
		i += 4;
		if (len > size - i)
			len = size - i;
		if (len > t->size - off)
			len = t->size - off;
		memcpy(*buf + off, data + i, len);
		i += len;
	}
	return t->size;
}

/* libFuzzer may stop (-max_total_time) between writing the file and
 * removing it: leave nothing in /dev/shm */
static void
remove_file(void)
{
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!name[0]) {
		snprintf(name, sizeof name, "fuzz-%d", (int)getpid());
		snprintf(path, sizeof path, "/dev/shm/eshm_%s", name);
		atexit(remove_file);
		if (fuzz_templates_make(tpl))
			abort();
	}
	unsigned char *file = NULL;
	size_t fsize = build_file(data, size, &file);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(file);
		return 0;
	}
	ssize_t w = fsize ? write(fd, file, fsize) : 0;
	close(fd);
	free(file);
	if (w != (ssize_t)fsize) {
		unlink(path);
		return 0;
	}

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
	/* looking without taking: what is pending, for any group and for
	 * the unnamed one, read-only */
	c.ends = ESHM_END_READ;
	c.flags = ESHM_PEEK | ESHM_NO_CREATE;
	for (int k = 0; k < 2; k++) {
		c.consumer_group = k ? "-" : NULL;
		if (eshm_open(name, &c, &h, NULL) == 0) {
			read_everything(h);
			eshm_close(h);
		}
	}
	c.consumer_group = NULL;
	/* a tap, reading what a writer adds after it */
	c.flags = ESHM_TAP | ESHM_NO_CREATE | ESHM_KEEP;
	eshm_t *tap = NULL;
	if (eshm_open(name, &c, &tap, NULL) != 0)
		tap = NULL;
	c.ends = ESHM_END_BOTH;
	c.flags = ESHM_NO_CREATE | ESHM_KEEP | ESHM_TAKEOVER;
	/* and exclusively, as role auto and --exclusive do */
	c.role = ESHM_ROLE_AUTO;
	if (eshm_open(name, &c, &h, NULL) == 0) {
		write_everything(h);
		if (tap)
			read_everything(tap);
		read_everything(h);
		eshm_close(h);
	}
	if (tap)
		eshm_close(tap);
	eshm_unlink(name, ESHM_UNLINK_DRY_RUN | ESHM_UNLINK_PENDING | ESHM_UNLINK_INVALID, 0, &info,
		    NULL);
	unlink(path);
	return 0;
}
