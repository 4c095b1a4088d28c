/* cli.h - what every eshm tool shares: messages, option values, signals, progress. */
#ifndef CLI_H
#define CLI_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "eshm.h"

/* Exit statuses of all tools. */
enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2, EX_TIMEOUT = 124 };

extern const char *cli_prog;             /* tool name, for messages */
extern const char *cli_segment;          /* segment name, for messages, or NULL */
extern bool cli_quiet;                   /* -q, --quiet: cli_note says nothing */
extern volatile sig_atomic_t cli_signal; /* INT/TERM/HUP received, or 0 */
/* Set by every signal cli_signals catches, and by SIGCHLD after
 * cli_catch_children: a tool clears it before a wait that such a signal
 * must end (as eshm_config.interrupt) */
extern volatile sig_atomic_t cli_wake;

/* Sets the tool name; holds standard descriptors that are closed (see cli.c). */
void cli_init(const char *prog);
/* Die (1) if standard input (0) or output (1) was closed at start: the
 * tool cannot do its job, and nothing must be taken from or put into a
 * segment for nothing. A closed stderr only loses diagnostics. */
void cli_need_std(int fd);
/* "prog: NAME: message" on stderr */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a warning: worth saying, but no failure (the exit status
 * does not change for it); -q hushes it. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line of -v on stderr, "2026-11-29T23:10:00.123+0000 prog: NAME: message":
 * the local time first (ISO 8601, milliseconds), unless stderr is the
 * journal (JOURNAL_STREAM), which stamps each line itself. */
void cli_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void cli_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: message" and "Try 'prog --help'." on stderr, exit 2 */
_Noreturn void cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void cli_version(void);

/* Strict parsers: 0 on success, -1 on garbage or overflow. */
int cli_parse_size(const char *s, uint64_t *out);   /* 64K, 1M, 2G, 4096 */
int cli_parse_duration(const char *s, int64_t *ms); /* 100ms, 1.5s, 2m, 1h, 30 */
int cli_parse_count(const char *s, uint64_t max, uint64_t *out);
int cli_parse_mode(const char *s, unsigned *out); /* octal, at most 0777 */
int cli_parse_role(const char *s, int *role);     /* master | slave */
int cli_parse_group(const char *s, long *gid);    /* a group name or number */
/* The same, exiting with a usage error that names the option. */
uint64_t cli_size_arg(const char *opt, const char *s);
int cli_duration_ms_arg(const char *opt, const char *s); /* clamped to INT_MAX */
uint64_t cli_count_arg(const char *opt, const char *s, uint64_t max);

/* SIGINT/SIGTERM/SIGHUP set cli_signal and interrupt blocking calls (no
 * SA_RESTART); SIGPIPE is ignored so that writes fail with EPIPE. */
void cli_signals(void);
/* SIGCHLD sets cli_wake and interrupts blocking calls. */
void cli_catch_children(void);
/* If a signal (or EPIPE) ended us: die of it, so the shell sees 128+N. */
void cli_reraise(int sig);

/* Write all of iov; returns bytes written, which is less than the total only
 * when *err is set (a negative errno; -EINTR after a signal). */
size_t cli_writev_all(int fd, struct iovec *iov, int n, int *err);

/* 1.5 MiB, 12 KiB, 512 B */
void cli_human(uint64_t n, char *buf, size_t len);

/* Progress on stderr: updated in place on a terminal, a line every few
 * seconds otherwise. */
struct cli_progress {
	bool on, tty;
	int64_t start, last;
	uint64_t bytes, msgs;
	char note[96]; /* said after the figures, if set */
};
void cli_progress_init(struct cli_progress *p, bool on);
void cli_progress_add(struct cli_progress *p, uint64_t bytes, uint64_t msgs);
void cli_progress_done(struct cli_progress *p);

/* Long-only options every tool that opens a segment takes, listed and
 * parsed in one place; a tool's own long-only options start at CLI_OPT_NEXT. */
enum {
	CLI_OPT_MODE = CHAR_MAX + 1,
	CLI_OPT_KEEP,
	CLI_OPT_NO_CREATE,
	CLI_OPT_RETRIES,
	CLI_OPT_ROLE,
	CLI_OPT_TAKEOVER,
	CLI_OPT_HEARTBEAT,
	CLI_OPT_STALE,
	CLI_OPT_SHM_GROUP,
	CLI_OPT_EXCLUSIVE,
	CLI_OPT_NEXT,
};
/* Their entries, for the tool's getopt_long table. */
#define CLI_SEGMENT_LONGOPTS                                                                       \
	{"capacity", required_argument, NULL, 'c'},                                                \
		{"mode", required_argument, NULL, CLI_OPT_MODE},                                   \
		{"keep", no_argument, NULL, CLI_OPT_KEEP},                                         \
		{"no-create", no_argument, NULL, CLI_OPT_NO_CREATE},                               \
		{"retries", required_argument, NULL, CLI_OPT_RETRIES},                             \
		{"role", required_argument, NULL, CLI_OPT_ROLE},                                   \
		{"takeover", no_argument, NULL, CLI_OPT_TAKEOVER},                                 \
		{"exclusive", no_argument, NULL, CLI_OPT_EXCLUSIVE},                               \
		{"heartbeat", required_argument, NULL, CLI_OPT_HEARTBEAT},                         \
		{"stale", required_argument, NULL, CLI_OPT_STALE},                                 \
	{                                                                                          \
		"shm-group", required_argument, NULL, CLI_OPT_SHM_GROUP                            \
	}
/* A --capacity SIZE: bytes per channel, 4K to 2G. */
size_t cli_capacity_arg(const char *arg);
/* -c/--capacity and the CLI_OPT_* above: true if c was one of them. */
bool cli_segment_option(int c, const char *arg, struct eshm_config *cfg);
/* -h, -V, or anything getopt did not know: usage, version, or exit 2. */
_Noreturn void cli_other_option(int c, void (*usage)(void));
/* The one NAME operand at argv[optind], and a config that makes sense,
 * completed with what the options imply together: --shm-group without
 * --mode means mode 0660, as sharing within a group needs group bits. */
const char *cli_one_name(int argc, char **argv, struct eshm_config *cfg);
/* Each NAME operand from argv[optind] on must be valid. */
void cli_check_names(int argc, char **argv);

/* eshm_open with the tools' conventions: blocking waits end on
 * SIGINT/TERM/HUP (then the signal is re-raised), a failure is said and
 * ends the tool (1). */
/* Open name, or die saying why. A writer that meets another's raw stream
 * (ESHM_ETURN) waits for its turn, up to timeout_ms (-1: for ever; then
 * exit 124). */
eshm_t *cli_open(const char *name, struct eshm_config *cfg, int timeout_ms);
/* (cfg->interrupt, if NULL, becomes &cli_signal.) */
/* Why the last call on h failed, in words: its message, or the code's. */
const char *cli_lib_text(eshm_t *h, int code);
/* Flush and close stdout at the end: status, or 1 after saying why a
 * write failed; EPIPE (the reader left) ends the tool by SIGPIPE, quietly,
 * as head(1) users expect. */
int cli_close_stdout(int status);

/* Name a library failure: err->what if set, else the code's words. */
const char *cli_err_text(const struct eshm_error *err, int code);

int64_t cli_now_ms(void);

#endif
