/* SPDX-License-Identifier: MIT */
/*
 * driver.c: replays fuzz inputs without libFuzzer, so that every file of
 * fuzz/corpus/<target>/ runs as an ordinary meson test (under ASan and
 * UBSan in the sanitizer build). Arguments are files or directories; the
 * files of a directory run in name order. Exits 0 when every input ran
 * (a target that finds a bug aborts), 1 when an input cannot be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "banned.h"

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			uint8_t *const nb = realloc(buf, cap ? 2 * cap : 4096);

			if (nb == NULL) {
				fclose(f);
				free(buf);
				fprintf(stderr, "replay: out of memory\n");
				return -1;
			}
			buf = nb;
			cap = cap ? 2 * cap : 4096;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	/* an exact-size copy, so that ASan sees a read past the input */
	{
		uint8_t *const exact = malloc(n ? n : 1);

		if (exact == NULL) {
			free(buf);
			return -1;
		}
		memcpy(exact, buf, n);
		free(buf);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of a directory in name order; counts them. */
static int
run_dir(const char *dir, unsigned long *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", dir,
			strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **const nn = realloc(names, (cap ? 2 * cap : 64) *
							 sizeof(*names));

			if (nn == NULL) {
				rc = -1;
				break;
			}
			names = nn;
			cap = cap ? 2 * cap : 64;
		}
		names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
		if (names[n] == NULL) {
			rc = -1;
			break;
		}
		snprintf(names[n], strlen(dir) + strlen(e->d_name) + 2,
			 "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		struct stat sb;

		if (rc == 0 && stat(names[i], &sb) == 0 &&
		    S_ISREG(sb.st_mode)) {
			if (run_file(names[i]) != 0)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	unsigned long count = 0;

	for (int i = 1; i < argc; i++) {
		struct stat sb;

		if (stat(argv[i], &sb) != 0) {
			fprintf(stderr, "replay: '%s': %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		if (S_ISDIR(sb.st_mode)) {
			if (run_dir(argv[i], &count) != 0)
				return 1;
		} else {
			if (run_file(argv[i]) != 0)
				return 1;
			count++;
		}
	}
	printf("replayed %lu inputs\n", count);
	return 0;
}
