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
	OPT_BRIEF,
	OPT_MAX_AGE,
	OPT_MAX_PENDING,
	OPT_MAX_IDLE,
	OPT_MAX_FILL,
	OPT_OPENMETRICS,
};

static const struct option longopts[] = {
	{"json", no_argument, NULL, 'j'},
	{"watch", optional_argument, NULL, 'w'},
	{"count", required_argument, NULL, 'n'},
	{"bytes", no_argument, NULL, OPT_BYTES},
	{"noheadings", no_argument, NULL, OPT_NOHEADINGS},
	{"check", no_argument, NULL, OPT_CHECK},
	{"brief", no_argument, NULL, OPT_BRIEF},
	{"max-age", required_argument, NULL, OPT_MAX_AGE},
	{"max-pending", required_argument, NULL, OPT_MAX_PENDING},
	{"max-idle", required_argument, NULL, OPT_MAX_IDLE},
	{"max-fill", required_argument, NULL, OPT_MAX_FILL},
	{"openmetrics", no_argument, NULL, OPT_OPENMETRICS},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: %s [options] [NAME...]\n"
	       "       %s [-w[SECONDS]] [-n N] [--bytes] --brief NAME\n"
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
	       "      --max-age DURATION  --check also that no group's oldest message\n"
	       "                         waited longer (e.g. 5m)\n"
	       "      --max-pending N|SIZE  --check also that no group has more than N\n"
	       "                         messages (a number) or SIZE bytes (with a\n"
	       "                         unit: 100B, 64K, 1M) waiting\n"
	       "      --max-idle DURATION  --check also that no group has had messages\n"
	       "                         waiting with none released for longer\n"
	       "      --max-fill PCT     --check also that no channel's ring is more\n"
	       "                         than PCT percent full (0 to 100)\n"
	       "      --brief            one line for segment NAME (a line per refresh\n"
	       "                         with --watch): the rates, use and oldest\n"
	       "                         message of each channel in use\n"
	       "      --openmetrics      the gauges and counters of the segments in the\n"
	       "                         text format of Prometheus, for node_exporter's\n"
	       "                         textfile collector (metrics in eshm-stat(1))\n"
	       "  -h, --help             show this help and exit\n"
	       "  -V, --version          show the version and exit\n"
	       "\n"
	       "States: alive, stale (holder alive but its heartbeat is late: stopped,\n"
	       "hung or starved), dead (holder died without detaching; a writer that\n"
	       "failed or was interrupted looks the same: its stream is not ended), none.\n"
	       "Exit status: 0 success; 1 a named segment is missing or unreadable, or\n"
	       "--check found a problem; 2 usage error.\n",
	       cli_prog, cli_prog);
}

/* --check's thresholds: -1 (or UINT64_MAX) when not given */
struct limits {
	int64_t age_ms, idle_ms;
	uint64_t msgs, bytes;
	int fill_pct;
};

struct opts {
	bool json, bytes, noheadings, check, brief, openmetrics;
	struct limits max;
	double watch; /* seconds, 0: no watching */
	uint64_t count;
	char **names;
	int nnames;
};

static void
parse(int argc, char **argv, struct opts *o)
{
	int c;
	o->max = (struct limits){-1, -1, UINT64_MAX, UINT64_MAX, -1};
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
		case OPT_BRIEF:
			o->brief = true;
			break;
		case OPT_MAX_AGE:
			o->max.age_ms = cli_duration_ms_arg("--max-age", optarg);
			o->check = true;
			break;
		case OPT_MAX_IDLE:
			o->max.idle_ms = cli_duration_ms_arg("--max-idle", optarg);
			o->check = true;
			break;
		case OPT_MAX_PENDING:
			/* a bare number counts messages; one with a unit, bytes */
			if (optarg[0] && optarg[strspn(optarg, "0123456789")] == '\0')
				o->max.msgs =
					cli_count_arg("--max-pending", optarg, UINT64_MAX - 1);
			else
				o->max.bytes = cli_size_arg("--max-pending", optarg);
			o->check = true;
			break;
		case OPT_MAX_FILL: {
			char pct[32];
			size_t l = strlen(optarg);
			snprintf(pct, sizeof pct, "%.*s",
				 (int)(l && optarg[l - 1] == '%' ? l - 1 : l), optarg);
			o->max.fill_pct = (int)cli_count_arg("--max-fill", pct, 100);
			o->check = true;
			break;
		}
		case OPT_OPENMETRICS:
			o->openmetrics = true;
			break;
		default:
			cli_other_option(c, usage);
		}
	}
	if (o->count && !o->watch)
		cli_usage_error("--count needs --watch");
	if (o->check && (o->watch || o->json))
		cli_usage_error(
			"--check (or a --max- threshold) goes with neither --watch nor --json");
	if (o->brief && (o->json || o->check))
		cli_usage_error("--brief goes with neither --json nor --check");
	if (o->openmetrics && (o->json || o->watch || o->check || o->brief))
		cli_usage_error("--openmetrics goes with no --json, --watch, --check or --brief");
	cli_check_names(argc, argv);
	o->names = argv + optind;
	o->nnames = argc - optind;
	if (o->brief && o->nnames != 1)
		cli_usage_error("--brief needs exactly one NAME (%d given)", o->nnames);
}

/* One refresh: every segment we look at, and what we found. */
struct seg {
	struct eshm_info info;
	int err; /* eshm_inspect failed: why */
	char what[256];
};

struct snap {
	struct seg *v;
	size_t n;
	int64_t when_ms;
	bool sweep;               /* no NAME given: leftovers too */
	struct eshm_leftover *lo; /* unfinished segments and dead pollers'
				   * descriptors, in a sweep */
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
		/* a live poller's descriptor is no leftover, only a dead one's */
		s->nlo = 0;
		for (ssize_t i = 0; i < k; i++)
			if (s->lo[i].creator_alive <= 0 ||
			    !strstr(s->lo[i].path, "/" ESHM_POLL_PREFIX))
				s->lo[s->nlo++] = s->lo[i];
	}
}

static const struct seg *
find(const struct snap *s, const char *name)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!strcmp(s->v[i].info.name, name))
			return &s->v[i];
	return NULL;
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

static const char *
owner_str(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
	return buf;
}

static const char *
group_str(gid_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);
	if (gr)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned)gid);
	return buf;
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

/* What a consumer group released so far, which the segment does not
 * count: what writers committed less what the group has not released.
 * Writers publish their counts with their heartbeat, while the backlog is
 * read from the ring: this may lag by a heartbeat's messages, or even
 * fall below zero (then 0). */
static uint64_t
released(uint64_t in, uint64_t backlog)
{
	return in > backlog ? in - backlog : 0;
}

static const char *
chan_name(int ch)
{
	return ch ? "s2m" : "m2s";
}

/*
 * The fields. Everything eshm-stat shows is a field of one of the objects
 * of the JSON document (a segment, a channel, its rates, an end, a
 * consumer group, its rates, an unfinished segment), listed once in
 * fields[] below with its JSON key, when it is present, and how the table
 * shows it; value() reads it. The JSON document gives every field of an
 * object in the order of enum fid; the table shows those that columns[]
 * names. python/eshm.py gives the same keys (tests/70-python.bats
 * checks), and eshm-stat(1) documents them.
 */
enum fid {
	F_NONE,
	/* a segment */
	F_NAME,
	F_PATH,
	F_VALID,
	F_PROBLEM,
	F_SIZE,
	F_MODE,
	F_UID,
	F_USER,
	F_GID,
	F_GROUP,
	F_CREATED_NS,
	F_AGE_MS,
	F_IDLE_MS,
	F_CREATOR_PID,
	F_KEEP,
	F_LIVE,
	F_PENDING,
	F_CHANNELS,
	/* a channel, under its name */
	F_CH,
	F_CAPACITY,
	F_USED,
	F_MSGS_IN,
	F_BYTES_IN,
	F_MSGS_OUT,
	F_BYTES_OUT,
	F_WAITS_FULL,
	F_WAITS_EMPTY,
	F_WAKES,
	F_OLDEST_AGE_MS,
	F_FRAMING,
	F_EOS,
	F_RATES,
	F_WRITER,
	F_READER,
	F_WRITERS,
	F_READERS,
	F_GROUPS,
	F_TAPS,
	/* its rates since the previous refresh */
	F_MSGS_IN_PER_S,
	F_BYTES_IN_PER_S,
	F_MSGS_OUT_PER_S,
	F_BYTES_OUT_PER_S,
	/* an end of a channel */
	F_STATE,
	F_PID,
	F_HEARTBEAT_AGE_MS,
	F_GENERATION,
	F_STALE_MS,
	F_EXCLUSIVE,
	F_CLAIMED,
	F_END_GROUP,
	F_HELD,
	/* a consumer group of a channel */
	F_G_NAME,
	F_G_LIVE,
	F_G_DEAD,
	F_G_BACKLOG_MSGS,
	F_G_BACKLOG_BYTES,
	F_G_HELD_BYTES,
	F_G_RETURNED,
	F_G_CREATED_NS,
	F_G_OLDEST_AGE_MS,
	F_G_IDLE_MS,
	F_G_RATES,
	/* its rates since the previous refresh */
	F_G_MSGS_OUT_PER_S,
	F_G_BYTES_OUT_PER_S,
	F_T_PID,
	F_T_STATE,
	F_T_HEARTBEAT_AGE_MS,
	F_T_MISSED_MSGS,
	F_T_MISSED_BYTES,
	F_T_BEHIND_BYTES,
	/* an unfinished segment */
	F_LO_PATH,
	F_LO_CREATOR_PID,
	F_LO_CREATOR_ALIVE,
	F_LO_SIZE,
	F_LO_MODE,
	F_LO_UID,
	F_LO_USER,
	F_LO_AGE_MS,
	F_LO_PROBLEM,
	NFIELDS
};

/* The object a field belongs to (0: none). */
enum level { L_SEG = 1, L_CHAN, L_RATES, L_END, L_GRP, L_GRATES, L_TAP, L_LO };

/* When a field is present: the JSON document leaves it out otherwise, the
 * table shows '-'. */
enum when {
	ALWAYS,
	READABLE,      /* the segment's file could be read */
	VALID,         /* it is a usable segment */
	WATCHED,       /* with --watch, after a refresh where the segment was valid */
	IN_LIST,       /* an end in the list of readers */
	GROUP_WATCHED, /* WATCHED, and the group was there at that refresh */
};

/* How the table shows a field (0: it does not). */
enum unit {
	U_TEXT = 1,
	U_FILE,   /* a path's last component */
	U_SIZE,   /* 1.5K, or bytes with --bytes */
	U_COUNT,  /* 12k, or exact with --bytes */
	U_AGE,    /* 250ms, 3s, 2h */
	U_MODE,   /* 0600 */
	U_YES,    /* yes, or '-' */
	U_HOLDER, /* an end: PID/STATE[:heartbeat age] */
};

static const struct field {
	enum level level;
	const char *key; /* JSON key; NULL: the table's only */
	enum when when;
	enum level sub; /* an object of the fields of this level */
	enum unit unit;
	enum fid also; /* the table shows "this/also" in one column */
} fields[NFIELDS] = {
	[F_NAME] = {L_SEG, "name", ALWAYS, .unit = U_TEXT},
	[F_PATH] = {L_SEG, "path", ALWAYS},
	[F_VALID] = {L_SEG, "valid", ALWAYS},
	[F_PROBLEM] = {L_SEG, "problem", ALWAYS},
	[F_SIZE] = {L_SEG, "size", READABLE, .unit = U_SIZE},
	[F_MODE] = {L_SEG, "mode", READABLE, .unit = U_MODE},
	[F_UID] = {L_SEG, "uid", READABLE},
	[F_USER] = {L_SEG, "user", READABLE, .unit = U_TEXT},
	[F_GID] = {L_SEG, "gid", READABLE},
	[F_GROUP] = {L_SEG, "group", READABLE},
	[F_CREATED_NS] = {L_SEG, "created_ns", VALID},
	[F_AGE_MS] = {L_SEG, "age_ms", VALID, .unit = U_AGE},
	[F_IDLE_MS] = {L_SEG, "idle_ms", VALID},
	[F_CREATOR_PID] = {L_SEG, "creator_pid", VALID},
	[F_KEEP] = {L_SEG, "keep", VALID},
	[F_LIVE] = {L_SEG, "live", VALID},
	[F_PENDING] = {L_SEG, "pending", VALID},
	[F_CHANNELS] = {L_SEG, "channels", VALID, .sub = L_CHAN},

	[F_CH] = {L_CHAN, NULL, ALWAYS, .unit = U_TEXT},
	[F_CAPACITY] = {L_CHAN, "capacity", ALWAYS, .unit = U_SIZE},
	[F_USED] = {L_CHAN, "used", ALWAYS, .unit = U_SIZE, .also = F_CAPACITY},
	[F_MSGS_IN] = {L_CHAN, "msgs_in", ALWAYS, .unit = U_COUNT, .also = F_BYTES_IN},
	[F_BYTES_IN] = {L_CHAN, "bytes_in", ALWAYS, .unit = U_SIZE},
	[F_MSGS_OUT] = {L_CHAN, "msgs_out", ALWAYS, .unit = U_COUNT, .also = F_BYTES_OUT},
	[F_BYTES_OUT] = {L_CHAN, "bytes_out", ALWAYS, .unit = U_SIZE},
	[F_WAITS_FULL] = {L_CHAN, "waits_full", ALWAYS, .unit = U_COUNT},
	[F_WAITS_EMPTY] = {L_CHAN, "waits_empty", ALWAYS},
	[F_WAKES] = {L_CHAN, "wakes", ALWAYS},
	[F_OLDEST_AGE_MS] = {L_CHAN, "oldest_age_ms", ALWAYS, .unit = U_AGE},
	[F_FRAMING] = {L_CHAN, "framing", ALWAYS},
	[F_EOS] = {L_CHAN, "eos", ALWAYS, .unit = U_YES},
	[F_RATES] = {L_CHAN, "rates", WATCHED, .sub = L_RATES},
	[F_WRITER] = {L_CHAN, "writer", ALWAYS, .sub = L_END, .unit = U_HOLDER},
	[F_READER] = {L_CHAN, "reader", ALWAYS, .sub = L_END, .unit = U_HOLDER},
	/* every writer slot held, live or dead, in slot order: a list */
	[F_WRITERS] = {L_CHAN, "writers", ALWAYS, .sub = L_END},
	/* every reader slot held, live or dead, with its group: a list */
	[F_READERS] = {L_CHAN, "readers", ALWAYS, .sub = L_END},
	/* the consumer groups, in slot order: a list */
	[F_GROUPS] = {L_CHAN, "groups", ALWAYS, .sub = L_GRP},
	/* the taps, live or dead, in slot order: a list */
	[F_TAPS] = {L_CHAN, "taps", ALWAYS, .sub = L_TAP},

	[F_MSGS_IN_PER_S] = {L_RATES, "msgs_in_per_s", ALWAYS, .unit = U_COUNT,
			     .also = F_BYTES_IN_PER_S},
	[F_BYTES_IN_PER_S] = {L_RATES, "bytes_in_per_s", ALWAYS, .unit = U_SIZE},
	[F_MSGS_OUT_PER_S] = {L_RATES, "msgs_out_per_s", ALWAYS, .unit = U_COUNT,
			      .also = F_BYTES_OUT_PER_S},
	[F_BYTES_OUT_PER_S] = {L_RATES, "bytes_out_per_s", ALWAYS, .unit = U_SIZE},

	[F_STATE] = {L_END, "state", ALWAYS},
	[F_PID] = {L_END, "pid", ALWAYS},
	[F_HEARTBEAT_AGE_MS] = {L_END, "heartbeat_age_ms", ALWAYS},
	[F_GENERATION] = {L_END, "generation", ALWAYS},
	[F_STALE_MS] = {L_END, "stale_ms", ALWAYS},
	[F_EXCLUSIVE] = {L_END, "exclusive", ALWAYS},
	[F_CLAIMED] = {L_END, "claimed", ALWAYS},
	[F_END_GROUP] = {L_END, "group", IN_LIST},
	[F_HELD] = {L_END, "held", IN_LIST},

	[F_G_NAME] = {L_GRP, "name", ALWAYS},
	[F_G_LIVE] = {L_GRP, "live", ALWAYS},
	[F_G_DEAD] = {L_GRP, "dead", ALWAYS},
	[F_G_BACKLOG_MSGS] = {L_GRP, "backlog_msgs", ALWAYS},
	[F_G_BACKLOG_BYTES] = {L_GRP, "backlog_bytes", ALWAYS},
	[F_G_HELD_BYTES] = {L_GRP, "held_bytes", ALWAYS},
	[F_G_RETURNED] = {L_GRP, "returned", ALWAYS},
	[F_G_CREATED_NS] = {L_GRP, "created_ns", ALWAYS},
	[F_G_OLDEST_AGE_MS] = {L_GRP, "oldest_age_ms", ALWAYS},
	[F_G_IDLE_MS] = {L_GRP, "idle_ms", ALWAYS},
	[F_G_RATES] = {L_GRP, "rates", GROUP_WATCHED, .sub = L_GRATES},

	/* released: msgs_in less the backlog; see released() */
	[F_G_MSGS_OUT_PER_S] = {L_GRATES, "msgs_out_per_s", ALWAYS, .unit = U_COUNT},
	[F_G_BYTES_OUT_PER_S] = {L_GRATES, "bytes_out_per_s", ALWAYS, .unit = U_SIZE},

	[F_T_PID] = {L_TAP, "pid", ALWAYS},
	[F_T_STATE] = {L_TAP, "state", ALWAYS},
	[F_T_HEARTBEAT_AGE_MS] = {L_TAP, "heartbeat_age_ms", ALWAYS},
	[F_T_MISSED_MSGS] = {L_TAP, "missed_msgs", ALWAYS},
	[F_T_MISSED_BYTES] = {L_TAP, "missed_bytes", ALWAYS},
	[F_T_BEHIND_BYTES] = {L_TAP, "behind_bytes", ALWAYS},

	[F_LO_PATH] = {L_LO, "path", ALWAYS, .unit = U_FILE},
	[F_LO_CREATOR_PID] = {L_LO, "creator_pid", ALWAYS},
	[F_LO_CREATOR_ALIVE] = {L_LO, "creator_alive", ALWAYS},
	[F_LO_SIZE] = {L_LO, "size", ALWAYS, .unit = U_SIZE},
	[F_LO_MODE] = {L_LO, "mode", ALWAYS, .unit = U_MODE},
	[F_LO_UID] = {L_LO, "uid", ALWAYS},
	[F_LO_USER] = {L_LO, "user", ALWAYS, .unit = U_TEXT},
	[F_LO_AGE_MS] = {L_LO, "age_ms", ALWAYS, .unit = U_AGE},
	[F_LO_PROBLEM] = {L_LO, "problem", ALWAYS},
};

/* The table's columns, in order, as lsipc's: a heading, a width (negative:
 * flush left; 0: as wide as the longest name), and the field shown in a
 * segment's rows and in an unfinished segment's. */
enum {
	C_NAME,
	C_CH,
	C_SIZE,
	C_MODE,
	C_OWNER,
	C_AGE,
	C_WRITER,
	C_READER,
	C_USED,
	C_OLDEST,
	C_IN,
	C_OUT,
	C_EOS,
	C_WAITS,
	C_IN_RATE,
	C_OUT_RATE,
	NCOLUMNS
};
static const struct column {
	const char *head;
	int width;
	enum fid seg, lo;
} columns[NCOLUMNS] = {
	[C_NAME] = {"NAME", 0, F_NAME, F_LO_PATH},
	[C_CH] = {"CH", -3, F_CH, F_NONE},
	[C_SIZE] = {"SIZE", 6, F_SIZE, F_LO_SIZE},
	[C_MODE] = {"MODE", 4, F_MODE, F_LO_MODE},
	[C_OWNER] = {"OWNER", -8, F_USER, F_LO_USER},
	[C_AGE] = {"AGE", 5, F_AGE_MS, F_LO_AGE_MS},
	[C_WRITER] = {"WRITER", -17, F_WRITER},
	[C_READER] = {"READER", -17, F_READER},
	[C_USED] = {"USED/CAP", 13, F_USED},
	[C_OLDEST] = {"OLDEST", 6, F_OLDEST_AGE_MS},
	[C_IN] = {"IN", 13, F_MSGS_IN},
	[C_OUT] = {"OUT", 13, F_MSGS_OUT},
	[C_EOS] = {"EOS", 3, F_EOS},
	[C_WAITS] = {"WAITS", 5, F_WAITS_FULL},
	/* with --watch, from the second refresh on */
	[C_IN_RATE] = {"IN/S", 15, F_MSGS_IN_PER_S},
	[C_OUT_RATE] = {"OUT/S", 15, F_MSGS_OUT_PER_S},
};
/* A row without channels (a segment that is not valid, an unfinished
 * segment) has the columns up to AGE, then a note. */
#define FILE_COLUMNS (C_AGE + 1)

/* Where fields are read: a segment, one of its channels and an end of it;
 * or an unfinished segment. */
struct at {
	const struct seg *g;
	int ch;               /* the channel, or -1 */
	const struct seg *pg; /* the segment at the previous refresh, if valid then */
	double secs;          /* since the previous refresh */
	const struct eshm_end_info *end;
	bool listed; /* end is one of the readers' list */
	const struct eshm_group_info *grp;
	const struct eshm_group_info *pgrp; /* grp at the previous refresh, if there */
	const struct eshm_tap_info *tap;
	const struct eshm_leftover *lo;
};

/* A field's value, typed as the JSON document writes it. */
struct val {
	enum { V_NULL, V_STR, V_BOOL, V_INT, V_UINT, V_MODE, V_RATE } t;
	const char *s;
	int64_t i;  /* V_BOOL, V_INT */
	uint64_t u; /* V_UINT, V_MODE */
	double d;   /* V_RATE */
};

static struct val
vstr(const char *s)
{
	return s ? (struct val){.t = V_STR, .s = s} : (struct val){.t = V_NULL};
}

static struct val
vbool(int b)
{
	return (struct val){.t = V_BOOL, .i = b != 0};
}

static struct val
vint(int64_t i)
{
	return (struct val){.t = V_INT, .i = i};
}

static struct val
vuint(uint64_t u)
{
	return (struct val){.t = V_UINT, .u = u};
}

static struct val
vmode(unsigned mode)
{
	return (struct val){.t = V_MODE, .u = mode};
}

static struct val
vrate(uint64_t now, uint64_t before, double secs)
{
	return (struct val){.t = V_RATE, .d = rate(now, before, secs)};
}

/* The value of field f at a; strings made here go into buf. */
static struct val
value(enum fid f, const struct at *a, char *buf, size_t len)
{
	const struct eshm_info *in = a->g ? &a->g->info : NULL;
	const struct eshm_channel_info *c = a->ch >= 0 ? &in->chan[a->ch] : NULL;
	/* rates: since the previous refresh, or none if the segment is new */
	const struct eshm_channel_info *p = a->pg && c ? &a->pg->info.chan[a->ch] : c;
	const struct eshm_end_info *e = a->end;
	const struct eshm_leftover *lo = a->lo;
	switch (f) {
	case F_NAME:
		return vstr(in->name);
	case F_PATH:
		/* never null: NAMEs given were checked, eshm_list gives valid ones */
		return vstr(eshm_segment_path(in->name, buf, len) ? NULL : buf);
	case F_VALID:
		return vbool(!a->g->err && in->valid);
	case F_PROBLEM:
		return vstr(a->g->err ? a->g->what : in->valid ? NULL : in->problem);
	case F_SIZE:
		return vuint(in->size);
	case F_MODE:
		return vmode(in->mode);
	case F_UID:
		return vuint(in->uid);
	case F_USER:
		return vstr(owner_str(in->uid, buf, len));
	case F_GID:
		return vuint(in->gid);
	case F_GROUP:
		return vstr(group_str(in->gid, buf, len));
	case F_CREATED_NS:
		return vint(in->created_ns);
	case F_AGE_MS:
		return vint(age_ms(in));
	case F_IDLE_MS:
		return vint(in->idle_ms);
	case F_CREATOR_PID:
		return vint(in->creator_pid);
	case F_KEEP:
		return vbool(in->keep);
	case F_LIVE:
		return vbool(in->live);
	case F_PENDING:
		return vbool(in->pending);
	case F_CH:
		return vstr(chan_name(a->ch));
	case F_CAPACITY:
		return vuint(c->capacity);
	case F_USED:
		return vuint(c->used);
	case F_MSGS_IN:
		return vuint(c->msgs_in);
	case F_BYTES_IN:
		return vuint(c->bytes_in);
	case F_MSGS_OUT:
		return vuint(c->msgs_out);
	case F_BYTES_OUT:
		return vuint(c->bytes_out);
	case F_WAITS_FULL:
		return vuint(c->waits_full);
	case F_WAITS_EMPTY:
		return vuint(c->waits_empty);
	case F_WAKES:
		return vuint(c->wakes);
	case F_OLDEST_AGE_MS:
		return vint(c->oldest_age_ms);
	case F_FRAMING: {
		const char *name = eshm_framing_name(c->framing);
		return vstr(name ? name : "unknown");
	}
	case F_EOS:
		return vbool(c->eos);
	case F_MSGS_IN_PER_S:
		return vrate(c->msgs_in, p->msgs_in, a->secs);
	case F_BYTES_IN_PER_S:
		return vrate(c->bytes_in, p->bytes_in, a->secs);
	case F_MSGS_OUT_PER_S:
		return vrate(c->msgs_out, p->msgs_out, a->secs);
	case F_BYTES_OUT_PER_S:
		return vrate(c->bytes_out, p->bytes_out, a->secs);
	case F_STATE:
		return vstr(eshm_peer_state_name(e->state));
	case F_PID:
		return vint(e->pid);
	case F_HEARTBEAT_AGE_MS:
		return vint(e->heartbeat_age_ms);
	case F_GENERATION:
		return vuint(e->generation);
	case F_STALE_MS:
		return vuint(e->stale_ms);
	case F_EXCLUSIVE:
		return vbool(e->exclusive);
	case F_CLAIMED:
		return vuint(e->claimed);
	case F_END_GROUP:
		return vstr(e->group >= 0 && e->group < c->ngroups ? c->groups[e->group].name
								   : NULL);
	case F_HELD:
		return vuint(e->held);
	case F_G_NAME:
		return vstr(a->grp->name);
	case F_G_LIVE:
		return vint(a->grp->live);
	case F_G_DEAD:
		return vint(a->grp->dead);
	case F_G_BACKLOG_MSGS:
		return vuint(a->grp->backlog_msgs);
	case F_G_BACKLOG_BYTES:
		return vuint(a->grp->backlog_bytes);
	case F_G_HELD_BYTES:
		return vuint(a->grp->held_bytes);
	case F_G_RETURNED:
		return vint(a->grp->returned);
	case F_G_CREATED_NS:
		return vint(a->grp->created_ns);
	case F_G_OLDEST_AGE_MS:
		return vint(a->grp->oldest_age_ms);
	case F_G_IDLE_MS:
		return vint(a->grp->idle_ms);
	case F_G_MSGS_OUT_PER_S:
		return vrate(released(c->msgs_in, a->grp->backlog_msgs),
			     released(p->msgs_in, a->pgrp->backlog_msgs), a->secs);
	case F_G_BYTES_OUT_PER_S:
		return vrate(released(c->bytes_in, a->grp->backlog_bytes),
			     released(p->bytes_in, a->pgrp->backlog_bytes), a->secs);
	case F_T_PID:
		return vint(a->tap->end.pid);
	case F_T_STATE:
		return vstr(eshm_peer_state_name(a->tap->end.state));
	case F_T_HEARTBEAT_AGE_MS:
		return vint(a->tap->end.heartbeat_age_ms);
	case F_T_MISSED_MSGS:
		return vuint(a->tap->missed_msgs);
	case F_T_MISSED_BYTES:
		return vuint(a->tap->missed_bytes);
	case F_T_BEHIND_BYTES:
		return vuint(a->tap->behind_bytes);
	case F_LO_PATH:
		return vstr(lo->path);
	case F_LO_CREATOR_PID:
		return vint(lo->creator_pid);
	case F_LO_CREATOR_ALIVE:
		return lo->creator_alive < 0 ? vstr(NULL) : vbool(lo->creator_alive);
	case F_LO_SIZE:
		return vuint(lo->size);
	case F_LO_MODE:
		return vmode(lo->mode);
	case F_LO_UID:
		return vuint(lo->uid);
	case F_LO_USER:
		return vstr(owner_str(lo->uid, buf, len));
	case F_LO_AGE_MS:
		return vint(lo->age_ms);
	case F_LO_PROBLEM:
		return vstr(lo->error ? eshm_strerror(lo->error) : NULL);
	case F_NONE: /* objects, and no field: no value of their own */
	case F_CHANNELS:
	case F_RATES:
	case F_WRITER:
	case F_READER:
	case F_WRITERS:
	case F_READERS:
	case F_GROUPS:
	case F_G_RATES:
	case F_TAPS:
	case NFIELDS:
		break;
	}
	return vstr(NULL);
}

/* Whether field f is there at a. */
static bool
present(enum fid f, const struct at *a)
{
	const struct field *d = &fields[f];
	switch (d->level) {
	case L_SEG:
		if (!a->g)
			return false;
		break;
	case L_CHAN:
	case L_RATES:
		if (a->ch < 0)
			return false;
		break;
	case L_END:
		if (!a->end)
			return false;
		break;
	case L_GRP:
	case L_GRATES:
		if (!a->grp)
			return false;
		break;
	case L_TAP:
		if (!a->tap)
			return false;
		break;
	case L_LO:
		if (!a->lo)
			return false;
		break;
	default:
		return false;
	}
	switch (d->when) {
	case ALWAYS:
		return true;
	case READABLE:
		return !a->g->err;
	case VALID:
		return !a->g->err && a->g->info.valid;
	case WATCHED:
		return a->pg != NULL;
	case IN_LIST:
		return a->listed;
	case GROUP_WATCHED:
		return a->pgrp != NULL;
	}
	return false;
}

/* Where the object field f is read. */
static struct at
enter(enum fid f, const struct at *a)
{
	struct at in = *a;
	if (f == F_WRITER)
		in.end = &a->g->info.chan[a->ch].writer;
	else if (f == F_READER)
		in.end = &a->g->info.chan[a->ch].reader;
	return in;
}

/* Group gi of the channel at a as it was at the previous refresh, if it
 * was there: the same name, and not removed and made again since. */
static const struct eshm_group_info *
prev_group(const struct at *a, const struct eshm_group_info *gi)
{
	if (!a->pg)
		return NULL;
	const struct eshm_channel_info *p = &a->pg->info.chan[a->ch];
	for (int k = 0; k < p->ngroups; k++)
		if (!strcmp(p->groups[k].name, gi->name) &&
		    p->groups[k].created_ns == gi->created_ns)
			return &p->groups[k];
	return NULL;
}

/* The file name of a leftover, which cannot be a segment's NAME. */
static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Field f at a as the table shows it, into out. */
static void
cell(const struct opts *o, enum fid f, const struct at *a, char *out, size_t len)
{
	const struct field *d = &fields[f];
	char buf[256];
	if (f == F_NONE || !present(f, a)) {
		snprintf(out, len, "-");
		return;
	}
	struct val v = value(f, a, buf, sizeof buf);
	/* a rate is shown as a whole number */
	uint64_t n = v.t == V_RATE ? (uint64_t)v.d : v.u;
	switch (d->unit) {
	case U_TEXT:
		snprintf(out, len, "%s", v.s ? v.s : "-");
		break;
	case U_FILE:
		snprintf(out, len, "%s", base_name(v.s));
		break;
	case U_SIZE:
		size_str(o, n, out, len);
		break;
	case U_COUNT:
		count_str(o, n, out, len);
		break;
	case U_AGE:
		age_str(v.i, out, len);
		break;
	case U_MODE:
		snprintf(out, len, "%04o", (unsigned)v.u);
		break;
	case U_YES:
		snprintf(out, len, "%s", v.i ? "yes" : "-");
		break;
	case U_HOLDER: {
		struct at in = enter(f, a);
		holder_str(in.end, out, len);
		break;
	}
	default:
		snprintf(out, len, "?");
	}
	size_t l = strlen(out);
	if (d->also && l + 1 < len) {
		out[l++] = '/';
		cell(o, d->also, a, out + l, len - l);
	}
}

/* Rate f of the rates object obj at a, as a line shows it: "12k/s",
 * "1.5M/s", or "-/s" before a refresh with the object. */
static void
rate_str(const struct opts *o, enum fid obj, enum fid f, const struct at *a, char *out, size_t len)
{
	char buf[8];
	if (!present(obj, a))
		snprintf(out, len, "-");
	else if (fields[f].unit == U_SIZE)
		size_str(o, (uint64_t)value(f, a, buf, sizeof buf).d, out, len);
	else
		count_str(o, (uint64_t)value(f, a, buf, sizeof buf).d, out, len);
	size_t l = strlen(out);
	snprintf(out + l, len - l, "/s");
}

/* The first n columns of a row, and a note after them if any. */
static void
row(const struct opts *o, const struct at *a, int name_width, int n, const char *note)
{
	for (int i = 0; i < n; i++) {
		const struct column *c = &columns[i];
		char buf[ESHM_PATH_MAX + 64];
		cell(o, a->lo ? c->lo : c->seg, a, buf, sizeof buf);
		printf("%s%*s", i ? " " : "", c->width ? c->width : -name_width, buf);
	}
	if (note)
		printf(" %s", note);
	putchar('\n');
}

/* Blank cells up to column col, for a row under a channel's */
static void
indent(int col, int name_width)
{
	for (int i = 0; i < col; i++)
		printf("%s%*s", i ? " " : "", columns[i].width ? columns[i].width : -name_width,
		       "");
}

/* A channel's other holders of one end (n in list), one per row under its
 * own, in column col; the row shows one of them (the first live one, or
 * the first dead one). Readers of a named group say which. */
static void
more_ends(const struct at *a, int name_width, int col, const struct eshm_end_info *one,
	  const struct eshm_end_info *list, int n)
{
	const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
	int shown = -1;
	for (int k = 0; k < n && shown < 0; k++)
		if (list[k].pid == one->pid && list[k].state == one->state)
			shown = k;
	for (int k = 0; k < n; k++) {
		if (k == shown)
			continue;
		char buf[64];
		holder_str(&list[k], buf, sizeof buf);
		indent(col, name_width);
		printf(" %s", buf);
		if (col == C_READER && list[k].group >= 0 && list[k].group < c->ngroups &&
		    strcmp(c->groups[list[k].group].name, "-") != 0)
			printf(" (%s)", c->groups[list[k].group].name);
		putchar('\n');
	}
}

/* A channel's consumer groups, a row each, when it has named ones or
 * several, or the unnamed one has something waiting: readers, backlog
 * and its oldest message, what readers hold and what came back. */
static void
group_rows(const struct opts *o, const struct at *a, int name_width)
{
	const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
	if (c->ngroups == 1 && strcmp(c->groups[0].name, "-") == 0 && !c->groups[0].backlog_msgs &&
	    !c->groups[0].returned && !c->groups[0].dead)
		return;
	for (int k = 0; k < c->ngroups; k++) {
		const struct eshm_group_info *gi = &c->groups[k];
		char msgs[32], bytes[32], held[32];
		count_str(o, gi->backlog_msgs, msgs, sizeof msgs);
		size_str(o, gi->backlog_bytes, bytes, sizeof bytes);
		size_str(o, gi->held_bytes, held, sizeof held);
		indent(C_WRITER, name_width);
		printf(" group %s: %d reader%s", gi->name, gi->live, gi->live == 1 ? "" : "s");
		if (gi->dead)
			printf(" (+%d dead)", gi->dead);
		printf(", backlog %s messages/%s", msgs, bytes);
		if (gi->oldest_age_ms >= 0) {
			char age[32];
			age_str(gi->oldest_age_ms, age, sizeof age);
			printf(" (oldest %s)", age);
		}
		printf(", held %s", held);
		struct at in = *a;
		in.grp = gi;
		in.pgrp = prev_group(a, gi);
		if (present(F_G_RATES, &in)) {
			char mo[32], bo[32];
			rate_str(o, F_G_RATES, F_G_MSGS_OUT_PER_S, &in, mo, sizeof mo);
			rate_str(o, F_G_RATES, F_G_BYTES_OUT_PER_S, &in, bo, sizeof bo);
			printf(", out %s %s", mo, bo);
		}
		if (gi->returned)
			printf(", %d batch%s to deliver again", gi->returned,
			       gi->returned == 1 ? "" : "es");
		putchar('\n');
	}
}

/* A channel's taps, a row each: holder, how far behind, what it missed. */
static void
tap_rows(const struct opts *o, const struct at *a, int name_width)
{
	const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
	for (int k = 0; k < c->ntaps; k++) {
		const struct eshm_tap_info *t = &c->taps[k];
		char who[64], behind[32], msgs[32], bytes[32];
		holder_str(&t->end, who, sizeof who);
		size_str(o, t->behind_bytes, behind, sizeof behind);
		count_str(o, t->missed_msgs, msgs, sizeof msgs);
		size_str(o, t->missed_bytes, bytes, sizeof bytes);
		indent(C_WRITER, name_width);
		printf(" tap %s: behind %s, missed %s messages/%s\n", who, behind, msgs, bytes);
	}
}

static void
print_table(const struct opts *o, const struct snap *s, const struct snap *prev)
{
	double secs = prev ? (double)(s->when_ms - prev->when_ms) / 1000 : 0;
	bool rates = o->watch && prev;
	int ncols = rates ? NCOLUMNS : C_IN_RATE;
	int nw = 4; /* the NAME column fits the longest name */
	for (size_t i = 0; i < s->n; i++) {
		int l = (int)strlen(s->v[i].info.name);
		nw = l > nw ? l : nw;
	}
	for (size_t i = 0; i < s->nlo; i++) {
		int l = (int)strlen(base_name(s->lo[i].path));
		nw = l > nw ? l : nw;
	}
	if (!o->noheadings) {
		for (int i = 0; i < ncols; i++)
			printf("%s%*s", i ? " " : "", columns[i].width ? columns[i].width : -nw,
			       columns[i].head);
		putchar('\n');
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->v[i];
		struct at a = {.g = g, .ch = -1, .secs = secs};
		if (g->err) {
			row(o, &a, nw, 1, g->what);
			continue;
		}
		if (!g->info.valid) {
			char note[sizeof g->info.problem + 16];
			snprintf(note, sizeof note, "INVALID: %s", g->info.problem);
			row(o, &a, nw, FILE_COLUMNS, note);
			continue;
		}
		const struct seg *pg = rates ? find(prev, g->info.name) : NULL;
		a.pg = pg && pg->info.valid ? pg : NULL;
		for (a.ch = 0; a.ch < 2; a.ch++) {
			const struct eshm_channel_info *c = &g->info.chan[a.ch];
			row(o, &a, nw, ncols, NULL);
			more_ends(&a, nw, C_WRITER, &c->writer, c->writers, c->nwriters);
			more_ends(&a, nw, C_READER, &c->reader, c->readers, c->nreaders);
			group_rows(o, &a, nw);
			tap_rows(o, &a, nw);
		}
	}
	/* what killed creators left, and creations under way */
	for (size_t i = 0; i < s->nlo; i++) {
		const struct eshm_leftover *lo = &s->lo[i];
		struct at a = {.ch = -1, .lo = lo};
		char note[160];
		bool poll = strstr(lo->path, "/" ESHM_POLL_PREFIX) != NULL;
		if (poll && lo->creator_alive == 0)
			snprintf(note, sizeof note,
				 "POLL: left by pid %d, which died; eshm-clean removes it",
				 (int)lo->creator_pid);
		else if (poll)
			snprintf(note, sizeof note, "POLL: of pid %d, cannot tell if it lives: %s",
				 (int)lo->creator_pid, eshm_strerror(lo->error));
		else if (lo->creator_alive > 0)
			snprintf(note, sizeof note, "UNFINISHED: being created by pid %d",
				 (int)lo->creator_pid);
		else if (lo->creator_alive == 0)
			snprintf(note, sizeof note,
				 "UNFINISHED: left by pid %d, which died; eshm-clean removes it",
				 (int)lo->creator_pid);
		else
			snprintf(note, sizeof note,
				 "UNFINISHED: of pid %d, cannot tell if it lives: %s",
				 (int)lo->creator_pid, eshm_strerror(lo->error));
		row(o, &a, nw, FILE_COLUMNS, note);
	}
}

/* --brief: the one segment on one line, its channels in use after its
 * name, split by " | "; eshm-stat(1) gives the format. */
static void
print_brief(const struct opts *o, const struct snap *s, const struct snap *prev)
{
	const struct seg *g = &s->v[0];
	const char *name = g->info.name;
	if (g->err) {
		printf("%s: %s\n", name, g->what);
		return;
	}
	if (!g->info.valid) {
		printf("%s: INVALID: %s\n", name, g->info.problem);
		return;
	}
	const struct seg *pg = prev ? find(prev, name) : NULL;
	struct at a = {.g = g, .pg = pg && pg->info.valid ? pg : NULL};
	a.secs = prev ? (double)(s->when_ms - prev->when_ms) / 1000 : 0;
	int shown = 0;
	fputs(name, stdout);
	for (a.ch = 0; a.ch < 2; a.ch++) {
		const struct eshm_channel_info *c = &g->info.chan[a.ch];
		/* in use: it carried a message, or someone holds an end */
		if (!c->msgs_in && c->writer.state == ESHM_PEER_NONE &&
		    c->reader.state == ESHM_PEER_NONE)
			continue;
		char mi[32], bi[32], mo[32], bo[32], cap[32], age[32];
		rate_str(o, F_RATES, F_MSGS_IN_PER_S, &a, mi, sizeof mi);
		rate_str(o, F_RATES, F_BYTES_IN_PER_S, &a, bi, sizeof bi);
		rate_str(o, F_RATES, F_MSGS_OUT_PER_S, &a, mo, sizeof mo);
		rate_str(o, F_RATES, F_BYTES_OUT_PER_S, &a, bo, sizeof bo);
		size_str(o, c->capacity, cap, sizeof cap);
		age_str(c->oldest_age_ms, age, sizeof age);
		/* rounded up, as df(1) does: 1% is not empty */
		uint64_t pct = c->used >= c->capacity
				       ? 100
				       : (c->used * 100 + c->capacity - 1) / c->capacity;
		printf("%s %s: in %s %s, out %s %s, used %llu%% of %s, oldest %s",
		       shown++ ? " |" : "", chan_name(a.ch), mi, bi, mo, bo,
		       (unsigned long long)pct, cap, age);
		if (c->ngroups)
			fputs(", groups", stdout);
		for (int k = 0; k < c->ngroups; k++) {
			struct at in = a;
			in.grp = &c->groups[k];
			in.pgrp = prev_group(&a, in.grp);
			rate_str(o, F_G_RATES, F_G_MSGS_OUT_PER_S, &in, mo, sizeof mo);
			printf(" %s:%s", in.grp->name, mo);
		}
	}
	if (!shown)
		fputs(": idle", stdout);
	putchar('\n');
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
json_val(struct val v)
{
	switch (v.t) {
	case V_NULL:
		fputs("null", stdout);
		break;
	case V_STR:
		json_str(v.s);
		break;
	case V_BOOL:
		fputs(v.i ? "true" : "false", stdout);
		break;
	case V_INT:
		printf("%lld", (long long)v.i);
		break;
	case V_UINT:
		printf("%llu", (unsigned long long)v.u);
		break;
	case V_MODE:
		printf("\"%04o\"", (unsigned)v.u);
		break;
	case V_RATE:
		printf("%.1f", v.d);
		break;
	}
}

/* The object of the fields of level l at a, with the objects inside it. */
static void
json_object(enum level l, const struct at *a)
{
	const char *sep = "";
	putchar('{');
	for (int f = 0; f < NFIELDS; f++) {
		const struct field *d = &fields[f];
		if (d->level != l || !d->key || !present(f, a))
			continue;
		printf("%s\"%s\": ", sep, d->key);
		sep = ", ";
		if (d->sub == L_CHAN) {
			/* the channels, under their names */
			struct at in = *a;
			putchar('{');
			for (in.ch = 0; in.ch < 2; in.ch++) {
				printf("%s\"%s\": ", in.ch ? ", " : "", chan_name(in.ch));
				json_object(L_CHAN, &in);
			}
			putchar('}');
		} else if (f == F_WRITERS || f == F_READERS) {
			const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
			struct at in = *a;
			int n = f == F_WRITERS ? c->nwriters : c->nreaders;
			in.listed = f == F_READERS;
			putchar('[');
			for (int k = 0; k < n; k++) {
				in.end = f == F_WRITERS ? &c->writers[k] : &c->readers[k];
				fputs(k ? ", " : "", stdout);
				json_object(L_END, &in);
			}
			putchar(']');
		} else if (f == F_GROUPS) {
			const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
			struct at in = *a;
			putchar('[');
			for (int k = 0; k < c->ngroups; k++) {
				in.grp = &c->groups[k];
				in.pgrp = prev_group(a, in.grp);
				fputs(k ? ", " : "", stdout);
				json_object(L_GRP, &in);
			}
			putchar(']');
		} else if (f == F_TAPS) {
			const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
			struct at in = *a;
			putchar('[');
			for (int k = 0; k < c->ntaps; k++) {
				in.tap = &c->taps[k];
				fputs(k ? ", " : "", stdout);
				json_object(L_TAP, &in);
			}
			putchar(']');
		} else if (d->sub) {
			struct at in = enter(f, a);
			json_object(d->sub, &in);
		} else {
			char buf[256];
			json_val(value(f, a, buf, sizeof buf));
		}
	}
	putchar('}');
}

static void
print_json(const struct snap *s, const struct snap *prev)
{
	double secs = prev ? (double)(s->when_ms - prev->when_ms) / 1000 : 0;
	printf("{\"version\": 1, \"segments\": [");
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->v[i];
		const struct seg *pg = prev ? find(prev, g->info.name) : NULL;
		struct at a = {.g = g, .ch = -1, .secs = secs};
		a.pg = pg && pg->info.valid ? pg : NULL;
		fputs(i ? ", " : "", stdout);
		json_object(L_SEG, &a);
	}
	printf("]");
	if (s->sweep) {
		printf(", \"leftovers\": [");
		for (size_t i = 0; i < s->nlo; i++) {
			struct at a = {.ch = -1, .lo = &s->lo[i]};
			fputs(i ? ", " : "", stdout);
			json_object(L_LO, &a);
		}
		printf("]");
	}
	printf("}\n");
}

/* In a sweep, segments of other users that we may not read are passed
 * over: a monitoring job run as one user must not alarm over another's. */
static bool
skipped(const struct seg *g, bool named)
{
	return g->err == -EACCES && !named;
}

/*
 * --openmetrics: the gauges and counters of the segments, their channels,
 * consumer groups and taps, in the text format of Prometheus (0.0.4),
 * which node_exporter's textfile collector and promtool read, ended by
 * "# EOF" as OpenMetrics ends its (a comment to that format). A counter's
 * TYPE names it with its _total, as that format wants: OpenMetrics would
 * name it without, which promtool check metrics takes for a metric with
 * no type and no help. Each metric is a field of fields[], read with
 * value() as the JSON document reads it, but for those counted here (the
 * segments, the holders of a channel); eshm-stat(1) lists them.
 */
static const struct metric {
	const char *name;
	const char *type;
	enum level level; /* of f, or where it is counted; 0: the whole snapshot */
	enum fid f;       /* F_NONE: counted here */
	bool ms;          /* f is in milliseconds, the metric in seconds */
	const char *help;
} metrics[] = {
	{"eshm_segments", "gauge", 0, F_NONE, false,
	 "Segments looked at: in /dev/shm, or those named; valid or not."},
	{"eshm_segment_valid", "gauge", L_SEG, F_VALID, false,
	 "1 if the segment is usable, 0 if not (corrupt, not a segment, unreadable)."},
	{"eshm_segment_size_bytes", "gauge", L_SEG, F_SIZE, false, "Size of the segment's file."},
	{"eshm_segment_age_seconds", "gauge", L_SEG, F_AGE_MS, true,
	 "Time since the segment was created."},
	{"eshm_segment_idle_seconds", "gauge", L_SEG, F_IDLE_MS, true,
	 "Time since a holder of any end was last seen; 0 while one is alive or stale."},
	{"eshm_channel_capacity_bytes", "gauge", L_CHAN, F_CAPACITY, false,
	 "Size of the channel's ring."},
	{"eshm_channel_used_bytes", "gauge", L_CHAN, F_USED, false,
	 "Bytes of undelivered records in the channel, their headers included."},
	{"eshm_channel_messages_in_total", "counter", L_CHAN, F_MSGS_IN, false,
	 "Messages committed by writers."},
	{"eshm_channel_bytes_in_total", "counter", L_CHAN, F_BYTES_IN, false,
	 "Bytes of messages committed by writers."},
	{"eshm_channel_messages_out_total", "counter", L_CHAN, F_MSGS_OUT, false,
	 "Messages released by readers, once for each consumer group."},
	{"eshm_channel_bytes_out_total", "counter", L_CHAN, F_BYTES_OUT, false,
	 "Bytes of messages released by readers, once for each consumer group."},
	{"eshm_channel_waits_full_total", "counter", L_CHAN, F_WAITS_FULL, false,
	 "Times a writer slept for space."},
	{"eshm_channel_waits_empty_total", "counter", L_CHAN, F_WAITS_EMPTY, false,
	 "Times a reader slept for data."},
	{"eshm_channel_wakes_total", "counter", L_CHAN, F_WAKES, false,
	 "Futex wake calls made by either side."},
	{"eshm_channel_oldest_age_seconds", "gauge", L_CHAN, F_OLDEST_AGE_MS, true,
	 "Age of the oldest message some consumer group has not released; none while none waits."},
	{"eshm_channel_holders", "gauge", L_CHAN, F_NONE, false,
	 "Holders of the channel's ends, by role (writer, reader, tap) and state."},
	{"eshm_group_backlog_messages", "gauge", L_GRP, F_G_BACKLOG_MSGS, false,
	 "Messages the consumer group has not released."},
	{"eshm_group_backlog_bytes", "gauge", L_GRP, F_G_BACKLOG_BYTES, false,
	 "Payload bytes of the messages the consumer group has not released."},
	{"eshm_group_oldest_age_seconds", "gauge", L_GRP, F_G_OLDEST_AGE_MS, true,
	 "Age of the oldest message the consumer group has not released; none while none waits."},
	{"eshm_group_idle_seconds", "gauge", L_GRP, F_G_IDLE_MS, true,
	 "How long messages have waited with none released by the consumer group; none while none "
	 "waits."},
	{"eshm_tap_missed_messages_total", "counter", L_TAP, F_T_MISSED_MSGS, false,
	 "Messages the tap skipped when it fell behind (about)."},
	{"eshm_tap_missed_bytes_total", "counter", L_TAP, F_T_MISSED_BYTES, false,
	 "Record bytes the tap skipped when it fell behind."},
};

/* A label. Names are ASCII and have no '"', '\\' or newline, but a corrupt
 * segment's group name may have anything: those three are escaped as the
 * format wants, and any other byte outside printable ASCII becomes '?',
 * as the format takes UTF-8 only. */
static void
label(const char *sep, const char *key, const char *s)
{
	printf("%s%s=\"", sep, key);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else
			putchar(*p < 0x20 || *p > 0x7e ? '?' : *p);
	}
	putchar('"');
}

/* A sample of metric d at a (NULL: no labels), with role and state labels
 * if role is set; its family's HELP and TYPE lines before its first. */
static void
sample(const struct metric *d, bool *headed, const struct at *a, const char *role,
       const char *state, struct val v)
{
	char buf[256];
	if (!*headed)
		printf("# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
	*headed = true;
	fputs(d->name, stdout);
	if (a) {
		label("{", "segment", value(F_NAME, a, buf, sizeof buf).s);
		if (a->ch >= 0)
			label(",", "channel", value(F_CH, a, buf, sizeof buf).s);
		if (a->grp)
			label(",", "group", value(F_G_NAME, a, buf, sizeof buf).s);
		if (a->tap)
			printf(",pid=\"%lld\"", (long long)value(F_T_PID, a, buf, sizeof buf).i);
		if (role) {
			label(",", "role", role);
			label(",", "state", state);
		}
		putchar('}');
	}
	if (d->ms)
		printf(" %lld.%03lld\n", (long long)(v.i / 1000), (long long)(v.i % 1000));
	else if (v.t == V_UINT)
		printf(" %llu\n", (unsigned long long)v.u);
	else
		printf(" %lld\n", (long long)v.i);
}

/* The sample of metric d's field at a, if the field is there and known:
 * a negative value (an age or idle time of -1) is none. */
static void
field_sample(const struct metric *d, bool *headed, const struct at *a)
{
	char buf[256];
	if (!present(d->f, a))
		return;
	struct val v = value(d->f, a, buf, sizeof buf);
	if (v.t == V_INT && v.i < 0)
		return;
	sample(d, headed, a, NULL, NULL, v);
}

/* eshm_channel_holders of the channel at a: how many of the holders the
 * JSON document lists (writers, readers, taps) are in each state. */
static void
holder_samples(const struct metric *d, bool *headed, const struct at *a)
{
	const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
	static const char *const roles[] = {"writer", "reader", "tap"};
	uint64_t n[3][ESHM_PEER_DEAD + 1] = {{0}};
	for (int k = 0; k < c->nwriters; k++)
		n[0][c->writers[k].state]++;
	for (int k = 0; k < c->nreaders; k++)
		n[1][c->readers[k].state]++;
	for (int k = 0; k < c->ntaps; k++)
		n[2][c->taps[k].end.state]++;
	for (int r = 0; r < 3; r++)
		for (int st = ESHM_PEER_ALIVE; st <= ESHM_PEER_DEAD; st++)
			sample(d, headed, a, roles[r], eshm_peer_state_name(st), vuint(n[r][st]));
}

/* Metric d of the taps of the channel at a: a sample per process, as its
 * pid is their label, adding up the taps one process may hold. */
static void
tap_samples(const struct metric *d, bool *headed, const struct at *a)
{
	const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
	struct at in = *a;
	char buf[8];
	for (int k = 0; k < c->ntaps; k++) {
		pid_t pid = c->taps[k].end.pid;
		int first = 0;
		while (c->taps[first].end.pid != pid)
			first++;
		if (first < k)
			continue; /* added up at the first */
		uint64_t sum = 0;
		for (int j = k; j < c->ntaps; j++) {
			in.tap = &c->taps[j];
			if (in.tap->end.pid == pid)
				sum += value(d->f, &in, buf, sizeof buf).u;
		}
		in.tap = &c->taps[k];
		sample(d, headed, &in, NULL, NULL, vuint(sum));
	}
}

/* Metric d of the channel at a: its own, or of each of its groups or taps. */
static void
chan_metrics(const struct metric *d, bool *headed, const struct at *a)
{
	const struct eshm_channel_info *c = &a->g->info.chan[a->ch];
	if (d->level == L_CHAN && d->f == F_NONE) {
		holder_samples(d, headed, a);
	} else if (d->level == L_CHAN) {
		field_sample(d, headed, a);
	} else if (d->level == L_GRP) {
		struct at in = *a;
		for (int k = 0; k < c->ngroups; k++) {
			in.grp = &c->groups[k];
			field_sample(d, headed, &in);
		}
	} else if (d->level == L_TAP) {
		tap_samples(d, headed, a);
	}
}

/* --openmetrics: every metric of every segment looked at, a family at a
 * time, as the format wants each family's samples together. */
static void
print_metrics(const struct snap *s, bool named)
{
	for (size_t m = 0; m < sizeof metrics / sizeof metrics[0]; m++) {
		const struct metric *d = &metrics[m];
		bool headed = false;
		uint64_t n = 0;
		for (size_t i = 0; i < s->n; i++) {
			struct at a = {.g = &s->v[i], .ch = -1};
			if (skipped(a.g, named))
				continue;
			n++;
			if (d->level == L_SEG)
				field_sample(d, &headed, &a);
			else if (d->level && present(F_CHANNELS, &a))
				for (a.ch = 0; a.ch < 2; a.ch++)
					chan_metrics(d, &headed, &a);
		}
		if (!d->level)
			sample(d, &headed, NULL, NULL, NULL, vuint(n));
	}
	puts("# EOF");
}

/* The problems of one end: a line each; their count. */
static int
check_end(const struct eshm_info *in, int ch, const struct eshm_end_info *e, bool writer)
{
	const char *name = in->name, *chn = chan_name(ch);
	if (e->state == ESHM_PEER_DEAD && writer && e->claimed) {
		printf("%s: a writer of channel %s (pid %d) died holding a claim of %u bytes it "
		       "never committed; readers skip it, and its stream is lost\n",
		       name, chn, (int)e->pid, e->claimed);
	} else if (e->state == ESHM_PEER_DEAD && writer) {
		printf("%s: a writer of channel %s (pid %d) is lost: it died, failed or was "
		       "interrupted without ending its stream\n",
		       name, chn, (int)e->pid);
	} else if (e->state == ESHM_PEER_DEAD && e->held) {
		printf("%s: a reader of channel %s (pid %d) died holding %llu bytes of messages it "
		       "took and did not release; they go back to its group when a reader of the "
		       "group sees the death\n",
		       name, chn, (int)e->pid, (unsigned long long)e->held);
	} else if (e->state == ESHM_PEER_DEAD) {
		printf("%s: a reader of channel %s (pid %d) died without detaching\n", name, chn,
		       (int)e->pid);
	} else if (e->state == ESHM_PEER_STALE) {
		printf("%s: the %s of channel %s (pid %d) is stale: no heartbeat for %lld ms "
		       "(threshold %u ms)\n",
		       name, writer ? "writer" : "reader", chn, (int)e->pid,
		       (long long)e->heartbeat_age_ms, e->stale_ms);
	} else {
		return 0;
	}
	return 1;
}

/* The problems of a channel's ends: every writer, every reader. */
static int
check_ends(const struct eshm_info *in, int ch)
{
	const struct eshm_channel_info *c = &in->chan[ch];
	int problems = 0;
	for (int k = 0; k < c->nwriters; k++)
		problems += check_end(in, ch, &c->writers[k], true);
	if (!c->nwriters)
		problems += check_end(in, ch, &c->writer, true);
	for (int k = 0; k < c->nreaders; k++)
		problems += check_end(in, ch, &c->readers[k], false);
	return problems;
}

/* The name a problem line gives a group: "group NAME", "the unnamed
 * group" ("-"), or for messages no reader came for yet (""), "no
 * consumer group yet". */
static const char *
group_label(const struct eshm_group_info *gi, char *buf, size_t len)
{
	if (!gi->name[0])
		snprintf(buf, len, "no consumer group yet");
	else if (strcmp(gi->name, "-") == 0)
		snprintf(buf, len, "the unnamed group");
	else
		snprintf(buf, len, "group %s", gi->name);
	return buf;
}

/* An age in a problem line, beside its limit: finer than the table's
 * under two minutes (1.2s, not 1s, against a limit of 1s). */
static void
age_fine(int64_t ms, char *buf, size_t len)
{
	if (ms >= 1000 && ms < 120000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else
		age_str(ms, buf, len);
}

/* A group past --max-age, --max-idle or --max-pending: a line each; their
 * count. */
static int
check_group(const struct opts *o, const char *name, int ch, const struct eshm_group_info *gi)
{
	const struct limits *max = &o->max;
	char who[ESHM_GROUP_NAME_MAX + 32], a[32], b[32];
	group_label(gi, who, sizeof who);
	int problems = 0;
	if (max->age_ms >= 0 && gi->oldest_age_ms > max->age_ms) {
		age_fine(gi->oldest_age_ms, a, sizeof a);
		age_fine(max->age_ms, b, sizeof b);
		printf("%s: channel %s, %s: its oldest message has waited %s (--max-age %s)\n",
		       name, chan_name(ch), who, a, b);
		problems++;
	}
	if (max->idle_ms >= 0 && gi->idle_ms > max->idle_ms) {
		age_fine(gi->idle_ms, a, sizeof a);
		age_fine(max->idle_ms, b, sizeof b);
		printf("%s: channel %s, %s: no message released for %s while messages waited, "
		       "%d reader%s (--max-idle %s)\n",
		       name, chan_name(ch), who, a, gi->live, gi->live == 1 ? "" : "s", b);
		problems++;
	}
	if (gi->backlog_msgs > max->msgs) {
		count_str(o, gi->backlog_msgs, a, sizeof a);
		count_str(o, max->msgs, b, sizeof b);
		printf("%s: channel %s, %s: %s messages waiting (--max-pending %s)\n", name,
		       chan_name(ch), who, a, b);
		problems++;
	}
	if (gi->backlog_bytes > max->bytes) {
		size_str(o, gi->backlog_bytes, a, sizeof a);
		size_str(o, max->bytes, b, sizeof b);
		printf("%s: channel %s, %s: %s of messages waiting (--max-pending %s)\n", name,
		       chan_name(ch), who, a, b);
		problems++;
	}
	return problems;
}

/* A channel past --max-fill, or whose groups are past their limits. */
static int
check_limits(const struct opts *o, const struct eshm_info *in, int ch)
{
	const struct eshm_channel_info *c = &in->chan[ch];
	int problems = 0;
	if (o->max.fill_pct >= 0 && c->capacity &&
	    (double)c->used * 100 > (double)o->max.fill_pct * (double)c->capacity) {
		char used[32], cap[32];
		size_str(o, c->used, used, sizeof used);
		size_str(o, c->capacity, cap, sizeof cap);
		printf("%s: channel %s is %.0f%% full: %s of %s (--max-fill %d%%)\n", in->name,
		       chan_name(ch), (double)c->used * 100 / (double)c->capacity, used, cap,
		       o->max.fill_pct);
		problems++;
	}
	for (int k = 0; k < c->ngroups; k++)
		problems += check_group(o, in->name, ch, &c->groups[k]);
	if (!c->ngroups && c->oldest_age_ms >= 0) {
		/* messages that no reader came for: all waiting since written */
		struct eshm_group_info none = {
			.backlog_msgs = c->msgs_in > c->msgs_out ? c->msgs_in - c->msgs_out : 0,
			.backlog_bytes =
				c->bytes_in > c->bytes_out ? c->bytes_in - c->bytes_out : 0,
			.oldest_age_ms = c->oldest_age_ms,
			.idle_ms = c->oldest_age_ms,
		};
		problems += check_group(o, in->name, ch, &none);
	}
	return problems;
}

/* --check: one line per problem on stdout; the count of problems. In a
 * sweep, segments of other users that we may not read are skipped (see
 * skipped()); so are their unfinished segments whose creator we cannot
 * judge. */
static int
check(const struct opts *o, const struct snap *s, bool named)
{
	int problems = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct seg *g = &s->v[i];
		const struct eshm_info *in = &g->info;
		if (skipped(g, named))
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
		for (int ch = 0; ch < 2; ch++)
			problems += check_ends(in, ch) + check_limits(o, in, ch);
	}
	for (size_t i = 0; i < s->nlo; i++) {
		const struct eshm_leftover *lo = &s->lo[i];
		if (lo->creator_alive != 0)
			continue; /* being created, or not ours to judge */
		char size[32];
		cli_human(lo->size, size, sizeof size);
		if (strstr(lo->path, "/" ESHM_POLL_PREFIX))
			printf("%s: descriptor left by pid %d, which died polling; "
			       "eshm-clean removes it\n",
			       lo->path, (int)lo->creator_pid);
		else
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
			status = check(&o, &cur, o.nnames > 0) ? EX_FAIL : EX_OK;
		else if (o.brief)
			print_brief(&o, &cur, NULL);
		else if (o.json)
			print_json(&cur, NULL);
		else if (o.openmetrics)
			print_metrics(&cur, o.nnames > 0);
		else
			print_table(&o, &cur, NULL);
		/* a named segment that could not be read is a failure */
		if (o.nnames && unreadable(&cur))
			status = EX_FAIL;
		snap_free(&cur);
		return cli_close_stdout(status);
	}

	/* --brief adds a line per refresh: no redrawing, no blank line */
	bool tty = isatty(STDOUT_FILENO) && !o.json && !o.brief;
	for (uint64_t round = 0; !o.count || round < o.count; round++) {
		if (round) {
			struct timespec ts = {(time_t)o.watch,
					      (long)((o.watch - (double)(time_t)o.watch) * 1e9)};
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
		if (o.brief)
			print_brief(&o, &cur, round ? &prev : NULL);
		else if (o.json)
			print_json(&cur, round ? &prev : NULL);
		else
			print_table(&o, &cur, round ? &prev : NULL);
		if (!tty && !o.json && !o.brief)
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
	return cli_close_stdout(EX_OK);
}
