#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "convdirect.h"
#include "pool.h"
#include "util.h"
#include "winograd.h"

/* A tile of im2col rows aims at this many floats, with at least MIN_ROWS
 * and at most MAX_ROWS rows: large tiles suit OpenBLAS best (measured),
 * even beyond L2, and enough rows amortise the packing of big kernels. */
#define TILE_FLOATS 262144
#define MIN_ROWS 256
#define MAX_ROWS 4096

/* The layers' share of the pool's scratch: each thread's gradient scratch
 * holds a kernel gradient (9 max_channels^2 floats) then a bias gradient
 * (max_channels); kflip is a rearranged kernel, shared, of kflip_floats:
 * also Winograd's transformed kernel or its weight gradient's products
 * (16 max_channels^2, the channels rounded up to 32). */
static int max_channels;
static float *kflip;
static size_t kflip_floats;

/* The forward's transformed Winograd kernels that nn_keep_kernels keeps,
 * by weights, F(m x m) and precision; at most KEPT_FLOATS floats (512
 * MiB: every one of base 64, 311 MiB), the others transformed at every
 * call. */
#define KEPT_FLOATS ((size_t)1 << 27)
struct kept_kernel {
	const float *k;
	int m, bf16;
	float *u;
};
static struct kept_kernel *kept;
static size_t nkept, kept_floats;
static int keeping;

/* Thread t's private kernel and bias gradients. */
static float *
thread_dk(int t)
{
	return pool_grad(t);
}

static float *
thread_db(int t)
{
	return pool_grad(t) + (size_t)9 * max_channels * max_channels;
}

void
nn_reserve(int channels, int nt)
{
	size_t mc = channels;

	if (channels > max_channels) {
		size_t col = 9 * mc * MIN_ROWS;

		max_channels = channels;
		if (col < TILE_FLOATS)
			col = TILE_FLOATS;
		if (col < winograd_reserve_floats(channels))
			col = winograd_reserve_floats(channels);
		pool_reserve(col, 9 * mc * mc + mc);
		free(kflip);
		kflip_floats = 16 * mc * ((mc + 31) / 32 * 32);
		kflip = xmalloc_for(kflip_floats, sizeof(float),
				    "a rearranged kernel");
	}
	pool_start(nt);
}

void
nn_keep_kernels(int on)
{
	if (!on) {
		for (size_t i = 0; i < nkept; i++)
			free(kept[i].u);
		free(kept);
		kept = NULL;
		nkept = kept_floats = 0;
	}
	keeping = on;
}

/* The transformed forward kernel of weights k (nn's layout) for F(m x m):
 * the one kept for k, else transformed into a new kept one while
 * nn_keep_kernels is on and KEPT_FLOATS allows, else into kflip. */
static const float *
forward_kernel(int nt, int m, const float *k, int cin, int cout, int bf16)
{
	size_t floats = winograd_kernel_floats(m, cin, cout);
	float *u = kflip;

	for (size_t i = 0; keeping && i < nkept; i++)
		if (kept[i].k == k && kept[i].m == m && kept[i].bf16 == bf16)
			return kept[i].u;
	if (keeping && kept_floats + floats <= KEPT_FLOATS) {
		u = xmalloc_for(floats, sizeof *u, "a transformed kernel");
		kept = xreallocarray(kept, nkept + 1, sizeof *kept);
		kept[nkept++] = (struct kept_kernel){ k, m, bf16, u };
		kept_floats += floats;
	}
	/* u[s][ci][co] from k[co][s][ci] */
	winograd_kernel(nt, m, k, cin, 1, (size_t)9 * cin, 0, cin, cout,
			bf16, u);
	return u;
}

/* Using a layer wider than nn_reserve allowed is a programming error. */
static void
check_reserved(int cin, int cout)
{
	if (cin > max_channels || cout > max_channels)
		die("nn: layer of %d -> %d channels, scratch reserved for %d",
		    cin, cout, max_channels);
}

/* Rows per tile for an im2col of k columns over npix rows shared by nt
 * threads: at most the tile size, and tiles in a multiple of nt so that
 * the threads get equal work. */
static int
tile_rows(size_t k, size_t npix, int nt)
{
	size_t r = TILE_FLOATS / k, ntiles;

	if (r < MIN_ROWS)
		r = MIN_ROWS;
	if (r > MAX_ROWS)
		r = MAX_ROWS;
	if (npix == 0)
		return 1;
	ntiles = (npix + r - 1) / r;
	ntiles = (ntiles + nt - 1) / nt * nt;
	r = (npix + ntiles - 1) / ntiles;
	return (int)r;
}

/* Where thread t accumulates weight and bias gradients: straight into the
 * result with one thread, else into zeroed private buffers that
 * reduce_grads adds up in thread order. */
static void
grad_target(int t, int nt, float *dk, float *db, size_t kcount, int cout,
	    float **tdk, float **tdb)
{
	if (nt == 1) {
		*tdk = dk;
		*tdb = db;
		return;
	}
	*tdk = thread_dk(t);
	*tdb = thread_db(t);
	memset(*tdk, 0, kcount * sizeof(float));
	memset(*tdb, 0, cout * sizeof(float));
}

struct reduce_args {
	float *dk, *db;
	size_t kcount;
	int cout;
};

static void
reduce_part(void *arg, int t, int nt)
{
	const struct reduce_args *a = arg;
	size_t lo, hi;

	pool_share(a->kcount, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		float s = 0;

		for (int u = 0; u < nt; u++)
			s += thread_dk(u)[i];
		a->dk[i] += s;
	}
}

/* Add the threads' private gradients to dk and db, in thread order. */
static void
reduce_grads(int nt, float *dk, float *db, size_t kcount, int cout)
{
	struct reduce_args a = { dk, db, kcount, cout };

	if (nt == 1)
		return;
	pool_run(nt, reduce_part, &a);
	for (int i = 0; i < cout; i++) {
		float s = 0;

		for (int u = 0; u < nt; u++)
			s += thread_db(u)[i];
		db[i] += s;
	}
}

static void
fill_bias(float *y, int ldy, size_t rows, const float *b, int c)
{
	for (size_t r = 0; r < rows; r++)
		memcpy(y + r * ldy, b, c * sizeof(float));
}

static void
relu_rows(float *y, int ldy, size_t rows, int c)
{
	for (size_t r = 0; r < rows; r++) {
		float *p = y + r * ldy;

		for (int i = 0; i < c; i++)
			p[i] = p[i] > 0 ? p[i] : 0;
	}
}

static void
sum_rows(const float *dy, int lddy, size_t rows, int c, float *db)
{
	for (size_t r = 0; r < rows; r++) {
		const float *p = dy + r * lddy;

		for (int i = 0; i < c; i++)
			db[i] += p[i];
	}
}

/* im2col of a 3x3 window, padding 1: row r of col holds, for pixel p0 + r
 * of an n x h x w map, its 9 neighbours (ky, kx) of c channels, zeros
 * outside the image. With stride 2 the map is 2h x 2w and the window of
 * pixel (y, x) is centred on (2y, 2x), as in a transposed convolution. */
static void
im2col(const float *x, int ldx, int h, int w, int c, int stride, size_t p0,
       int rows, float *col)
{
	size_t hw = (size_t)h * w;
	int mh = h * stride, mw = w * stride;
	size_t rowbytes = c * sizeof(float);

	for (int r = 0; r < rows; r++) {
		size_t p = p0 + r;
		size_t img = p / hw;
		int rem = (int)(p % hw);
		int cy = rem / w * stride;
		int cx = rem % w * stride;
		const float *base = x + img * mh * mw * ldx;
		float *d = col + (size_t)r * 9 * c;

		int inside = cx >= 1 && cx + 1 < mw && ldx == c;

		for (int ky = 0; ky < 3; ky++) {
			int yy = cy + ky - 1;
			const float *row;

			if (yy < 0 || yy >= mh) {
				memset(d, 0, 3 * rowbytes);
				d += 3 * c;
				continue;
			}
			row = base + (size_t)yy * mw * ldx;
			if (inside) {
				/* the three pixels are contiguous */
				memcpy(d, row + (size_t)(cx - 1) * c,
				       3 * rowbytes);
				d += 3 * c;
				continue;
			}
			for (int kx = 0; kx < 3; kx++, d += c) {
				int xx = cx + kx - 1;

				if (xx < 0 || xx >= mw)
					memset(d, 0, rowbytes);
				else
					memcpy(d, row + (size_t)xx * ldx,
					       rowbytes);
			}
		}
	}
}

/* Row im2col ("hcol") for large maps: the 3x3 window of a pixel is the
 * hcol rows of the pixels above, at and below it, each [left, centre,
 * right] (3c floats), so a convolution is three GEMMs over shifted hcol
 * rows, one per kernel row, and the gather is a third of im2col's. A tile
 * keeps to one image and carries one image row of margin above and below.
 */
struct hcol_plan {
	int use;        /* hcol for this layer */
	int per_image;  /* tiles per image */
	int rows;       /* pixels per tile (the last may have fewer) */
};

#define HCOL_MIN_PIXELS 512

static struct hcol_plan
hcol_plan(int n, int h, int w, int c, int nt)
{
	struct hcol_plan p = { 0, 0, 0 };
	size_t hw = (size_t)h * w, r = TILE_FLOATS / (9 * (size_t)c);

	if (hw < HCOL_MIN_PIXELS || h < 4)
		return p;
	if (r < MIN_ROWS)
		r = MIN_ROWS;
	if (r > MAX_ROWS)
		r = MAX_ROWS;
	/* tiles in a multiple of nt, so that the threads get equal work */
	p.per_image = (int)((hw + r - 1) / r);
	while ((size_t)p.per_image * n % nt != 0)
		p.per_image++;
	p.rows = (int)((hw + p.per_image - 1) / p.per_image);
	p.use = ((size_t)p.rows + 2 * w) * 3 * c <= pool_col_floats();
	return p;
}

/* hcol rows for the pixels q0 .. q1-1 of image img (q may fall outside
 * the image: zero rows). */
static void
hcol(const float *x, int ldx, int h, int w, int c, size_t img, long q0,
     long q1, float *hc)
{
	long hw = (long)h * w;
	const float *base = x + img * hw * ldx;
	size_t rowbytes = c * sizeof(float);

	for (long q = q0; q < q1; q++, hc += 3 * c) {
		int xx;

		if (q < 0 || q >= hw) {
			memset(hc, 0, 3 * rowbytes);
			continue;
		}
		xx = (int)(q % w);
		if (xx >= 1 && xx + 1 < w && ldx == c) {
			memcpy(hc, base + (q - 1) * c, 3 * rowbytes);
			continue;
		}
		for (int kx = 0; kx < 3; kx++) {
			int xs = xx + kx - 1;

			if (xs < 0 || xs >= w)
				memset(hc + kx * c, 0, rowbytes);
			else
				memcpy(hc + kx * c, base + (q + kx - 1) * ldx,
				       rowbytes);
		}
	}
}

/* Zero the gradient rows dx where the ReLU output x is not positive. */
static void
mask_rows(const float *x, int ldx, float *dx, int lddx, size_t rows, int c)
{
	for (size_t r = 0; r < rows; r++) {
		const float *v = x + r * ldx;
		float *g = dx + r * lddx;

		for (int i = 0; i < c; i++)
			g[i] = v[i] > 0 ? g[i] : 0;
	}
}

/* ------------------------------------------------------------ strategy */

/* How a layer's product is computed. */
enum strategy {
	WINOGRAD,       /* winograd, F(2x2, 3x3) or F(4x4, 3x3) */
	DIRECT,         /* convdirect, in vector registers */
	HCOL,           /* three GEMMs per tile of row-im2col (hcol) rows */
	IM2COL,         /* one GEMM per tile of im2col rows */
	GEMM,           /* GEMMs on the maps as they are */
	LOOPS,          /* plain loops */
};

/* A layer's pass. */
enum pass {
	CONV_FORWARD,           /* 3x3 convolution */
	CONV_BACKWARD,
	UPCONV_FORWARD,         /* 3x3 transposed convolution, stride 2 */
	UPCONV_BACKWARD,
	CONV1X1_BACKWARD,       /* 1x1 convolution (its forward: GEMM) */
};

/* A pass's plan: how its output (the forward's y, the backward's weight
 * gradient) and the backward's input gradient dx are computed, and the
 * hcol tiles of the one that is HCOL. */
struct plan {
	enum strategy how, dx;
	struct hcol_plan hp;
	int wino;       /* WINOGRAD: the m of F(m x m, 3x3) */
};

static int direct_allowed = 1;
static int wino_mode = NN_WINOGRAD_AUTO;
static enum nn_precision precision = NN_FP32;

void
nn_set_direct(int on)
{
	direct_allowed = on;
}

void
nn_set_winograd(int mode)
{
	wino_mode = mode;
}

enum nn_precision
nn_set_precision(enum nn_precision p)
{
	precision = p == NN_BF16 && winograd_bf16_available() ? NN_BF16
							       : NN_FP32;
	return precision;
}

/* The m of the Winograd F(m x m, 3x3) for a 3x3 convolution from cin to
 * cout channels on maps w pixels wide (both directions: the backward's dx
 * runs from cout to cin), 0 for none. Measured by unet-bench --mode
 * layers (bench/README.md, "Winograd" and "Sixteen channels"): below 16
 * channels the products are too thin, below maps 8 wide the tiles'
 * padding costs too much. F(4x4) does 36 products per 16 pixels where
 * F(2x2) does 16 per 4, and was faster on maps 8 wide too; its
 * transformed kernel must fit in kflip, or the layer takes F(2x2). With
 * bf16 products (bf16 set) a layer takes F(2x2) on every map, forward and
 * backward: F(4x4)'s transforms amplify the rounding of its inputs to
 * bf16 13 times more (test_winograd: up to 0.035 of the sum of |x||k|
 * against F(2x2)'s 0.0022). */
static int
wino_pick(int w, int cin, int cout, int bf16)
{
	int m = wino_mode != NN_WINOGRAD_AUTO ? wino_mode
		: bf16 ? 2 : 4;

	if (m == 0 || cin < 16 || cout < 16 || w < 8)
		return 0;
	if (m == 4 && (!winograd_available(4) ||
		       winograd_kernel_floats(4, cin, cout) > kflip_floats ||
		       winograd_kernel_floats(4, cout, cin) > kflip_floats))
		m = wino_mode == NN_WINOGRAD_AUTO ? 2 : 0;
	if (m == 0 || !winograd_available(m) ||
	    winograd_kernel_floats(m, cin, cout) > kflip_floats ||
	    winograd_kernel_floats(m, cout, cin) > kflip_floats ||
	    winograd_scratch_floats(m, cin, cout) > pool_col_floats())
		return 0;
	return m;
}

/* The transposed convolutions from more input channels than this go to
 * sgemm: the direct kernel reads its block of weights (9 cin x 2 vectors)
 * from L2 for every 8 pixels, and from 256 channels on sgemm was 1.1 to
 * 2.6 times as fast, forward and backward (unet-bench --mode layers at
 * base 16 and 64, bench/README.md); at 128 and below they are even. */
#define UPCONV_DIRECT_MAX_CIN 128

/* The one place that chooses how a layer is computed, for a pass over n
 * maps of h x w (the input's size) from cin to cout channels on nt
 * threads, with or without dx. The direct path pays where sgemm's
 * products are thinnest, for narrow outputs, and for every multiple of
 * two vectors of channels (see convdirect_available); hcol for large
 * maps. The backward of a 3x3 convolution computes dx as the convolution
 * of dy from cout to cin channels: directly when both directions are
 * direct, otherwise by the GEMMs over tiles of dy, which then also give
 * the weight gradient unless that is direct. */
static struct plan
plan_layer(enum pass pass, int n, int h, int w, int cin, int cout,
	   int with_dx, int nt)
{
	struct plan p = { IM2COL, IM2COL, { 0, 0, 0 }, 0 };
	size_t room = pool_col_floats();
	int direct = direct_allowed &&
		     convdirect_available(cout, w, cin, room);

	if ((pass == CONV_FORWARD || pass == CONV_BACKWARD) &&
	    (p.wino = wino_pick(w, cin, cout, precision == NN_BF16)) != 0) {
		p.how = p.dx = WINOGRAD;
		return p;
	}
	switch (pass) {
	case CONV_FORWARD:
		p.hp = hcol_plan(n, h, w, cin, nt);
		p.how = direct ? DIRECT : p.hp.use ? HCOL : IM2COL;
		break;
	case CONV_BACKWARD:
		p.hp = hcol_plan(n, h, w, cout, nt);
		p.dx = p.hp.use ? HCOL : IM2COL;
		if (!direct) {
			p.how = with_dx ? p.dx : IM2COL;
			break;
		}
		p.how = DIRECT;
		if (convdirect_available(cin, w, cout, room))
			p.dx = DIRECT;
		break;
	case UPCONV_FORWARD:
		p.how = direct && cin <= UPCONV_DIRECT_MAX_CIN ? DIRECT : GEMM;
		break;
	case UPCONV_BACKWARD:
		if (direct_allowed && cin <= UPCONV_DIRECT_MAX_CIN &&
		    convdirect_upback_available(cin, cout, w, room))
			p.how = p.dx = DIRECT;
		break;
	case CONV1X1_BACKWARD:
		/* GEMMs of width 1 are slow */
		p.how = p.dx = cout == 1 ? LOOPS : GEMM;
		break;
	}
	return p;
}

int
nn_conv_direct(int w, int cin, int cout)
{
	return plan_layer(CONV_FORWARD, 1, 1, w, cin, cout, 0, 1).how
	       == DIRECT;
}

int
nn_conv_winograd(int w, int cin, int cout)
{
	return plan_layer(CONV_FORWARD, 1, 1, w, cin, cout, 0, 1).wino;
}

int
nn_upconv_backward_direct(int w, int cin, int cout)
{
	return plan_layer(UPCONV_BACKWARD, 1, 1, w, cin, cout, 1, 1).how
	       == DIRECT;
}

/* ------------------------------------------------------------ conv 3x3 */

struct conv_args {
	const float *x, *k, *b, *dy;
	float *y, *dx, *dk, *db;
	int ldx, ldy, lddy, lddx;
	int n, h, w, cin, cout, relu, mask;
	enum strategy how;      /* the plan's choice (see plan_layer) */
	struct hcol_plan hp;    /* and its hcol tiles */
};

static void
conv3x3_forward_hcol_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	const struct hcol_plan *hp = &a->hp;
	size_t hw = (size_t)a->h * a->w, lo, hi;
	int c3 = 3 * a->cin, w = a->w;
	float *hc = pool_col(t);

	pool_share((size_t)a->n * hp->per_image, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t img = i / hp->per_image;
		long q0 = (long)(i % hp->per_image) * hp->rows;
		long q1 = q0 + hp->rows < (long)hw ? q0 + hp->rows : (long)hw;
		int m = (int)(q1 - q0);
		float *y;

		if (m <= 0)
			continue;
		y = a->y + (img * hw + q0) * a->ldy;
		hcol(a->x, a->ldx, a->h, w, a->cin, img, q0 - w, q1 + w, hc);
		fill_bias(y, a->ldy, m, a->b, a->cout);
		for (int ky = 0; ky < 3; ky++)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
				    a->cout, c3, 1.0f,
				    hc + (size_t)ky * w * c3, c3,
				    a->k + ky * c3, 3 * c3, 1.0f, y, a->ldy);
		if (a->relu)
			relu_rows(y, a->ldy, m, a->cout);
	}
}

static void
conv3x3_forward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n * a->h * a->w;
	int kk = 9 * a->cin;
	int rows = tile_rows(kk, npix, nt);
	size_t ntiles = (npix + rows - 1) / rows, lo, hi;
	float *col = pool_col(t);

	pool_share(ntiles, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t p0 = i * rows;
		int m = npix - p0 < (size_t)rows ? (int)(npix - p0) : rows;
		float *y = a->y + p0 * a->ldy;

		im2col(a->x, a->ldx, a->h, a->w, a->cin, 1, p0, m, col);
		fill_bias(y, a->ldy, m, a->b, a->cout);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
			    a->cout, kk, 1.0f, col, kk, a->k, kk, 1.0f, y,
			    a->ldy);
		if (a->relu)
			relu_rows(y, a->ldy, m, a->cout);
	}
}

/* The kernel of a direct convolution from nin to nout channels whose
 * weight of tap s (ky kx), input i and output o is
 * k[(flip ? 8 - s : s) ss + i si + o so], packed into kflip as
 * convdirect_rows takes it: [nout / B][s][nin][B], B = convdirect_block
 * (nout). */
struct pack_args {
	const float *k;
	size_t ss, si, so;
	int nin, nout, flip;
};

static void
pack_part(void *arg, int t, int nt)
{
	const struct pack_args *a = arg;
	int nin = a->nin, bw = convdirect_block(a->nout);
	size_t lo, hi;

	/* by (block, tap) pairs, reading along the smaller stride */
	pool_share((size_t)a->nout / bw * 9, t, nt, &lo, &hi);
	for (size_t q = lo; q < hi; q++) {
		int s9 = (int)(q % 9);
		float *d = kflip + q * nin * bw;
		const float *src = a->k + (a->flip ? 8 - s9 : s9) * a->ss
				   + q / 9 * bw * a->so;

		if (a->si < a->so)
			for (int o = 0; o < bw; o++)
				for (int i = 0; i < nin; i++)
					d[(size_t)i * bw + o] =
						src[i * a->si + o * a->so];
		else
			for (int i = 0; i < nin; i++)
				for (int o = 0; o < bw; o++)
					d[(size_t)i * bw + o] =
						src[i * a->si + o * a->so];
	}
}

static void
pack_kernel(int nt, const float *k, size_t ss, size_t si, size_t so,
	    int nin, int nout, int flip)
{
	struct pack_args a = { k, ss, si, so, nin, nout, flip };

	pool_run(nt, pack_part, &a);
}

/* A convolution computed by convdirect over rows of the output, with the
 * output then zeroed where mx (a ReLU output, pixel stride ldmx) is not
 * positive when mx is set. */
struct direct_args {
	const float *x, *wt, *b, *mx, *dy;
	float *y;
	int ldx, ldy, ldmx, lddy, n, h, w, cin, cout, relu;
};

static void
direct_part(void *arg, int t, int nt)
{
	const struct direct_args *a = arg;
	size_t lo, hi, w = a->w;

	pool_share((size_t)a->n * a->h, t, nt, &lo, &hi);
	convdirect_rows(a->x, a->ldx, a->h, a->w, a->cin, a->wt, a->b,
			a->cout, a->y, a->ldy, a->relu, lo, hi, pool_col(t));
	if (a->mx)
		mask_rows(a->mx + lo * w * a->ldmx, a->ldmx,
			  a->y + lo * w * a->ldy, a->ldy, (hi - lo) * w,
			  a->cout);
}

/* Each thread's kernel gradient ([s][ci][co]) and bias gradient of its
 * share of the rows, in its private buffers; reduce_direct adds them up. */
static void
direct_wgrad_part(void *arg, int t, int nt)
{
	const struct direct_args *a = arg;
	size_t lo, hi, w = a->w;
	float *dk = thread_dk(t), *db = thread_db(t);

	memset(dk, 0, (size_t)9 * a->cin * a->cout * sizeof(float));
	memset(db, 0, a->cout * sizeof(float));
	pool_share((size_t)a->n * a->h, t, nt, &lo, &hi);
	convdirect_wgrad_rows(a->x, a->ldx, a->h, a->w, a->cin, a->dy,
			      a->lddy, a->cout, dk, lo, hi, pool_col(t));
	sum_rows(a->dy + lo * w * a->lddy, a->lddy, (hi - lo) * w, a->cout,
		 db);
}

/* dk[co][s][ci] += the threads' [s][ci][co] gradients, in thread order,
 * in 16 x 16 blocks of (co, ci): a transposition, shared by co. */
struct reduce_direct_args {
	float *dk;
	int cin, cout;
};

static void
reduce_direct_part(void *arg, int t, int nt)
{
	const struct reduce_direct_args *a = arg;
	int cin = a->cin, cout = a->cout;
	size_t lo, hi;

	pool_share((cout + 15) / 16, t, nt, &lo, &hi);
	for (int o0 = lo * 16; o0 < (int)hi * 16 && o0 < cout; o0 += 16)
		for (int s9 = 0; s9 < 9; s9++)
			for (int c0 = 0; c0 < cin; c0 += 16)
				for (int ci = c0; ci < c0 + 16 && ci < cin; ci++) {
					size_t f = ((size_t)s9 * cin + ci) * cout;

					for (int co = o0; co < o0 + 16 && co < cout;
					     co++) {
						float g = 0;

						for (int u = 0; u < nt; u++)
							g += thread_dk(u)[f + co];
						a->dk[((size_t)co * 9 + s9) * cin
						      + ci] += g;
					}
				}
}

/* ... and db likewise. */
static void
reduce_direct(int nt, float *dk, float *db, int cin, int cout)
{
	struct reduce_direct_args a = { dk, cin, cout };

	for (int co = 0; co < cout; co++) {
		float g = 0;

		for (int u = 0; u < nt; u++)
			g += thread_db(u)[co];
		db[co] += g;
	}
	pool_run(nt, reduce_direct_part, &a);
}

void
nn_conv3x3_forward(int nt, const float *x, int ldx, int n, int h, int w,
		   int cin, const float *k, const float *b, int cout, float *y,
		   int ldy, int relu)
{
	struct conv_args a = {
		.x = x, .k = k, .b = b, .y = y, .ldx = ldx, .ldy = ldy,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
		.relu = relu,
	};
	struct plan p;

	check_reserved(cin, cout);
	p = plan_layer(CONV_FORWARD, n, h, w, cin, cout, 0, nt);
	a.hp = p.hp;
	if (p.how == WINOGRAD) {
		int bf16 = precision == NN_BF16;

		winograd_conv(nt, p.wino, x, ldx, n, h, w, cin, b, cout, y,
			      ldy, relu, NULL, 0, bf16,
			      forward_kernel(nt, p.wino, k, cin, cout, bf16));
		return;
	}
	if (p.how == DIRECT) {
		struct direct_args d = {
			.x = x, .wt = kflip, .b = b, .y = y, .ldx = ldx,
			.ldy = ldy, .n = n, .h = h, .w = w, .cin = cin,
			.cout = cout, .relu = relu,
		};

		/* wt[s][ci][co] = k[co][s][ci] */
		pack_kernel(nt, k, cin, 1, (size_t)9 * cin, cin, cout, 0);
		pool_run(nt, direct_part, &d);
		return;
	}
	pool_run(nt, p.how == HCOL ? conv3x3_forward_hcol_part
				   : conv3x3_forward_part, &a);
}

/* The backward with dx over hcol tiles of dy: per kernel row ky, the
 * columns ky of d(kflip) and the ky share of dx. */
static void
conv3x3_backward_hcol(const struct conv_args *a, const struct hcol_plan *hp,
		      int t, int nt, float *dk, float *db)
{
	size_t hw = (size_t)a->h * a->w, lo, hi;
	int c3 = 3 * a->cout, w = a->w;
	float *hc = pool_col(t);

	pool_share((size_t)a->n * hp->per_image, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t img = i / hp->per_image;
		long q0 = (long)(i % hp->per_image) * hp->rows;
		long q1 = q0 + hp->rows < (long)hw ? q0 + hp->rows : (long)hw;
		int m = (int)(q1 - q0);
		size_t p0 = img * hw + q0;
		float *dx;

		if (m <= 0)
			continue;
		dx = a->dx + p0 * a->lddx;
		if (a->dk)
			sum_rows(a->dy + p0 * a->lddy, a->lddy, m, a->cout, db);
		hcol(a->dy, a->lddy, a->h, w, a->cout, img, q0 - w, q1 + w, hc);
		for (int ky = 0; ky < 3; ky++) {
			const float *rows = hc + (size_t)ky * w * c3;

			if (a->dk)
				cblas_sgemm(CblasRowMajor, CblasTrans,
					    CblasNoTrans, a->cin, c3, m, 1.0f,
					    a->x + p0 * a->ldx, a->ldx, rows,
					    c3, 1.0f, dk + ky * c3, 3 * c3);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
				    a->cin, c3, 1.0f, rows, c3,
				    kflip + ky * c3, 3 * c3,
				    ky ? 1.0f : 0.0f, dx, a->lddx);
		}
		if (a->mask)
			mask_rows(a->x + p0 * a->ldx, a->ldx, dx, a->lddx, m,
				  a->cin);
	}
}

/* Without dx: dk += col(x)^T dy, tile by tile. With dx (over hcol tiles
 * when the plan says HCOL): one im2col of dy serves both products,
 * dx = col(dy) kflip^T and d(kflip) = x^T col(dy) (x read in place),
 * so x is never gathered; each thread sums d(kflip) privately and
 * reduce_flipped adds it to dk. */
static void
conv3x3_backward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n * a->h * a->w;
	int kx = 9 * a->cin, ky = 9 * a->cout;
	int rows = tile_rows(a->dx ? ky : kx, npix, nt);
	size_t ntiles = (npix + rows - 1) / rows, lo, hi;
	float *col = pool_col(t), *dk, *db;

	if (a->dx) {
		dk = thread_dk(t);
		db = thread_db(t);
		memset(dk, 0, (size_t)kx * a->cout * sizeof(float));
		memset(db, 0, a->cout * sizeof(float));
	} else {
		grad_target(t, nt, a->dk, a->db, (size_t)kx * a->cout,
			    a->cout, &dk, &db);
	}
	if (a->how == HCOL) {
		conv3x3_backward_hcol(a, &a->hp, t, nt, dk, db);
		return;
	}
	pool_share(ntiles, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t p0 = i * rows;
		int m = npix - p0 < (size_t)rows ? (int)(npix - p0) : rows;
		const float *dy = a->dy + p0 * a->lddy;

		if (a->dk)
			sum_rows(dy, a->lddy, m, a->cout, db);
		if (!a->dx) {
			im2col(a->x, a->ldx, a->h, a->w, a->cin, 1, p0, m, col);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    a->cout, kx, m, 1.0f, dy, a->lddy, col, kx,
				    1.0f, dk, kx);
			continue;
		}
		im2col(a->dy, a->lddy, a->h, a->w, a->cout, 1, p0, m, col);
		if (a->dk)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
				    a->cin, ky, m, 1.0f, a->x + p0 * a->ldx,
				    a->ldx, col, ky, 1.0f, dk, ky);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
			    a->cin, ky, 1.0f, col, ky, kflip, ky, 0.0f,
			    a->dx + p0 * a->lddx, a->lddx);
		if (a->mask)
			mask_rows(a->x + p0 * a->ldx, a->ldx,
				  a->dx + p0 * a->lddx, a->lddx, m, a->cin);
	}
}

/* dk[co][s][ci] += f[ci][8-s][co] where f is the threads' d(kflip)
 * summed in thread order; by blocks of ci. */
static void
unflip_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int cin = a->cin, cout = a->cout, np = nt;
	size_t lo, hi;

	pool_share((cin + 15) / 16, t, nt, &lo, &hi);
	for (int c0 = lo * 16; c0 < (int)hi * 16 && c0 < cin; c0 += 16)
		for (int o0 = 0; o0 < cout; o0 += 16)
			for (int s = 0; s < 9; s++)
				for (int ci = c0; ci < c0 + 16 && ci < cin; ci++) {
					size_t f = ((size_t)ci * 9 + 8 - s) * cout;

					for (int co = o0; co < o0 + 16 && co < cout;
					     co++) {
						float g = 0;

						for (int u = 0; u < np; u++)
							g += thread_dk(u)[f + co];
						a->dk[((size_t)co * 9 + s) * cin
						      + ci] += g;
					}
				}
}

static void
reduce_flipped(int nt, struct conv_args *a)
{
	for (int i = 0; i < a->cout; i++) {
		float s = 0;

		for (int u = 0; u < nt; u++)
			s += thread_db(u)[i];
		a->db[i] += s;
	}
	pool_run(nt, unflip_part, a);
}

/* dx is the forward convolution of dy with the kernel flipped in space
 * and transposed: kflip[ci][ky][kx][co] = k[co][2-ky][2-kx][ci]. */
static void
kflip_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int cin = a->cin, cout = a->cout;
	size_t lo, hi;

	/* in 16 x 16 blocks of (ci, co): a transposition */
	pool_share((cin + 15) / 16, t, nt, &lo, &hi);
	for (int c0 = lo * 16; c0 < (int)hi * 16 && c0 < cin; c0 += 16)
		for (int o0 = 0; o0 < cout; o0 += 16)
			for (int s = 0; s < 9; s++)
				for (int ci = c0; ci < c0 + 16 && ci < cin; ci++) {
					float *d = kflip
						+ ((size_t)ci * 9 + 8 - s) * cout;

					for (int co = o0; co < o0 + 16 && co < cout;
					     co++)
						d[co] = a->k[((size_t)co * 9 + s)
							     * cin + ci];
				}
}

/* The sums of dy over each half of the pixels, in pixel order, for the
 * bias gradient: half h's in a->db[h cout ..], by blocks of 16 channels.
 * Its items are (block, half), so that two threads share even a layer of
 * 16 channels (by blocks alone, one thread summed those); the same bits
 * whatever nt. */
static void
sum_halves_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n * a->h * a->w, lo, hi;

	pool_share((size_t)2 * ((a->cout + 15) / 16), t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		int c0 = (int)(i / 2) * 16, h = (int)(i % 2);
		int nc = a->cout - c0 < 16 ? a->cout - c0 : 16;
		size_t p0 = h ? npix / 2 : 0, p1 = h ? npix : npix / 2;
		float s[16] = { 0 };

		sum_rows(a->dy + p0 * a->lddy + c0, a->lddy, p1 - p0, nc, s);
		memcpy(a->db + (size_t)h * a->cout + c0, s, nc * sizeof *s);
	}
}

void
nn_conv3x3_backward(int nt, const float *x, int ldx, int n, int h, int w,
		    int cin, const float *k, int cout, const float *dy,
		    int lddy, float *dx, int lddx, int mask, float *dk,
		    float *db)
{
	struct conv_args a = {
		.x = x, .k = k, .dy = dy, .dx = dx, .dk = dk, .db = db,
		.ldx = ldx, .lddy = lddy, .lddx = lddx,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
		.mask = mask,
	};
	struct plan p;

	check_reserved(cin, cout);
	p = plan_layer(CONV_BACKWARD, n, h, w, cin, cout, dx != NULL, nt);
	a.how = dx ? p.dx : p.how;
	a.hp = p.hp;
	if (p.how == WINOGRAD) {
		/* db's halves in kflip, free until the weight gradient */
		a.db = kflip;
		pool_run(nt, sum_halves_part, &a);
		for (int c = 0; c < cout; c++)
			db[c] += kflip[c] + kflip[cout + c];
		winograd_wgrad(nt, p.wino, x, ldx, dy, lddy, n, h, w, cin,
			       cout, dk, kflip, kflip_floats);
		/* dx: dy convolved with u[s][co][ci] from k[co][8-s][ci] */
		if (!dx)
			return;
		winograd_kernel(nt, p.wino, k, cin, (size_t)9 * cin, 1, 1,
				cout, cin, precision == NN_BF16, kflip);
		winograd_conv(nt, p.wino, dy, lddy, n, h, w, cout, NULL, cin,
			      dx, lddx, 0, mask ? x : NULL, ldx,
			      precision == NN_BF16, kflip);
		return;
	}
	if (p.how == DIRECT) {
		struct direct_args g = {
			.x = x, .dy = dy, .ldx = ldx, .lddy = lddy, .n = n,
			.h = h, .w = w, .cin = cin, .cout = cout,
		};
		struct direct_args d = {
			.x = dy, .wt = kflip, .mx = mask ? x : NULL,
			.y = dx, .ldx = lddy, .ldy = lddx, .ldmx = ldx, .n = n,
			.h = h, .w = w, .cin = cout, .cout = cin,
		};

		pool_run(nt, direct_wgrad_part, &g);
		reduce_direct(nt, dk, db, cin, cout);
		if (!dx)
			return;
		if (p.dx != DIRECT) {
			/* dx alone by the GEMMs (a.dk NULL) */
			a.dk = NULL;
			pool_run(nt, kflip_part, &a);
			pool_run(nt, conv3x3_backward_part, &a);
			return;
		}
		/* dx is the convolution of dy with wt[s][co][ci] =
		 * k[co][8-s][ci] */
		pack_kernel(nt, k, cin, (size_t)9 * cin, 1, cout, cin, 1);
		pool_run(nt, direct_part, &d);
		return;
	}
	if (dx)
		pool_run(nt, kflip_part, &a);
	pool_run(nt, conv3x3_backward_part, &a);
	if (dx)
		reduce_flipped(nt, &a);
	else
		reduce_grads(nt, dk, db, (size_t)9 * cin * cout, cout);
}

/* ------------------------------------------------------ transposed conv */

/* Add the rows of tt (m input pixels from p0, ldt floats apart, each the
 * kernel taps ky = 0 .. nky-1 of one pixel, (ky, kx) by cout floats) into
 * the output pixels they reach, in input pixel order, leaving out the
 * ky = 0 taps of input row skip (global row numbering). */
static void
upconv_scatter(const struct conv_args *a, const float *tt, int ldt,
	       size_t p0, int m, int nky, size_t skip)
{
	int h = a->h, w = a->w, oh = 2 * h, ow = 2 * w, cout = a->cout;

	for (int r = 0; r < m; r++) {
		size_t p = p0 + r, row = p / w, img = row / h;
		int iy = (int)(row % h), ix = (int)(p % w);
		const float *tr = tt + (size_t)r * ldt;

		for (int ky = 0; ky < nky; ky++) {
			int oy = 2 * iy - 1 + ky;
			float *base;

			if (oy < 0 || oy >= oh || (ky == 0 && row == skip))
				continue;
			base = a->y + (img * oh + oy) * ow * a->ldy;
			for (int kx = 0; kx < 3; kx++) {
				int ox = 2 * ix - 1 + kx;
				const float *s = tr + (ky * 3 + kx) * cout;
				float *d = base + (size_t)ox * a->ldy;

				if (ox < 0 || ox >= ow)
					continue;
				for (int c = 0; c < cout; c++)
					d[c] += s[c];
			}
		}
	}
}

/* Thread t owns input rows [r0, r1) of all n * h and the output rows 2 r0
 * .. 2 r1 - 1 they give (ky = 1, 2); the ky = 0 taps of row r0 fall on
 * the previous thread's last row and wait for upconv_fixup_part. The sum
 * for each output pixel is thus made in input pixel order whatever the
 * split. */
static void
upconv_forward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int kk = 9 * a->cout;
	size_t r0, r1, p0, p1;
	float *tt = pool_col(t);
	int rows;

	pool_share((size_t)a->n * a->h, t, nt, &r0, &r1);
	p0 = r0 * a->w;
	p1 = r1 * a->w;
	rows = tile_rows(kk, p1 - p0, 1);
	fill_bias(a->y + 4 * p0 * a->ldy, a->ldy, 4 * (p1 - p0), a->b,
		  a->cout);
	for (size_t q = p0; q < p1; q += rows) {
		int m = p1 - q < (size_t)rows ? (int)(p1 - q) : rows;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, kk,
			    a->cin, 1.0f, a->x + q * a->ldx, a->ldx, a->k, kk,
			    0.0f, tt, kk);
		upconv_scatter(a, tt, kk, q, m, 3, r0);
	}
}

static void
upconv_fixup_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	int k3 = 3 * a->cout;
	size_t r0, r1;
	float *tt = pool_col(t);
	int rows = (int)(pool_col_floats() / k3);

	pool_share((size_t)a->n * a->h, t, nt, &r0, &r1);
	if (r0 == r1 || r0 % a->h == 0)
		return;
	for (size_t q = r0 * a->w; q < (r0 + 1) * a->w; q += rows) {
		size_t end = (r0 + 1) * a->w;
		int m = end - q < (size_t)rows ? (int)(end - q) : rows;

		/* the ky = 0 columns of the kernel only */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k3,
			    a->cin, 1.0f, a->x + q * a->ldx, a->ldx, a->k,
			    9 * a->cout, 0.0f, tt, k3);
		upconv_scatter(a, tt, k3, q, m, 1, (size_t)-1);
	}
}

/* The direct path over shares of the n x 2h output rows, with the kernel
 * packed in kflip. */
static void
direct_up_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t lo, hi;

	pool_share((size_t)a->n * 2 * a->h, t, nt, &lo, &hi);
	convdirect_up_rows(a->x, a->ldx, a->h, a->w, a->cin, kflip, a->b,
			   a->cout, a->y, a->ldy, lo, hi, pool_col(t));
}

void
nn_upconv_forward(int nt, const float *x, int ldx, int n, int h, int w, int cin,
		  const float *k, const float *b, int cout, float *y, int ldy)
{
	struct conv_args a = {
		.x = x, .k = k, .b = b, .y = y, .ldx = ldx, .ldy = ldy,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
	};

	check_reserved(cin, cout);
	if (plan_layer(UPCONV_FORWARD, n, h, w, cin, cout, 0, nt).how
	    == DIRECT) {
		/* wt[s][ci][co] = k[ci][s][co] */
		pack_kernel(nt, k, cout, (size_t)9 * cout, 1, cin, cout, 0);
		pool_run(nt, direct_up_part, &a);
		return;
	}
	pool_run(nt, upconv_forward_part, &a);
	if (nt > 1)
		pool_run(nt, upconv_fixup_part, &a);
}

static void
upconv_backward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n * a->h * a->w;
	int kk = 9 * a->cout;
	int rows = tile_rows(kk, npix, nt);
	size_t ntiles = (npix + rows - 1) / rows, lo, hi;
	float *col = pool_col(t), *dk, *db;

	grad_target(t, nt, a->dk, a->db, (size_t)kk * a->cin, a->cout, &dk,
		    &db);
	pool_share(ntiles, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		size_t p0 = i * rows;
		int m = npix - p0 < (size_t)rows ? (int)(npix - p0) : rows;
		const float *x = a->x + p0 * a->ldx;

		im2col(a->dy, a->lddy, a->h, a->w, a->cout, 2, p0, m, col);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a->cin,
			    kk, m, 1.0f, x, a->ldx, col, kk, 1.0f, dk, kk);
		if (!a->dx)
			continue;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m,
			    a->cin, kk, 1.0f, col, kk, a->k, kk, 0.0f,
			    a->dx + p0 * a->lddx, a->lddx);
		if (a->mask)
			mask_rows(x, a->ldx, a->dx + p0 * a->lddx, a->lddx, m,
				  a->cin);
	}
	pool_share(4 * npix, t, nt, &lo, &hi);
	sum_rows(a->dy + lo * a->lddy, a->lddy, hi - lo, a->cout, db);
}

/* The direct path over shares of the n x h input rows, with the kernel
 * packed [ky][kx][co][ci] in kflip; the bias gradient from the
 * output rows of the share. */
static void
direct_upback_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t lo, hi, w = a->w;
	float *dk, *db;

	grad_target(t, nt, a->dk, a->db, (size_t)9 * a->cin * a->cout,
		    a->cout, &dk, &db);
	pool_share((size_t)a->n * a->h, t, nt, &lo, &hi);
	convdirect_upback_rows(a->x, a->ldx, a->dy, a->lddy, a->h, a->w,
			       a->cin, a->cout, kflip, a->dx, a->lddx, dk,
			       lo, hi, pool_col(t));
	if (a->dx && a->mask)
		mask_rows(a->x + lo * w * a->ldx, a->ldx,
			  a->dx + lo * w * a->lddx, a->lddx, (hi - lo) * w,
			  a->cin);
	sum_rows(a->dy + 4 * lo * w * a->lddy, a->lddy, 4 * (hi - lo) * w,
		 a->cout, db);
}

void
nn_upconv_backward(int nt, const float *x, int ldx, int n, int h, int w,
		   int cin, const float *k, int cout, const float *dy, int lddy,
		   float *dx, int lddx, int mask, float *dk, float *db)
{
	struct conv_args a = {
		.x = x, .k = k, .dy = dy, .dx = dx, .dk = dk, .db = db,
		.ldx = ldx, .lddy = lddy, .lddx = lddx,
		.n = n, .h = h, .w = w, .cin = cin, .cout = cout,
		.mask = mask,
	};

	check_reserved(cin, cout);
	if (plan_layer(UPCONV_BACKWARD, n, h, w, cin, cout, dx != NULL, nt).how
	    == DIRECT) {
		/* kt[s][co][ci] = k[ci][s][co] */
		pack_kernel(nt, k, cout, 1, (size_t)9 * cout, cout, cin, 0);
		pool_run(nt, direct_upback_part, &a);
	} else {
		pool_run(nt, upconv_backward_part, &a);
	}
	reduce_grads(nt, dk, db, (size_t)9 * cin * cout, cout);
}

/* ------------------------------------------------------------ conv 1x1 */

static void
conv1x1_forward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n, lo, hi;

	pool_share(npix, t, nt, &lo, &hi);
	if (hi == lo)
		return;
	fill_bias(a->y + lo * a->ldy, a->ldy, hi - lo, a->b, a->cout);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo),
		    a->cout, a->cin, 1.0f, a->x + lo * a->ldx, a->ldx, a->k,
		    a->cin, 1.0f, a->y + lo * a->ldy, a->ldy);
}

void
nn_conv1x1_forward(int nt, const float *x, int ldx, size_t npix, int cin,
		   const float *k, const float *b, int cout, float *y,
		   int ldy)
{
	struct conv_args a = {
		.x = x, .k = k, .b = b, .y = y, .ldx = ldx, .ldy = ldy,
		.n = (int)npix, .cin = cin, .cout = cout,
	};

	pool_run(nt, conv1x1_forward_part, &a);
}

/* The backward of a 1x1 convolution to one channel (the output layer) for
 * pixels lo .. hi-1, as plain loops: GEMMs of width 1 are slow. */
static void
conv1x1_backward_one(const struct conv_args *a, size_t lo, size_t hi,
		     float *restrict dk, float *restrict db)
{
	int cin = a->cin;
	float sb = 0;

	for (size_t p = lo; p < hi; p++) {
		float g = a->dy[p * a->lddy];
		const float *restrict x = a->x + p * a->ldx;

		sb += g;
		for (int c = 0; c < cin; c++)
			dk[c] += g * x[c];
		if (!a->dx)
			continue;
		float *restrict d = a->dx + p * a->lddx;

		for (int c = 0; c < cin; c++)
			d[c] = g * a->k[c];
		if (a->mask)
			for (int c = 0; c < cin; c++)
				d[c] = x[c] > 0 ? d[c] : 0;
	}
	db[0] += sb;
}

static void
conv1x1_backward_part(void *arg, int t, int nt)
{
	const struct conv_args *a = arg;
	size_t npix = (size_t)a->n, lo, hi;
	float *dk, *db;

	grad_target(t, nt, a->dk, a->db, (size_t)a->cin * a->cout, a->cout,
		    &dk, &db);
	pool_share(npix, t, nt, &lo, &hi);
	if (hi == lo)
		return;
	if (a->how == LOOPS) {
		conv1x1_backward_one(a, lo, hi, dk, db);
		return;
	}
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, a->cout, a->cin,
		    (int)(hi - lo), 1.0f, a->dy + lo * a->lddy, a->lddy,
		    a->x + lo * a->ldx, a->ldx, 1.0f, dk, a->cin);
	sum_rows(a->dy + lo * a->lddy, a->lddy, hi - lo, a->cout, db);
	if (!a->dx)
		return;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo),
		    a->cin, a->cout, 1.0f, a->dy + lo * a->lddy, a->lddy, a->k,
		    a->cin, 0.0f, a->dx + lo * a->lddx, a->lddx);
	if (a->mask)
		mask_rows(a->x + lo * a->ldx, a->ldx, a->dx + lo * a->lddx,
			  a->lddx, hi - lo, a->cin);
}

void
nn_conv1x1_backward(int nt, const float *x, int ldx, size_t npix, int cin,
		    const float *k, int cout, const float *dy, int lddy,
		    float *dx, int lddx, int mask, float *dk, float *db)
{
	struct conv_args a = {
		.x = x, .k = k, .dy = dy, .dx = dx, .dk = dk, .db = db,
		.ldx = ldx, .lddy = lddy, .lddx = lddx,
		.n = (int)npix, .cin = cin, .cout = cout, .mask = mask,
		.how = plan_layer(CONV1X1_BACKWARD, 1, 1, 1, cin, cout,
				  dx != NULL, nt).how,
	};

	pool_run(nt, conv1x1_backward_part, &a);
	reduce_grads(nt, dk, db, (size_t)cin * cout, cout);
}

/* ------------------------------------------------ ReLU, pooling, loss */

void
nn_relu_forward(float *y, int ldy, size_t npix, int c)
{
	relu_rows(y, ldy, npix, c);
}

struct pw_args {
	const float *x, *t, *wt, *dy;
	float *y, *dx;
	int ldx, ldy, lddy, lddx, n, h, w, c, mask;
	size_t npix;
	float pw;
	double part[POOL_MAX_THREADS];
};

static void
relu_backward_part(void *arg, int t, int nt)
{
	const struct pw_args *a = arg;
	size_t lo, hi;

	pool_share(a->npix, t, nt, &lo, &hi);
	mask_rows(a->x + lo * a->ldx, a->ldx, a->dx + lo * a->lddx, a->lddx,
		  hi - lo, a->c);
}

void
nn_relu_backward(int nt, const float *y, int ldy, float *dy, int lddy,
		 size_t npix, int c)
{
	struct pw_args a = {
		.x = y, .ldx = ldy, .dx = dy, .lddx = lddy, .npix = npix,
		.c = c,
	};

	pool_run(nt, relu_backward_part, &a);
}

static void
maxpool_forward_part(void *arg, int t, int nt)
{
	const struct pw_args *a = arg;
	int oh = a->h / 2, ow = a->w / 2, c = a->c, ldx = a->ldx;
	size_t lo, hi;

	/* output rows, over all images */
	pool_share((size_t)a->n * oh, t, nt, &lo, &hi);
	for (size_t r = lo; r < hi; r++)
		for (int ox = 0; ox < ow; ox++) {
			const float *p = a->x + ((2 * r) * a->w + 2 * ox)
					 * ldx;
			const float *q = p + (size_t)a->w * ldx;
			float *o = a->y + (r * ow + ox) * a->ldy;

			for (int ch = 0; ch < c; ch++) {
				float m = p[ch];

				m = p[ldx + ch] > m ? p[ldx + ch] : m;
				m = q[ch] > m ? q[ch] : m;
				m = q[ldx + ch] > m ? q[ldx + ch] : m;
				o[ch] = m;
			}
		}
}

void
nn_maxpool_forward(int nt, const float *x, int ldx, int n, int h, int w, int c,
		   float *y, int ldy)
{
	struct pw_args a = {
		.x = x, .ldx = ldx, .y = y, .ldy = ldy, .n = n, .h = h,
		.w = w, .c = c,
	};

	pool_run(nt, maxpool_forward_part, &a);
}

/* One window of the max-pool backward, over c channels, branch-free so
 * that it vectorises (the first maximum wins, as in the forward pass; dx
 * is kept only where x > lim). Comparisons of floats may trap, and
 * compiled by the standard rules they stay branches; they do not trap
 * here, on ReLU outputs and finite values. Compiled for AVX-512, AVX2
 * and the baseline, the loader picks the CPU's (GCC's target_clones): at
 * 16 channels a window is one AVX-512 vector where it was four of SSE2,
 * half the time at base 16 (2.9 to 1.5 % of a training step, Zen 4).
 * Comparisons, selections and one add: the same bits on each. */
static void __attribute__((optimize("no-trapping-math"),
			    target_clones("avx512f", "avx2", "default")))
pool_window_backward(const float *restrict x0, const float *restrict x1,
		     const float *restrict x2, const float *restrict x3,
		     const float *restrict g, float *restrict d0,
		     float *restrict d1, float *restrict d2,
		     float *restrict d3, int c, float lim)
{
	for (int ch = 0; ch < c; ch++) {
		float m01 = x1[ch] > x0[ch] ? x1[ch] : x0[ch];
		float m012 = x2[ch] > m01 ? x2[ch] : m01;
		/* hand g down the candidates, the last first */
		float r = g[ch];
		float v3 = x3[ch] > m012 ? r : 0;
		float v2, v1;

		r = x3[ch] > m012 ? 0 : r;
		v2 = x2[ch] > m01 ? r : 0;
		r = x2[ch] > m01 ? 0 : r;
		v1 = x1[ch] > x0[ch] ? r : 0;
		r = x1[ch] > x0[ch] ? 0 : r;
		d0[ch] = x0[ch] > lim ? d0[ch] + r : 0;
		d1[ch] = x1[ch] > lim ? d1[ch] + v1 : 0;
		d2[ch] = x2[ch] > lim ? d2[ch] + v2 : 0;
		d3[ch] = x3[ch] > lim ? d3[ch] + v3 : 0;
	}
}

static void
maxpool_backward_part(void *arg, int t, int nt)
{
	const struct pw_args *a = arg;
	int oh = a->h / 2, ow = a->w / 2, c = a->c;
	float lim = a->mask ? 0 : -INFINITY;
	size_t lo, hi;

	pool_share((size_t)a->n * oh, t, nt, &lo, &hi);
	for (size_t r = lo; r < hi; r++)
		for (int ox = 0; ox < ow; ox++) {
			size_t p = (2 * r) * a->w + 2 * ox;
			size_t off[4] = { p, p + 1, p + a->w, p + a->w + 1 };

			pool_window_backward(a->x + off[0] * a->ldx,
					     a->x + off[1] * a->ldx,
					     a->x + off[2] * a->ldx,
					     a->x + off[3] * a->ldx,
					     a->dy + (r * ow + ox) * a->lddy,
					     a->dx + off[0] * a->lddx,
					     a->dx + off[1] * a->lddx,
					     a->dx + off[2] * a->lddx,
					     a->dx + off[3] * a->lddx, c, lim);
		}
}

void
nn_maxpool_backward(int nt, const float *x, int ldx, int n, int h, int w, int c,
		    const float *dy, int lddy, float *dx, int lddx, int mask)
{
	struct pw_args a = {
		.x = x, .ldx = ldx, .dy = dy, .lddy = lddy, .dx = dx,
		.lddx = lddx, .n = n, .h = h, .w = w, .c = c, .mask = mask,
	};

	pool_run(nt, maxpool_backward_part, &a);
}

static void
bce_part(void *arg, int t, int nt)
{
	struct pw_args *a = arg;
	size_t lo, hi;
	double sum = 0, pw = a->pw;
	float scale = 1.0f / (float)a->npix;

	pool_share(a->npix, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		double v = a->x[i], y = a->t[i];
		/* softplus(-v) = log(1 + exp(-v)) and sigmoid(v), without
		 * overflow, from one exponential */
		double e = exp(-fabs(v));
		double sp = log1p(e) + (v < 0 ? -v : 0);

		/* times 1 (no weight) is exact: the same bits as without */
		double wi = a->wt ? a->wt[i] : 1;

		sum += wi * ((1 - y) * v + (1 + (pw - 1) * y) * sp);
		if (a->dx) {
			double s = v >= 0 ? 1 / (1 + e) : e / (1 + e);

			a->dx[i] = (float)(wi * ((1 - y) * s
						 - pw * y * (1 - s)))
				   * scale;
		}
	}
	a->part[t] = sum;
}

double
nn_bce_logits(int nt, const float *x, const float *t, const float *wt,
	      size_t npix, float pw, float *dx)
{
	struct pw_args a = {
		.x = x, .t = t, .wt = wt, .npix = npix, .pw = pw, .dx = dx,
	};
	double sum = 0;

	pool_run(nt, bce_part, &a);
	for (int i = 0; i < nt; i++)
		sum += a.part[i];
	return sum / (double)npix;
}

static void
sigmoid_part(void *arg, int t, int nt)
{
	const struct pw_args *a = arg;
	size_t lo, hi;

	pool_share(a->npix, t, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		a->y[i] = (float)(1.0 / (1.0 + exp(-(double)a->x[i])));
}

void
nn_sigmoid(int nt, const float *x, float *p, size_t n)
{
	struct pw_args a = { .x = x, .y = p, .npix = n };

	pool_run(nt, sigmoid_part, &a);
}

