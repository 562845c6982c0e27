#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "rng.h"
#include "unet.h"
#include "util.h"

void
glorot_uniform(float *k, size_t count, int fan_in, int fan_out,
	       struct rng *r)
{
	double bound = sqrt(6.0 / (fan_in + fan_out));

	for (size_t i = 0; i < count; i++)
		k[i] = (float)((2 * rng_uniform(r) - 1) * bound);
}

struct adam_args {
	float *p, *m, *v;
	const float *g;
	size_t count;
	float fb1, fa1, fb2, fa2, bc2, step, eps;
};

static void
adam_part(void *arg, int t, int nt)
{
	const struct adam_args *a = arg;
	size_t lo, hi;

	pool_share(a->count, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		float mi = a->m[i] * a->fb1 + a->fa1 * a->g[i];
		float vi = a->v[i] * a->fb2 + a->fa2 * a->g[i] * a->g[i];

		a->m[i] = mi;
		a->v[i] = vi;
		a->p[i] -= a->step * (mi / (sqrtf(vi) / a->bc2 + a->eps));
	}
}

void
adam_update(int nt, float *p, const float *g, float *m, float *v,
	    size_t count, double lr, double b1, double b2, double eps, long t)
{
	/* The same float32 operations in the same order as PyTorch's
	 * single-tensor Adam, the scalars rounded as it rounds them. */
	struct adam_args a = {
		.p = p, .m = m, .v = v, .g = g, .count = count,
		.fb1 = (float)b1, .fa1 = (float)(1 - b1),
		.fb2 = (float)b2, .fa2 = (float)(1 - b2),
		.bc2 = (float)sqrt(1 - pow(b2, (double)t)),
		.step = (float)(lr / (1 - pow(b1, (double)t))),
		.eps = (float)eps,
	};

	if (count < 16384)
		adam_part(&a, 0, 1);
	else
		pool_run(nt, adam_part, &a);
}

/* count zeroed floats of moments */
static float *
moments(size_t count)
{
	float *p = xmalloc_for(count, sizeof(float), "Adam's moments");

	memset(p, 0, count * sizeof(float));
	return p;
}

double
lr_cosine(double lr, long epoch, long epochs)
{
	return lr * 0.5 * (1 + cos(M_PI * (double)epoch / (double)epochs));
}

struct adam *
adam_new(struct unet *net, double lr)
{
	struct adam *a = xcalloc(1, sizeof *a);

	a->lr = lr;
	a->beta1 = 0.9;
	a->beta2 = 0.999;
	a->eps = 1e-7;
	a->nparams = unet_param_count(net);
	a->m = xcalloc(a->nparams, sizeof *a->m);
	a->v = xcalloc(a->nparams, sizeof *a->v);
	for (int i = 0; i < a->nparams; i++) {
		a->m[i] = moments(unet_param_at(net, i)->count);
		a->v[i] = moments(unet_param_at(net, i)->count);
	}
	return a;
}

void
adam_free(struct adam *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->nparams; i++) {
		free(a->m[i]);
		free(a->v[i]);
	}
	free(a->m);
	free(a->v);
	free(a);
}

void
adam_step(struct adam *a, struct unet *net, int nt)
{
	a->step++;
	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);

		if (p->frozen)
			continue;
		adam_update(nt, p->value, p->grad, a->m[i], a->v[i], p->count,
			    a->lr, a->beta1, a->beta2, a->eps, a->step);
	}
}
