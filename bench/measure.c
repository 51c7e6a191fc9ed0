/* bench_measure: runs one command and reports what the kernel accounted to it: wall clock,
 * user and system CPU, peak resident set size (wait4).
 *
 *   bench_measure OUT_FILE COMMAND [ARG...]
 *
 * Writes "wall_s user_s sys_s maxrss_kib exit_status minor_faults" to OUT_FILE (exit_status is
 * -N for a command killed by signal N; minor_faults: pages the kernel had to give or map, its
 * waited-for children's included) and exits 0 if it could measure.
 *
 * Why not wait4 from the Python of bench/run: Linux keeps in a process's peak RSS the pages of
 * the address space it had before exec, and Python's subprocess starts children with vfork,
 * whose address space before exec is the parent's. Every child of a 50 MB Python reported
 * a peak of at least 50 MB, /bin/true included. Forked from this small program, a child
 * starts from a megabyte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_measure OUT_FILE COMMAND [ARG...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_measure: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "bench_measure: %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            perror("bench_measure: wait4");
            return 2;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 2;
    }
    fprintf(out, "%.6f %.6f %.6f %ld %d %ld\n", wall, seconds(usage.ru_utime),
            seconds(usage.ru_stime), usage.ru_maxrss, code, usage.ru_minflt);
    return fclose(out) == 0 ? 0 : 2;
}
