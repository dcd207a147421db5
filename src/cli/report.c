/* SPDX-License-Identifier: MIT */
/*
 * report.c (command): what the user sees besides the data: the progress
 * line on a terminal, the summary lines, failure messages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

#define DRAW_INTERVAL 0.1	/* seconds between two redraws */

double
cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
progress_init(struct progress *p, bool enabled, bool decompress)
{
	memset(p, 0, sizeof(*p));
	p->enabled = enabled;
	p->decompress = decompress;
	p->t0 = cli_now();
}

/* "123.4 MB": decimal units, as MB/s. */
static void
format_size(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "kB", "MB", "GB", "TB", "PB" };
	double v = (double)n;
	int u = -1;

	if (n < 1000) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return;
	}
	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u]);
}

static unsigned
terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/*
 * Draws "NAME  DONE / TOTAL  P%  R MB/s  ratio Q%  M:SS left", the name
 * shortened from the left so that the line never wraps (a wrapped line
 * cannot be redrawn with \r).
 */
static void
draw(struct progress *p, double now)
{
	const uint64_t in = p->base_in + p->file_in;
	const uint64_t out = p->base_out + p->file_out;
	const double secs = now - p->t0;
	const double rate = secs > 0 ? (double)in / secs : 0;
	char done[32], total[32], stats[160], line[512], count[32] = "";
	const char *name = p->name ? p->name : "";
	size_t name_len = strlen(name), width, room;
	int n;

	format_size(in, done, sizeof(done));
	if (p->job_total)
		format_size(p->job_total, total, sizeof(total));
	else
		snprintf(total, sizeof(total), "?");
	n = snprintf(stats, sizeof(stats), "  %s / %s", done, total);
	if (p->job_total && n > 0 && (size_t)n < sizeof(stats))
		n += snprintf(stats + n, sizeof(stats) - (size_t)n, "  %3.0f%%",
			      100.0 * (double)in / (double)p->job_total);
	if (n > 0 && (size_t)n < sizeof(stats))
		n += snprintf(stats + n, sizeof(stats) - (size_t)n,
			      "  %.1f MB/s", rate / 1e6);
	if (in > 0 && out > 0 && n > 0 && (size_t)n < sizeof(stats)) {
		/* the compressed side as a share of the original side */
		const double r = p->decompress ? (double)in / (double)out :
						 (double)out / (double)in;

		n += snprintf(stats + n, sizeof(stats) - (size_t)n,
			      "  ratio %.1f%%", 100.0 * r);
	}
	if (p->job_total && n > 0 && (size_t)n < sizeof(stats)) {
		if (in >= p->job_total)
			n += snprintf(stats + n, sizeof(stats) - (size_t)n,
				      "  checking");
		else if (secs >= 0.3 && rate > 0) {
			const double left =
				(double)(p->job_total - in) / rate;
			const unsigned long s = (unsigned long)(left + 0.5);

			n += snprintf(stats + n, sizeof(stats) - (size_t)n,
				      "  %lu:%02lu left", s / 60, s % 60);
		}
	}
	if (n < 0)
		return;
	if (p->file_count > 1)
		snprintf(count, sizeof(count), "[%u/%u] ", p->file_index,
			 p->file_count);
	width = terminal_width() - 1;
	room = strlen(count) + strlen(stats) + 4 < width ?
		width - strlen(count) - strlen(stats) : 4;
	if (name_len > room) {
		/* keep the end of the path; start on a UTF-8 lead byte */
		const char *tail = name + name_len - (room - 3);

		while (*tail && ((unsigned char)*tail & 0xc0) == 0x80)
			tail++;
		n = snprintf(line, sizeof(line), "\r\033[K%s...%s%s", count,
			     tail, stats);
	} else {
		n = snprintf(line, sizeof(line), "\r\033[K%s%s%s", count, name,
			     stats);
	}
	if (n > 0) {
		const size_t len = (size_t)n < sizeof(line) ?
			(size_t)n : sizeof(line) - 1;

		if (write(STDERR_FILENO, line, len) < 0) {
			/* nothing to do: the line is a courtesy */
		}
	}
	p->drawn = true;
	p->last_draw = now;
}

/* eager: draw now if the line drawn last showed nothing of this file */
static void
maybe_draw(struct progress *p, bool eager)
{
	double now;

	if (!p->enabled)
		return;
	now = cli_now();
	if (!p->drawn || now - p->last_draw >= DRAW_INTERVAL ||
	    (eager && !p->drawn_file && p->file_in > 0)) {
		p->drawn_file = p->file_in > 0;
		draw(p, now);
	}
}

void
progress_begin_file(struct progress *p, const char *name)
{
	p->name = name;
	p->file_index++;
	p->file_in = 0;
	p->file_out = 0;
	p->drawn_file = false;
	maybe_draw(p, false);
}

void
progress_update(struct progress *p, uint64_t in_nbytes, uint64_t out_nbytes)
{
	p->file_in = in_nbytes;
	p->file_out = out_nbytes;
	maybe_draw(p, false);
}

void
progress_end_file(struct progress *p, uint64_t in_nbytes, uint64_t out_nbytes)
{
	/* the line ends at 100%, however fast the file went */
	if (p->enabled && p->drawn) {
		p->file_in = in_nbytes;
		p->file_out = out_nbytes;
		draw(p, cli_now());
	}
	p->base_in += in_nbytes;
	p->base_out += out_nbytes;
	p->file_in = 0;
	p->file_out = 0;
}

void
progress_clear(struct progress *p)
{
	static const char erase[] = "\r\033[K";

	if (!p->drawn)
		return;
	if (write(STDERR_FILENO, erase, sizeof(erase) - 1) < 0) {
		/* as in draw() */
	}
	p->drawn = false;
}

int
progress_callback(void *user, uint64_t done_nbytes, uint64_t total_nbytes,
		  uint64_t out_nbytes)
{
	struct progress *p = user;

	(void)total_nbytes;
	/*
	 * done counts original bytes, out the .gauss side: for decompress
	 * the bytes read are the .gauss ones.
	 */
	p->file_in = p->decompress ? out_nbytes : done_nbytes;
	p->file_out = p->decompress ? done_nbytes : out_nbytes;
	/* the first bytes of a large file show at once */
	maybe_draw(p, true);
	return cli_stop_signal != 0;
}

void
print_summary(const char *in, const char *out, uint64_t in_nbytes,
	      uint64_t out_nbytes, bool decompress, double secs,
	      const char *tail)
{
	const uint64_t original = decompress ? out_nbytes : in_nbytes;
	const uint64_t compressed = decompress ? in_nbytes : out_nbytes;
	const double mbps = secs > 0 ? (double)original / secs / 1e6 : 0;
	const double pct = original ?
		100.0 * (double)compressed / (double)original : 0;

	fprintf(stderr, "%s%s%s: %llu -> %llu bytes (%.2f%%), %.3f s, "
		"%.1f MB/s%s\n", in, out ? " -> " : "", out ? out : "",
		(unsigned long long)in_nbytes,
		(unsigned long long)out_nbytes, pct, secs, mbps,
		tail ? tail : "");
}

int
cli_fail(struct gauss_ctx *ctx, enum gauss_status st, const char *what,
	 const char *path)
{
	const char *msg = gauss_ctx_error(ctx);
	const size_t n = strlen(path);

	if (msg == NULL || *msg == '\0')
		msg = gauss_strerror(st);
	/* library messages start with the file name: "'path': reason" */
	if (msg[0] == '\'' && strncmp(msg + 1, path, n) == 0 &&
	    strncmp(msg + 1 + n, "': ", 3) == 0)
		msg += n + 4;
	fprintf(stderr, "gauss: cannot %s '%s': %s\n", what, path, msg);
	return EXIT_DATA;
}

int
cli_failf(const char *what, const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gauss: cannot %s '%s': ", what, path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return EXIT_DATA;
}

int
copy_metadata(const char *path, const struct stat *sb)
{
	const struct timespec times[2] = { sb->st_atim, sb->st_mtim };

	/* permission bits and sticky; never set-user or set-group ID */
	if (chmod(path, sb->st_mode & 01777) != 0)
		return -1;
	return utimensat(AT_FDCWD, path, times, 0);
}

int
cli_sync_path(const char *path, int flags)
{
	const int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}
