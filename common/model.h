/* model: a U-Net in a safetensors file with the reference's tensor names
 * and PyTorch layouts, the architecture in __metadata__. */
#ifndef UNETPIPE_MODEL_H
#define UNETPIPE_MODEL_H

#include <stddef.h>

#include <jansson.h>

#include "unet.h"

/* Load a model: the file must pass st_read, its metadata must name
 * arch "unet" with valid in_channels, base_filters and depth, and its
 * tensors must be exactly the network's, each with the right shape. On
 * success returns the network and, when metadata is not NULL, a new
 * reference to the whole metadata object; NULL with the reason in err
 * otherwise. */
struct unet *model_load(const char *path, json_t **metadata, char *err,
			size_t errlen);

/* Save net atomically to path with metadata (an object of string values,
 * or NULL); arch, in_channels, base_filters and depth are set from the
 * network. 0 on success, -1 with the reason in err (old file intact). */
int model_save(const char *path, struct unet *net, json_t *metadata,
	       char *err, size_t errlen);

#endif
