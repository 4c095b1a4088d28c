/* peers.c - eshm-send and eshm-recv -v: the other holders of the channel, watched for changes. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peers.h"

#define LOOK_MS 100 /* the shortest time between two looks */
#define NPEERS (ESHM_MAX_WRITERS + ESHM_MAX_READERS)

/* A holder of the channel as one look saw it. A holder is its pid, its
 * start time and its slot's generation: the same process claiming again
 * is another holder. */
struct peer {
	pid_t pid;
	uint64_t start, gen;
	int state;
	int64_t age_ms; /* since its last heartbeat */
	bool writer;
	bool matched;                        /* (while comparing two looks) */
	char group[ESHM_GROUP_NAME_MAX + 1]; /* a reader's */
};

struct peers {
	eshm_t *h; /* NULL until peers_start */
	int ch;
	bool writing, tap, base;
	const char *group; /* a reader's own group: the readers told of */
	pid_t self;
	int64_t next, slice_end; /* cli_now_ms */
	struct eshm_info *info;
	int n, nprev;
	struct peer list[NPEERS], prev[NPEERS];
};

struct peers *
peers_new(const char *name, const struct eshm_config *cfg)
{
	struct peers *p = calloc(1, sizeof *p);
	if (p)
		p->info = malloc(sizeof *p->info);
	if (!p || !p->info)
		cli_die(EX_FAIL, "out of memory");
	p->writing = !(cfg->ends & ESHM_END_READ);
	p->tap = cfg->flags & ESHM_TAP;
	if (!p->writing && !p->tap)
		p->group = cfg->consumer_group ? cfg->consumer_group : "-";
	p->self = getpid();
	p->base = eshm_inspect(name, p->info, NULL) == 0 && p->info->valid;
	return p;
}

void
peers_free(struct peers *p)
{
	if (!p)
		return;
	free(p->info);
	free(p);
}

static void
add(struct peer *e, const struct eshm_end_info *ei, bool writer, const char *group)
{
	e->pid = ei->pid;
	e->start = ei->start_time;
	e->gen = ei->generation;
	e->state = ei->state;
	e->age_ms = ei->heartbeat_age_ms;
	e->writer = writer;
	snprintf(e->group, sizeof e->group, "%s", group);
}

/* Every holder of the channel, whoever is told of: a takeover is seen
 * from the holder it displaced, which may be one we do not tell of. */
static int
collect(const struct eshm_channel_info *c, struct peer *list)
{
	int n = 0;
	for (int i = 0; i < c->nwriters; i++)
		add(&list[n++], &c->writers[i], true, "");
	for (int i = 0; i < c->nreaders; i++) {
		int g = c->readers[i].group;
		add(&list[n++], &c->readers[i], false,
		    g >= 0 && g < c->ngroups ? c->groups[g].name : "?");
	}
	return n;
}

static bool
is_self(const struct peers *p, const struct peer *e)
{
	return !p->tap && e->pid == p->self && e->writer == p->writing;
}

/* Whether changes of e are told. */
static bool
told(const struct peers *p, const struct peer *e)
{
	if (is_self(p, e))
		return false;
	if (e->writer)
		return !p->writing;
	return !p->tap && (p->writing || !strcmp(e->group, p->group));
}

static void __attribute__((format(printf, 3, 4)))
tell(const struct peers *p, const struct peer *e, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	/* a writer hears of every group's readers: name the group, unless
	 * it is the unnamed one */
	bool named = !e->writer && p->writing && strcmp(e->group, "-");
	cli_log("%s %d %s%s%s%s", e->writer ? "writer" : "reader", (int)e->pid, what,
		named ? " (group " : "", named ? e->group : "", named ? ")" : "");
}

/* Whether process pid, started at start (clock ticks since boot, 0 if
 * unknown), still runs: a holder that left its end while running was
 * displaced, one that exited went away. From /proc/PID/stat: its state
 * (a zombie has exited) and its start time (a reused pid is another). */
static bool
runs(pid_t pid, uint64_t start)
{
	char path[48], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold anything, even ") " */
	const char *f = strrchr(buf, ')');
	if (!f || f[1] != ' ')
		return false;
	f += 2;
	char state = *f;
	/* the start time is field 22; the state is field 3 */
	for (int i = 3; i < 22 && f; i++)
		if ((f = strchr(f, ' ')))
			f++;
	uint64_t st = f ? strtoull(f, NULL, 10) : 0;
	return state != 'Z' && state != 'X' && (!start || !st || st == start);
}

static bool
same(const struct peer *a, const struct peer *b)
{
	return a->pid == b->pid && a->start == b->start && a->gen == b->gen &&
	       a->writer == b->writer;
}

/* Tell what changed from the previous look (prev) to this one (list). */
static void
compare(struct peers *p)
{
	struct peer *prev = p->prev, *list = p->list;
	for (int i = 0; i < p->nprev; i++)
		prev[i].matched = false;
	for (int i = 0; i < p->n; i++)
		list[i].matched = false;
	/* the same holders, in another state */
	for (int i = 0; i < p->n; i++) {
		struct peer *e = &list[i];
		for (int j = 0; j < p->nprev && !e->matched; j++) {
			struct peer *o = &prev[j];
			if (o->matched || !same(o, e))
				continue;
			o->matched = e->matched = true;
			if (!told(p, e) || o->state == e->state)
				continue;
			if (e->state == ESHM_PEER_DEAD)
				tell(p, e, "lost");
			else if (e->state == ESHM_PEER_STALE)
				tell(p, e, "stale (no heartbeat for %lld ms)",
				     (long long)e->age_ms);
			else if (o->state == ESHM_PEER_STALE && e->state == ESHM_PEER_ALIVE)
				tell(p, e, "back");
		}
	}
	/* holders gone: taken over (the next claim of their slot, by another
	 * process, while they still run), else gone: they left, or died and
	 * their slot was cleared since, which looks the same (see peers.h);
	 * one seen dead already was only cleared */
	for (int j = 0; j < p->nprev; j++) {
		struct peer *o = &prev[j], *by = NULL;
		if (o->matched || o->state == ESHM_PEER_DEAD)
			continue;
		for (int i = 0; i < p->n && !by; i++)
			if (!list[i].matched && list[i].writer == o->writer &&
			    list[i].gen == o->gen + 1 && list[i].pid != o->pid)
				by = &list[i];
		if (by && runs(o->pid, o->start)) {
			by->matched = true;
			/* ours taken over: the failure that follows says so */
			if (!is_self(p, o) && (told(p, o) || is_self(p, by)))
				tell(p, o, "taken over by %d%s", (int)by->pid,
				     is_self(p, by) ? " (this process)" : "");
		} else if (told(p, o)) {
			tell(p, o, o->writer ? "ended its stream" : "left");
		}
	}
	/* holders new since the previous look, and what became of them */
	for (int i = 0; i < p->n; i++) {
		struct peer *e = &list[i];
		if (e->matched || !told(p, e))
			continue;
		tell(p, e, "joined");
		if (e->state == ESHM_PEER_DEAD)
			tell(p, e, "lost");
		else if (e->state == ESHM_PEER_STALE)
			tell(p, e, "stale (no heartbeat for %lld ms)", (long long)e->age_ms);
	}
}

static void
look(struct peers *p)
{
	/* a failure here is for the tool's own calls to find and say */
	if (eshm_stats(p->h, p->info))
		return;
	memcpy(p->prev, p->list, (size_t)p->n * sizeof *p->list);
	p->nprev = p->n;
	p->n = collect(&p->info->chan[p->ch], p->list);
	compare(p);
}

void
peers_start(struct peers *p, eshm_t *h)
{
	if (!p)
		return;
	/* a writer as master, or a reader as slave, has channel m2s */
	p->ch = p->writing == (eshm_role(h) == ESHM_ROLE_MASTER) ? 0 : 1;
	p->h = h;
	p->n = p->base ? collect(&p->info->chan[p->ch], p->list) : 0;
	look(p);
	p->next = cli_now_ms() + LOOK_MS;
}

void
peers_look(struct peers *p)
{
	if (!p || !p->h)
		return;
	int64_t now = cli_now_ms();
	if (now < p->next)
		return;
	look(p);
	/* eshm_stats reads what waits in the ring, record by record: over a
	 * ring full of small records it takes milliseconds. Look less often
	 * then, so that looking costs at most 1% of our time. */
	int64_t end = cli_now_ms(), gap = 100 * (end - now);
	p->next = end + (gap > LOOK_MS ? gap : LOOK_MS);
}

int64_t
peers_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : cli_now_ms() + timeout_ms;
}

int
peers_slice(struct peers *p, int64_t deadline)
{
	int64_t now = 0, left = -1;
	if (deadline >= 0) {
		now = cli_now_ms();
		left = deadline > now ? deadline - now : 0;
	}
	if (!p || !p->h)
		return (int)left;
	peers_look(p);
	now = cli_now_ms();
	int64_t s = p->next > now ? p->next - now : 1;
	if (left >= 0 && left < s)
		s = left;
	p->slice_end = now + s;
	return (int)s;
}

bool
peers_again(struct peers *p, int r, int64_t deadline)
{
	if (!p || !p->h)
		return false;
	int64_t now = cli_now_ms();
	/* the slice ran out, not a timeout the call decided itself (a reader
	 * whose group's next messages went to others returns at once) */
	bool sliced = r == ESHM_ETIMEDOUT && now >= p->slice_end;
	peers_look(p);
	return sliced && (deadline < 0 || now < deadline);
}
