/*
 * sim_rng.h — the simulator's own random numbers (internal, header-only).
 *
 * Same seed, same bytes: every random choice of the simulator comes from
 * a xoshiro256** stream seeded by splitmix64 from (seed, purpose, keys),
 * never from rand() or the clock. A stream is keyed by what it decides
 * (e.g. "schedule of person p on day d"), so the output does not depend
 * on the order in which things are generated, and a test can recompute
 * any one person-day on its own.
 */
#ifndef CT_SIM_RNG_H
#define CT_SIM_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct sim_rng {
    uint64_t s[4];
} sim_rng;

/* Purposes (the second key of every stream). */
enum {
    SIM_RS_WORLD = 1, SIM_RS_PERSON, SIM_RS_SCHED, SIM_RS_EVENTS, SIM_RS_ROWS,
    SIM_RS_CELLS, SIM_RS_CASES, SIM_RS_SPOT, SIM_RS_VENUE
};

static inline uint64_t sim_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A well-mixed 64-bit hash of up to four keys. */
static inline uint64_t sim_hash(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    uint64_t x = a;
    uint64_t h = sim_splitmix(&x);
    x ^= b * 0xD6E8FEB86659FD93ull;
    h ^= sim_splitmix(&x);
    x ^= c * 0xA0761D6478BD642Full;
    h ^= sim_splitmix(&x);
    x ^= d * 0xE7037ED1A0B428DBull;
    return h ^ sim_splitmix(&x);
}

static inline void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t purpose, uint64_t k1,
                                uint64_t k2)
{
    uint64_t x = sim_hash(seed, purpose, k1, k2);
    for (int i = 0; i < 4; i++)
        r->s[i] = sim_splitmix(&x);
}

static inline uint64_t sim_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t sim_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline double sim_unif(sim_rng *r)
{
    return (double)(sim_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [lo, hi). */
static inline double sim_range(sim_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_unif(r);
}

/* Uniform integer in [0, n), 0 < n < 2^53. */
static inline uint64_t sim_below(sim_rng *r, uint64_t n)
{
    uint64_t k = (uint64_t)(sim_unif(r) * (double)n);
    return k < n ? k : n - 1;
}

static inline int sim_chance(sim_rng *r, double p)
{
    return sim_unif(r) < p;
}

/* Exponential with the given mean. */
static inline double sim_expo(sim_rng *r, double mean)
{
    return -mean * log(1.0 - sim_unif(r));
}

/* Standard normal (Box-Muller, one value per call). */
static inline double sim_normal(sim_rng *r)
{
    double u = 1.0 - sim_unif(r), v = sim_unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Uniform in [0, 1) from a hash: for stateless choices. */
static inline double sim_hunif(uint64_t h)
{
    return (double)(h >> 11) * 0x1.0p-53;
}

#endif
