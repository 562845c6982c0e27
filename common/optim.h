/* optim: the optimiser of the U-Net: Glorot initialisation, and Adam (its
 * kernel, and its moments over a network's parameters). */
#ifndef UNETPIPE_OPTIM_H
#define UNETPIPE_OPTIM_H

#include <stddef.h>

struct rng;
struct unet;

/* Fill k (count floats) uniformly in [-bound, bound) from r, where
 * bound = sqrt(6 / (fan_in + fan_out)) (Glorot / xavier_uniform_). */
void glorot_uniform(float *k, size_t count, int fan_in, int fan_out,
		    struct rng *r);

/* One Adam update of count parameters p from gradient g with moments m, v,
 * as torch.optim.Adam does it at step t (1, 2, ...): m = b1 m + (1-b1) g,
 * v = b2 v + (1-b2) g^2, p -= lr / (1-b1^t) m / (sqrt(v) / sqrt(1-b2^t) +
 * eps); on nt threads (1 .. POOL_MAX_THREADS) when count is large, with
 * the same result on any number. */
void adam_update(int nt, float *p, const float *g, float *m, float *v,
		 size_t count, double lr, double b1, double b2, double eps,
		 long t);

/* The learning rate of epoch (0, 1, ... epochs - 1) of a cosine schedule
 * from lr down over epochs: lr (1 + cos(pi epoch / epochs)) / 2. */
double lr_cosine(double lr, long epoch, long epochs);

/* Adam with Keras' defaults (beta1 0.9, beta2 0.999, eps 1e-7). */
struct adam {
	double lr, beta1, beta2, eps;
	long step;      /* steps taken */
	int nparams;
	float **m, **v; /* moments, one array per parameter, our layout */
};

/* Fresh moments for every parameter of net. */
struct adam *adam_new(struct unet *net, double lr);
void adam_free(struct adam *a);

/* One Adam step on nt threads on every parameter of net that is not
 * frozen, from its grad (PyTorch's update: bias-corrected moments, eps
 * added to sqrt(v_hat)); the step count advances once for all. */
void adam_step(struct adam *a, struct unet *net, int nt);

#endif
