/* unet: the reference U-Net (see unetpipe-formats(5) and
 * tests/reference/unet_reference.py) in float32, channels-last (NHWC),
 * forward and backward over the layers of nn.h, with Glorot
 * initialisation (optim.h has the optimiser). */
#ifndef UNETPIPE_UNET_H
#define UNETPIPE_UNET_H

#include <stddef.h>
#include <stdint.h>

#define UNET_MAX_DEPTH 8
#define UNET_MAX_OUTPUTS 4

struct unet;
struct unet_work;

struct unet_config {
	int in_channels;  /* 1 .. 4 */
	int base_filters; /* F: widths F, 2F, ... 2^(depth-1) F */
	int depth;        /* levels, 2 .. UNET_MAX_DEPTH */
	int outputs;      /* K: output channels (the out layer's), 1 ..
			     UNET_MAX_OUTPUTS */
};

/* One learnable tensor. */
struct unet_param {
	char name[32];  /* the reference's state_dict name, "c1.conv1.weight" */
	int ndim;       /* 1 for a bias, 4 for a kernel */
	int shape[4];   /* PyTorch's shape: Conv2d [Cout, Cin, kh, kw],
			   ConvTranspose2d [Cin, Cout, kh, kw], bias [Cout] */
	size_t count;   /* number of elements */
	float *value;   /* our own layout (unet_param_export converts) */
	float *grad;    /* d loss / d value, same layout, set by unet_backward */
	int frozen;     /* 1: adam_step leaves value (and its moments)
			   untouched */
};

/* 0 when cfg describes a network we build; otherwise -1 with the reason in
 * err (no program name). */
int unet_config_check(const struct unet_config *cfg, char *err, size_t errlen);

/* A network with all parameters zero; cfg must pass unet_config_check. */
struct unet *unet_new(const struct unet_config *cfg);

void unet_free(struct unet *net);

const struct unet_config *unet_get_config(const struct unet *net);

/* Number of parameter tensors, and the i-th of them (0 <= i < count), in
 * the order of the state_dict names sorted by strcmp. */
int unet_param_count(const struct unet *net);
struct unet_param *unet_param_at(struct unet *net, int i);

/* The block that holds every parameter's grad (each at a 64-byte aligned
 * offset, the padding between them zero), *count floats: the gradients
 * of several processes are summed in one pass over it. */
float *unet_grads(struct unet *net, size_t *count);

/* Copy a parameter out to / in from PyTorch's layout (p->shape,
 * row-major), `count` floats. */
void unet_param_export(const struct unet_param *p, float *torch);
void unet_param_import(struct unet_param *p, const float *torch);

/* Glorot-uniform kernels (PyTorch's xavier_uniform_ fan rules) and zero
 * biases, from the seed: the same seed gives the same weights. */
void unet_init_glorot(struct unet *net, uint64_t seed);

/* Freeze the parameters under layer (adam_step then skips them):
 * "encoder" for c1 .. c<depth>, or a layer name ("c1", "c1.conv1", "u3",
 * "out", "c1.conv1.weight") for the parameters named by it or by it
 * followed by a dot. Returns the number of parameters it covers, 0 when
 * the network has no such layer. */
int unet_freeze(struct unet *net, const char *layer);

/* A new network like net but with `channels` input channels, 1 from 3 or
 * 3 from 1: the first layer's kernel of a 1-channel network replicated
 * over 3 channels and divided by 3, or that of a 3-channel network summed
 * into 1, so that a grey image given as equal R, G, B channels (or as
 * their mean) gives the same output; every other parameter copied. NULL
 * for any other pair of channel counts. */
struct unet *unet_adapt_channels(const struct unet *net, int channels);

/* Height and width given to the network must be multiples of this
 * (2^(depth-1)). */
int unet_multiple(const struct unet *net);

/* The receptive field's radius: an output pixel depends on the input
 * pixels at most this far from it in x and in y (8 * multiple - 6). */
int unet_receptive_radius(const struct unet *net);

/* The margin of a tile whose core is kept: a multiple of unet_multiple
 * (so that tiles keep the pooling's alignment) at least the receptive
 * radius: 8 * unet_multiple. */
int unet_tile_margin(const struct unet *net);

/* Bytes of maps unet_work_new(net, 1, height, width, 0, threads)
 * allocates for one image, exactly: the input and the logits, two
 * scratch maps of the first level's size and, at each level l < depth
 * (height x width / 4^(l-1) pixels, 2^(l-1) F channels), the
 * concatenation of the up-sampled map and the skip. */
double unet_work_bytes(const struct unet *net, int height, int width);

/* Bytes of maps (and gradients) w holds, as allocated by unet_work_new;
 * the scratch the layers share is not counted. */
size_t unet_work_size(const struct unet_work *w);

/* Activations (and, when training, gradients) for up to `batch` images of
 * height x width (multiples of unet_multiple), allocated once, and the
 * `threads` (1 .. POOL_MAX_THREADS) every pass of the work runs on,
 * started here. Results are deterministic for a given thread count. */
struct unet_work *unet_work_new(struct unet *net, int batch, int height,
				int width, int training, int threads);
void unet_work_free(struct unet_work *w);

/* Make w serve batch images of height x width (multiples of
 * unet_multiple) in the maps it has: 0 when they hold at most the pixels
 * it was made for (every map is that many pixels times its channels),
 * -1 when they do not (w unchanged). */
int unet_work_reshape(struct unet_work *w, int batch, int height,
		      int width);

/* The input buffer: batch * height * width * in_channels floats, NHWC,
 * values in [0, 1]; the caller fills the first n images. */
float *unet_work_input(struct unet_work *w);

/* Forward pass over the first n images (n <= batch); returns the logits,
 * n * height * width * K floats, NHWC (K = the config's outputs). */
const float *unet_forward(struct unet_work *w, int n);

/* The training loss of the last forward pass over its first n images:
 * the mean over every element (n * height * width * K) of the binary
 * cross-entropy of the logits against target (values in [0, 1], soft
 * targets allowed), each element's term times weight's (n * height *
 * width * K values >= 0, or NULL for all 1), the positive term times
 * pos_weight (1 = plain BCE): PyTorch's binary_cross_entropy_with_logits
 * with weight= and pos_weight=, mean reduction; plus, when dice is 1, the
 * soft Dice loss of the foreground channel (channel 0) image by image
 * (dice_loss_logits, its pixels of weight 0 left out). target and weight
 * are NHWC like the logits. */
double unet_loss(const struct unet_work *w, int n, const float *target,
		 const float *weight, float pos_weight, int dice);

/* Backward pass after unet_forward (training work only): sets every
 * parameter's grad to the gradient of unet_loss(w, n, target, weight,
 * pos_weight, dice) and returns that loss. Its gradients overwrite the
 * forward's maps (not the logits): another backward needs another
 * unet_forward first. */
double unet_backward(struct unet_work *w, int n, const float *target,
		     const float *weight, float pos_weight, int dice);

#endif
