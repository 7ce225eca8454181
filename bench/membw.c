/*
 * membw.c — the machine's memory bandwidth, for the benchmark's
 * "ns per candidate against memory bandwidth" line (bench/README.md).
 *
 * Copies a 1 GiB buffer into another with memcpy, several times, and
 * prints the best rate in GB/s (10^9 bytes per second), counting bytes
 * read plus bytes written (2 x 1 GiB per copy), as STREAM's "copy" does.
 * Single-threaded: one trace runs on one core.
 *
 *   cc -O2 -o membw membw.c && ./membw [MiB] [rounds]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1024;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (mib == 0 || rounds <= 0) {
        fprintf(stderr, "usage: membw [MiB] [rounds]\n");
        return 2;
    }
    size_t n = mib << 20;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) {
        fprintf(stderr, "membw: cannot allocate 2 x %zu MiB\n", mib);
        return 1;
    }
    memset(a, 1, n); /* fault every page in before timing */
    memset(b, 2, n);
    double best = 1e30;
    for (int r = 0; r < rounds; r++) {
        a[(size_t)r * 4096 % n] = (char)r; /* the copy is not loop-invariant */
        double t0 = now();
        memcpy(b, a, n);
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    volatile char sink = b[n / 2];
    (void)sink;
    printf("%.2f\n", 2.0 * (double)n / best / 1e9);
    free(a);
    free(b);
    return 0;
}
