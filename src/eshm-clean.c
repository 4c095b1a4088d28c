/* eshm-clean - remove the segments that no live process holds: what crashed processes left. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_OLDER = CHAR_MAX + 1,
	OPT_FORCE,
	OPT_GROUP,
};

static const struct option longopts[] = {
	{"older-than", required_argument, NULL, OPT_OLDER},
	{"force", no_argument, NULL, OPT_FORCE},
	{"group", required_argument, NULL, OPT_GROUP},
	{"dry-run", no_argument, NULL, 'n'},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void
usage(void)
{
	printf("Usage: %s [options] [NAME...]\n"
	       "       %s --group GROUP NAME...\n"
	       "Remove eshm segments (all in /dev/shm, or the named ones) that no live\n"
	       "process holds: by default only those with nothing undelivered, and in a\n"
	       "sweep of all of them not those created with --keep. A sweep also removes\n"
	       "the unfinished segments (/dev/shm/.eshm-new.*) of processes killed while\n"
	       "creating one, and the descriptors (/dev/shm/.eshm-poll.*) of processes\n"
	       "killed while polling one.\n"
	       "\n"
	       "      --older-than DURATION  also remove those holding undelivered data,\n"
	       "                             or created with --keep, idle for that long\n"
	       "      --force                remove the named segments whatever they hold,\n"
	       "                             and named files that are not valid segments;\n"
	       "                             never one with a live holder\n"
	       "      --group GROUP          remove consumer group GROUP (its place and\n"
	       "                             what it did not release) from the named\n"
	       "                             segments instead; refused while it has a\n"
	       "                             live reader\n"
	       "  -n, --dry-run              say what would be removed, remove nothing\n"
	       "  -v, --verbose              also say what is kept, and why\n"
	       "  -q, --quiet                no warnings on stderr (a sweep's invalid\n"
	       "                             files), only errors\n"
	       "  -h, --help                 show this help and exit\n"
	       "  -V, --version              show the version and exit\n"
	       "\n"
	       "A segment being attached while we look is never removed. Durations take\n"
	       "ms, s, m, h (bare: seconds).\n"
	       "Exit status: 0 success; 1 something could not be removed (a named\n"
	       "segment kept, a permission problem, no such group); 2 usage error.\n",
	       cli_prog, cli_prog);
}

struct opts {
	unsigned flags;
	int64_t older_ms;  /* -1: not given */
	const char *group; /* --group */
	bool dry, verbose, force;
};

static void
parse(int argc, char **argv, struct opts *o)
{
	int c;
	o->older_ms = -1;
	while ((c = getopt_long(argc, argv, "nvqhV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_OLDER: {
			int64_t ms;
			if (cli_parse_duration(optarg, &ms))
				cli_usage_error("invalid duration for --older-than: '%s' "
						"(use e.g. 30m, 2h, 1.5h)",
						optarg);
			o->older_ms = ms;
			break;
		}
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_GROUP:
			if (!eshm_group_name_ok(optarg))
				cli_usage_error(
					"invalid --group '%s': - or 1 to %d letters, digits, "
					"'.', '_', '-', '@', ':' not starting with '-' or '.'",
					optarg, ESHM_GROUP_NAME_MAX);
			o->group = optarg;
			break;
		case 'n':
			o->dry = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'q':
			cli_quiet = true;
			break;
		default:
			cli_other_option(c, usage);
		}
	}
	if (o->verbose && cli_quiet)
		cli_usage_error("--verbose and --quiet: one or the other");
	if (o->force && optind == argc)
		cli_usage_error("--force needs the NAMEs of the segments to remove");
	if (o->group && optind == argc)
		cli_usage_error("--group needs the NAMEs of the segments to remove it from");
	if (o->group && (o->force || o->older_ms >= 0))
		cli_usage_error("--group goes with neither --force nor --older-than");
	cli_check_names(argc, argv);
	/* a sweep leaves segments created with --keep alone, unless idle for
	 * --older-than; naming one is asking for it */
	if (optind < argc)
		o->flags |= ESHM_UNLINK_KEPT;
	else if (o->older_ms >= 0)
		o->flags |= ESHM_UNLINK_KEPT_IDLE;
	if (o->older_ms >= 0)
		o->flags |= ESHM_UNLINK_PENDING;
	/* --force: whatever it holds, however recently used */
	if (o->force) {
		o->flags |= ESHM_UNLINK_PENDING | ESHM_UNLINK_INVALID;
		o->older_ms = 0;
	}
	if (o->dry)
		o->flags |= ESHM_UNLINK_DRY_RUN;
}

/* What a removed segment held, for its line. */
static void
describe(const struct eshm_info *in, char *buf, size_t len)
{
	if (!in->valid) {
		snprintf(buf, len, "not a valid segment: %s", in->problem);
		return;
	}
	uint64_t msgs = 0, bytes = 0;
	for (int ch = 0; ch < 2; ch++) {
		const struct eshm_channel_info *c = &in->chan[ch];
		msgs += c->msgs_in > c->msgs_out ? c->msgs_in - c->msgs_out : 0;
		bytes += c->bytes_in > c->bytes_out ? c->bytes_in - c->bytes_out : 0;
	}
	if (!in->pending) {
		snprintf(buf, len, "empty");
		return;
	}
	if (!msgs) {
		snprintf(buf, len, "an undelivered end-of-stream mark");
		return;
	}
	char b[32], idle[32];
	cli_human(bytes, b, sizeof b);
	snprintf(idle, sizeof idle, "%.1f h", (double)in->idle_ms / 3600000);
	if (in->idle_ms < 3600000)
		snprintf(idle, sizeof idle, "%lld s", (long long)(in->idle_ms / 1000));
	snprintf(buf, len, "%llu undelivered messages, %s, idle %s", (unsigned long long)msgs, b,
		 idle);
}

/* One segment; returns true unless it failed in a way that counts. */
static bool
clean_one(const struct opts *o, const char *name, bool named)
{
	struct eshm_info info;
	struct eshm_error err;
	char what[320];
	int r = eshm_unlink(name, o->flags, o->older_ms < 0 ? 0 : o->older_ms, &info, &err);
	if (r == 0) {
		describe(&info, what, sizeof what);
		printf("%s %s (%s)\n", o->dry ? "would remove" : "removed", name, what);
		return true;
	}
	const char *why = cli_err_text(&err, r);
	switch (r) {
	case ESHM_ENOSEG:
		/* gone meanwhile: fine in a sweep, a failure by name */
		if (named)
			cli_warn("%s: %s", name, why);
		return !named;
	case ESHM_EBUSY:
	case ESHM_EPENDING:
		/* in a sweep, keeping these is the point; by name, it is a failure */
		if (named || o->verbose)
			cli_warn("%s: kept: %s", name, why);
		return !named;
	case -EACCES:
	case -EPERM:
		/* in a sweep, another user's segment is not ours to clean */
		if (named || o->verbose)
			cli_warn("%s: %s", name, why);
		return !named;
	case ESHM_ENOTSEG: {
		char hint[ESHM_NAME_MAX + 48] = "";
		if (!strstr(why, "not a regular file"))
			snprintf(hint, sizeof hint, "; 'eshm-clean --force %s' removes it", name);
		/* by name, a failure; in a sweep, a warning */
		if (named)
			cli_warn("%s: %s%s", name, why, hint);
		else
			cli_note("%s: %s%s", name, why, hint);
		return !named;
	}
	default:
		cli_warn("%s: %s", name, why);
		return false;
	}
}

/* --group: remove the group from segment name; true unless it failed. */
static bool
remove_group(const struct opts *o, const char *name)
{
	struct eshm_error err;
	int r = eshm_group_remove(name, o->group, o->dry ? ESHM_UNLINK_DRY_RUN : 0, &err);
	if (r > 0) {
		printf("%s group %s of %s\n", o->dry ? "would remove" : "removed", o->group, name);
		return true;
	}
	cli_warn("%s: %s", name, cli_err_text(&err, r));
	return false;
}

/* What a process killed while creating a segment, or polling one, left,
 * in a sweep: gone only if that process died. Returns true unless it
 * failed in a way that counts. */
static bool
clean_leftover(const struct opts *o, const char *path)
{
	struct eshm_leftover lo;
	struct eshm_error err;
	int r = eshm_leftover_unlink(path, o->dry ? ESHM_UNLINK_DRY_RUN : 0, &lo, &err);
	if (r == 0 && strstr(path, "/" ESHM_POLL_PREFIX)) {
		printf("%s %s (descriptor of pid %d, which died polling)\n",
		       o->dry ? "would remove" : "removed", path, (int)lo.creator_pid);
		return true;
	}
	if (r == 0) {
		char size[32];
		cli_human(lo.size, size, sizeof size);
		printf("%s %s (unfinished segment of pid %d, which died, %s)\n",
		       o->dry ? "would remove" : "removed", path, (int)lo.creator_pid, size);
		return true;
	}
	const char *why = cli_err_text(&err, r);
	switch (r) {
	case ESHM_ENOSEG:
		return true; /* its creation finished meanwhile */
	case ESHM_EBUSY:
		if (o->verbose)
			cli_warn("%s: kept: %s", path, why);
		return true;
	case -EACCES:
	case -EPERM:
		/* another user's, as for segments: not ours to clean */
		if (o->verbose)
			cli_warn("%s: %s", path, why);
		return true;
	case ESHM_ENOTSEG:
		cli_note("%s: %s", path, why); /* a warning: nothing failed */
		return true;
	default:
		cli_warn("%s: %s", path, why);
		return false;
	}
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	cli_init("eshm-clean");
	parse(argc, argv, &o);
	cli_need_std(STDOUT_FILENO);

	bool ok = true;
	if (o.group) {
		for (int i = optind; i < argc; i++)
			ok &= remove_group(&o, argv[i]);
	} else if (optind < argc) {
		for (int i = optind; i < argc; i++)
			ok &= clean_one(&o, argv[i], true);
	} else {
		char **names;
		ssize_t n = eshm_list(&names);
		if (n < 0)
			cli_die(EX_FAIL, "cannot list /dev/shm: %s", eshm_strerror((int)n));
		for (ssize_t i = 0; i < n; i++)
			ok &= clean_one(&o, names[i], false);
		eshm_list_free(names, (size_t)n);
		struct eshm_leftover *lo;
		n = eshm_leftovers(&lo);
		if (n < 0)
			cli_die(EX_FAIL, "cannot list /dev/shm: %s", eshm_strerror((int)n));
		for (ssize_t i = 0; i < n; i++)
			ok &= clean_leftover(&o, lo[i].path);
		eshm_leftovers_free(lo);
	}
	return cli_close_stdout(ok ? EX_OK : EX_FAIL);
}
