/* rng: a small, seedable, portable random number generator (xoshiro256**
 * seeded through splitmix64), so that runs are reproducible bit for bit
 * across machines and libcs. */
#ifndef UNETPIPE_RNG_H
#define UNETPIPE_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seed the generator; the same seed always gives the same sequence. */
void rng_seed(struct rng *r, uint64_t seed);

/* The next 64 random bits. */
uint64_t rng_next(struct rng *r);

/* A uniform double in [0, 1) with 53 random bits. */
double rng_uniform(struct rng *r);

/* A uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Shuffle idx[0..n-1] in place (Fisher-Yates). */
void rng_shuffle(struct rng *r, int *idx, int n);

#endif
