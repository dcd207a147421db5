/* SPDX-License-Identifier: MIT */
/*
 * gauss.c (command): commands, options, operands and exit codes over the
 * library in gauss.h. Exit status: 0 success, 1 bad data or I/O failure,
 * 2 usage error (gauss(1), EXIT STATUS).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

static int verbosity = 1;	/* 0 quiet, 1 normal, 2 verbose */

volatile sig_atomic_t cli_stop_signal;
/* set while a model directory is written: signals stop it cleanly */
static volatile sig_atomic_t defer_signals;

static void
usage_short(FILE *f)
{
	fputs("usage: gauss compress [OPTIONS] INPUT... (each to INPUT.gauss)\n"
	      "       gauss compress [OPTIONS] INPUT OUTPUT\n"
	      "       gauss compress [OPTIONS] -o OUTPUT INPUT\n"
	      "       gauss compress [OPTIONS] -c INPUT\n"
	      "       gauss --lossless [OPTIONS] INPUT OUTPUT\n"
	      "       gauss compress --gmm [LOSSY OPTIONS] INPUT OUTPUT\n"
	      "       gauss decompress [OPTIONS] INPUT... (X.gauss to X)\n"
	      "       gauss decompress [OPTIONS] INPUT OUTPUT\n"
	      "       gauss decompress [OPTIONS] -o OUTPUT INPUT\n"
	      "       gauss decompress [OPTIONS] -c INPUT\n"
	      "       gauss info [--json] FILE\n"
	      "       gauss extract [--raw] [-f] FILE TENSOR [OUTPUT]\n"
	      "       gauss verify [-T N] FILE\n"
	      "       gauss -h | --help | --version\n", f);
}

static void
usage_long(void)
{
	usage_short(stdout);
	fputs("\n"
	      "Compresses safetensors checkpoints, and model directories,\n"
	      "without loss into .gauss files and restores them byte for\n"
	      "byte.\n"
	      "\n"
	      "commands:\n"
	      "  compress      compress safetensors files (the default mode\n"
	      "                is lossless); a directory: every .safetensors\n"
	      "                file in its tree, the other files copied\n"
	      "  decompress    restore the original files (or a directory),\n"
	      "                checking every checksum\n"
	      "  info          list the tensors of a .gauss file: dtype,\n"
	      "                shape, codec, sizes, ratio, exponent entropy\n"
	      "  verify        decode everything and check every checksum,\n"
	      "                writing nothing\n"
	      "  extract       write one tensor as a safetensors file (to\n"
	      "                standard output without OUTPUT), reading\n"
	      "                only its chunks\n"
	      "\n"
	      "operands of compress and decompress: with one INPUT or more\n"
	      "than two, each INPUT goes to its default name; with two, the\n"
	      "second is the OUTPUT unless it ends in .safetensors (compress)\n"
	      "or .gauss (decompress), when both are inputs. '-' is the\n"
	      "standard input (output).\n"
	      "\n"
	      "options:\n"
	      "  --lossless    bit-exact compression (the default)\n"
	      "  --gmm         lossy: float tensors of 2+ dimensions coded\n"
	      "                with a Gaussian mixture, each value within\n"
	      "                1/(2S) of its original; the rest bit-exact\n"
	      "lossy options (with --gmm; the original gauss's defaults):\n"
	      "  --K N                  mixture components, 1-255 (16)\n"
	      "  --max-iter N           hard-EM iterations (100)\n"
	      "  --shard-threshold N    more elements: row shards (5000000)\n"
	      "  --shard-rows N         rows per shard (4096)\n"
	      "  --raw-threshold N      fewer elements: lossless (32768)\n"
	      "  --layers A,B,...       only these tensors lossy (all)\n"
	      "  --seed N               seed of the fit's sample (0)\n"
	      "  --max-error E          choose S so that 1/(2S) <= E\n"
	      "                         (default S: 1000 for F32 and F16,\n"
	      "                         128 for BF16)\n"
	      "  -o, --output FILE\n"
	      "                write the (single) INPUT to FILE\n"
	      "  -c, --stdout  write to standard output\n"
	      "  -k, --keep    keep the input files (the default)\n"
	      "  --rm          remove each input once its output is complete\n"
	      "                and checked (not with standard input/output,\n"
	      "                not for directories)\n"
	      "  -f, --force   overwrite an existing output (never a file or\n"
	      "                directory of the command's input kind); write\n"
	      "                binary data to a terminal\n"
	      "  --direct      read and write files with O_DIRECT where the\n"
	      "                file system allows it\n"
	      "  -q, --quiet   print nothing but errors (no progress line)\n"
	      "  -v, --verbose print more detail\n"
	      "  -T, --threads N, --workers N\n"
	      "                worker threads (default 0: one per core); the\n"
	      "                output is the same for any N\n"
	      "  --json        (info) print one JSON document\n"
	      "  --raw         (extract) the tensor's bare bytes, no header\n"
	      "  -h, --help    print this help\n"
	      "  --version     print the version\n"
	      "  --            end of options\n"
	      "\n"
	      "environment: GAUSS_IO=auto|uring|posix, "
	      "GAUSS_CPU=scalar|avx2|avx512\n"
	      "exit status: 0 success, 1 bad data or I/O failure, 2 usage "
	      "error\n"
	      "See gauss(1) and gauss(5).\n", stdout);
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gauss: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	usage_short(stderr);
	return EXIT_USAGE;
}

/* How a file name reads in messages: "-" is a standard stream. */
static const char *
shown(const char *path, int output)
{
	if (strcmp(path, "-") != 0)
		return path;
	return output ? "standard output" : "standard input";
}

/*
 * Binary data on a terminal is noise (and can upset it): refused unless
 * forced, as other compressors do.
 */
static int
refuse_terminal(const char *out, int force)
{
	if (strcmp(out, "-") != 0 || force || !isatty(STDOUT_FILENO))
		return 0;
	fputs("gauss: refusing to write binary data to a terminal (use -f "
	      "to force, or redirect the output)\n", stderr);
	return 1;
}

enum {
	OPT_GMM = 256, OPT_K, OPT_MAX_ITER, OPT_SHARD_THRESHOLD,
	OPT_SHARD_ROWS, OPT_RAW_THRESHOLD, OPT_LAYERS, OPT_SEED,
	OPT_MAX_ERROR,
};

static const struct option long_options[] = {
	{ "lossless", no_argument, NULL, 'L' },
	{ "gmm", no_argument, NULL, OPT_GMM },
	{ "K", required_argument, NULL, OPT_K },
	{ "max-iter", required_argument, NULL, OPT_MAX_ITER },
	{ "shard-threshold", required_argument, NULL, OPT_SHARD_THRESHOLD },
	{ "shard-rows", required_argument, NULL, OPT_SHARD_ROWS },
	{ "raw-threshold", required_argument, NULL, OPT_RAW_THRESHOLD },
	{ "layers", required_argument, NULL, OPT_LAYERS },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "max-error", required_argument, NULL, OPT_MAX_ERROR },
	{ "force", no_argument, NULL, 'f' },
	{ "stdout", no_argument, NULL, 'c' },
	{ "output", required_argument, NULL, 'o' },
	{ "keep", no_argument, NULL, 'k' },
	{ "rm", no_argument, NULL, 'M' },
	{ "direct", no_argument, NULL, 'D' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "json", no_argument, NULL, 'J' },
	{ "raw", no_argument, NULL, 'R' },
	{ "threads", required_argument, NULL, 'T' },
	{ "workers", required_argument, NULL, 'T' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Reads an unsigned integer option in [lo, hi]; false when it is not. */
static bool
parse_count(const char *arg, uint64_t lo, uint64_t hi, uint64_t *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || arg[0] == '+' ||
	    n < lo || n > hi)
		return false;
	*v = n;
	return true;
}

/* A lossy option: its value into o->gmm_opts; -1 to go on, else exit code. */
static int
parse_gmm_option(int c, const char *name, const char *arg, struct cli_opts *o)
{
	struct gauss_gmm_options *g = &o->gmm_opts;
	uint64_t v;

	if (o->gmm_option == NULL)
		o->gmm_option = name;
	switch (c) {
	case OPT_K:
		if (!parse_count(arg, 1, 255, &v))
			return usage_error("invalid --K '%s' (1 to 255)", arg);
		g->k = (unsigned)v;
		return -1;
	case OPT_MAX_ITER:
		if (!parse_count(arg, 1, 1000000, &v))
			return usage_error("invalid --max-iter '%s' (1 to "
					   "1000000)", arg);
		g->max_iter = (unsigned)v;
		return -1;
	case OPT_SHARD_THRESHOLD:
		if (!parse_count(arg, 0, UINT64_MAX, &g->shard_threshold))
			return usage_error("invalid --shard-threshold '%s'",
					   arg);
		return -1;
	case OPT_SHARD_ROWS:
		if (!parse_count(arg, 1, UINT64_MAX, &g->shard_rows))
			return usage_error("invalid --shard-rows '%s' (at "
					   "least 1)", arg);
		return -1;
	case OPT_RAW_THRESHOLD:
		if (!parse_count(arg, 0, UINT64_MAX, &g->raw_threshold))
			return usage_error("invalid --raw-threshold '%s'", arg);
		return -1;
	case OPT_LAYERS:
		if (arg[0] == '\0')
			return usage_error("--layers needs tensor names");
		g->layers = arg;
		return -1;
	case OPT_SEED:
		if (!parse_count(arg, 0, UINT64_MAX, &g->seed))
			return usage_error("invalid --seed '%s'", arg);
		return -1;
	default: {	/* OPT_MAX_ERROR */
		char *end;
		double e;

		errno = 0;
		e = strtod(arg, &end);
		if (errno || end == arg || *end || !(e > 0) || isinf(e))
			return usage_error("invalid --max-error '%s' (a "
					   "positive number)", arg);
		g->max_error = e;
		return -1;
	}
	}
}

/*
 * Parses the options after the command (anywhere before "--"; operands are
 * moved after them); returns -1 to go on, else an exit code.
 */
static int
parse_options(int argc, char **argv, struct cli_opts *o)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "-:cfkqvho:T:", long_options,
				NULL)) != -1) {
		switch (c) {
		case 1:
			/* an operand, in order ("-" in optstring) */
			o->operands[o->operand_count++] = optarg;
			break;
		case 'L':
			o->lossless = true;
			break;
		case OPT_GMM:
			o->gmm = true;
			break;
		case OPT_K:
		case OPT_MAX_ITER:
		case OPT_SHARD_THRESHOLD:
		case OPT_SHARD_ROWS:
		case OPT_RAW_THRESHOLD:
		case OPT_LAYERS:
		case OPT_SEED:
		case OPT_MAX_ERROR: {
			const char *name = "";
			int r;

			for (const struct option *lo = long_options;
			     lo->name != NULL; lo++)
				if (lo->val == c)
					name = lo->name;
			r = parse_gmm_option(c, name, optarg, o);

			if (r >= 0)
				return r;
			break;
		}
		case 'f':
			o->force = true;
			break;
		case 'c':
			o->to_stdout = true;
			break;
		case 'o':
			if (optarg[0] == '\0')
				return usage_error("option '-o' needs a file "
						   "name");
			o->output = optarg;
			break;
		case 'k':
			o->remove_input = false;
			break;
		case 'M':
			o->remove_input = true;
			break;
		case 'D':
			o->direct = true;
			break;
		case 'q':
			verbosity = 0;
			break;
		case 'v':
			verbosity = 2;
			break;
		case 'J':
			o->json = true;
			break;
		case 'R':
			o->raw = true;
			break;
		case 'T': {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    n > 1024)
				return usage_error("invalid thread count '%s' "
						   "(0 to 1024)", optarg);
			o->threads = (unsigned)n;
			break;
		}
		case 'h':
			usage_long();
			return 0;
		case 'V':
			printf("gauss %s\n", gauss_version_string());
			return 0;
		case ':':
			if (optopt)
				return usage_error("option '-%c' needs a value",
						   optopt);
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'",
						   optopt);
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	/* after "--": the rest are operands */
	while (optind < argc)
		o->operands[o->operand_count++] = argv[optind++];
	o->verbosity = verbosity;
	return -1;
}

/* With -v: what the .gauss file holds. */
static void
print_details(struct gauss_ctx *ctx, const char *gauss_path)
{
	struct gauss_reader *r;
	struct gauss_file_info fi;

	if (verbosity < 2 || gauss_reader_open(ctx, gauss_path, &r) != GAUSS_OK)
		return;
	gauss_reader_file_info(r, &fi);
	fprintf(stderr, "%s: format %u, %llu tensors, %llu chunks, "
		"safetensors header %llu bytes\n", gauss_path,
		fi.format_version, (unsigned long long)fi.tensor_count,
		(unsigned long long)fi.chunk_count,
		(unsigned long long)fi.header_nbytes);
	gauss_reader_close(r);
}

static bool
ends_with(const char *s, const char *suffix)
{
	const size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * The default output of an input: INPUT.gauss for compress, INPUT less
 * .gauss for decompress (a directory's name without its trailing
 * slashes); "-" for the standard input. NULL, with a message, when there
 * is none.
 */
static char *
default_output(const char *in, bool decompress, bool report)
{
	const char *what = decompress ? "decompress" : "compress";
	size_t n = strlen(in);
	char *out;

	if (strcmp(in, "-") == 0)
		return strdup("-");
	while (n > 1 && in[n - 1] == '/')
		n--;
	if (decompress) {
		const char *base;

		if (n < 6 || strncmp(in + n - 6, ".gauss", 6) != 0) {
			if (report)
				cli_failf(what, in, "name does not end in "
					  ".gauss (give the output with -o)");
			return NULL;
		}
		out = strndup(in, n - 6);
		if (out == NULL)
			return NULL;
		base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
		if (*base == '\0' || strcmp(base, ".") == 0 ||
		    strcmp(base, "..") == 0) {
			if (report)
				cli_failf(what, in, "no name left without "
					  ".gauss (give the output with -o)");
			free(out);
			return NULL;
		}
		return out;
	}
	{
		const char *base = in;

		for (size_t i = 0; i + 1 < n; i++)
			if (in[i] == '/')
				base = in + i + 1;
		if (n == 1 && in[0] == '/') {
			base = "/";
		}
		if (strncmp(base, ".", (size_t)(in + n - base)) == 0 ||
		    strncmp(base, "..", (size_t)(in + n - base)) == 0 ||
		    strcmp(base, "/") == 0) {
			if (report)
				cli_failf(what, in, "no name to add .gauss to "
					  "(give the output with -o)");
			return NULL;
		}
	}
	out = malloc(n + 7);
	if (out != NULL) {
		memcpy(out, in, n);
		memcpy(out + n, ".gauss", 7);
	}
	return out;
}

/*
 * Whether the existing file at path holds what the command reads: a
 * safetensors file (for compress: an 8-byte header length, then '{') or a
 * .gauss file, of gauss or of the original Python gauss (decompress).
 * Such a file is never replaced, even with -f.
 */
static bool
looks_like_input_kind(const char *path, bool decompress)
{
	unsigned char b[9];
	const int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, b, sizeof(b));
	close(fd);
	if (n != (ssize_t)sizeof(b))
		return false;
	if (decompress)
		return memcmp(b, "\x89GSZ\r\n\x1a\n", 8) == 0 ||
		       memcmp(b, "GAUSS00", 7) == 0;
	{
		uint64_t len = 0;

		for (int i = 7; i >= 0; i--)
			len = len << 8 | b[i];
		return len >= 2 && len <= 100000000 && b[8] == '{';
	}
}

struct totals {
	unsigned files;		/* inputs done */
	unsigned file_count;	/* files in them (directories count theirs) */
	uint64_t in_nbytes, out_nbytes;
};

/* Removes in after its output is in place, if it has not changed since. */
static int
remove_input(const char *what, const char *in, const struct stat *before)
{
	struct stat sb;

	if (stat(in, &sb) != 0)
		return cli_failf(what, in, "not removed: %s", strerror(errno));
	if (sb.st_dev != before->st_dev || sb.st_ino != before->st_ino ||
	    sb.st_size != before->st_size ||
	    sb.st_mtim.tv_sec != before->st_mtim.tv_sec ||
	    sb.st_mtim.tv_nsec != before->st_mtim.tv_nsec)
		return cli_failf(what, in, "changed while it was read; not "
				 "removed");
	if (unlink(in) != 0)
		return cli_failf(what, in, "cannot remove it: %s",
				 strerror(errno));
	if (verbosity > 1)
		fprintf(stderr, "%s: removed\n", in);
	return 0;
}

/* One file to one file (or a stream). */
static int
run_file(struct gauss_ctx *ctx, const struct cli_opts *o,
	 struct progress *p, const char *in, const char *out,
	 const struct stat *in_sb, struct totals *tot)
{
	const char *what = o->decompress ? "decompress" : "compress";
	const bool out_file = strcmp(out, "-") != 0;
	const double t0 = cli_now();
	uint64_t in_nbytes = 0, out_nbytes = 0;
	enum gauss_status st;
	struct stat sb;

	if (refuse_terminal(out, o->force))
		return EXIT_USAGE;
	if (o->force && out_file && lstat(out, &sb) == 0 &&
	    S_ISREG(sb.st_mode) &&
	    !(in_sb && sb.st_dev == in_sb->st_dev &&
	      sb.st_ino == in_sb->st_ino) &&
	    looks_like_input_kind(out, o->decompress))
		return cli_failf(what, shown(in, 0), "output '%s' is a %s "
				 "file; not replaced, even with -f", out,
				 o->decompress ? ".gauss" : "safetensors");
	gauss_ctx_set_overwrite(ctx, o->force);
	progress_begin_file(p, shown(in, 0));
	st = o->decompress ? gauss_decompress_file(ctx, in, out) :
			     gauss_compress_file(ctx, in, out);
	if (st == GAUSS_OK)
		gauss_ctx_last_sizes(ctx, &in_nbytes, &out_nbytes);
	progress_end_file(p, in_nbytes, out_nbytes);
	progress_clear(p);
	if (st != GAUSS_OK)
		return cli_fail(ctx, st, what, shown(in, 0));
	if (in_sb && S_ISREG(in_sb->st_mode) && out_file &&
	    (copy_metadata(out, in_sb) != 0 || cli_sync_path(out, 0) != 0))
		return cli_failf(what, in, "cannot set the mode and times of "
				 "'%s': %s", out, strerror(errno));
	tot->files++;
	tot->file_count++;
	tot->in_nbytes += in_nbytes;
	tot->out_nbytes += out_nbytes;
	if (verbosity > 0) {
		print_summary(shown(in, 0), shown(out, 1), in_nbytes,
			      out_nbytes, o->decompress, cli_now() - t0, NULL);
		if (o->decompress && strcmp(in, "-") != 0)
			print_details(ctx, in);
		else if (!o->decompress && out_file)
			print_details(ctx, out);
	}
	if (o->remove_input && in_sb)
		return remove_input(what, in, in_sb);
	return 0;
}

/* One input: a file, a stream or a model directory; out NULL: default. */
static int
run_one(struct gauss_ctx *ctx, const struct cli_opts *o, struct progress *p,
	const char *in, const char *out, struct totals *tot)
{
	const char *what = o->decompress ? "decompress" : "compress";
	char *def = NULL;
	struct stat sb;
	const bool have_sb = strcmp(in, "-") != 0 && stat(in, &sb) == 0;
	int rc;

	if (out == NULL) {
		def = default_output(in, o->decompress, true);
		if (def == NULL)
			return EXIT_DATA;
		out = def;
	}
	if (have_sb && S_ISDIR(sb.st_mode)) {
		const double t0 = cli_now();
		uint64_t in_nbytes, out_nbytes;
		unsigned files;
		char tail[64];

		if (strcmp(out, "-") == 0)
			rc = cli_failf(what, in, "a directory cannot be "
				       "written to standard output");
		else if (o->remove_input)
			rc = cli_failf(what, in, "--rm does not remove "
				       "directories");
		else {
			defer_signals = 1;
			rc = tree_run(ctx, o, p, in, out, &in_nbytes,
				      &out_nbytes, &files);
			defer_signals = 0;
			progress_clear(p);
		}
		if (rc == 0) {
			tot->files++;
			tot->file_count += files;
			tot->in_nbytes += in_nbytes;
			tot->out_nbytes += out_nbytes;
			snprintf(tail, sizeof(tail), ", %u files", files);
			if (verbosity > 0)
				print_summary(in, out, in_nbytes, out_nbytes,
					      o->decompress, cli_now() - t0,
					      tail);
		}
	} else {
		rc = run_file(ctx, o, p, in, out, have_sb ? &sb : NULL, tot);
	}
	free(def);
	return rc;
}

/*
 * compress and decompress: sorts the operands into inputs and, at most,
 * one output (gauss(1), OPERANDS), refuses an input given twice or an
 * output that is also an input, then runs each input; a failure is
 * reported and the others still run.
 */
static int
cmd_code(struct gauss_ctx *ctx, struct cli_opts *o)
{
	const char *what = o->decompress ? "decompress" : "compress";
	const char *kind = o->decompress ? ".gauss" : ".safetensors";
	char **ops = o->operands;
	int n = o->operand_count, rc = 0;
	const char *out = o->output;
	struct stat *sbs;
	struct progress p;
	struct totals tot = { 0 };
	const double t0 = cli_now();

	if (n == 0)
		return usage_error("%s needs an input file", what);
	if (o->to_stdout && out)
		return usage_error("-c and -o cannot be used together");
	if (o->to_stdout)
		out = "-";
	if (out && n != 1)
		return usage_error("%s takes one input with %s, got %d",
				   what, o->to_stdout ? "-c" : "-o", n);
	if (!out && n == 2 && (strcmp(ops[1], "-") == 0 ||
			       !ends_with(ops[1], kind))) {
		/* the compatible form: INPUT OUTPUT */
		out = ops[1];
		n = 1;
	}
	for (int i = 0; i < n && n > 1; i++)
		if (strcmp(ops[i], "-") == 0)
			return usage_error("the standard input cannot be one "
					   "of several inputs");
	if (o->remove_input && (strcmp(ops[0], "-") == 0 ||
				(out && strcmp(out, "-") == 0)))
		return usage_error("--rm cannot be used with the standard "
				   "input or output");
	sbs = calloc((size_t)n, sizeof(*sbs));
	if (sbs == NULL) {
		fputs("gauss: out of memory\n", stderr);
		return EXIT_DATA;
	}
	/* an input given twice, or an explicit output that is an input */
	for (int i = 0; i < n && rc == 0; i++) {
		if (strcmp(ops[i], "-") == 0 || stat(ops[i], &sbs[i]) != 0)
			continue;
		for (int j = 0; j < i && rc == 0; j++)
			if (sbs[j].st_ino && sbs[j].st_dev == sbs[i].st_dev &&
			    sbs[j].st_ino == sbs[i].st_ino)
				rc = cli_failf(what, ops[i], "the same file as "
					       "'%s' (an input given twice); "
					       "nothing done", ops[j]);
	}
	for (int i = 0; i < n && rc == 0 && n > 1; i++) {
		char *def = default_output(ops[i], o->decompress, false);
		struct stat sb;

		if (def != NULL && stat(def, &sb) == 0)
			for (int j = 0; j < n && rc == 0; j++)
				if (sbs[j].st_ino &&
				    sbs[j].st_dev == sb.st_dev &&
				    sbs[j].st_ino == sb.st_ino)
					rc = cli_failf(what, ops[i], "its "
						       "output '%s' is also an "
						       "input; nothing done",
						       def);
		free(def);
	}
	if (rc != 0) {
		free(sbs);
		return rc;
	}
	progress_init(&p, verbosity > 0 && isatty(STDERR_FILENO),
		      o->decompress);
	p.file_count = (unsigned)n;
	for (int i = 0; i < n; i++)
		if (sbs[i].st_ino && S_ISREG(sbs[i].st_mode))
			p.job_total += (uint64_t)sbs[i].st_size;
	free(sbs);
	gauss_ctx_set_threads(ctx, o->threads);
	gauss_ctx_set_direct(ctx, o->direct);
	gauss_ctx_set_progress(ctx, progress_callback, &p);
	if (!o->decompress && o->gmm) {
		if (gauss_ctx_set_mode(ctx, GAUSS_MODE_GMM) != GAUSS_OK ||
		    gauss_ctx_set_gmm_options(ctx, &o->gmm_opts) != GAUSS_OK)
			return usage_error("%s", gauss_ctx_error(ctx));
	} else if (!o->decompress) {
		gauss_ctx_set_mode(ctx, GAUSS_MODE_LOSSLESS);
	}
	for (int i = 0; i < n && !cli_stop_signal; i++) {
		const int r = run_one(ctx, o, &p, ops[i], out, &tot);

		if (r == EXIT_USAGE)
			return r;
		if (r != 0)
			rc = EXIT_DATA;
	}
	progress_clear(&p);
	if (n > 1 && verbosity > 0 && !cli_stop_signal) {
		char label[64];

		snprintf(label, sizeof(label), "total (%u of %d inputs, %u "
			 "files)", tot.files, n, tot.file_count);
		print_summary(label, NULL, tot.in_nbytes, tot.out_nbytes,
			      o->decompress, cli_now() - t0, NULL);
	}
	return rc;
}
static int
cmd_verify(struct gauss_ctx *ctx, const char *path)
{
	const double t0 = cli_now();
	const enum gauss_status st = gauss_verify_file(ctx, path);

	if (st != GAUSS_OK)
		return cli_fail(ctx, st, "verify", shown(path, 0));
	if (verbosity > 0)
		fprintf(stderr, "%s: ok (%.3f s)\n", shown(path, 0),
			cli_now() - t0);
	return 0;
}

static void
format_shape(const struct gauss_tensor_info *ti, char *out, size_t n)
{
	size_t len = 0;

	len += (size_t)snprintf(out, n, "[");
	for (unsigned d = 0; d < ti->ndim && len < n; d++)
		len += (size_t)snprintf(out + len, n - len, "%s%llu",
					d ? "," : "",
					(unsigned long long)ti->shape[d]);
	if (len < n)
		snprintf(out + len, n - len, "]");
}

static double
ratio_of(uint64_t stored, uint64_t orig)
{
	return orig ? (double)stored / (double)orig : 0;
}

static int
info_json(struct gauss_reader *r, const char *path)
{
	struct gauss_file_info fi;
	json_t *root = json_object(), *tensors = json_array();
	uint64_t sum_orig = 0, sum_stored = 0;
	char *text;

	gauss_reader_file_info(r, &fi);
	for (size_t i = 0; i < gauss_reader_tensor_count(r); i++) {
		struct gauss_tensor_info ti;
		json_t *t, *shape;

		if (gauss_reader_tensor_info(r, i, &ti) != GAUSS_OK)
			goto fail;
		t = json_object();
		shape = json_array();
		for (unsigned d = 0; d < ti.ndim; d++)
			json_array_append_new(shape,
					      json_integer((json_int_t)
							   ti.shape[d]));
		json_object_set_new(t, "name", json_string(ti.name));
		json_object_set_new(t, "dtype",
				    json_string(gauss_dtype_name(ti.dtype)));
		json_object_set_new(t, "shape", shape);
		json_object_set_new(t, "element_count",
				    json_integer((json_int_t)ti.element_count));
		json_object_set_new(t, "offset",
				    json_integer((json_int_t)ti.offset));
		json_object_set_new(t, "codec",
				    json_string(gauss_codec_name(ti.codec)));
		json_object_set_new(t, "original_bytes",
				    json_integer((json_int_t)ti.nbytes));
		json_object_set_new(t, "stored_bytes",
				    json_integer((json_int_t)ti.stored_nbytes));
		json_object_set_new(t, "ratio",
				    json_real(ratio_of(ti.stored_nbytes,
						       ti.nbytes)));
		json_object_set_new(t, "exponent_entropy",
				    ti.exponent_entropy >= 0 ?
					    json_real(ti.exponent_entropy) :
					    json_null());
		if (ti.gmm_k > 0) {
			json_t *l = json_object();

			json_object_set_new(l, "k", json_integer(ti.gmm_k));
			json_object_set_new(l, "scale",
					    json_integer(ti.gmm_scale));
			json_object_set_new(l, "bound",
					    json_real(0.5 / ti.gmm_scale));
			json_object_set_new(l, "max_abs_error",
					    json_real(ti.max_abs_error));
			json_object_set_new(l, "rms_error",
					    json_real(ti.rms_error));
			json_object_set_new(l, "rms_relative",
					    json_real(ti.value_std > 0 ?
						      ti.rms_error /
						      ti.value_std : 0));
			json_object_set_new(t, "lossy", l);
		} else {
			json_object_set_new(t, "lossy", json_null());
		}
		json_array_append_new(tensors, t);
		sum_orig += ti.nbytes;
		sum_stored += ti.stored_nbytes;
	}
	json_object_set_new(root, "schema_version", json_integer(1));
	json_object_set_new(root, "gauss_version",
			    json_string(gauss_version_string()));
	json_object_set_new(root, "file", json_string(path));
	json_object_set_new(root, "format_version",
			    json_integer(fi.format_version));
	json_object_set_new(root, "original_bytes",
			    json_integer((json_int_t)fi.original_nbytes));
	json_object_set_new(root, "compressed_bytes",
			    json_integer((json_int_t)fi.compressed_nbytes));
	json_object_set_new(root, "ratio",
			    json_real(ratio_of(fi.compressed_nbytes,
					       fi.original_nbytes)));
	json_object_set_new(root, "header_bytes",
			    json_integer((json_int_t)fi.header_nbytes));
	json_object_set_new(root, "tensor_original_bytes",
			    json_integer((json_int_t)sum_orig));
	json_object_set_new(root, "tensor_stored_bytes",
			    json_integer((json_int_t)sum_stored));
	json_object_set_new(root, "tensor_count",
			    json_integer((json_int_t)fi.tensor_count));
	json_object_set_new(root, "chunk_count",
			    json_integer((json_int_t)fi.chunk_count));
	json_object_set_new(root, "tensors", tensors);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
					JSON_REAL_PRECISION(6));
	json_decref(root);
	if (text == NULL)
		return -1;
	puts(text);
	free(text);
	return 0;
fail:
	json_decref(root);
	json_decref(tensors);
	return -1;
}

static int
info_table(struct gauss_reader *r, const char *path)
{
	struct gauss_file_info fi;
	uint64_t sum_orig = 0, sum_stored = 0;

	bool lossy = false;

	gauss_reader_file_info(r, &fi);
	for (size_t i = 0; i < gauss_reader_tensor_count(r); i++) {
		struct gauss_tensor_info ti;

		if (gauss_reader_tensor_info(r, i, &ti) != GAUSS_OK)
			return -1;
		lossy |= ti.gmm_k > 0;
	}
	printf("%-40s %-5s %-18s %-9s %12s %12s %6s %6s", "tensor",
	       "dtype", "shape", "codec", "original", "stored", "ratio",
	       "H(exp)");
	if (lossy)
		printf("  %3s %5s %9s %9s %8s", "K", "S", "bound", "max_err",
		       "rms/std");
	printf("\n");
	for (size_t i = 0; i < gauss_reader_tensor_count(r); i++) {
		struct gauss_tensor_info ti;
		char shape[64], h[16];

		if (gauss_reader_tensor_info(r, i, &ti) != GAUSS_OK)
			return -1;
		format_shape(&ti, shape, sizeof(shape));
		if (ti.exponent_entropy >= 0)
			snprintf(h, sizeof(h), "%.3f", ti.exponent_entropy);
		else
			snprintf(h, sizeof(h), "-");
		printf("%-40s %-5s %-18s %-9s %12llu %12llu %6.3f %6s",
		       ti.name, gauss_dtype_name(ti.dtype), shape,
		       gauss_codec_name(ti.codec),
		       (unsigned long long)ti.nbytes,
		       (unsigned long long)ti.stored_nbytes,
		       ratio_of(ti.stored_nbytes, ti.nbytes), h);
		if (ti.gmm_k > 0)
			printf("  %3u %5u %9.3g %9.3g %8.4f", ti.gmm_k,
			       (unsigned)ti.gmm_scale, 0.5 / ti.gmm_scale,
			       ti.max_abs_error, ti.value_std > 0 ?
			       ti.rms_error / ti.value_std : 0.0);
		else if (lossy)
			printf("  %3s %5s %9s %9s %8s", "-", "-", "exact",
			       "0", "0");
		printf("\n");
		sum_orig += ti.nbytes;
		sum_stored += ti.stored_nbytes;
	}
	printf("%-40s %-5s %-18s %-9s %12llu %12llu %6.3f\n", "(tensors)", "",
	       "", "", (unsigned long long)sum_orig,
	       (unsigned long long)sum_stored, ratio_of(sum_stored, sum_orig));
	printf("%s: format %u, %llu tensors, %llu chunks, header %llu "
	       "bytes, original %llu bytes, compressed %llu bytes "
	       "(ratio %.4f)\n", path, fi.format_version,
	       (unsigned long long)fi.tensor_count,
	       (unsigned long long)fi.chunk_count,
	       (unsigned long long)fi.header_nbytes,
	       (unsigned long long)fi.original_nbytes,
	       (unsigned long long)fi.compressed_nbytes,
	       ratio_of(fi.compressed_nbytes, fi.original_nbytes));
	return 0;
}

static int
cmd_info(struct gauss_ctx *ctx, const char *path, const struct cli_opts *o)
{
	struct gauss_reader *r;
	enum gauss_status st = gauss_reader_open(ctx, path, &r);
	int rc;

	if (st != GAUSS_OK)
		return cli_fail(ctx, st, "read", path);
	rc = o->json ? info_json(r, path) : info_table(r, path);
	gauss_reader_close(r);
	if (rc != 0)
		return cli_fail(ctx, GAUSS_E_CORRUPT, "read", path);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "gauss: cannot write to standard output: %s\n",
			strerror(errno));
		return EXIT_DATA;
	}
	return 0;
}

static int
cmd_extract(struct gauss_ctx *ctx, const char *path, const char *tensor,
	    const char *out, const struct cli_opts *o)
{
	struct gauss_reader *r;
	enum gauss_status st;
	size_t index;

	if (refuse_terminal(out, o->force))
		return EXIT_USAGE;
	gauss_ctx_set_overwrite(ctx, o->force);
	st = gauss_reader_open(ctx, path, &r);
	if (st != GAUSS_OK)
		return cli_fail(ctx, st, "read", path);
	st = gauss_reader_find(r, tensor, &index);
	if (st == GAUSS_OK)
		st = gauss_reader_extract(r, index, out, o->raw);
	gauss_reader_close(r);
	if (st != GAUSS_OK)
		return cli_fail(ctx, st, "extract from", path);
	if (verbosity > 1)
		fprintf(stderr, "%s: tensor '%s' -> %s\n", path, tensor,
			shown(out, 1));
	return 0;
}

static void
on_signal(int sig)
{
	if (defer_signals && !cli_stop_signal) {
		/* the model directory in progress stops and is removed */
		cli_stop_signal = sig;
		return;
	}
	gauss_abort_outputs();
	signal(sig, SIG_DFL);
	raise(sig);
}

static bool
is_command(const char *cmd)
{
	static const char *const names[] = { "compress", "decompress", "info",
					     "verify", "extract" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(cmd, names[i]) == 0)
			return true;
	return false;
}

/* Checks what the options and operands of cmd allow; -1 to go on. */
static int
check_usage(const char *cmd, const struct cli_opts *o)
{
	const bool code = strcmp(cmd, "compress") == 0 ||
			  strcmp(cmd, "decompress") == 0;
	const int n = o->operand_count;

	if (!code && o->to_stdout)
		return usage_error(strcmp(cmd, "extract") == 0 ?
				   "extract writes to standard output when "
				   "OUTPUT is left out" :
				   "-c/--stdout applies to compress and "
				   "decompress only");
	if (!code && o->output)
		return usage_error("-o applies to compress and decompress "
				   "only");
	if (!code && o->remove_input)
		return usage_error("--rm applies to compress and decompress "
				   "only");
	if (o->gmm && strcmp(cmd, "compress") != 0)
		return usage_error("--gmm applies to compress only");
	if (o->gmm && o->lossless)
		return usage_error("--gmm and --lossless exclude each other");
	if (o->gmm_option != NULL && !o->gmm)
		return usage_error("option '--%s' applies with --gmm only",
				   o->gmm_option);
	if (o->json && strcmp(cmd, "info") != 0)
		return usage_error("--json applies to info only");
	if (o->raw && strcmp(cmd, "extract") != 0)
		return usage_error("--raw applies to extract only");
	if ((strcmp(cmd, "info") == 0 || strcmp(cmd, "verify") == 0) &&
	    n != 1)
		return usage_error("%s takes 1 file name, got %d", cmd, n);
	if (strcmp(cmd, "extract") == 0 && n != 2 && n != 3)
		return usage_error("extract takes 2 or 3 operands, got %d", n);
	return -1;
}

int
main(int argc, char **argv)
{
	struct cli_opts o = { 0 };
	struct gauss_ctx *ctx;
	const char *cmd;
	int rc;

	gauss_gmm_options_default(&o.gmm_opts);
	if (argc < 2)
		return usage_error("no command given");
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		usage_long();
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("gauss %s\n", gauss_version_string());
		return 0;
	}
	if (strcmp(cmd, "--lossless") == 0) {
		/* "gauss --lossless IN OUT" is "gauss compress --lossless" */
		cmd = "compress";
		o.lossless = true;
	} else if (!is_command(cmd)) {
		return usage_error("unknown command '%s'", cmd);
	}
	o.operands = calloc((size_t)argc, sizeof(*o.operands));
	if (o.operands == NULL) {
		fputs("gauss: out of memory\n", stderr);
		return EXIT_DATA;
	}
	optind = 2;
	rc = parse_options(argc, argv, &o);
	if (rc < 0)
		rc = check_usage(cmd, &o);
	if (rc >= 0) {
		free(o.operands);
		return rc;
	}
	o.decompress = strcmp(cmd, "decompress") == 0;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	ctx = gauss_ctx_new();
	if (ctx == NULL) {
		fputs("gauss: out of memory\n", stderr);
		free(o.operands);
		return EXIT_DATA;
	}
	gauss_ctx_set_threads(ctx, o.threads);
	if (strcmp(cmd, "compress") == 0 || o.decompress)
		rc = cmd_code(ctx, &o);
	else if (strcmp(cmd, "verify") == 0)
		rc = cmd_verify(ctx, o.operands[0]);
	else if (strcmp(cmd, "extract") == 0)
		rc = cmd_extract(ctx, o.operands[0], o.operands[1],
				 o.operand_count == 3 ? o.operands[2] : "-",
				 &o);
	else
		rc = cmd_info(ctx, o.operands[0], &o);
	gauss_ctx_free(ctx);
	free(o.operands);
	if (cli_stop_signal) {
		/* a model directory was stopped and removed: die by it */
		signal(cli_stop_signal, SIG_DFL);
		raise(cli_stop_signal);
	}
	return rc;
}
