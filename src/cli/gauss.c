/* SPDX-License-Identifier: MIT */
/*
 * gauss.c (command): argument parsing, messages and exit codes over the
 * library in gauss.h. Exit status: 0 success, 1 bad data or I/O failure,
 * 2 usage error (gauss(1), EXIT STATUS).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gauss.h"
#include "banned.h"

#define EXIT_DATA 1
#define EXIT_USAGE 2

static int verbosity = 1;	/* 0 quiet, 1 normal, 2 verbose */

static void
usage_short(FILE *f)
{
	fputs("usage: gauss compress [--lossless] [OPTIONS] INPUT OUTPUT\n"
	      "       gauss compress [OPTIONS] -c INPUT\n"
	      "       gauss --lossless INPUT OUTPUT\n"
	      "       gauss decompress [OPTIONS] INPUT OUTPUT\n"
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
	      "Compresses safetensors checkpoints without loss into .gauss\n"
	      "files and restores them byte for byte.\n"
	      "\n"
	      "commands:\n"
	      "  compress      compress a safetensors file (the default mode\n"
	      "                is lossless)\n"
	      "  decompress    restore the original file, checking every\n"
	      "                checksum\n"
	      "  info          list the tensors of a .gauss file: dtype,\n"
	      "                shape, codec, sizes, ratio, exponent entropy\n"
	      "  verify        decode everything and check every checksum,\n"
	      "                writing nothing\n"
	      "  extract       write one tensor as a safetensors file (to\n"
	      "                standard output without OUTPUT), reading\n"
	      "                only its chunks\n"
	      "\n"
	      "options:\n"
	      "  --lossless    bit-exact compression (the default)\n"
	      "  -c, --stdout  write to standard output (INPUT and OUTPUT\n"
	      "                may also be '-': standard input, output)\n"
	      "  -f, --force   overwrite an existing output; write binary\n"
	      "                data to a terminal\n"
	      "  --direct      read and write files with O_DIRECT where the\n"
	      "                file system allows it\n"
	      "  -q, --quiet   print nothing but errors\n"
	      "  -v, --verbose print more detail\n"
	      "  -T, --threads N, --workers N\n"
	      "                worker threads (default 0: one per core); the\n"
	      "                output is the same for any N\n"
	      "  --json        (info) print one JSON document\n"
	      "  --raw         (extract) the tensor's bare bytes, no header\n"
	      "  -h, --help    print this help\n"
	      "  --version     print the version\n"
	      "\n"
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

static int
fail(struct gauss_ctx *ctx, enum gauss_status st, const char *what,
     const char *path)
{
	const char *msg = gauss_ctx_error(ctx);

	if (msg == NULL || *msg == '\0')
		msg = gauss_strerror(st);
	/* library messages start with the file name: "'path': reason" */
	{
		const size_t n = strlen(path);

		if (msg[0] == '\'' && strncmp(msg + 1, path, n) == 0 &&
		    strncmp(msg + 1 + n, "': ", 3) == 0)
			msg += n + 4;
	}
	fprintf(stderr, "gauss: cannot %s '%s': %s\n", what, path, msg);
	return EXIT_DATA;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static void
print_summary(const char *in, const char *out, uint64_t in_nbytes,
	      uint64_t out_nbytes, uint64_t original_nbytes,
	      uint64_t compressed_nbytes, double secs)
{
	const double mbps = secs > 0 ? (double)original_nbytes / secs / 1e6 : 0;
	const double pct = original_nbytes ?
		100.0 * (double)compressed_nbytes / (double)original_nbytes : 0;

	fprintf(stderr, "%s -> %s: %llu -> %llu bytes (%.2f%%), %.3f s, "
		"%.1f MB/s\n", in, out, (unsigned long long)in_nbytes,
		(unsigned long long)out_nbytes, pct, secs, mbps);
}

struct common_opts {
	int force;
	int to_stdout;
	int direct;
	int json;
	int raw;
	int lossless;
	unsigned threads;	/* 0: one per core */
};

static const struct option long_options[] = {
	{ "lossless", no_argument, NULL, 'L' },
	{ "force", no_argument, NULL, 'f' },
	{ "stdout", no_argument, NULL, 'c' },
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

/* Parses options after the command; returns -1 to go on, else an exit code. */
static int
parse_options(int argc, char **argv, struct common_opts *o)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+cfqvhT:", long_options, NULL)) !=
	       -1) {
		switch (c) {
		case 'L':
			o->lossless = 1;
			break;
		case 'f':
			o->force = 1;
			break;
		case 'c':
			o->to_stdout = 1;
			break;
		case 'D':
			o->direct = 1;
			break;
		case 'q':
			verbosity = 0;
			break;
		case 'v':
			verbosity = 2;
			break;
		case 'J':
			o->json = 1;
			break;
		case 'R':
			o->raw = 1;
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
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		default:
			if (optopt == 'T')
				return usage_error("option '-T' needs a value");
			if (optopt)
				return usage_error("unknown option '-%c'",
						   optopt);
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
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

static int
cmd_compress(struct gauss_ctx *ctx, const char *in, const char *out,
	     const struct common_opts *o)
{
	const double t0 = now_seconds();
	uint64_t in_nbytes = 0, out_nbytes = 0;
	enum gauss_status st;

	if (refuse_terminal(out, o->force))
		return EXIT_USAGE;
	gauss_ctx_set_overwrite(ctx, o->force);
	gauss_ctx_set_threads(ctx, o->threads);
	gauss_ctx_set_direct(ctx, o->direct);
	gauss_ctx_set_mode(ctx, GAUSS_MODE_LOSSLESS);
	st = gauss_compress_file(ctx, in, out);
	if (st != GAUSS_OK)
		return fail(ctx, st, "compress", shown(in, 0));
	if (verbosity > 0) {
		gauss_ctx_last_sizes(ctx, &in_nbytes, &out_nbytes);
		print_summary(shown(in, 0), shown(out, 1), in_nbytes,
			      out_nbytes, in_nbytes, out_nbytes,
			      now_seconds() - t0);
		if (strcmp(out, "-") != 0)
			print_details(ctx, out);
	}
	return 0;
}

static int
cmd_decompress(struct gauss_ctx *ctx, const char *in, const char *out,
	       const struct common_opts *o)
{
	const double t0 = now_seconds();
	uint64_t in_nbytes = 0, out_nbytes = 0;
	enum gauss_status st;

	if (refuse_terminal(out, o->force))
		return EXIT_USAGE;
	gauss_ctx_set_overwrite(ctx, o->force);
	gauss_ctx_set_threads(ctx, o->threads);
	gauss_ctx_set_direct(ctx, o->direct);
	st = gauss_decompress_file(ctx, in, out);
	if (st != GAUSS_OK)
		return fail(ctx, st, "decompress", shown(in, 0));
	if (verbosity > 0) {
		gauss_ctx_last_sizes(ctx, &in_nbytes, &out_nbytes);
		print_summary(shown(in, 0), shown(out, 1), in_nbytes,
			      out_nbytes, out_nbytes, in_nbytes,
			      now_seconds() - t0);
		if (strcmp(in, "-") != 0)
			print_details(ctx, in);
	}
	return 0;
}

static int
cmd_verify(struct gauss_ctx *ctx, const char *path)
{
	const double t0 = now_seconds();
	const enum gauss_status st = gauss_verify_file(ctx, path);

	if (st != GAUSS_OK)
		return fail(ctx, st, "verify", shown(path, 0));
	if (verbosity > 0)
		fprintf(stderr, "%s: ok (%.3f s)\n", shown(path, 0),
			now_seconds() - t0);
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
		json_array_append_new(tensors, t);
		sum_orig += ti.nbytes;
		sum_stored += ti.stored_nbytes;
	}
	json_object_set_new(root, "schema_version", json_integer(1));
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

	gauss_reader_file_info(r, &fi);
	printf("%-40s %-5s %-18s %-9s %12s %12s %6s %6s\n", "tensor",
	       "dtype", "shape", "codec", "original", "stored", "ratio",
	       "H(exp)");
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
		printf("%-40s %-5s %-18s %-9s %12llu %12llu %6.3f %6s\n",
		       ti.name, gauss_dtype_name(ti.dtype), shape,
		       gauss_codec_name(ti.codec),
		       (unsigned long long)ti.nbytes,
		       (unsigned long long)ti.stored_nbytes,
		       ratio_of(ti.stored_nbytes, ti.nbytes), h);
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
cmd_info(struct gauss_ctx *ctx, const char *path, const struct common_opts *o)
{
	struct gauss_reader *r;
	enum gauss_status st = gauss_reader_open(ctx, path, &r);
	int rc;

	if (st != GAUSS_OK)
		return fail(ctx, st, "read", path);
	rc = o->json ? info_json(r, path) : info_table(r, path);
	gauss_reader_close(r);
	if (rc != 0)
		return fail(ctx, GAUSS_E_CORRUPT, "read", path);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "gauss: cannot write to standard output: %s\n",
			strerror(errno));
		return EXIT_DATA;
	}
	return 0;
}

static int
cmd_extract(struct gauss_ctx *ctx, const char *path, const char *tensor,
	    const char *out, const struct common_opts *o)
{
	struct gauss_reader *r;
	enum gauss_status st;
	size_t index;

	if (refuse_terminal(out, o->force))
		return EXIT_USAGE;
	gauss_ctx_set_overwrite(ctx, o->force);
	st = gauss_reader_open(ctx, path, &r);
	if (st != GAUSS_OK)
		return fail(ctx, st, "read", path);
	st = gauss_reader_find(r, tensor, &index);
	if (st == GAUSS_OK)
		st = gauss_reader_extract(r, index, out, o->raw);
	gauss_reader_close(r);
	if (st != GAUSS_OK)
		return fail(ctx, st, "extract from", path);
	if (verbosity > 1)
		fprintf(stderr, "%s: tensor '%s' -> %s\n", path, tensor,
			shown(out, 1));
	return 0;
}

static void
on_signal(int sig)
{
	gauss_abort_outputs();
	signal(sig, SIG_DFL);
	raise(sig);
}

int
main(int argc, char **argv)
{
	struct common_opts o = { 0 };
	struct gauss_ctx *ctx;
	const char *cmd;
	int rc, nargs, want;

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
		o.lossless = 1;
	} else if (strcmp(cmd, "compress") != 0 &&
		   strcmp(cmd, "decompress") != 0 &&
		   strcmp(cmd, "info") != 0 && strcmp(cmd, "verify") != 0 &&
		   strcmp(cmd, "extract") != 0) {
		return usage_error("unknown command '%s'", cmd);
	}
	optind = 2;
	rc = parse_options(argc, argv, &o);
	if (rc >= 0)
		return rc;
	nargs = argc - optind;
	want = (strcmp(cmd, "info") == 0 || strcmp(cmd, "verify") == 0) ? 1 : 2;
	if (o.to_stdout && want == 1)
		return usage_error("-c/--stdout applies to compress and "
				   "decompress only");
	if (o.to_stdout)
		want = 1;
	if (strcmp(cmd, "extract") == 0) {
		if (o.to_stdout)
			return usage_error("extract writes to standard output "
					   "when OUTPUT is left out");
		want = nargs == 3 ? 3 : 2;
	}
	if (nargs != want)
		return usage_error("%s%s takes %d file name%s, got %d", cmd,
				   o.to_stdout ? " -c" : "", want,
				   want > 1 ? "s" : "", nargs);
	if (o.json && strcmp(cmd, "info") != 0)
		return usage_error("--json applies to info only");
	if (o.raw && strcmp(cmd, "extract") != 0)
		return usage_error("--raw applies to extract only");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	ctx = gauss_ctx_new();
	if (ctx == NULL) {
		fputs("gauss: out of memory\n", stderr);
		return EXIT_DATA;
	}
	gauss_ctx_set_threads(ctx, o.threads);
	if (strcmp(cmd, "compress") == 0)
		rc = cmd_compress(ctx, argv[optind],
				  o.to_stdout ? "-" : argv[optind + 1], &o);
	else if (strcmp(cmd, "decompress") == 0)
		rc = cmd_decompress(ctx, argv[optind],
				    o.to_stdout ? "-" : argv[optind + 1], &o);
	else if (strcmp(cmd, "verify") == 0)
		rc = cmd_verify(ctx, argv[optind]);
	else if (strcmp(cmd, "extract") == 0)
		rc = cmd_extract(ctx, argv[optind], argv[optind + 1],
				 nargs == 3 ? argv[optind + 2] : "-", &o);
	else
		rc = cmd_info(ctx, argv[optind], &o);
	gauss_ctx_free(ctx);
	return rc;
}
