/* eshm-stat - show the shared-memory segments, their holders and their traffic, read-only. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_BYTES = CHAR_MAX + 1,
	OPT_NOHEADINGS,
	OPT_CHECK,
};

static const struct option longopts[] = {
	{"json", no_argument, NULL, 'j'},
	{"watch", optional_argument, NULL, 'w'},
	{"count", required_argument, NULL, 'n'},
	{"bytes", no_argument, NULL, OPT_BYTES},
	{"noheadings", no_argument, NULL, OPT_NOHEADINGS},
	{"check", no_argument, NULL, OPT_CHECK},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: %s [options] [NAME...]\n"
	       "Show the eshm segments in /dev/shm (or the named ones): who holds each\n"
	       "end of each channel, what is queued, and the traffic so far. Read-only:\n"
	       "it never claims, changes or waits for a segment.\n"
	       "\n"
	       "  -j, --json             one JSON document on one line (keys in eshm-stat(1))\n"
	       "  -w, --watch[=SECONDS]  refresh every SECONDS (default 1), with rates\n"
	       "  -n, --count N          with --watch: stop after N refreshes\n"
	       "      --bytes            exact byte counts instead of human units\n"
	       "      --noheadings       no heading line\n"
	       "      --check            print one line per problem (corrupt segment,\n"
	       "                         stale or dead holder, unfinished segment left\n"
	       "                         by a dead process) and exit 1 if any\n"
	       "  -h, --help             show this help and exit\n"
	       "  -V, --version          show the version and exit\n"
	       "\n"
	       "States: alive, stale (holder alive but its heartbeat is late: stopped,\n"
	       "hung or starved), dead (holder died without detaching; a writer that\n"
	       "failed or was interrupted looks the same: its stream is not ended), none.\n"
	       "Exit status: 0 success; 1 a named segment is missing or unreadable, or\n"
	       "--check found a problem; 2 usage error.\n",
	       cli_prog);
}

struct opts {
	bool json, bytes, noheadings, check;
	double watch; /* seconds, 0: no watching */
	uint64_t count;
	char **names;
	int nnames;
};

static void
parse(int argc, char **argv, struct opts *o)
{
	int c;
	while ((c = getopt_long(argc, argv, "jw::n:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'w':
			o->watch = 1;
			if (optarg) {
				int64_t ms = cli_duration_ms_arg("--watch", optarg);
				if (ms < 100)
					cli_usage_error("--watch interval must be at least 0.1 s");
				o->watch = (double)ms / 1000;
			}
			break;
		case 'n':
			o->count = cli_count_arg("--count", optarg, UINT64_MAX);
			if (!o->count)
				cli_usage_error("--count must be at least 1");
			break;
		case OPT_BYTES:
			o->bytes = true;
			break;
		case OPT_NOHEADINGS:
			o->noheadings = true;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		default:
			cli_other_option(c, usage);
		}
	}
	if (o->count && !o->watch)
		cli_usage_error("--count needs --watch");
	if (o->check && (o->watch || o->json))
		cli_usage_error("--check goes with neither --watch nor --json");
	cli_check_names(argc, argv);
	o->names = argv + optind;
	o->nnames = argc - optind;
}

/* One refresh: every segment we look at, and what we found. */
struct seg {
	struct eshm_info info;
	int err;           /* eshm_inspect failed: why */
	char what[256];
};

struct snap {
	struct seg *v;
	size_t n;
	int64_t when_ms;
	bool sweep;              /* no NAME given: leftovers too */
	struct eshm_leftover *lo; /* unfinished segments, in a sweep */
	size_t nlo;
};

static void
snap_free(struct snap *s)
{
	free(s->v);
	eshm_leftovers_free(s->lo);
	*s = (struct snap){0};
}

static void
take(const struct opts *o, struct snap *s)
{
	char **names = o->names, **listed = NULL;
	size_t n = (size_t)o->nnames;
	if (!o->nnames) {
		ssize_t k = eshm_list(&listed);
		if (k < 0)
			cli_die(EX_FAIL, "cannot list /dev/shm: %s", eshm_strerror((int)k));
		names = listed;
		n = (size_t)k;
	}
	s->v = calloc(n ? n : 1, sizeof *s->v);
	if (!s->v)
		cli_die(EX_FAIL, "out of memory");
	s->n = n;
	s->when_ms = cli_now_ms();
	for (size_t i = 0; i < n; i++) {
		struct eshm_error err;
		struct seg *g = &s->v[i];
		g->err = eshm_inspect(names[i], &g->info, &err);
		snprintf(g->info.name, sizeof g->info.name, "%s", names[i]);
		if (g->err)
			snprintf(g->what, sizeof g->what, "%s", cli_err_text(&err, g->err));
	}
	eshm_list_free(listed, listed ? n : 0);
	s->sweep = !o->nnames;
	if (s->sweep) {
		ssize_t k = eshm_leftovers(&s->lo);
		if (k < 0)
			cli_die(EX_FAIL, "cannot list /dev/shm: %s", eshm_strerror((int)k));
		s->nlo = (size_t)k;
	}
}

/* The file name of a leftover, which cannot be a segment's NAME. */
static const char *
lo_name(const struct eshm_leftover *lo)
{
	const char *slash = strrchr(lo->path, '/');
	return slash ? slash + 1 : lo->path;
}

static const struct seg *
find(const struct snap *s, const char *name)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i].info.name, name))
			return &s->v[i];
	return NULL;
}

static const char *
framing_name(int f)
{
	static const char *const n[] = {
		[ESHM_FRAMING_MESSAGE] = "message",
		[ESHM_FRAMING_LINE] = "line",
		[ESHM_FRAMING_NULL] = "null",
		[ESHM_FRAMING_RAW] = "raw",
	};
	return f >= 0 && f < 4 ? n[f] : "unknown";
}

static void
size_str(const struct opts *o, uint64_t v, char *buf, size_t len)
{
	if (o->bytes) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return;
	}
	/* compact: 512B, 1.5K, 12M */
	static const char units[] = "BKMGT";
	double d = (double)v;
	int u = 0;
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)v);
	else
		snprintf(buf, len, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
}

static void
count_str(const struct opts *o, uint64_t v, char *buf, size_t len)
{
	if (o->bytes || v < 10000) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return;
	}
	static const char units[] = " kMGT";
	double d = (double)v;
	int u = 0;
	while (d >= 1000 && u < 4) {
		d /= 1000;
		u++;
	}
	snprintf(buf, len, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
}

static void
age_str(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (ms < 120000)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else if (ms < 7200000)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms < 172800000)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else
		snprintf(buf, len, "%lldd", (long long)(ms / 86400000));
}

/* PID/STATE; a stale holder also shows how late its heartbeat is */
static void
holder_str(const struct eshm_end_info *e, char *buf, size_t len)
{
	if (e->state == ESHM_PEER_NONE) {
		snprintf(buf, len, "-");
		return;
	}
	snprintf(buf, len, "%d/%s", (int)e->pid, eshm_peer_state_name(e->state));
	if (e->state == ESHM_PEER_STALE) {
		size_t l = strlen(buf);
		buf[l++] = ':';
		age_str(e->heartbeat_age_ms, buf + l, len - l);
	}
}

static void
owner_str(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
}

static int64_t
age_ms(const struct eshm_info *i)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	/* created_ns comes from the segment: anything; subtract unsigned */
	if (i->created_ns <= 0 || i->created_ns > now)
		return 0;
	return (int64_t)((uint64_t)now - (uint64_t)i->created_ns) / 1000000;
}

static double
rate(uint64_t now, uint64_t before, double secs)
{
	return now >= before && secs > 0 ? (double)(now - before) / secs : 0;
}

static void
print_table(const struct opts *o, const struct snap *s, const struct snap *prev)
{
	double secs = prev ? (double)(s->when_ms - prev->when_ms) / 1000 : 0;
	bool rates = o->watch && prev;
	int nw = 4; /* the NAME column fits the longest name */
	for (size_t i = 0; i < s->n; i++) {
		int l = (int)strlen(s->v[i].info.name);
		nw = l > nw ? l : nw;
	}
	for (size_t i = 0; i < s->nlo; i++) {
		int l = (int)strlen(lo_name(&s->lo[i]));
		nw = l > nw ? l : nw;
	}
	if (!o->noheadings) {
		printf("%-*s %-3s %6s %4s %-8s %5s %-17s %-17s %13s %13s %13s %3s %5s", nw, "NAME", "CH",
		       "SIZE", "MODE", "OWNER", "AGE", "WRITER", "READER", "USED/CAP", "IN", "OUT",
		       "EOS", "WAITS");
		if (rates)
			printf(" %15s %15s", "IN/S", "OUT/S");
		putchar('\n');
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->v[i];
		const struct eshm_info *in = &g->info;
		if (g->err) {
			printf("%-*s %s\n", nw, in->name, g->what);
			continue;
		}
		char size[16], owner[32], age[16];
		size_str(o, in->size, size, sizeof size);
		owner_str(in->uid, owner, sizeof owner);
		age_str(in->valid ? age_ms(in) : -1, age, sizeof age);
		if (!in->valid) {
			printf("%-*s %-3s %6s %04o %-8s %5s INVALID: %s\n", nw, in->name, "-", size,
			       in->mode, owner, age, in->problem);
			continue;
		}
		const struct seg *pg = rates ? find(prev, in->name) : NULL;
		for (int ch = 0; ch < 2; ch++) {
			const struct eshm_channel_info *c = &in->chan[ch];
			char w[40], r[40], used[16], cap[16], uc[40], mi[16], bi[16], mo[16], bo[16],
				io[40], oo[40], waits[16];
			holder_str(&c->writer, w, sizeof w);
			holder_str(&c->reader, r, sizeof r);
			size_str(o, c->used, used, sizeof used);
			size_str(o, c->capacity, cap, sizeof cap);
			snprintf(uc, sizeof uc, "%s/%s", used, cap);
			count_str(o, c->msgs_in, mi, sizeof mi);
			size_str(o, c->bytes_in, bi, sizeof bi);
			count_str(o, c->msgs_out, mo, sizeof mo);
			size_str(o, c->bytes_out, bo, sizeof bo);
			snprintf(io, sizeof io, "%s/%s", mi, bi);
			snprintf(oo, sizeof oo, "%s/%s", mo, bo);
			count_str(o, c->waits_full, waits, sizeof waits);
			printf("%-*s %-3s %6s %04o %-8s %5s %-17s %-17s %13s %13s %13s %3s %5s",
			       nw, in->name, ch ? "s2m" : "m2s", size, in->mode, owner, age, w, r, uc, io,
			       oo, c->eos ? "yes" : "-", waits);
			if (rates) {
				const struct eshm_channel_info *p = pg && pg->info.valid ? &pg->info.chan[ch] : c;
				char a[16], b[16], ri[40], ro[40];
				count_str(o, (uint64_t)rate(c->msgs_in, p->msgs_in, secs), a, sizeof a);
				size_str(o, (uint64_t)rate(c->bytes_in, p->bytes_in, secs), b, sizeof b);
				snprintf(ri, sizeof ri, "%s/%s", a, b);
				count_str(o, (uint64_t)rate(c->msgs_out, p->msgs_out, secs), a, sizeof a);
				size_str(o, (uint64_t)rate(c->bytes_out, p->bytes_out, secs), b, sizeof b);
				snprintf(ro, sizeof ro, "%s/%s", a, b);
				printf(" %15s %15s", ri, ro);
			}
			putchar('\n');
		}
	}
	/* what killed creators left, and creations under way */
	for (size_t i = 0; i < s->nlo; i++) {
		const struct eshm_leftover *lo = &s->lo[i];
		char size[16], owner[32], age[16], state[160];
		size_str(o, lo->size, size, sizeof size);
		owner_str(lo->uid, owner, sizeof owner);
		age_str(lo->age_ms, age, sizeof age);
		if (lo->creator_alive > 0)
			snprintf(state, sizeof state, "being created by pid %d", (int)lo->creator_pid);
		else if (lo->creator_alive == 0)
			snprintf(state, sizeof state, "left by pid %d, which died; eshm-clean removes it",
				 (int)lo->creator_pid);
		else
			snprintf(state, sizeof state, "of pid %d, cannot tell if it lives: %s",
				 (int)lo->creator_pid, eshm_strerror(lo->error));
		printf("%-*s %-3s %6s %04o %-8s %5s UNFINISHED: %s\n", nw, lo_name(lo), "-", size,
		       lo->mode, owner, age, state);
	}
}

/* JSON strings here come from names ([A-Za-z0-9._-]) and our own messages,
 * but escape properly anyway. */
static void
json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
json_end(const struct eshm_end_info *e)
{
	printf("{\"state\": ");
	json_str(eshm_peer_state_name(e->state));
	printf(", \"pid\": %d, \"heartbeat_age_ms\": %lld, \"generation\": %llu, "
	       "\"stale_ms\": %u}",
	       (int)e->pid, (long long)e->heartbeat_age_ms, (unsigned long long)e->generation,
	       e->stale_ms);
}

static void
print_json(const struct snap *s, const struct snap *prev)
{
	double secs = prev ? (double)(s->when_ms - prev->when_ms) / 1000 : 0;
	printf("{\"version\": 1, \"segments\": [");
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->v[i];
		const struct eshm_info *in = &g->info;
		printf("%s{\"name\": ", i ? ", " : "");
		json_str(in->name);
		printf(", \"path\": \"/dev/shm/eshm_%s\"", in->name);
		if (g->err) {
			printf(", \"valid\": false, \"problem\": ");
			json_str(g->what);
			printf("}");
			continue;
		}
		char owner[32], group[32];
		owner_str(in->uid, owner, sizeof owner);
		struct group *gr = getgrgid(in->gid);
		if (gr)
			snprintf(group, sizeof group, "%s", gr->gr_name);
		else
			snprintf(group, sizeof group, "%u", (unsigned)in->gid);
		printf(", \"valid\": %s, \"problem\": ", in->valid ? "true" : "false");
		if (in->valid)
			printf("null");
		else
			json_str(in->problem);
		printf(", \"size\": %llu, \"mode\": \"%04o\", \"uid\": %u, \"user\": ",
		       (unsigned long long)in->size, in->mode, (unsigned)in->uid);
		json_str(owner);
		printf(", \"gid\": %u, \"group\": ", (unsigned)in->gid);
		json_str(group);
		if (!in->valid) {
			printf("}");
			continue;
		}
		printf(", \"created_ns\": %lld, \"age_ms\": %lld, \"idle_ms\": %lld, "
		       "\"creator_pid\": %d, \"keep\": %s, \"live\": %s, \"pending\": %s, "
		       "\"channels\": {",
		       (long long)in->created_ns, (long long)age_ms(in), (long long)in->idle_ms,
		       (int)in->creator_pid, in->keep ? "true" : "false", in->live ? "true" : "false",
		       in->pending ? "true" : "false");
		const struct seg *pg = prev ? find(prev, in->name) : NULL;
		for (int ch = 0; ch < 2; ch++) {
			const struct eshm_channel_info *c = &in->chan[ch];
			printf("%s\"%s\": {\"capacity\": %llu, \"used\": %llu, \"msgs_in\": %llu, "
			       "\"bytes_in\": %llu, \"msgs_out\": %llu, \"bytes_out\": %llu, "
			       "\"waits_full\": %llu, \"waits_empty\": %llu, \"wakes\": %llu, "
			       "\"framing\": \"%s\", \"eos\": %s, ",
			       ch ? ", " : "", ch ? "s2m" : "m2s", (unsigned long long)c->capacity,
			       (unsigned long long)c->used, (unsigned long long)c->msgs_in,
			       (unsigned long long)c->bytes_in, (unsigned long long)c->msgs_out,
			       (unsigned long long)c->bytes_out, (unsigned long long)c->waits_full,
			       (unsigned long long)c->waits_empty, (unsigned long long)c->wakes,
			       framing_name(c->framing), c->eos ? "true" : "false");
			if (pg && pg->info.valid) {
				const struct eshm_channel_info *p = &pg->info.chan[ch];
				printf("\"rates\": {\"msgs_in_per_s\": %.1f, \"bytes_in_per_s\": %.1f, "
				       "\"msgs_out_per_s\": %.1f, \"bytes_out_per_s\": %.1f}, ",
				       rate(c->msgs_in, p->msgs_in, secs), rate(c->bytes_in, p->bytes_in, secs),
				       rate(c->msgs_out, p->msgs_out, secs),
				       rate(c->bytes_out, p->bytes_out, secs));
			}
			printf("\"writer\": ");
			json_end(&c->writer);
			printf(", \"reader\": ");
			json_end(&c->reader);
			printf("}");
		}
		printf("}}");
	}
	printf("]");
	if (s->sweep) {
		printf(", \"leftovers\": [");
		for (size_t i = 0; i < s->nlo; i++) {
			const struct eshm_leftover *lo = &s->lo[i];
			char owner[32];
			owner_str(lo->uid, owner, sizeof owner);
			printf("%s{\"path\": ", i ? ", " : "");
			json_str(lo->path);
			printf(", \"creator_pid\": %d, \"creator_alive\": %s, \"size\": %llu, "
			       "\"mode\": \"%04o\", \"uid\": %u, \"user\": ",
			       (int)lo->creator_pid,
			       lo->creator_alive < 0 ? "null" : lo->creator_alive ? "true" : "false",
			       (unsigned long long)lo->size, lo->mode, (unsigned)lo->uid);
			json_str(owner);
			printf(", \"age_ms\": %lld, \"problem\": ", (long long)lo->age_ms);
			if (lo->error)
				json_str(eshm_strerror(lo->error));
			else
				printf("null");
			printf("}");
		}
		printf("]");
	}
	printf("}\n");
}

/* --check: one line per problem on stdout; the count of problems. In a
 * sweep, segments of other users that we may not read are skipped: a
 * monitoring job run as one user must not alarm over another's; so are
 * their unfinished segments whose creator we cannot judge. */
static int
check(const struct snap *s, bool named)
{
	int problems = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->v[i];
		const struct eshm_info *in = &g->info;
		if (g->err == -EACCES && !named)
			continue; /* another user's segment: not ours to judge */
		if (g->err) {
			printf("%s: %s\n", in->name, g->what);
			problems++;
			continue;
		}
		if (!in->valid) {
			printf("%s: %s\n", in->name, in->problem);
			problems++;
			continue;
		}
		for (int ch = 0; ch < 2; ch++) {
			const struct eshm_end_info *ends[2] = {&in->chan[ch].writer, &in->chan[ch].reader};
			for (int k = 0; k < 2; k++) {
				const struct eshm_end_info *e = ends[k];
				if (e->state == ESHM_PEER_DEAD && !k) {
					printf("%s: the writer of channel %s (pid %d) is lost: it died, "
					       "failed or was interrupted without ending its stream\n",
					       in->name, ch ? "s2m" : "m2s", (int)e->pid);
					problems++;
				} else if (e->state == ESHM_PEER_DEAD) {
					printf("%s: the reader of channel %s (pid %d) died without detaching\n",
					       in->name, ch ? "s2m" : "m2s", (int)e->pid);
					problems++;
				} else if (e->state == ESHM_PEER_STALE) {
					printf("%s: the %s of channel %s (pid %d) is stale: no heartbeat "
					       "for %lld ms (threshold %u ms)\n",
					       in->name, k ? "reader" : "writer", ch ? "s2m" : "m2s", (int)e->pid,
					       (long long)e->heartbeat_age_ms, e->stale_ms);
					problems++;
				}
			}
		}
	}
	for (size_t i = 0; i < s->nlo; i++) {
		const struct eshm_leftover *lo = &s->lo[i];
		if (lo->creator_alive != 0)
			continue; /* being created, or not ours to judge */
		char size[32];
		cli_human(lo->size, size, sizeof size);
		printf("%s: unfinished segment left by pid %d, which died (%s); "
		       "eshm-clean removes it\n",
		       lo->path, (int)lo->creator_pid, size);
		problems++;
	}
	return problems;
}

/* named segments that could not be inspected at all */
static int
unreadable(const struct snap *s)
{
	int n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->v[i].err != 0;
	return n;
}

static int
finish_stdout(int status)
{
	if (fflush(stdout) || ferror(stdout)) {
		if (errno == EPIPE)
			cli_reraise(SIGPIPE);
		cli_warn("cannot write standard output: %s", strerror(errno));
		return EX_FAIL;
	}
	return status;
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	cli_init("eshm-stat");
	parse(argc, argv, &o);
	cli_need_std(STDOUT_FILENO);
	cli_signals();

	struct snap cur = {0}, prev = {0};
	if (!o.watch) {
		take(&o, &cur);
		int status = EX_OK;
		if (o.check)
			status = check(&cur, o.nnames > 0) ? EX_FAIL : EX_OK;
		else if (o.json)
			print_json(&cur, NULL);
		else
			print_table(&o, &cur, NULL);
		/* a named segment that could not be read is a failure */
		if (o.nnames && unreadable(&cur))
			status = EX_FAIL;
		snap_free(&cur);
		return finish_stdout(status);
	}

	bool tty = isatty(STDOUT_FILENO) && !o.json;
	for (uint64_t round = 0; !o.count || round < o.count; round++) {
		if (round) {
			struct timespec ts = {(time_t)o.watch, (long)((o.watch - (double)(time_t)o.watch) * 1e9)};
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !cli_signal)
				;
			if (cli_signal)
				break;
		}
		take(&o, &cur);
		if (tty) {
			/* redraw in place, as watch(1) does */
			char when[64];
			time_t t = time(NULL);
			strftime(when, sizeof when, "%H:%M:%S", localtime(&t));
			printf("\033[H\033[2J%s every %.1fs: %s\n\n", cli_prog, o.watch, when);
		}
		if (o.json)
			print_json(&cur, round ? &prev : NULL);
		else
			print_table(&o, &cur, round ? &prev : NULL);
		if (!tty && !o.json)
			putchar('\n');
		if (fflush(stdout)) {
			if (errno == EPIPE)
				cli_reraise(SIGPIPE);
			cli_die(EX_FAIL, "cannot write standard output: %s", strerror(errno));
		}
		snap_free(&prev);
		prev = cur;
		cur = (struct snap){0};
	}
	snap_free(&prev);
	cli_reraise(cli_signal);
	return finish_stdout(EX_OK);
}
