/* SPDX-License-Identifier: MIT */
/*
 * tree.c (command): model directories. The whole input tree is listed and
 * checked first; the output tree is then built in a temporary directory
 * beside OUT_DIR (every file synced, modes and times copied) and renamed
 * into place only when complete. Any failure, or SIGINT/SIGTERM/SIGHUP,
 * removes the temporary tree; an existing OUT_DIR is only replaced (with
 * -f) by the complete new one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

#define COPY_BUF_NBYTES (1 << 20)

enum entry_kind { ENTRY_DIR, ENTRY_CODE, ENTRY_COPY };

struct entry {
	char *rel;		/* path below the input directory; "" is it */
	char *out_rel;		/* path below the output directory */
	enum entry_kind kind;
	struct stat sb;		/* of the file (links followed) */
};

struct tree {
	struct entry *v;
	size_t count, cap;
	size_t code_count;
	uint64_t total_nbytes;
	const char *in_dir;
	bool decompress;
	const char *what;	/* "compress" or "decompress" */
};

static char *
join(const char *a, const char *b)
{
	const size_t na = strlen(a), nb = strlen(b);
	char *s;

	if (nb == 0)
		return strdup(a);
	if (na == 0)
		return strdup(b);
	s = malloc(na + nb + 2);
	if (s == NULL)
		return NULL;
	memcpy(s, a, na);
	s[na] = '/';
	memcpy(s + na + 1, b, nb + 1);
	return s;
}

static bool
ends_with(const char *s, const char *suffix)
{
	const size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int
oom(void)
{
	fputs("gauss: out of memory\n", stderr);
	return EXIT_DATA;
}

static int
tree_add(struct tree *t, char *rel, char *out_rel, enum entry_kind kind,
	 const struct stat *sb)
{
	if (t->count == t->cap) {
		const size_t cap = t->cap ? 2 * t->cap : 64;
		struct entry *v = realloc(t->v, cap * sizeof(*v));

		if (v == NULL) {
			free(rel);
			free(out_rel);
			return oom();
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->count++] = (struct entry){ .rel = rel, .out_rel = out_rel,
					   .kind = kind, .sb = *sb };
	return 0;
}

static void
tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->count; i++) {
		free(t->v[i].rel);
		free(t->v[i].out_rel);
	}
	free(t->v);
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* Classifies one regular file (or link to one) of the input tree. */
static int
add_file(struct tree *t, const char *path, char *rel, const struct stat *sb)
{
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
	enum entry_kind kind = ENTRY_COPY;
	char *out_rel;

	if (t->decompress) {
		if (ends_with(base, ".gauss")) {
			if (strcmp(base, ".gauss") == 0) {
				free(rel);
				return cli_failf(t->what, path, "a file named "
						 "'.gauss' has no name to "
						 "restore");
			}
			kind = ENTRY_CODE;
		}
	} else if (ends_with(base, ".gauss")) {
		free(rel);
		return cli_failf(t->what, path, "already a .gauss file (a "
				 "tree holding .gauss files could not be "
				 "restored unambiguously)");
	} else if (ends_with(base, ".safetensors")) {
		kind = ENTRY_CODE;
	}
	out_rel = kind == ENTRY_COPY ? strdup(rel) :
		t->decompress ? strndup(rel, strlen(rel) - 6) :
		malloc(strlen(rel) + 7);
	if (out_rel == NULL) {
		free(rel);
		return oom();
	}
	if (kind == ENTRY_CODE && !t->decompress)
		snprintf(out_rel, strlen(rel) + 7, "%s.gauss", rel);
	if (kind == ENTRY_CODE)
		t->code_count++;
	t->total_nbytes += (uint64_t)sb->st_size;
	return tree_add(t, rel, out_rel, kind, sb);
}

/*
 * Lists the directory rel (below t->in_dir) and everything under it, in
 * name order, directories before their contents. Links to regular files
 * are followed; anything else that is not a regular file or a directory
 * is refused.
 */
static int
walk(struct tree *t, const char *rel, const struct stat *dir_sb)
{
	char *dir_path = join(t->in_dir, rel);
	struct dirent **names = NULL;
	int n, rc = 0;

	if (dir_path == NULL)
		return oom();
	{
		char *copy = strdup(rel);

		if (copy == NULL || tree_add(t, copy, strdup(rel), ENTRY_DIR,
					     dir_sb) != 0) {
			free(copy);
			free(dir_path);
			return copy == NULL ? oom() : EXIT_DATA;
		}
		if (t->v[t->count - 1].out_rel == NULL) {
			free(dir_path);
			return oom();
		}
	}
	n = scandir(dir_path, &names, skip_dots, by_name);
	if (n < 0) {
		rc = cli_failf(t->what, dir_path, "%s", strerror(errno));
		free(dir_path);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		char *child_rel = rc ? NULL : join(rel, names[i]->d_name);
		char *path = child_rel ? join(t->in_dir, child_rel) : NULL;
		struct stat lsb, sb;

		if (rc == 0 && (child_rel == NULL || path == NULL)) {
			rc = oom();
		} else if (rc == 0 && lstat(path, &lsb) != 0) {
			rc = cli_failf(t->what, path, "%s", strerror(errno));
		} else if (rc == 0 && S_ISDIR(lsb.st_mode)) {
			rc = walk(t, child_rel, &lsb);
		} else if (rc == 0 && S_ISLNK(lsb.st_mode) &&
			   stat(path, &sb) != 0) {
			rc = cli_failf(t->what, path, "symbolic link to "
				       "nothing (%s)", strerror(errno));
		} else if (rc == 0 && S_ISLNK(lsb.st_mode) &&
			   S_ISDIR(sb.st_mode)) {
			rc = cli_failf(t->what, path, "symbolic link to a "
				       "directory (not followed)");
		} else if (rc == 0) {
			const struct stat *f = S_ISLNK(lsb.st_mode) ? &sb :
								      &lsb;

			if (!S_ISREG(f->st_mode)) {
				rc = cli_failf(t->what, path, "not a regular "
					       "file or a directory");
			} else {
				rc = add_file(t, path, child_rel, f);
				child_rel = NULL;	/* owned by t now */
			}
		}
		free(child_rel);
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir_path);
	return rc;
}

/*
 * Removes a tree we made (or the old OUT_DIR that -f replaces), without
 * following links, making each directory writable first.
 */
static int
remove_tree(const char *path)
{
	struct stat sb;
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(sb.st_mode))
		return unlink(path);
	chmod(path, (sb.st_mode & 07777) | S_IRWXU);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char *child;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		child = join(path, e->d_name);
		if (child == NULL || remove_tree(child) != 0)
			rc = -1;
		free(child);
	}
	closedir(d);
	if (rmdir(path) != 0)
		rc = -1;
	return rc;
}

/* Whether the tree at path holds a file whose name ends in suffix. */
static bool
holds_suffix(const char *path, const char *suffix)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool found = false;

	if (d == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		struct stat sb;
		char *child;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		child = join(path, e->d_name);
		if (child == NULL)
			continue;
		if (lstat(child, &sb) == 0 && S_ISDIR(sb.st_mode))
			found = holds_suffix(child, suffix);
		else
			found = ends_with(e->d_name, suffix);
		free(child);
	}
	closedir(d);
	return found;
}

/* Copies in_path to out_path (created), with its mode and times, synced. */
static int
copy_file(struct progress *p, const char *what, const char *in_path,
	  const char *out_path, const struct stat *sb, uint64_t *nbytes_ret)
{
	const struct timespec times[2] = { sb->st_atim, sb->st_mtim };
	char *buf = malloc(COPY_BUF_NBYTES);
	int in_fd = -1, out_fd = -1, rc = EXIT_DATA;
	uint64_t done = 0;

	if (buf == NULL)
		return oom();
	in_fd = open(in_path, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0) {
		cli_failf(what, in_path, "%s", strerror(errno));
		goto out;
	}
	out_fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out_fd < 0) {
		cli_failf(what, in_path, "cannot create '%s': %s", out_path,
			  strerror(errno));
		goto out;
	}
	for (;;) {
		const ssize_t n = read(in_fd, buf, COPY_BUF_NBYTES);
		ssize_t off = 0;

		if (n < 0 && errno == EINTR && !cli_stop_signal)
			continue;
		if (cli_stop_signal)
			goto out;
		if (n < 0) {
			cli_failf(what, in_path, "%s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		while (off < n) {
			const ssize_t w = write(out_fd, buf + off,
						(size_t)(n - off));

			if (w < 0 && errno == EINTR && !cli_stop_signal)
				continue;
			if (w < 0) {
				cli_failf(what, in_path, "cannot write '%s': "
					  "%s", out_path, strerror(errno));
				goto out;
			}
			off += w;
		}
		done += (uint64_t)n;
		progress_update(p, done, done);
	}
	if (fchmod(out_fd, sb->st_mode & 01777) != 0 ||
	    futimens(out_fd, times) != 0 || fsync(out_fd) != 0) {
		cli_failf(what, in_path, "cannot write '%s': %s", out_path,
			  strerror(errno));
		goto out;
	}
	if (close(out_fd) != 0) {
		out_fd = -1;
		cli_failf(what, in_path, "cannot write '%s': %s", out_path,
			  strerror(errno));
		goto out;
	}
	out_fd = -1;
	*nbytes_ret = done;
	rc = 0;
out:
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	free(buf);
	return rc;
}

/* Compresses or restores one file of the tree with the library. */
static int
code_file(struct gauss_ctx *ctx, const struct cli_opts *o, const char *what,
	  const char *in_path, const char *out_path, const struct stat *sb,
	  uint64_t *in_nbytes_ret, uint64_t *out_nbytes_ret)
{
	const enum gauss_status st = o->decompress ?
		gauss_decompress_file(ctx, in_path, out_path) :
		gauss_compress_file(ctx, in_path, out_path);

	if (st == GAUSS_E_INTERRUPTED && cli_stop_signal)
		return EXIT_DATA;	/* stopped by a signal: no message */
	if (st != GAUSS_OK)
		return cli_fail(ctx, st, what, in_path);
	gauss_ctx_last_sizes(ctx, in_nbytes_ret, out_nbytes_ret);
	if (copy_metadata(out_path, sb) != 0 || cli_sync_path(out_path, 0) != 0)
		return cli_failf(what, in_path, "cannot set the mode and "
				 "times of '%s': %s", out_path,
				 strerror(errno));
	return 0;
}

/* Whether path is below dir (both absolute, without "." or ".."). */
static bool
is_below(const char *path, const char *dir)
{
	const size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/' && path[1] != '\0';
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/*
 * Checks where OUT_DIR is: never the input or inside it, never around it,
 * and an existing one only with -f, only if it is a directory, and never
 * one that holds files of the kind the command reads (compress never
 * replaces a model, decompress never an archive). Sets *parent_ret and
 * *base_ret (to free).
 */
static int
check_output(const struct cli_opts *o, const char *what, const char *in_dir,
	     const char *out_dir, char **parent_ret, char **base_ret)
{
	char *copy1 = strdup(out_dir), *copy2 = strdup(out_dir);
	char *in_real = realpath(in_dir, NULL), *parent_real = NULL;
	char *out_real = NULL;
	struct stat sb;
	int rc = EXIT_DATA;

	*parent_ret = NULL;
	*base_ret = NULL;
	if (copy1 == NULL || copy2 == NULL) {
		rc = oom();
		goto out;
	}
	if (in_real == NULL) {
		cli_failf(what, in_dir, "%s", strerror(errno));
		goto out;
	}
	*parent_ret = strdup(dirname(copy1));
	*base_ret = strdup(basename(copy2));
	if (*parent_ret == NULL || *base_ret == NULL) {
		rc = oom();
		goto out;
	}
	if (strcmp(*base_ret, ".") == 0 || strcmp(*base_ret, "..") == 0 ||
	    strcmp(*base_ret, "/") == 0) {
		cli_failf(what, in_dir, "'%s' cannot be the name of the output "
			  "directory", out_dir);
		goto out;
	}
	parent_real = realpath(*parent_ret, NULL);
	if (parent_real == NULL) {
		cli_failf(what, in_dir, "cannot create output '%s': %s",
			  out_dir, strerror(errno));
		goto out;
	}
	out_real = join(parent_real, *base_ret);
	if (out_real == NULL) {
		rc = oom();
		goto out;
	}
	if (strcmp(out_real, in_real) == 0) {
		cli_failf(what, in_dir, "output '%s' is the input directory",
			  out_dir);
		goto out;
	}
	if (is_below(out_real, in_real)) {
		cli_failf(what, in_dir, "output '%s' is inside the input "
			  "directory", out_dir);
		goto out;
	}
	if (is_below(in_real, out_real)) {
		cli_failf(what, in_dir, "the input is inside output '%s'",
			  out_dir);
		goto out;
	}
	if (lstat(out_dir, &sb) == 0) {
		const char *kind = o->decompress ? ".gauss" : ".safetensors";

		if (!o->force) {
			cli_failf(what, in_dir, "output '%s' already exists "
				  "(use -f to replace it)", out_dir);
			goto out;
		}
		if (!S_ISDIR(sb.st_mode)) {
			cli_failf(what, in_dir, "output '%s' exists and is not "
				  "a directory", out_dir);
			goto out;
		}
		if (holds_suffix(out_dir, kind)) {
			cli_failf(what, in_dir, "output '%s' holds %s files; "
				  "not replaced, even with -f", out_dir, kind);
			goto out;
		}
	}
	rc = 0;
out:
	free(copy1);
	free(copy2);
	free(in_real);
	free(parent_real);
	free(out_real);
	return rc;
}

/*
 * Puts the finished tree tmp at out_dir: atomically exchanged with an
 * existing OUT_DIR (-f) whose old content is then removed, else renamed
 * without replacing anything.
 */
static int
commit(const struct cli_opts *o, const char *what, const char *in_dir,
       const char *tmp, const char *out_dir, const char *parent,
       const char *base)
{
	struct stat sb;

	if (lstat(out_dir, &sb) != 0) {
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out_dir,
			      RENAME_NOREPLACE) == 0)
			return cli_sync_path(parent, O_DIRECTORY), 0;
		if (errno == EEXIST)
			return cli_failf(what, in_dir, "output '%s' appeared "
					 "while working (use -f to replace "
					 "it)", out_dir);
		if (errno != EINVAL && errno != ENOSYS)
			return cli_failf(what, in_dir, "cannot rename to '%s': "
					 "%s", out_dir, strerror(errno));
		/* a file system without RENAME_NOREPLACE */
		if (rename(tmp, out_dir) != 0)
			return cli_failf(what, in_dir, "cannot rename to '%s': "
					 "%s", out_dir, strerror(errno));
		return cli_sync_path(parent, O_DIRECTORY), 0;
	}
	if (!o->force)
		return cli_failf(what, in_dir, "output '%s' appeared while "
				 "working (use -f to replace it)", out_dir);
	if (!S_ISDIR(sb.st_mode))
		return cli_failf(what, in_dir, "output '%s' exists and is not a "
				 "directory", out_dir);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out_dir, RENAME_EXCHANGE) == 0) {
		/* tmp now names the old tree */
		cli_sync_path(parent, O_DIRECTORY);
		if (remove_tree(tmp) != 0)
			fprintf(stderr, "gauss: cannot remove the old '%s' "
				"(now '%s'): %s\n", out_dir, tmp,
				strerror(errno));
		return 0;
	}
	if (errno != EINVAL && errno != ENOSYS)
		return cli_failf(what, in_dir, "cannot rename to '%s': %s",
				 out_dir, strerror(errno));
	{
		/* no RENAME_EXCHANGE: move the old one aside, then ours in */
		const size_t n = strlen(parent) + strlen(base) + 32;
		char *old = malloc(n);

		if (old == NULL)
			return oom();
		snprintf(old, n, "%s/.%s.gauss-old-XXXXXX", parent, base);
		if (mkdtemp(old) == NULL || rename(out_dir, old) != 0) {
			const int e = errno;

			rmdir(old);
			free(old);
			return cli_failf(what, in_dir, "cannot replace '%s': "
					 "%s", out_dir, strerror(e));
		}
		if (rename(tmp, out_dir) != 0) {
			const int e = errno;

			if (rename(old, out_dir) != 0)
				fprintf(stderr, "gauss: the old '%s' is now "
					"'%s'\n", out_dir, old);
			free(old);
			return cli_failf(what, in_dir, "cannot rename to '%s': "
					 "%s", out_dir, strerror(e));
		}
		cli_sync_path(parent, O_DIRECTORY);
		if (remove_tree(old) != 0)
			fprintf(stderr, "gauss: cannot remove the old '%s' "
				"(now '%s'): %s\n", out_dir, old,
				strerror(errno));
		free(old);
	}
	return 0;
}

/* Writes every entry of t below tmp; the directories' metadata last. */
static int
build(struct gauss_ctx *ctx, const struct cli_opts *o, struct progress *p,
      struct tree *t, const char *tmp, uint64_t *in_ret, uint64_t *out_ret)
{
	int rc = 0;

	for (size_t i = 0; i < t->count && rc == 0; i++) {
		const struct entry *e = &t->v[i];
		char *in_path = join(t->in_dir, e->rel);
		char *out_path = join(tmp, e->out_rel);
		uint64_t in_n = 0, out_n = 0;
		const double t0 = cli_now();

		if (cli_stop_signal)
			rc = EXIT_DATA;
		else if (in_path == NULL || out_path == NULL)
			rc = oom();
		else if (e->kind == ENTRY_DIR) {
			if (e->rel[0] && mkdir(out_path, 0700) != 0)
				rc = cli_failf(t->what, in_path, "cannot "
					       "create '%s': %s", out_path,
					       strerror(errno));
		} else {
			progress_begin_file(p, in_path);
			if (e->kind == ENTRY_CODE) {
				rc = code_file(ctx, o, t->what, in_path,
					       out_path, &e->sb, &in_n, &out_n);
			} else {
				rc = copy_file(p, t->what, in_path, out_path,
					       &e->sb, &in_n);
				out_n = in_n;
			}
			progress_end_file(p, in_n, out_n);
			*in_ret += in_n;
			*out_ret += out_n;
			if (rc == 0 && o->verbosity > 1) {
				progress_clear(p);
				print_summary(in_path, e->out_rel, in_n, out_n,
					      e->kind == ENTRY_CODE &&
						      o->decompress,
					      cli_now() - t0,
					      e->kind == ENTRY_COPY ?
						      " (copied)" : "");
			}
		}
		free(in_path);
		free(out_path);
	}
	for (size_t i = t->count; i-- > 0 && rc == 0;) {
		const struct entry *e = &t->v[i];
		char *out_path;

		if (e->kind != ENTRY_DIR)
			continue;
		out_path = join(tmp, e->out_rel);
		if (out_path == NULL)
			rc = oom();
		else if (cli_sync_path(out_path, O_DIRECTORY) != 0 ||
			 copy_metadata(out_path, &e->sb) != 0)
			rc = cli_failf(t->what, t->in_dir, "cannot finish "
				       "'%s': %s", out_path, strerror(errno));
		free(out_path);
	}
	return rc;
}

int
tree_run(struct gauss_ctx *ctx, const struct cli_opts *o,
	 struct progress *p, const char *in_dir, const char *out_dir,
	 uint64_t *in_nbytes_ret, uint64_t *out_nbytes_ret,
	 unsigned *file_count_ret)
{
	struct tree t = { .in_dir = in_dir, .decompress = o->decompress,
			  .what = o->decompress ? "decompress" : "compress" };
	char *parent = NULL, *base = NULL, *tmp = NULL;
	struct stat sb;
	int rc;

	*in_nbytes_ret = 0;
	*out_nbytes_ret = 0;
	*file_count_ret = 0;
	gauss_ctx_set_overwrite(ctx, 0);
	if (stat(in_dir, &sb) != 0)
		return cli_failf(t.what, in_dir, "%s", strerror(errno));
	rc = check_output(o, t.what, in_dir, out_dir, &parent, &base);
	if (rc == 0)
		rc = walk(&t, "", &sb);
	if (rc == 0 && t.code_count == 0)
		rc = cli_failf(t.what, in_dir, "no %s file in it",
			       o->decompress ? ".gauss" : ".safetensors");
	if (rc == 0) {
		const size_t n = strlen(parent) + strlen(base) + 32;

		tmp = malloc(n);
		if (tmp == NULL)
			rc = oom();
		else
			snprintf(tmp, n, "%s/.%s.gauss-tmp-XXXXXX", parent,
				 base);
		if (rc == 0 && mkdtemp(tmp) == NULL) {
			rc = cli_failf(t.what, in_dir, "cannot create output "
				       "'%s': %s", out_dir, strerror(errno));
			free(tmp);
			tmp = NULL;
		}
	}
	if (rc == 0) {
		/* the line counts the files of the tree */
		const unsigned index = p->file_index, count = p->file_count;

		for (size_t i = 0; i < t.count; i++)
			*file_count_ret += t.v[i].kind != ENTRY_DIR;
		p->job_total += t.total_nbytes;
		p->file_index = 0;
		p->file_count = *file_count_ret;
		rc = build(ctx, o, p, &t, tmp, in_nbytes_ret, out_nbytes_ret);
		p->file_index = index;
		p->file_count = count;
	}
	if (rc == 0 && cli_stop_signal)
		rc = EXIT_DATA;
	if (rc == 0)
		rc = commit(o, t.what, in_dir, tmp, out_dir, parent, base);
	if (rc != 0 && tmp != NULL)
		remove_tree(tmp);
	free(tmp);
	free(parent);
	free(base);
	tree_free(&t);
	return rc;
}
