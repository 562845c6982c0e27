/* checkpoint: a training run saved to be resumed (unet-train's
 * MODEL.ckpt): a safetensors file with the network's weights under their
 * own names, the Adam moments as "adam.m.NAME" and "adam.v.NAME", and in
 * __metadata__ the architecture (out_channels: K, absent = 1 in older
 * checkpoints), the training state (doubles written
 * exactly, as C99 hex floats) and the run's fingerprint, string keys that
 * the trainer chooses and compares. */
#ifndef UNETPIPE_CHECKPOINT_H
#define UNETPIPE_CHECKPOINT_H

#include <stddef.h>

#include <jansson.h>

#include "optim.h"
#include "rng.h"
#include "unet.h"

/* Everything a checkpoint restores besides weights and moments. */
struct train_state {
	long epoch;          /* epochs completed */
	long best_epoch;     /* epoch of the model on disk, 0 = none yet */
	double best_loss;    /* its val_loss (INFINITY before the first) */
	double best_dice, best_iou, best_train_loss;
	long wait;           /* epochs without improvement */
	struct rng rng;
};

/* Save net's weights, adam's moments and step count, s and fingerprint
 * (an object of string values; not "kind", the architecture's or the
 * state's keys) atomically to path. 0 on success, -1 with the reason in
 * err (old file intact). */
int checkpoint_save(const char *path, struct unet *net,
		    const struct adam *adam, const struct train_state *s,
		    json_t *fingerprint, char *err, size_t errlen);

/* Read the checkpoint at path and check its kind and architecture: the
 * open checkpoint, or NULL with the reason in err (without the path). */
struct checkpoint *checkpoint_open(const char *path, char *err,
				   size_t errlen);

/* The architecture of an open checkpoint (it passes unet_config_check). */
const struct unet_config *checkpoint_config(const struct checkpoint *ck);

/* Restore the run: a new network of checkpoint_config's architecture with
 * the saved weights in *net, new Adam moments for it (learning rate lr,
 * or the checkpoint's "adam_lr", the rate the run had reached) with the
 * saved moments and step count in *adam, and the state in *s.
 * Every tensor must be present, of its parameter's shape and finite. 0 on
 * success; -1 with the reason in err, *net and *adam NULL. */
int checkpoint_restore(const struct checkpoint *ck, double lr,
		       struct unet **net, struct adam **adam,
		       struct train_state *s, char *err, size_t errlen);

/* The metadata string stored under key (a fingerprint's), NULL if none. */
const char *checkpoint_get(const struct checkpoint *ck, const char *key);

/* Free an open checkpoint (NULL is fine). */
void checkpoint_close(struct checkpoint *ck);

#endif
