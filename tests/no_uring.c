/* SPDX-License-Identifier: MIT */
/*
 * no_uring.c: runs a command with io_uring refused, as a container's
 * seccomp profile would, to test the fallback to the POSIX backend.
 *
 *   no_uring CMD [ARG...]   io_uring_setup, io_uring_enter and
 *                           io_uring_register fail with ENOSYS in CMD (and
 *                           in everything it starts); other calls pass
 *   no_uring --probe        exit 0 if io_uring_setup works here, 1 if it
 *                           is refused (the reason on stdout), 2 on misuse
 *
 * The filter is a hand-written BPF program, so that the test needs no
 * libseccomp. It acts on x86-64 system calls only (x32 ones included, which
 * are the same calls with bit 30 set); on any other architecture it lets
 * everything through and --probe shows that io_uring was not refused.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "banned.h"

/* The x86-64 numbers: the filter compares them whatever the build arch. */
#define X86_64_NR_IO_URING_SETUP	425
#define X86_64_NR_IO_URING_ENTER	426
#define X86_64_NR_IO_URING_REGISTER	427
#define X32_SYSCALL_BIT			0x40000000u

#if defined(__x86_64__) && defined(__NR_io_uring_setup)
_Static_assert(__NR_io_uring_setup == X86_64_NR_IO_URING_SETUP &&
	       __NR_io_uring_enter == X86_64_NR_IO_URING_ENTER &&
	       __NR_io_uring_register == X86_64_NR_IO_URING_REGISTER,
	       "x86-64 io_uring system call numbers");
#endif

static int
install_filter(void)
{
	struct sock_filter prog[] = {
		/* other architectures: allow everything */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* the call number, x32 or not */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~X32_SYSCALL_BIT),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, X86_64_NR_IO_URING_SETUP,
			 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, X86_64_NR_IO_URING_ENTER,
			 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 X86_64_NR_IO_URING_REGISTER, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	};
	const struct sock_fprog fprog = {
		.len = (unsigned short)(sizeof(prog) / sizeof(prog[0])),
		.filter = prog,
	};

	/* lets an unprivileged process install a filter */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0);
}

static int
probe(void)
{
#ifdef __NR_io_uring_setup
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, 4, &p);
	if (fd >= 0) {
		close((int)fd);
		printf("io_uring_setup: allowed\n");
		return 0;
	}
	printf("io_uring_setup: refused: %s\n", strerror(errno));
	return 1;
#else
	printf("io_uring_setup: refused: not in this libc's headers\n");
	return 1;
#endif
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--probe") == 0)
		return probe();
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: no_uring CMD [ARG...] | no_uring "
			"--probe\n");
		return 2;
	}
	if (install_filter() != 0) {
		fprintf(stderr, "no_uring: cannot install the seccomp "
			"filter: %s\n", strerror(errno));
		return 126;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no_uring: cannot run '%s': %s\n", argv[1],
		strerror(errno));
	return 127;
}
