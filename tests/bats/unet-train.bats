#!/usr/bin/env bats
# unet-train: training against the PyTorch reference, the model file, log,
# early stopping, checkpoint/resume, signals and every kind of failure.

load helpers

TINY=(--base-filters 2 --depth 3 --batch 4 --threads 2 --quiet)
S32="$FIXTURES/train-32.pam"   # 24 RGB_MASK samples, 32x32, maxval 255
S16="$FIXTURES/train-16.pam"   # 6 RGB_MASK samples, 16x16
G16="$FIXTURES/train-gray16.pam" # 6 GRAYSCALE_MASK samples, 16x16, maxval 65535

# st_py: python code with load(path) -> (tensors as numpy arrays, metadata).
st_py='
import json, struct, sys
import numpy as np
def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    head = json.loads(data[8:8 + n])
    meta = head.pop("__metadata__", {})
    t = {}
    for k, e in head.items():
        a, b = e["data_offsets"]
        t[k] = np.frombuffer(data[8 + n + a:8 + n + b], "<f4").reshape(e["shape"])
    return t, meta
'

# take N FILE: the first N images of a PAM stream.
take() {
	"$REFPY" -c '
import sys
data = open(sys.argv[2], "rb").read()
pos = 0
for _ in range(int(sys.argv[1])):
    end = data.index(b"ENDHDR\n", pos) + 7
    f = dict(l.split(" ", 1) for l in data[pos:end].decode().split("\n") if " " in l)
    n = int(f["WIDTH"]) * int(f["HEIGHT"]) * int(f["DEPTH"])
    pos = end + n * (2 if int(f["MAXVAL"]) > 255 else 1)
sys.stdout.buffer.write(data[:pos])
' "$1" "$2"
}

# meta MODEL KEY: one metadata value of a safetensors file.
meta() {
	"$REFPY" -c "$st_py
print(load(sys.argv[1])[1][sys.argv[2]])" "$1" "$2"
}

# the_same_step MODEL_A MODEL_B INIT LR [TOL [LOOSE]]: every weight of A
# and B within TOL (default 0.001, 0.1 %) of the learning rate, and every
# tensor moved from INIT. With LOOSE, the weights that B moved by less
# than 0.99 lr (gradients under 1e-6) are held to LOOSE instead: there
# Adam's first step, lr g / (|g| + 1e-8), turns a rounding of 1e-9 in g
# (an activation's last bit that crosses a ReLU's zero, say) into
# several % of lr.
the_same_step() {
	"$REFPY" -c "$st_py
a, _ = load(sys.argv[1]); b, _ = load(sys.argv[2]); i, _ = load(sys.argv[3])
lr = float(sys.argv[4])
tol = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-3
loose = float(sys.argv[6]) if len(sys.argv) > 6 else tol
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
for k in a:
    d = np.abs(a[k] - b[k])
    well = np.abs(b[k] - i[k]) >= 0.99 * lr
    assert float(d[well].max(initial=0)) < tol * lr, (k, float(d.max()))
    assert float(d.max()) < loose * lr, (k, float(d.max()))
    assert float(np.abs(b[k] - i[k]).max()) > 0.5 * lr, k
" "$@"
}

# the_same_loss LOG LOSS: the train_loss of the one epoch in LOG within
# 1e-6 relative of LOSS (the reference's).
the_same_loss() {
	"$REFPY" -c '
import json, sys
loss = json.loads(open(sys.argv[1]).read())["train_loss"]
ref = float(sys.argv[2])
assert abs(loss - ref) < 1e-6 * ref, (loss, ref)
' "$1" "$2"
}

# step_against_reference BASE SEED SAMPLES BATCH [WEIGHT_TOL [LOOSE]]: one
# Adam step of a 3-channel network of depth 3, by unet-train and by the
# reference, from the same initial weights: the weights within
# WEIGHT_TOL of the learning rate (the_same_step), the loss within 1e-6.
step_against_reference() {
	"$REFPY" "$REFERENCE" init --in-channels 3 --base "$1" --depth 3 \
		--seed "$2" "$TMP/init.safetensors"
	ref_loss=$("$REFPY" "$REFERENCE" step "$TMP/init.safetensors" \
		"$TMP/ref.safetensors" <"$3")
	run unet-train --init "$TMP/init.safetensors" --epochs 1 --batch "$4" \
		--val-split 0 --threads 2 --quiet --log "$TMP/log" \
		-o "$TMP/out.safetensors" <"$3"
	assert_success
	assert_output ""
	the_same_step "$TMP/out.safetensors" "$TMP/ref.safetensors" \
		"$TMP/init.safetensors" "${5:-0.001}" ${6:+"$6"}
	the_same_loss "$TMP/log" "$ref_loss"
}

@test "one Adam step equals the reference's step (weights and loss)" {
	step_against_reference 4 0 "$S16" 6
}

# Base 16 on 32x32 samples: the 3x3 convolutions but the first run by
# Winograd F(4x4) on the 32x32, 16x16 and 8x8 maps (nn.h,
# nn_set_winograd), on the vector paths. Most gradients here are under
# 1e-6, where Adam's first step magnifies rounding (the_same_step): the
# weights that moved by 0.99 lr and more within 0.1 % of lr (measured:
# 0.005 % at most), the others within 25 % (measured: 0.12 % on plain,
# whose 3x3 sums run in the reference's order, 5.6 % with AVX2, 12 % with
# AVX-512). The loss is held to 1e-6.
@test "one Adam step at base 16 (Winograd layers) equals the reference's step" {
	step_against_reference 16 1 "$S32" 24 0.001 0.25
}

@test "one step on 16-bit GRAYSCALE_MASK samples with --lr equals the reference's" {
	"$REFPY" "$REFERENCE" init --in-channels 1 --base 2 --depth 2 --seed 3 \
		"$TMP/init.safetensors"
	"$REFPY" "$REFERENCE" step --lr 0.01 "$TMP/init.safetensors" \
		"$TMP/ref.safetensors" <"$G16" >/dev/null
	run unet-train --init "$TMP/init.safetensors" --epochs 1 --batch 8 \
		--lr 0.01 --val-split 0 --quiet -o "$TMP/out.safetensors" "$G16"
	assert_success
	the_same_step "$TMP/out.safetensors" "$TMP/ref.safetensors" \
		"$TMP/init.safetensors" 0.01
}

@test "the model loads in the reference: its val_loss and unet-infer's probabilities agree" {
	take 4 "$S32" >"$TMP/val.pam"
	run unet-train "${TINY[@]}" --epochs 3 --val "$TMP/val.pam" \
		-o "$TMP/m.safetensors" "$S32"
	assert_success
	ref=$("$REFPY" "$REFERENCE" loss "$TMP/m.safetensors" <"$TMP/val.pam")
	ours=$(meta "$TMP/m.safetensors" val_loss)
	"$REFPY" -c 'import sys; a, b = map(float, sys.argv[1:])
assert abs(a - b) < 1e-5 * b, (a, b)' "$ref" "$ours"
	"$REFPY" "$REFERENCE" infer "$TMP/m.safetensors" <"$TMP/val.pam" \
		>"$TMP/ref.pam"
	unet-infer --quiet "$TMP/m.safetensors" "$TMP/val.pam" >"$TMP/ours.pam"
	"$REFPY" -c '
import sys
a = open(sys.argv[1], "rb").read(); b = open(sys.argv[2], "rb").read()
assert len(a) == len(b) and len(a) > 4 * 32 * 32 * 2, (len(a), len(b))
pa = a.split(b"ENDHDR\n"); pb = b.split(b"ENDHDR\n")
assert len(pa) == len(pb) == 5
for x, y in zip(pa[1:], pb[1:]):
    x = x[:2048]; y = y[:2048]
    d = max(abs(int.from_bytes(x[i:i+2], "big") - int.from_bytes(y[i:i+2], "big"))
            for i in range(0, 2048, 2))
    assert d <= 2, d
' "$TMP/ref.pam" "$TMP/ours.pam"
}

@test "the model's metadata: size, best epoch, figures, options, provenance" {
	run unet-train "${TINY[@]}" --epochs 2 --seed 7 --lr 0.002 \
		-o "$TMP/m.safetensors" "$S32"
	assert_success
	"$REFPY" -c "$st_py
t, m = load(sys.argv[1])
assert all(isinstance(v, str) for v in m.values()), m
assert m['arch'] == 'unet' and m['in_channels'] == '3', m
assert m['base_filters'] == '2' and m['depth'] == '3', m
assert m['input_width'] == '32' and m['input_height'] == '32', m
assert m['epoch'] in ('1', '2'), m
for k in ('val_loss', 'val_dice', 'val_iou', 'train_loss'):
    assert np.isfinite(float(m[k])), (k, m)
assert m['seed'] == '7' and m['lr'] == '0.002' and m['batch'] == '4', m
assert m['loss'] == 'bce' and 'pos_weight' not in m, m
assert m['created_by'].startswith('unet-train (unetpipe '), m
assert len(t) == 26, len(t)
" "$TMP/m.safetensors"
}

@test "--loss wbce: pos_weight is the background/foreground ratio of the training masks" {
	run unet-train "${TINY[@]}" --epochs 1 --val-split 0 --loss wbce \
		-o "$TMP/m.safetensors" "$S32"
	assert_success
	"$REFPY" -c '
import sys
data = open(sys.argv[1], "rb").read()
pos = neg = 0
for part in data.split(b"ENDHDR\n")[1:]:
    mask = part[:32 * 32 * 4][3::4]
    p = sum(1 for v in mask if v > 127)
    pos += p; neg += len(mask) - p
assert abs(float(sys.argv[2]) - neg / pos) < 1e-6 * neg / pos, (sys.argv[2], neg / pos)
' "$S32" "$(meta "$TMP/m.safetensors" pos_weight)"
	run unet-train "${TINY[@]}" --epochs 1 --loss wbce --pos-weight 2.5 \
		-o "$TMP/p.safetensors" "$S32"
	assert_success
	assert_equal "$(meta "$TMP/p.safetensors" pos_weight)" 2.5
	assert_equal "$(meta "$TMP/p.safetensors" loss)" wbce
}

@test "two runs with the same seed write the same bytes; another seed does not" {
	unet-train "${TINY[@]}" --epochs 2 -o "$TMP/a.safetensors" "$S32"
	unet-train "${TINY[@]}" --epochs 2 -o "$TMP/b.safetensors" <"$S32"
	unet-train "${TINY[@]}" --epochs 2 --seed 1 -o "$TMP/c.safetensors" "$S32"
	cmp "$TMP/a.safetensors" "$TMP/b.safetensors"
	cmp "$TMP/a.safetensors.ckpt" "$TMP/b.safetensors.ckpt"
	run cmp -s "$TMP/a.safetensors" "$TMP/c.safetensors"
	assert_failure
}

@test "--log writes one JSON object per epoch with finite values" {
	run unet-train "${TINY[@]}" --epochs 3 --patience 0 --log "$TMP/log" \
		-o "$TMP/m.safetensors" "$S32"
	assert_success
	"$REFPY" -c '
import json, math, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 3, lines
keys = ["epoch", "train_loss", "val_loss", "val_dice", "val_iou",
        "val_foreground", "lr", "seconds", "images_per_second"]
for i, l in enumerate(lines):
    o = json.loads(l)
    assert list(o) == keys, list(o)
    assert o["epoch"] == i + 1 and o["lr"] == 0.001, o
    assert all(math.isfinite(o[k]) for k in keys), o
    assert 0 < o["train_loss"] < 1 and 0 < o["val_loss"] < 1, o
    assert 0 <= o["val_dice"] <= 1 and 0 <= o["val_iou"] <= o["val_dice"], o
' "$TMP/log"
}

@test "without validation: saved every epoch, null val keys in the log" {
	run unet-train --base-filters 2 --depth 3 --batch 4 --epochs 2 \
		--val-split 0 --log "$TMP/log" -o "$TMP/m.safetensors" "$S32"
	assert_success
	assert_line --partial "24 training and 0 validation samples of 32x32"
	assert_line --partial "no validation data: the model is saved after every epoch"
	assert_line --regexp '^unet-train: epoch 2/2: loss [0-9.]+ [0-9.]+ img/s [0-9.]+ s$'
	assert_equal "$(meta "$TMP/m.safetensors" epoch)" 2
	run grep -c '"val_loss":null,"val_dice":null,"val_iou":null,"val_foreground":null' "$TMP/log"
	assert_output 2
}

@test "summary and per-epoch lines on a non-terminal stderr" {
	run unet-train --base-filters 2 --depth 3 --batch 4 --epochs 2 \
		-o "$TMP/m.safetensors" "$S32"
	assert_success
	assert_line --index 0 --regexp '^unet-train: 22 training and 2 validation samples of 32x32, 3 channel\(s\); data [0-9.]+ MiB, workspace for 4 images [0-9.]+ MiB'
	assert_line --index 1 --regexp '^unet-train: epoch 1/2: loss 0\.[0-9]{4} val_loss 0\.[0-9]{4} val_dice [01]\.[0-9]{4} [0-9.]+ img/s [0-9.]+ s$'
	assert_line --index 3 --regexp '^unet-train: done; last good model \(epoch [12], val_loss 0\.[0-9]{4}\) is in '
	# Two epochs of so small a network predict no foreground: said.
	assert_line --index 4 --regexp '^unet-train: warning: the model of epoch [12] predicts 0\.0 % of the validation pixels foreground \(the truth [0-9.]+ %\), nearly all background: '
	assert_equal "${#lines[@]}" 5
}

@test "early stopping: --patience 2 stops after 3 epochs and keeps epoch 1" {
	# With a huge --min-delta only the first epoch counts as an improvement.
	run unet-train "${TINY[@]}" --epochs 10 --patience 2 --min-delta 100 \
		--log "$TMP/log" -o "$TMP/m.safetensors" "$S32"
	assert_success
	assert_equal "$(wc -l <"$TMP/log")" 3
	assert_equal "$(meta "$TMP/m.safetensors" epoch)" 1
	first=$("$REFPY" -c 'import json, sys
print("%.9g" % json.loads(open(sys.argv[1]).readline())["val_loss"])' "$TMP/log")
	assert_equal "$(meta "$TMP/m.safetensors" val_loss)" "$first"
	run unet-train --base-filters 2 --depth 3 --batch 4 --epochs 10 \
		--patience 2 --min-delta 100 -o "$TMP/m2.safetensors" "$S32"
	assert_line --regexp '^unet-train: early stop after epoch 3: no val_loss improvement in 2 epochs; last good model \(epoch 1'
}

@test "--lr-patience halves the rate after every N epochs without improvement; --resume keeps it" {
	# With a huge --min-delta only epoch 1 improves: epochs 3 and 5 end
	# the 2nd and 4th epoch without improvement, so 4 and 6 run slower.
	common=("${TINY[@]}" --min-delta 100 --patience 0 --lr-patience 2 --lr-factor 0.5)
	unet-train "${common[@]}" --epochs 6 --log "$TMP/a.log" -o "$TMP/a.st" "$S32"
	run "$REFPY" -c 'import json, sys
print(" ".join("%g" % json.loads(l)["lr"] for l in open(sys.argv[1])))' "$TMP/a.log"
	assert_output "0.001 0.001 0.001 0.0005 0.0005 0.00025"
	assert_equal "$(meta "$TMP/a.st" lr_drop)" "2,0.5"
	# The checkpoint carries the rate reached: a run resumed after the
	# drop of epoch 3 is the uninterrupted run, byte for byte.
	unet-train "${common[@]}" --epochs 3 --log "$TMP/b.log" -o "$TMP/b.st" "$S32"
	unet-train "${common[@]}" --epochs 6 --resume --log "$TMP/b.log" -o "$TMP/b.st" "$S32"
	cmp "$TMP/a.st" "$TMP/b.st"
	cmp "$TMP/a.st.ckpt" "$TMP/b.st.ckpt"
	# Without the option nothing changes: the rate stays.
	unet-train "${TINY[@]}" --min-delta 100 --patience 0 --epochs 3 --log "$TMP/c.log" -o "$TMP/c.st" "$S32"
	run "$REFPY" -c 'import json, sys
print(" ".join("%g" % json.loads(l)["lr"] for l in open(sys.argv[1])))' "$TMP/c.log"
	assert_output "0.001 0.001 0.001"
	run unet-train "${common[@]}" --lr-patience 3 --epochs 7 --resume -o "$TMP/b.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "cannot resume: lr_drop differs"
}

@test "--lr-patience and --lr-factor refuse what is not a count or a factor below 1" {
	for bad in "--lr-patience -1" "--lr-patience x" "--lr-factor 0" "--lr-factor 1" "--lr-factor 1.5" "--lr-factor x"; do
		# shellcheck disable=SC2086
		run unet-train "${TINY[@]}" $bad -o "$TMP/m.st" "$S32"
		assert_failure 2
		assert_line --index 0 --partial "unet-train: --lr-"
		[ ! -e "$TMP/m.st" ]
	done
}

@test "--lr-schedule refuses what it does not know, and --lr-patience beside cosine" {
	for bad in "--lr-schedule x" "--lr-schedule cosine --lr-patience 2"; do
		# shellcheck disable=SC2086
		run unet-train "${TINY[@]}" $bad -o "$TMP/m.st" "$S32"
		assert_failure 2
		assert_line --index 0 --partial "unet-train: --lr-schedule"
		[ ! -e "$TMP/m.st" ]
	done
}

@test "--resume with more --epochs equals one uninterrupted run, log included" {
	unet-train "${TINY[@]}" --epochs 4 --log "$TMP/a.log" -o "$TMP/a.st" "$S32"
	unet-train "${TINY[@]}" --epochs 2 --log "$TMP/b.log" -o "$TMP/b.st" "$S32"
	run unet-train "${TINY[@]}" --epochs 4 --resume --log "$TMP/b.log" \
		-o "$TMP/b.st" "$S32"
	assert_success
	cmp "$TMP/a.st" "$TMP/b.st"
	cmp "$TMP/a.st.ckpt" "$TMP/b.st.ckpt"
	diff <(cut -d, -f1-5 "$TMP/a.log") <(cut -d, -f1-5 "$TMP/b.log")
	# A finished run has nothing left to do.
	run unet-train "${TINY[@]}" --epochs 4 --resume -o "$TMP/b.st" "$S32"
	assert_success
	cmp "$TMP/a.st" "$TMP/b.st"
}

@test "--resume refuses other data or options, and a missing checkpoint" {
	unet-train "${TINY[@]}" --epochs 1 -o "$TMP/m.st" "$S32"
	run unet-train "${TINY[@]}" --epochs 2 --resume --lr 0.01 -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "cannot resume: lr differs"
	take 12 "$S32" >"$TMP/half.pam"
	run unet-train "${TINY[@]}" --epochs 2 --resume -o "$TMP/m.st" "$TMP/half.pam"
	assert_failure 1
	assert_output --partial "cannot resume: train_data differs"
	run unet-train "${TINY[@]}" --epochs 2 --resume --depth 2 -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	run unet-train "${TINY[@]}" --resume -o "$TMP/none.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "none.st.ckpt: no checkpoint to resume from"
}

# train_until_checkpoint SIGNAL ARGS...: start unet-train in the background,
# send SIGNAL once its first checkpoint exists, wait; sets $status.
train_until_checkpoint() {
	local sig=$1 ckpt=$TMP/i.st.ckpt
	shift
	unet-train "$@" -o "$TMP/i.st" 2>"$TMP/err" &
	local pid=$! n=0
	while [[ ! -e $ckpt ]] && ((n++ < 500)); do
		sleep 0.02
	done
	kill -"$sig" "$pid"
	status=0
	wait "$pid" || status=$?
}

@test "SIGTERM after an epoch, then --resume, gives the uninterrupted run's model" {
	cat "$S32" "$S32" "$S32" "$S32" >"$TMP/big.pam"
	args=(--base-filters 8 --depth 3 --batch 4 --threads 2 --epochs 6 "$TMP/big.pam")
	train_until_checkpoint TERM "${args[@]}"
	assert_equal "$status" 143
	run cat "$TMP/err"
	assert_line --regexp '^unet-train: interrupted; last good model \(epoch [1-5], val_loss 0\.[0-9]{4}\) is in .*/i\.st$'
	run unet-train --quiet --resume "${args[@]}" -o "$TMP/i.st"
	assert_success
	unet-train --quiet "${args[@]}" -o "$TMP/u.st"
	cmp "$TMP/u.st" "$TMP/i.st"
}

@test "--lr-schedule cosine lowers the rate epoch by epoch to near 0 over --epochs; --resume continues it" {
	common=("${TINY[@]}" --patience 0 --lr 0.002 --lr-schedule cosine)
	unet-train "${common[@]}" --epochs 4 --log "$TMP/a.log" -o "$TMP/a.st" "$S32"
	# lr (1 + cos(pi e / 4)) / 2 for e = 0..3, computed here, not by us.
	run "$REFPY" -c 'import json, math, sys
got = [json.loads(l)["lr"] for l in open(sys.argv[1])]
want = [0.002 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
print(len(got) == 4 and all(abs(g - w) <= 1e-8 * w for g, w in zip(got, want)), ["%.6g" % g for g in got])' "$TMP/a.log"
	assert_output "True ['0.002', '0.00170711', '0.001', '0.000292893']"
	assert_equal "$(meta "$TMP/a.st" lr_schedule)" "cosine"
	# The rate comes from the epoch: a run stopped after an epoch and
	# resumed is the uninterrupted run, byte for byte.
	cat "$S32" "$S32" "$S32" "$S32" >"$TMP/big.pam"
	args=(--base-filters 8 --depth 3 --batch 4 --threads 2 --epochs 6 --lr-schedule cosine
	      --patience 0 "$TMP/big.pam")
	train_until_checkpoint TERM "${args[@]}"
	unet-train --quiet --resume "${args[@]}" -o "$TMP/i.st"
	unet-train --quiet "${args[@]}" -o "$TMP/u.st"
	cmp "$TMP/u.st" "$TMP/i.st"
	cmp "$TMP/u.st.ckpt" "$TMP/i.st.ckpt"
	# A schedule over other epochs is another run.
	run unet-train --quiet --resume "${args[@]}" --epochs 8 -o "$TMP/i.st"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "cannot resume: lr_schedule differs"
}

@test "--precision bf16: the losses of fp32 within 0.5 %, not its bytes where bf16 runs; recorded, and part of --resume's fingerprint" {
	# Base 16, depth 3 on 32x32: levels 2 and 3 (32 and 64 channels, maps
	# 16 and 8 wide) take Winograd, so bf16.
	args=(--base-filters 16 --depth 3 --batch 4 --threads 2 --epochs 3 --patience 0 --quiet "$S32")
	unet-train "${args[@]}" --log "$TMP/fp32.log" -o "$TMP/fp32.st"
	unet-train "${args[@]}" --precision bf16 --log "$TMP/bf16.log" -o "$TMP/bf16.st" 2>"$TMP/err"
	run "$REFPY" -c 'import json, sys
a, b = ([json.loads(l)["train_loss"] for l in open(p)] for p in sys.argv[1:])
print(len(a) == len(b) == 3 and all(abs(x - y) <= 0.005 * x for x, y in zip(a, b)))' \
		"$TMP/fp32.log" "$TMP/bf16.log"
	assert_output "True"
	if [[ -s $TMP/err ]]; then
		assert_equal "$(cat "$TMP/err")" "unet-train: this CPU has no AVX512_BF16: computing in fp32"
		cmp "$TMP/bf16.st" "$TMP/fp32.st"
		skip "no AVX512_BF16 here: the bf16 run was the fp32 one"
	fi
	! cmp -s "$TMP/bf16.st" "$TMP/fp32.st"
	assert_equal "$(meta "$TMP/bf16.st" precision)" "bf16"
	run unet-train "${args[@]}" --epochs 4 --resume -o "$TMP/bf16.st"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "cannot resume: precision differs"
	unet-train "${args[@]}" --epochs 4 --resume --precision bf16 -o "$TMP/bf16.st"
}

@test "--precision bf16 where the path has no AVX512_BF16: fp32's model, one warning line; --precision x refused" {
	args=(--base-filters 16 --depth 3 --batch 4 --threads 2 --epochs 2 --patience 0 --quiet "$S32")
	for isa in avx2 plain; do
		[[ $isa == plain ]] || grep -qw avx2 /proc/cpuinfo || continue
		UNETPIPE_ISA=$isa unet-train "${args[@]}" -o "$TMP/fp32.st"
		run bash -c 'UNETPIPE_ISA=$1 unet-train --precision bf16 "${@:3}" -o "$2" 2>&1' \
			_ "$isa" "$TMP/bf16.st" "${args[@]}"
		assert_success
		assert_output "unet-train: this CPU has no AVX512_BF16: computing in fp32"
		cmp "$TMP/bf16.st" "$TMP/fp32.st"
	done
	run unet-train "${TINY[@]}" --precision x -o "$TMP/m.st" "$S32"
	assert_failure 2
	assert_line --index 0 "unet-train: --precision: fp32 or bf16, not 'x'"
	[ ! -e "$TMP/m.st" ]
}

@test "--keep last: MODEL holds the last epoch's weights (the checkpoint's), --keep best the lowest val_loss's; recorded, part of the fingerprint, and its refusals" {
	# At this rate the validation loss rises after epoch 4 of 6.
	args=(--base-filters 4 --depth 3 --batch 4 --threads 2 --epochs 6 --patience 0 --lr 0.03 --quiet "$S32")
	unet-train "${args[@]}" --log "$TMP/b.log" -o "$TMP/b.st"
	unet-train "${args[@]}" --keep last --log "$TMP/l.log" -o "$TMP/l.st"
	run "$REFPY" -c 'import json, sys
a, b = ([json.loads(l)["val_loss"] for l in open(p)] for p in sys.argv[1:])
print(a == b, 1 + a.index(min(a)))' "$TMP/b.log" "$TMP/l.log"
	assert_output "True 4"
	assert_equal "$(meta "$TMP/b.st" epoch)" 4
	assert_equal "$(meta "$TMP/l.st" epoch)" 6
	assert_equal "$(meta "$TMP/l.st" keep)" last
	run "$REFPY" -c "$st_py
m, c = load(sys.argv[1])[0], load(sys.argv[2])[0]
print(len(m) > 0 and all((m[k] == c[k]).all() for k in m))" "$TMP/l.st" "$TMP/l.st.ckpt"
	assert_output "True"
	! cmp -s "$TMP/b.st" "$TMP/l.st"
	run unet-train "${args[@]}" --epochs 7 --resume -o "$TMP/l.st"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "cannot resume: keep differs"
	for bad in "--keep first" "--keep last --patience 3" "--keep last --lr-patience 2"; do
		# shellcheck disable=SC2086
		run unet-train "${TINY[@]}" $bad -o "$TMP/m.st" "$S32"
		assert_failure 2
		assert_line --index 0 --partial "unet-train: --keep"
		[ ! -e "$TMP/m.st" ]
	done
}

@test "SIGINT: exit 130, the message, a loadable model" {
	cat "$S32" "$S32" "$S32" "$S32" >"$TMP/big.pam"
	train_until_checkpoint INT --base-filters 8 --depth 3 --batch 4 \
		--epochs 50 --quiet "$TMP/big.pam"
	assert_equal "$status" 130
	run cat "$TMP/err"
	assert_output --regexp '^unet-train: interrupted; last good model \(epoch [0-9]+, val_loss 0\.[0-9]{4}\) is in '
	assert_equal "${#lines[@]}" 1
	# The model loads (as the start of a fine-tuning run).
	run unet-train --init "$TMP/i.st" --epochs 1 --quiet -o "$TMP/j.st" "$S32"
	assert_success
}

@test "SIGHUP during training: killed at once, silent, no lock file or temporary left; an ignored SIGHUP stays ignored" {
	cat "$S32" "$S32" "$S32" "$S32" >"$TMP/big.pam"
	train_until_checkpoint HUP --base-filters 8 --depth 3 --batch 4 \
		--epochs 50 --quiet "$TMP/big.pam"
	assert_equal "$status" 129
	assert_equal "$(cat "$TMP/err")" ""
	assert_equal "$(cd "$TMP" && ls -A | sort | tr '\n' ' ')" \
		"big.pam err i.st i.st.ckpt "
	rm "$TMP/i.st" "$TMP/i.st.ckpt"
	# as under nohup: the caller's SIG_IGN is kept, the run goes on
	(trap '' HUP; exec unet-train --base-filters 8 --depth 3 --batch 4 \
		--epochs 20 --val-split 0 --quiet -o "$TMP/i.st" "$TMP/big.pam" \
		2>"$TMP/err") &
	local pid=$! n=0
	while [[ ! -e $TMP/i.st.ckpt ]] && ((n++ < 500)); do sleep 0.02; done
	kill -HUP "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 0
	assert_equal "$(meta "$TMP/i.st.ckpt" epoch)" 20
	assert_equal "$(cd "$TMP" && ls -A | sort | tr '\n' ' ')" \
		"big.pam err i.st i.st.ckpt "
}

@test "a NaN loss stops with exit 1 and leaves the last good model alone" {
	run unet-train "${TINY[@]}" --epochs 1 --val-split 0 --batch 24 \
		--lr 1e30 -o "$TMP/one.st" "$S32"
	assert_success
	run unet-train "${TINY[@]}" --epochs 5 --val-split 0 --batch 24 \
		--lr 1e30 -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --regexp '^unet-train: epoch 2 step 1: loss is (nan|inf); stopping, last good model in .*/m\.st$'
	cmp "$TMP/one.st" "$TMP/m.st"
	run unet-train "${TINY[@]}" --epochs 5 --lr 1e30 -o "$TMP/n.st" "$S32"
	assert_failure 1
	assert_output --regexp 'epoch 1 step [0-9]+: loss is (nan|inf); stopping, no model was written$'
	[[ ! -e $TMP/n.st ]]
}

@test "--init: fine-tuning starts from the model; its channels must match" {
	unet-train "${TINY[@]}" --epochs 1 -o "$TMP/a.st" "$S32"
	run unet-train --quiet --init "$TMP/a.st" --base-filters 8 --epochs 1 \
		-o "$TMP/b.st" "$S32"
	assert_success
	assert_equal "$(meta "$TMP/b.st" base_filters)" 2
	"$REFPY" "$REFERENCE" init --in-channels 2 --base 2 --depth 2 "$TMP/two.st"
	run unet-train --quiet --init "$TMP/two.st" --epochs 1 -o "$TMP/c.st" "$G16"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "image 1: 1 channel(s), the model"
	printf 'not a model' >"$TMP/bad.st"
	run unet-train --quiet --init "$TMP/bad.st" -o "$TMP/c.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
}

@test "usage errors exit 2" {
	for args in "" "--epochs 0 -o m" "--lr abc -o m" "--lr 0 -o m" \
		"--batch 1.5 -o m" "--val-split 1 -o m" "--val v --val-split 0.2 -o m" \
		"--loss dice -o m" "--pos-weight 2 -o m" "--depth 9 -o m" \
		"--threads 0 -o m" "--bogus -o m" "-o m a b" "--seed -1 -o m" \
		"--augment zoom -o m" "--augment flip,,crop -o m" \
		"--augment= -o m" "--freeze , -o m" "--freeze c1, -o m"; do
		run unet-train $args "$S32"
		assert_failure 2
		assert_line --partial "Try 'unet-train --help'"
	done
	run unet-train --help
	assert_success
	assert_line --partial "--val-split FRAC"
	run unet-train --version
	assert_output --regexp '^unet-train unetpipe [0-9]+\.[0-9]+\.[0-9]+ \(kernels: (avx512|avx2|plain); MPI: (none|Open MPI v[0-9.]+)\)$'
	run bash -c 'unet-train --help >/dev/full'
	assert_failure 1
}

@test "-h and -V: the same as --help and --version" {
	unet-train --help >"$TMP/help"
	run unet-train -h
	assert_success
	assert_output "$(cat "$TMP/help")"
	assert_output --partial "  -h, --help"
	run unet-train -V
	assert_success
	assert_output "$(unet-train --version)"
	assert_output --regexp '^unet-train unetpipe [0-9]+\.[0-9]+\.[0-9]+ \(kernels: (avx512|avx2|plain); MPI: (none|Open MPI v[0-9.]+)\)$'
}

@test "--init with a PAM or any other file: not a safetensors file, nothing written" {
	printf 'not a model at all, no' >"$TMP/text"
	for f in "$S16" "$TMP/text"; do
		run unet-train --quiet --init "$f" -o "$TMP/m.st" "$S32"
		assert_failure 1
		assert_output "unet-train: $f: not a safetensors file"
	done
	run ls -A "$TMP"
	assert_output "text"
}

@test "bad data: tuple type, mixed channels, size not a multiple, truncation" {
	{ printf 'P6\n32 32\n255\n'; head -c 3072 /dev/zero; } >"$TMP/rgb.ppm"
	run unet-train -o "$TMP/m.st" "$TMP/rgb.ppm"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "rgb.ppm: image 1"
	cat "$S32" "$G16" >"$TMP/mixed.pam"
	run unet-train -o "$TMP/m.st" "$TMP/mixed.pam"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output "unet-train: $TMP/mixed.pam: image 25: 1 channel(s), the first sample has 3"
	run unet-train --depth 7 -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "image 1: size 32x32 is not a multiple of 64 (resize with ingest-resize --size, or train on patches with --patch)"
	head -c 10000 "$S32" >"$TMP/trunc.pam"
	run unet-train -o "$TMP/m.st" <"$TMP/trunc.pam"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "stdin: image 3"
	run unet-train --val "$S16" -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "image 1: size 16x16, the training samples are 32x32"
	[[ ! -e $TMP/m.st ]]
}

@test "empty input, too few samples for a split, bad output folder: exit 1" {
	run unet-train -o "$TMP/m.st" </dev/null
	assert_failure 1
	assert_one_error_line unet-train
	assert_output "unet-train: stdin: no training samples"
	take 1 "$S16" >"$TMP/one.pam"
	run unet-train -o "$TMP/m.st" "$TMP/one.pam"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "1 sample(s) are too few for --val-split 0.1"
	run unet-train -o "$TMP/nowhere/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "nowhere: No such file or directory"
	run unet-train -o "$S16/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	run unet-train "${TINY[@]}" --epochs 1 --log "$TMP/nowhere/log" -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
}

# assert_only FILE...: the files of $TMP are exactly these (no model,
# checkpoint, lock or temporary file left).
assert_only() {
	assert_equal "$(cd "$TMP" && ls -A | sort)" "$(printf '%s\n' "$@" | sort)"
}

@test "an output that is an input is refused before anything is read, every file intact" {
	cp "$S32" "$TMP/s.pam"
	echo '{"epoch":1}' >"$TMP/old.log"
	unet-train "${TINY[@]}" --epochs 1 -o "$TMP/init.st" "$S32"
	rm "$TMP/init.st.ckpt"
	cp "$TMP/init.st" "$TMP/init.orig"
	ln "$TMP/s.pam" "$TMP/link.pam"
	ln -s s.pam "$TMP/sym.pam"
	ln -s s.pam "$TMP/t.ckpt"
	local args
	for args in "-o s.pam s.pam" "--log s.pam -o m.st s.pam" \
		"--val s.pam -o s.pam $S32" "--val s.pam --log s.pam -o m.st $S32" \
		"-o link.pam s.pam" "-o sym.pam s.pam" "-o m.st --log link.pam s.pam" \
		"--init init.st -o init.st s.pam" "-o t t.ckpt" \
		"--resume -o m.st m.st.ckpt"; do
		[[ $args == *--resume* ]] && cp "$S32" "$TMP/m.st.ckpt"
		run bash -c "cd '$TMP' && unet-train ${TINY[*]} --epochs 1 $args"
		assert_failure 1
		assert_one_error_line unet-train
		assert_output --regexp "^unet-train: [a-z.]+: is also an input \(an output never replaces an input\)$"
		cmp "$TMP/s.pam" "$S32"
		cmp "$TMP/init.st" "$TMP/init.orig"
		[[ $args != *--resume* ]] || cmp "$TMP/m.st.ckpt" "$S32"
		rm -f "$TMP/m.st.ckpt"
		assert_only s.pam link.pam sym.pam t.ckpt old.log init.st init.orig
	done
	# from standard input too
	run bash -c "unet-train ${TINY[*]} --epochs 1 -o '$TMP/s.pam' <'$TMP/s.pam'"
	assert_failure 1
	assert_output "unet-train: $TMP/s.pam: is also an input (an output never replaces an input)"
	cmp "$TMP/s.pam" "$S32"
	# the same output twice: the log in place of the model or checkpoint
	for args in "--log m.st -o m.st" "--log m.st.ckpt -o m.st" "--log m.st.lock -o m.st"; do
		run bash -c "cd '$TMP' && unet-train ${TINY[*]} --epochs 1 $args s.pam"
		assert_failure 2
		assert_line --index 0 --regexp "^unet-train: output 'm\.st(\.ckpt|\.lock)?' given twice$"
		assert_only s.pam link.pam sym.pam t.ckpt old.log init.st init.orig
	done
	cmp "$TMP/s.pam" "$S32"
}

@test "the log: a run that fails before its first epoch leaves the old log byte for byte" {
	printf '{"epoch":1,"train_loss":0.5}\nnot json, kept as it is\n' >"$TMP/log"
	cp "$TMP/log" "$TMP/log.orig"
	# a NaN in the first epoch (it used to empty the log)
	run unet-train "${TINY[@]}" --epochs 5 --lr 1e30 --log "$TMP/log" -o "$TMP/n.st" "$S32"
	assert_failure 1
	assert_output --regexp 'loss is (nan|inf); stopping, no model was written$'
	cmp "$TMP/log" "$TMP/log.orig"
	# no samples, bad data
	run unet-train "${TINY[@]}" --log "$TMP/log" -o "$TMP/n.st" </dev/null
	assert_failure 1
	assert_output "unet-train: stdin: no training samples"
	cmp "$TMP/log" "$TMP/log.orig"
	run unet-train "${TINY[@]}" --log "$TMP/log" -o "$TMP/n.st" "$G16" --init "$TMP/none.st"
	assert_failure 1
	cmp "$TMP/log" "$TMP/log.orig"
	assert_only log log.orig
	# a NaN after a good epoch: the log has that epoch, like the model
	run unet-train "${TINY[@]}" --epochs 5 --val-split 0 --batch 24 --lr 1e30 \
		--log "$TMP/log" -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_output --regexp 'epoch 2 step 1: loss is (nan|inf); stopping, last good model in'
	assert_equal "$(jq -c .epoch "$TMP/log")" 1
	assert_only log log.orig m.st m.st.ckpt
}

@test "the log on disk always goes with the checkpoint on disk, --resume keeps its lines" {
	cat "$S32" "$S32" "$S32" "$S32" >"$TMP/big.pam"
	args=(--base-filters 8 --depth 3 --batch 4 --threads 2 --epochs 50 "$TMP/big.pam")
	train_until_checkpoint TERM "${args[@]}" --log "$TMP/log"
	assert_equal "$status" 143
	local epoch
	epoch=$(meta "$TMP/i.st.ckpt" epoch)
	assert_equal "$(jq -c .epoch "$TMP/log" | tr '\n' ' ')" "$(seq -s ' ' 1 "$epoch") "
	# --resume: the old lines, then the new epochs
	cp "$TMP/log" "$TMP/log.prev"
	run unet-train --quiet --resume "${args[@]/50/$((epoch + 1))}" --log "$TMP/log" -o "$TMP/i.st"
	assert_success
	assert_equal "$(head -n "$epoch" "$TMP/log")" "$(cat "$TMP/log.prev")"
	assert_equal "$(jq -c .epoch "$TMP/log" | tr '\n' ' ')" "$(seq -s ' ' 1 $((epoch + 1))) "
	# lines of epochs after the checkpoint's (a log ahead of it) are dropped
	cp "$TMP/log" "$TMP/ahead"
	echo '{"epoch":99}' >>"$TMP/ahead"
	echo 'after the dropped line: dropped too' >>"$TMP/ahead"
	run unet-train --quiet --resume "${args[@]/50/$((epoch + 2))}" --log "$TMP/ahead" -o "$TMP/i.st"
	assert_success
	assert_equal "$(head -n $((epoch + 1)) "$TMP/ahead")" "$(cat "$TMP/log")"
	assert_equal "$(wc -l <"$TMP/ahead")" $((epoch + 2))
	run compgen -G "$TMP/*.??????"
	assert_failure
	[[ ! -e $TMP/i.st.lock ]]
}

@test "a second run on the same model refuses and touches nothing; the first one's message is true" {
	cat "$S32" "$S32" "$S32" "$S32" >"$TMP/big.pam"
	local m=$TMP/m.st pid n=0
	echo 'the second run'"'"'s old log' >"$TMP/log2"
	cp "$TMP/log2" "$TMP/log2.orig"
	unet-train --base-filters 4 --depth 3 --batch 4 --threads 1 --epochs 100000 \
		--val-split 0 --quiet -o "$m" "$TMP/big.pam" 2>"$TMP/err" &
	pid=$!
	while [[ ! -e $m ]] && ((n++ < 500)); do sleep 0.02; done
	assert_equal "$(cat "$m.lock")" "$pid"
	for args in "" "--resume" "--val-split 0.5"; do
		run unet-train "${TINY[@]}" --epochs 1 $args --log "$TMP/log2" -o "$m" "$S32"
		assert_failure 1
		assert_output "unet-train: $m: another unet-train (pid $pid) is training into it"
		cmp "$TMP/log2" "$TMP/log2.orig"
		assert_equal "$(cat "$m.lock")" "$pid"
	done
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 143
	# the model on disk is the one the message names
	run cat "$TMP/err"
	assert_output --regexp "^unet-train: interrupted; last good model \(epoch [0-9]+\) is in $m$"
	[[ $output == *"(epoch $(meta "$m" epoch))"* ]]
	# the lock file goes with its run
	[[ ! -e $m.lock ]]
	run compgen -G "$m.??????"
	assert_failure
}

@test "the lock file: a stale one is reused, removed at every end" {
	local m=$TMP/m.st
	# left by a killed run: not locked any more
	echo 12345 >"$m.lock"
	run unet-train "${TINY[@]}" --epochs 1 -o "$m" "$S32"
	assert_success
	assert_only m.st m.st.ckpt
	# a run that fails, a usage error
	run unet-train "${TINY[@]}" --epochs 1 -o "$m" </dev/null
	assert_failure 1
	assert_only m.st m.st.ckpt
	run unet-train "${TINY[@]}" --epochs 1 --resume --lr 0.5 -o "$m" "$S32"
	assert_failure 1
	assert_output --partial "cannot resume: lr differs"
	assert_only m.st m.st.ckpt
	# a lock file that cannot be a file is an error before anything else
	rm "$m.ckpt"
	mkfifo "$m.lock"
	run timeout -s KILL 10 unet-train "${TINY[@]}" --epochs 1 -o "$m" "$S32"
	assert_failure 1
	assert_output "unet-train: $m.lock: not a regular file (an output replaces its path by a new file)"
}

@test "a FIFO as --init model or checkpoint is refused at once, never waited on" {
	mkfifo "$TMP/fifo" "$TMP/m.st.ckpt"
	run timeout -s KILL 10 unet-train "${TINY[@]}" --epochs 1 --init "$TMP/fifo" -o "$TMP/i.st" "$S32"
	assert_failure 1
	assert_output "unet-train: $TMP/fifo: not a regular file"
	run timeout -s KILL 10 unet-train "${TINY[@]}" --epochs 1 --resume -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "$TMP/m.st.ckpt: not a regular file"
	assert_only fifo m.st.ckpt
}

@test "standard output stays empty, so > /dev/full is no error" {
	run bash -c 'unet-train "$@" >/dev/full' _ "${TINY[@]}" --epochs 1 \
		--val-split 0 -o "$TMP/m.st" "$S16"
	assert_success
	[[ -s $TMP/m.st ]]
}

@test "the DSB sample: ingest-resize | unet-train | unet-infer --resize" {
	ingest-resize --size 32x32 "$DATA/stage1_train" >"$TMP/all.pam"
	run unet-train --base-filters 4 --depth 3 --batch 4 --epochs 5 \
		--val-split 0.25 --quiet --log "$TMP/log" -o "$TMP/m.st" \
		<"$TMP/all.pam"
	assert_success
	"$REFPY" -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 5 and rows[-1]["train_loss"] < rows[0]["train_loss"], rows
' "$TMP/log"
	# unet-infer --resize takes the training size from the model.
	ingest-resize --size 64x64 "$DATA/stage1_train" >"$TMP/big.pam"
	run bash -c 'unet-infer --quiet --resize "$1" "$2" | pamfile -allimages' \
		_ "$TMP/m.st" "$TMP/big.pam"
	assert_success
	assert_equal "$(grep -c 'PAM, 64 by 64 by 1 maxval 65535' <<<"$output")" 24
}

@test "on a terminal: a progress line redrawn in place; --quiet silences it" {
	command -v script >/dev/null || skip "no script(1)"
	run script -qefc "unet-train --base-filters 2 --depth 3 --batch 4 \
		--epochs 2 -o $TMP/m.st $S32" /dev/null
	assert_success
	assert_output --regexp $'\repoch 1/2 step [0-9]+/6 loss 0\\.[0-9]{4} [0-9.]+ img/s ETA [0-9]+:[0-9]{2}\e\\[K'
	assert_output --partial "unet-train: epoch 2/2: loss"
	run script -qefc "unet-train --quiet --base-filters 2 --depth 3 \
		--batch 4 --epochs 2 -o $TMP/m.st $S32" /dev/null
	assert_success
	assert_output ""
}

# same_tensors A B NAMES...: the named tensors of A and B equal bit for bit,
# every other tensor different. NAMES are prefixes such as c1. or out.
same_tensors() {
	"$REFPY" -c "$st_py
a, _ = load(sys.argv[1]); b, _ = load(sys.argv[2])
keep = tuple(sys.argv[3:])
assert sorted(a) == sorted(b)
for k in a:
    same = a[k].tobytes() == b[k].tobytes()
    assert same == k.startswith(keep), (k, same)
" "$@"
}

@test "--freeze: frozen layers keep every bit, the others train" {
	unet-train "${TINY[@]}" --depth 2 --epochs 1 -o "$TMP/a.st" "$S16"
	run unet-train "${TINY[@]}" --epochs 2 --init "$TMP/a.st" \
		--freeze encoder -o "$TMP/b.st" "$S16"
	assert_success
	same_tensors "$TMP/a.st" "$TMP/b.st" c1. c2.
	assert_equal "$(meta "$TMP/b.st" freeze)" encoder
	assert_equal "$(meta "$TMP/b.st" init)" "$TMP/a.st"
	run unet-train "${TINY[@]}" --epochs 2 --init "$TMP/a.st" \
		--freeze c1.conv2,u3,out -o "$TMP/c.st" "$S16"
	assert_success
	same_tensors "$TMP/a.st" "$TMP/c.st" c1.conv2. u3. out.
	# Frozen from scratch too, and through --resume.
	unet-train "${TINY[@]}" --epochs 1 --freeze c3 -o "$TMP/d.st" "$S16"
	# Adam leaves a frozen parameter's moments alone too.
	"$REFPY" -c "$st_py
t, _ = load(sys.argv[1])
for k in t:
    if k.startswith('adam.'):
        zero = not t[k].any()
        assert zero == k.split('.', 2)[2].startswith('c3.'), k
" "$TMP/d.st.ckpt"
	run unet-train "${TINY[@]}" --epochs 2 --freeze c3 --resume -o "$TMP/d.st" "$S16"
	assert_success
	unet-train "${TINY[@]}" --epochs 2 --freeze c3 -o "$TMP/e.st" "$S16"
	cmp "$TMP/d.st" "$TMP/e.st"
	run unet-train "${TINY[@]}" --epochs 3 --resume -o "$TMP/d.st" "$S16"
	assert_failure 1
	assert_output --partial "freeze differs"
	run unet-train "${TINY[@]}" --epochs 1 --init "$TMP/a.st" --freeze c4 \
		-o "$TMP/f.st" "$S16"
	assert_failure 2
	assert_line --index 0 "unet-train: --freeze: no layer 'c4' in the network (encoder, c1..c3, u3, out)"
}

@test "--init adapts 1 <-> 3 channels exactly, also from a PyTorch model" {
	"$REFPY" "$REFERENCE" init --in-channels 1 --base 2 --depth 2 --seed 3 "$TMP/g.st"
	"$REFPY" "$REFERENCE" init --in-channels 3 --base 2 --depth 2 --seed 4 "$TMP/c.st"
	# c1.conv1 frozen, so the output holds the adapted weights as they are.
	run unet-train --quiet --epochs 1 --init "$TMP/g.st" --freeze c1.conv1 \
		-o "$TMP/g3.st" "$S16"
	assert_success
	run unet-train --epochs 1 --init "$TMP/c.st" --freeze c1.conv1 \
		-o "$TMP/c1.st" "$G16"
	assert_success
	assert_line "unet-train: $TMP/c.st: first layer adapted from 3 to 1 input channel(s)"
	"$REFPY" -c "$st_py
g, _ = load(sys.argv[1]); g3, m3 = load(sys.argv[2])
c, _ = load(sys.argv[3]); c1, m1 = load(sys.argv[4])
w = g['c1.conv1.weight']
assert g3['c1.conv1.weight'].shape == (2, 3, 3, 3) and m3['in_channels'] == '3'
for k in range(3):
    assert (g3['c1.conv1.weight'][:, k:k + 1] == w / np.float32(3)).all()
w = c['c1.conv1.weight']
s = (w[:, 0:1] + w[:, 1:2]) + w[:, 2:3]
assert c1['c1.conv1.weight'].shape == (2, 1, 3, 3) and m1['in_channels'] == '1'
assert (c1['c1.conv1.weight'] == s).all()
assert (c1['c1.conv1.bias'] == c['c1.conv1.bias']).all()
assert (g3['c1.conv1.bias'] == g['c1.conv1.bias']).all()
" "$TMP/g.st" "$TMP/g3.st" "$TMP/c.st" "$TMP/c1.st"
}

@test "--augment: recorded, changes training, same seed same bytes, resume exact" {
	unet-train "${TINY[@]}" --depth 2 --epochs 2 -o "$TMP/n.st" "$S16"
	unet-train "${TINY[@]}" --depth 2 --epochs 2 --augment all -o "$TMP/a.st" "$S16"
	# (The draw does not depend on --threads either, but the sums of the
	# network do.)
	unet-train "${TINY[@]}" --depth 2 --epochs 2 --augment all -o "$TMP/b.st" "$S16"
	cmp "$TMP/a.st" "$TMP/b.st"
	run cmp -s "$TMP/a.st" "$TMP/n.st"
	assert_failure
	assert_equal "$(meta "$TMP/a.st" augment)" crop,elastic,rot90,flip,color
	assert_equal "$(meta "$TMP/n.st" augment)" none
	unet-train "${TINY[@]}" --depth 2 --epochs 2 --augment flip,rot90 \
		-o "$TMP/f.st" "$S16"
	assert_equal "$(meta "$TMP/f.st" augment)" rot90,flip
	unet-train "${TINY[@]}" --depth 2 --epochs 2 --augment all --seed 1 \
		-o "$TMP/s.st" "$S16"
	run cmp -s "$TMP/a.st" "$TMP/s.st"
	assert_failure
	# Interrupted after epoch 1 and resumed: the same bytes.
	unet-train "${TINY[@]}" --depth 2 --epochs 1 --augment all -o "$TMP/r.st" "$S16"
	run unet-train "${TINY[@]}" --depth 2 --epochs 2 --augment all --resume \
		-o "$TMP/r.st" "$S16"
	assert_success
	cmp "$TMP/a.st" "$TMP/r.st"
	cmp "$TMP/a.st.ckpt" "$TMP/r.st.ckpt"
	run unet-train "${TINY[@]}" --depth 2 --epochs 3 --augment flip --resume \
		-o "$TMP/r.st" "$S16"
	assert_failure 1
	assert_output --partial "augment differs"
}

# one_output_step WEIGHT_OPTION...: one step of a one-output model on
# $TMP/l16.pam with the label weights of WEIGHT_OPTION equals the
# reference's.
one_output_step() {
	"$REFPY" "$REFERENCE" init --in-channels 1 --base 2 --depth 2 --seed 3 \
		"$TMP/init1.safetensors"
	"$REFPY" "$REFERENCE" step "$@" "$TMP/init1.safetensors" \
		"$TMP/ref1.safetensors" <"$TMP/l16.pam" >/dev/null
	run unet-train --init "$TMP/init1.safetensors" --epochs 1 --batch 8 \
		"$@" --val-split 0 --quiet -o "$TMP/out1.safetensors" \
		"$TMP/l16.pam"
	assert_success
	the_same_step "$TMP/out1.safetensors" "$TMP/ref1.safetensors" \
		"$TMP/init1.safetensors" 0.001
}

# two_output_step WEIGHTS... [-- TRAIN...]: one step at lr 0.01 of a
# foreground,distance model on the labels $TMP/l16.pam with the weight
# options WEIGHTS, by the reference and by unet-train (given TRAIN too):
# the same step (within 0.01) and the same loss, set in ref_loss; the
# model in $TMP/out.safetensors.
two_output_step() {
	local weights=() train=()
	while (($#)) && [[ $1 != -- ]]; do weights+=("$1"); shift; done
	(($# == 0)) || { shift; train=("$@"); }
	"$REFPY" "$REFERENCE" init --in-channels 1 --base 2 --depth 2 --seed 3 \
		--outputs foreground,distance "$TMP/init.safetensors"
	ref_loss=$("$REFPY" "$REFERENCE" step --lr 0.01 "${weights[@]}" \
		"$TMP/init.safetensors" "$TMP/ref.safetensors" <"$TMP/l16.pam")
	run unet-train --init "$TMP/init.safetensors" --epochs 1 --batch 8 \
		--lr 0.01 --outputs foreground,distance "${weights[@]}" \
		"${train[@]}" --val-split 0 --quiet --log "$TMP/log" \
		-o "$TMP/out.safetensors" "$TMP/l16.pam"
	assert_success
	the_same_step "$TMP/out.safetensors" "$TMP/ref.safetensors" \
		"$TMP/init.safetensors" 0.01
	the_same_loss "$TMP/log" "$ref_loss"
}

# to_labels: a *_MASK stream on stdin as a *_LABEL stream on stdout, the
# same foreground: each 4-connected component of the mask is an object,
# cut in two at the middle column (touching objects).
to_labels() {
	"$REFPY" -c '
import sys
data = sys.stdin.buffer.read()
out = bytearray(); pos = 0
while pos < len(data):
    end = data.index(b"ENDHDR\n", pos) + 7
    head = data[pos:end].decode()
    f = dict(l.split(" ", 1) for l in head.split("\n") if " " in l and l[0] != "#")
    w, h, d, mv = (int(f[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
    b = 2 if mv > 255 else 1
    n = w * h * d * b
    r = bytearray(data[end:end + n])
    last = lambda p: int.from_bytes(r[(p * d + d - 1) * b:(p * d + d) * b], "big")
    mask = [last(p) > mv // 2 for p in range(w * h)]
    lab = [0] * (w * h); k = 0
    for s in range(w * h):
        if mask[s] and not lab[s]:
            k += 1; lab[s] = k; todo = [s]
            while todo:
                p = todo.pop(); y, x = divmod(p, w)
                for q, ok in ((p - 1, x > 0), (p + 1, x < w - 1), (p - w, y > 0), (p + w, y < h - 1)):
                    if ok and mask[q] and not lab[q] and (q % w < w // 2) == (x < w // 2):
                        lab[q] = k; todo.append(q)
    assert k <= mv, (k, mv)
    for p in range(w * h):
        r[(p * d + d - 1) * b:(p * d + d) * b] = lab[p].to_bytes(b, "big")
    out += head.replace("_MASK\n", "_LABEL\n").encode() + r
    pos = end + n
sys.stdout.buffer.write(out)
'
}

@test "*_LABEL samples with the default --outputs train as their masks do, byte for byte" {
	to_labels <"$S32" >"$TMP/l32.pam"
	grep -aq "TUPLTYPE RGB_LABEL" "$TMP/l32.pam"
	unet-train "${TINY[@]}" --epochs 2 --log "$TMP/m.log" -o "$TMP/m.st" "$S32"
	run unet-train "${TINY[@]}" --epochs 2 --log "$TMP/l.log" \
		-o "$TMP/l.st" "$TMP/l32.pam"
	assert_success
	cmp "$TMP/m.st" "$TMP/l.st"
	diff <(cut -d, -f1-5 "$TMP/m.log") <(cut -d, -f1-5 "$TMP/l.log")
	run unet-train "${TINY[@]}" --epochs 2 --outputs foreground \
		-o "$TMP/f.st" "$S32"
	assert_success
	cmp "$TMP/m.st" "$TMP/f.st"
	run meta "$TMP/f.st" outputs
	assert_failure
}

@test "--outputs foreground,distance: a two-channel model that records its outputs and options" {
	to_labels <"$S32" >"$TMP/l32.pam"
	run unet-train "${TINY[@]}" --epochs 2 --outputs foreground,distance \
		--border-weight 5 --border-sigma 2.5 --augment all \
		--log "$TMP/l.log" -o "$TMP/m.st" "$TMP/l32.pam"
	assert_success
	assert_equal "$(meta "$TMP/m.st" outputs)" foreground,distance
	assert_equal "$(meta "$TMP/m.st" border_weight)" 5
	assert_equal "$(meta "$TMP/m.st" border_sigma)" 2.5
	run meta "$TMP/m.st" touch_weight
	assert_failure
	"$REFPY" -c "$st_py
t, m = load(sys.argv[1])
assert t['out.weight'].shape == (2, 2, 1, 1), t['out.weight'].shape
assert t['out.bias'].shape == (2,)
import json
for line in open(sys.argv[2]):
    e = json.loads(line)
    assert 0 < e['val_loss'] < 10 and 0 <= e['val_dice'] <= 1, e
" "$TMP/m.st" "$TMP/l.log"
	# The same seed, the same bytes (augmentation, targets and weights
	# drawn and derived alike).
	unet-train "${TINY[@]}" --epochs 2 --outputs foreground,distance \
		--border-weight 5 --border-sigma 2.5 --augment all \
		-o "$TMP/n.st" "$TMP/l32.pam"
	cmp "$TMP/m.st" "$TMP/n.st"
}

@test "--outputs distance, --border-weight and --touch-weight need labels: mask samples refused, nothing written" {
	to_labels <"$S16" >"$TMP/l16.pam"
	take 2 "$S16" >"$TMP/mask.pam"
	for args in "--outputs foreground,distance" "--border-weight 10" \
		"--touch-weight 5"; do
		run unet-train "${TINY[@]}" $args -o "$TMP/m.st" "$S16"
		assert_failure 1
		assert_one_error_line unet-train
		assert_output --partial "image 1: a mask without instance labels"
		want=${args%% *}
		[ "$want" != --outputs ] || want="--outputs distance"
		assert_output --partial "; $want needs RGB_LABEL"
		# a mask sample in the validation stream
		run unet-train "${TINY[@]}" $args --val "$TMP/mask.pam" \
			-o "$TMP/m.st" "$TMP/l16.pam"
		assert_failure 1
		assert_one_error_line unet-train
		assert_output --partial "mask.pam: image 1: a mask without"
	done
	run ls -A "$TMP"
	assert_output "$(printf 'l16.pam\nmask.pam')"
}

@test "--outputs, --border-weight, --touch-weight, --border-sigma: usage errors exit 2" {
	for args in "--outputs distance" "--outputs distance,foreground" \
		"--outputs foreground,foreground" "--outputs foreground,border" \
		"--outputs foreground," "--outputs=" "--border-weight -1" \
		"--border-weight x" "--border-sigma 2" \
		"--border-weight 10 --border-sigma 0" "--touch-weight -1" \
		"--touch-weight 1e7" "--touch-weight 5 --border-sigma -2"; do
		run unet-train $args -o "$TMP/m" "$S16"
		assert_failure 2
		assert_line --partial "Try 'unet-train --help'"
		assert_line --regexp "^unet-train: --(outputs|border-weight|touch-weight|border-sigma)"
	done
}

@test "--resume refuses other --outputs, --border-weight or --touch-weight; --init needs the same outputs" {
	to_labels <"$S32" >"$TMP/l32.pam"
	unet-train "${TINY[@]}" --epochs 1 --outputs foreground,distance \
		-o "$TMP/m.st" "$TMP/l32.pam"
	cp "$TMP/m.st" "$TMP/saved.st"
	cp "$TMP/m.st.ckpt" "$TMP/saved.ckpt"
	for args in "--outputs foreground,distance --border-weight 10" \
		"--outputs foreground,distance --touch-weight 5" \
		"--outputs foreground"; do
		run unet-train "${TINY[@]}" --epochs 2 --resume $args \
			-o "$TMP/m.st" "$TMP/l32.pam"
		assert_failure 1
		assert_one_error_line unet-train
		assert_output --regexp "cannot resume: (outputs|border|touch) differs"
		cmp "$TMP/m.st" "$TMP/saved.st"
		cmp "$TMP/m.st.ckpt" "$TMP/saved.ckpt"
	done
	run unet-train "${TINY[@]}" --epochs 1 --init "$TMP/m.st" -o "$TMP/i.st" "$TMP/l32.pam"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "the model's outputs are foreground,distance, --outputs asks for foreground"
	run unet-train "${TINY[@]}" --epochs 1 --init "$TMP/m.st" \
		--outputs foreground,distance -o "$TMP/i.st" "$TMP/l32.pam"
	assert_success
	[[ ! -e $TMP/i.st.lock ]]
}

@test "one step with --outputs foreground,distance equals the reference's step from the labels" {
	to_labels <"$S16" >"$TMP/l16.pam"
	"$REFPY" "$REFERENCE" init --in-channels 3 --base 4 --depth 3 --seed 0 \
		--outputs foreground,distance "$TMP/init.safetensors"
	ref_loss=$("$REFPY" "$REFERENCE" step "$TMP/init.safetensors" \
		"$TMP/ref.safetensors" <"$TMP/l16.pam")
	run unet-train --init "$TMP/init.safetensors" --epochs 1 --batch 6 \
		--outputs foreground,distance --val-split 0 --threads 2 --quiet \
		--log "$TMP/log" -o "$TMP/out.safetensors" "$TMP/l16.pam"
	assert_success
	the_same_step "$TMP/out.safetensors" "$TMP/ref.safetensors" \
		"$TMP/init.safetensors" 0.001
	the_same_loss "$TMP/log" "$ref_loss"
}

@test "one step with --border-weight and wbce equals the reference's step from the labels" {
	to_labels <"$G16" >"$TMP/l16.pam"
	two_output_step --border-weight 10 --border-sigma 2 --pos-weight 3 \
		-- --loss wbce
	# A one-output model with the border weight alone.
	one_output_step --border-weight 10
}

@test "one step with --touch-weight and --border-weight equals the reference's step from the labels" {
	to_labels <"$G16" >"$TMP/l16.pam"
	two_output_step --touch-weight 6 --border-weight 4 --border-sigma 2
	assert_equal "$(meta "$TMP/out.safetensors" touch_weight)" 6
	assert_equal "$(meta "$TMP/out.safetensors" border_weight)" 4
	assert_equal "$(meta "$TMP/out.safetensors" border_sigma)" 2
	# The touch weight changes the step: without it the loss differs.
	other=$("$REFPY" "$REFERENCE" step --lr 0.01 --border-weight 4 \
		--border-sigma 2 "$TMP/init.safetensors" "$TMP/ref2.safetensors" \
		<"$TMP/l16.pam")
	[ "$other" != "$ref_loss" ]
	# The touch weight alone, on a one-output model.
	one_output_step --touch-weight 6
	assert_equal "$(meta "$TMP/out1.safetensors" border_sigma)" 3
}

@test "a two-output model loads in the reference: val_loss over both outputs with the weights agrees" {
	to_labels <"$S32" >"$TMP/l32.pam"
	take 4 "$TMP/l32.pam" >"$TMP/val.pam"
	run unet-train "${TINY[@]}" --epochs 2 --outputs foreground,distance \
		--border-weight 10 --val "$TMP/val.pam" -o "$TMP/m.safetensors" \
		"$TMP/l32.pam"
	assert_success
	ref=$("$REFPY" "$REFERENCE" loss --border-weight 10 "$TMP/m.safetensors" \
		<"$TMP/val.pam")
	ours=$(meta "$TMP/m.safetensors" val_loss)
	"$REFPY" -c 'import sys; a, b = map(float, sys.argv[1:])
assert abs(a - b) < 1e-5 * b, (a, b)' "$ref" "$ours"
	# val_dice is the foreground channel's
	"$REFPY" "$REFERENCE" infer "$TMP/m.safetensors" <"$TMP/val.pam" >"$TMP/p.pam"
	"$REFPY" -c '
import sys
import numpy as np
sys.argv, dice = sys.argv[:1], float(sys.argv[3])
def images(path):
    data = open(path, "rb").read(); pos = 0
    while pos < len(data):
        end = data.index(b"ENDHDR\n", pos) + 7
        f = dict(l.split(" ", 1) for l in data[pos:end].decode().split("\n") if " " in l and l[0] != "#")
        w, h, d, mv = (int(f[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
        b = 2 if mv > 255 else 1
        yield np.frombuffer(data[end:end + w * h * d * b], ">u%d" % b).reshape(h, w, d), mv
        pos = end + w * h * d * b
tp = fp = fn = 0
for (p, _), (s, _) in zip(images("'"$TMP/p.pam"'"), images("'"$TMP/val.pam"'")):
    assert p.shape[2] == 2
    pred, truth = p[:, :, 0] >= 32768, s[:, :, -1] != 0
    tp += (pred & truth).sum(); fp += (pred & ~truth).sum(); fn += (~pred & truth).sum()
ref = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1
assert abs(ref - dice) < 0.01, (ref, dice)
' x x "$(meta "$TMP/m.safetensors" val_dice)"
}

# ---------------------------------------------------------------- patches
# Samples of several sizes: the 32x32 and 16x16 ones (3 channels both).
mixed() {
	cat "$S32" "$S16" >"$TMP/mixed.pam"
}

# near A B: two log files whose train_loss, val_loss and val_dice agree
# within 1e-5 epoch by epoch.
near() {
	"$REFPY" -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) > 0, (a, b)
for x, y in zip(a, b):
    for k in "train_loss", "val_loss", "val_dice":
        assert abs(x[k] - y[k]) < 1e-5, (k, x, y)
' "$1" "$2"
}

# has_key MODEL KEY: whether the metadata has KEY.
has_key() {
	"$REFPY" -c "$st_py
sys.exit(0 if sys.argv[2] in load(sys.argv[1])[1] else 1)" "$1" "$2"
}

P=(--base-filters 2 --depth 3 --batch 4 --quiet)

@test "--patch: samples of several sizes; same seed same bytes, another seed not, another thread count the same draws" {
	mixed
	unet-train "${P[@]}" --threads 2 --epochs 2 --patch 16 --augment all \
		--log "$TMP/a.log" -o "$TMP/a.st" "$TMP/mixed.pam"
	unet-train "${P[@]}" --threads 2 --epochs 2 --patch 16 --augment all \
		-o "$TMP/b.st" <"$TMP/mixed.pam"
	cmp "$TMP/a.st" "$TMP/b.st"
	cmp "$TMP/a.st.ckpt" "$TMP/b.st.ckpt"
	unet-train "${P[@]}" --threads 2 --epochs 2 --patch 16 --augment all \
		--seed 1 -o "$TMP/c.st" "$TMP/mixed.pam"
	run cmp -s "$TMP/a.st" "$TMP/c.st"
	assert_failure
	# The thread count changes the network's sums in their last bits,
	# never the patches: the losses agree to rounding.
	unet-train "${P[@]}" --threads 1 --epochs 2 --patch 16 --augment all \
		--log "$TMP/d.log" -o "$TMP/d.st" "$TMP/mixed.pam"
	near "$TMP/a.log" "$TMP/d.log"
	# Another patch size draws other patches.
	unet-train "${P[@]}" --threads 2 --epochs 2 --patch 8 --augment all \
		-o "$TMP/e.st" "$TMP/mixed.pam"
	run cmp -s "$TMP/a.st" "$TMP/e.st"
	assert_failure
}

@test "a patch model's metadata: patch and normalize, no input size; a whole-image model keeps its size" {
	mixed
	unet-train "${P[@]}" --epochs 1 --patch 16 -o "$TMP/p.st" "$TMP/mixed.pam"
	assert_equal "$(meta "$TMP/p.st" patch)" 16
	assert_equal "$(meta "$TMP/p.st" normalize)" maxval
	run has_key "$TMP/p.st" input_width
	assert_failure
	run has_key "$TMP/p.st" input_height
	assert_failure
	# Several sizes without --patch: the default, 128 cut to the median
	# shorter side of the training samples (32), the 16x16 ones padded.
	unet-train "${P[@]}" --epochs 1 -o "$TMP/d.st" "$TMP/mixed.pam"
	assert_equal "$(meta "$TMP/d.st" patch)" 32
	# One size: whole images, as always.
	unet-train "${P[@]}" --epochs 1 --normalize percentile -o "$TMP/w.st" "$S32"
	assert_equal "$(meta "$TMP/w.st" input_width)" 32
	assert_equal "$(meta "$TMP/w.st" input_height)" 32
	assert_equal "$(meta "$TMP/w.st" normalize)" percentile:1:99.8
	run has_key "$TMP/w.st" patch
	assert_failure
	# The checkpoint's fingerprint has them all.
	assert_equal "$(meta "$TMP/p.st.ckpt" patch)" 16
	assert_equal "$(meta "$TMP/w.st.ckpt" patch)" none
	assert_equal "$(meta "$TMP/w.st.ckpt" steps_per_epoch)" pass
	assert_equal "$(meta "$TMP/w.st.ckpt" normalize)" percentile:1:99.8
}

@test "the default batch: 16 whole samples, or the pixels of 16 patches of 128x128" {
	mixed
	local Q=(--base-filters 2 --depth 3 --quiet --epochs 1)
	# 16 x 128^2 / 64^2 = 64 patches of 64, 16 x 128^2 / 96^2 = 28.4: 28
	unet-train "${Q[@]}" --patch 64 -o "$TMP/a.st" "$TMP/mixed.pam"
	assert_equal "$(meta "$TMP/a.st" batch)" 64
	assert_equal "$(meta "$TMP/a.st.ckpt" batch)" 64
	unet-train "${Q[@]}" --patch 96 -o "$TMP/b.st" "$TMP/mixed.pam"
	assert_equal "$(meta "$TMP/b.st" batch)" 28
	unet-train "${Q[@]}" --patch 64 --batch 3 -o "$TMP/c.st" "$TMP/mixed.pam"
	assert_equal "$(meta "$TMP/c.st" batch)" 3
	unet-train "${Q[@]}" -o "$TMP/d.st" "$S32"
	assert_equal "$(meta "$TMP/d.st" batch)" 16
}

@test "a patch run resumed after an interruption equals the uninterrupted run; other patches refused" {
	mixed
	# 10 steps of 4 from 27 samples: two shuffles an epoch, some samples
	# drawn twice.
	args=("${P[@]}" --threads 2 --patch 16 --steps-per-epoch 10 --augment flip,crop
	      --log "$TMP/log")
	unet-train "${args[@]}" --epochs 3 -o "$TMP/a.st" "$TMP/mixed.pam"
	cp "$TMP/log" "$TMP/a.log"
	unet-train "${args[@]}" --epochs 1 -o "$TMP/r.st" "$TMP/mixed.pam"
	unet-train "${args[@]}" --epochs 3 --resume -o "$TMP/r.st" "$TMP/mixed.pam"
	cmp "$TMP/a.st" "$TMP/r.st"
	cmp "$TMP/a.st.ckpt" "$TMP/r.st.ckpt"
	"$REFPY" -c '
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
drop = ("seconds", "images_per_second")
assert [{k: v for k, v in x.items() if k not in drop} for x in a] == \
       [{k: v for k, v in x.items() if k not in drop} for x in b]
' "$TMP/a.log" "$TMP/log"
	cp "$TMP/r.st.ckpt" "$TMP/saved.ckpt"
	for other in "--patch 8" "--steps-per-epoch 9" "--normalize percentile"; do
		run unet-train "${P[@]}" --threads 2 --patch 16 --steps-per-epoch 10 \
			--augment flip,crop $other --epochs 4 --resume \
			-o "$TMP/r.st" "$TMP/mixed.pam"
		assert_failure 1
		assert_one_error_line unet-train
		assert_output --regexp "cannot resume: (patch|steps_per_epoch|normalize) differs"
		cmp "$TMP/r.st.ckpt" "$TMP/saved.ckpt"
	done
}

@test "validation of whole native images: tiled under a tiny --memory, the same loss (Dice term included) and Dice" {
	ingest-resize "$DATA"/stage1_train/{0a7d30b252359a10fd298b638b90cb9ada3acced4e0c0e5a3692013f432ee4e9,55f98f43c152aa0dc8bea513f8ba558cc57494b81ae4ee816977816e79629c50,3ca8181367fc1258a418f7bf5044533c83e02a59c1a96def043295c429c297a8} \
		>"$TMP/train.pam"
	# 1024x1024 (its maps take tens of MiB) and 256x256.
	ingest-resize "$DATA"/stage1_train/{091944f1d2611c916b98c020bd066667e33f4639159b2a92407fe5a40788856d,13c8ff1f49886e91c98ce795c93648ad8634c782ff57eb928ce29496b0425057} \
		>"$TMP/val.pam"
	# With the Dice term, whose sums are over each whole image.
	for m in 1 4096; do
		tm=()
		[[ ! -x /usr/bin/time ]] || tm=(/usr/bin/time -f %M -o "$TMP/$m.rss")
		"${tm[@]}" unet-train "${P[@]}" --threads 2 --epochs 2 --patch 64 --memory $m \
			--loss bce+dice \
			--val "$TMP/val.pam" --log "$TMP/$m.log" -o "$TMP/$m.st" \
			"$TMP/train.pam"
	done
	near "$TMP/1.log" "$TMP/4096.log"
	cmp "$TMP/1.st" "$TMP/4096.st"
	# Tiles were used: the peak memory fell by more than the tens of MiB
	# of the 1024x1024 image's maps.
	[[ ! -x /usr/bin/time ]] ||
		(( $(<"$TMP/4096.rss") - $(<"$TMP/1.rss") > 40000 ))
}

@test "--steps-per-epoch: the steps of an epoch, from successive shuffles" {
	unet-train "${TINY[@]}" --epochs 2 --steps-per-epoch 3 -o "$TMP/s.st" "$S32"
	assert_equal "$(meta "$TMP/s.st.ckpt" adam_step)" 6
	assert_equal "$(meta "$TMP/s.st" steps_per_epoch)" 3
	assert_equal "$(meta "$TMP/s.st.ckpt" steps_per_epoch)" 3
	# The default: one pass, 22 training samples in 6 steps of 4.
	unet-train "${TINY[@]}" --epochs 2 -o "$TMP/d.st" "$S32"
	assert_equal "$(meta "$TMP/d.st.ckpt" adam_step)" 12
	run has_key "$TMP/d.st" steps_per_epoch
	assert_failure
	# More steps than a pass: samples drawn again.
	unet-train "${TINY[@]}" --epochs 1 --steps-per-epoch 20 -o "$TMP/m.st" "$S32"
	assert_equal "$(meta "$TMP/m.st.ckpt" adam_step)" 20
	command -v script >/dev/null || skip "no script(1)"
	run script -qefc "unet-train --base-filters 2 --depth 3 --batch 4 \
		--steps-per-epoch 3 --epochs 1 -o $TMP/t.st $S32" /dev/null
	assert_success
	assert_output --regexp $'\repoch 1/1 step 3/3 loss '
}

@test "--sample-by area: recorded in the model and the fingerprint, image by default; an epoch as long; bad values" {
	mixed
	local n32 n16 v
	n32=$(grep -c -a '^ENDHDR$' "$S32")
	n16=$(grep -c -a '^ENDHDR$' "$S16")
	Q=("${P[@]}" --val-split 0 --epochs 1 --patch 16)
	unet-train "${Q[@]}" --sample-by area -o "$TMP/a.st" "$TMP/mixed.pam"
	assert_equal "$(meta "$TMP/a.st.ckpt" adam_step)" $(((n32 + n16 + 3) / 4))
	assert_equal "$(meta "$TMP/a.st" sample_by)" area
	assert_equal "$(meta "$TMP/a.st.ckpt" sample_by)" area
	unet-train "${Q[@]}" --sample-by area -o "$TMP/b.st" <"$TMP/mixed.pam"
	cmp "$TMP/a.st" "$TMP/b.st"
	# image, the default: other draws.
	unet-train "${Q[@]}" -o "$TMP/i.st" "$TMP/mixed.pam"
	assert_equal "$(meta "$TMP/i.st.ckpt" sample_by)" image
	run has_key "$TMP/i.st" sample_by
	assert_failure
	unet-train "${Q[@]}" --sample-by image -o "$TMP/j.st" "$TMP/mixed.pam"
	cmp "$TMP/i.st" "$TMP/j.st"
	"$REFPY" -c "$st_py
a, b = load(sys.argv[1])[0], load(sys.argv[2])[0]
assert any((a[k] != b[k]).any() for k in a), 'the same weights'" "$TMP/a.st" "$TMP/i.st"
	# The draws are the fingerprint's: another --sample-by cannot resume.
	cp "$TMP/a.st.ckpt" "$TMP/saved.ckpt"
	run unet-train "${Q[@]}" --sample-by image --epochs 2 --resume \
		-o "$TMP/a.st" "$TMP/mixed.pam"
	assert_failure 1
	assert_output "unet-train: $TMP/a.st.ckpt: cannot resume: sample_by differs from the interrupted run's (same data and options needed)"
	cmp "$TMP/a.st.ckpt" "$TMP/saved.ckpt"
	for v in "" bogus Area "area,image"; do
		run unet-train --sample-by "$v" -o "$TMP/m.st" "$TMP/mixed.pam"
		assert_failure 2
		assert_line --index 0 "unet-train: --sample-by: image or area, not '$v'"
	done
}

# to16 FACTOR: S16's samples as 16-bit values times FACTOR (the mask at
# 65535), standard output.
to16() {
	"$REFPY" -c '
import sys
import numpy as np
data = open(sys.argv[1], "rb").read()
f = int(sys.argv[2])
out, pos = b"", 0
while pos < len(data):
    end = data.index(b"ENDHDR\n", pos) + 7
    head = data[pos:end].decode().replace("MAXVAL 255", "MAXVAL 65535")
    n = 16 * 16 * 4
    v = np.frombuffer(data[end:end + n], np.uint8).astype(">u2").reshape(-1, 4)
    v[:, :3] *= f
    v[:, 3] = np.where(v[:, 3] > 127, 65535, 0)
    out += head.encode() + v.tobytes()
    pos = end + n
sys.stdout.buffer.write(out)
' "$S16" "$1"
}

@test "--normalize percentile: 8-bit samples and a 10-bit copy in 16 bits train alike; maxval does not" {
	to16 4 >"$TMP/s10.pam"
	args=("${TINY[@]}" --depth 2 --epochs 2 --val-split 0)
	for n in percentile maxval; do
		unet-train "${args[@]}" --normalize $n --log "$TMP/8$n.log" \
			-o "$TMP/8$n.st" "$S16"
		unet-train "${args[@]}" --normalize $n --log "$TMP/10$n.log" \
			-o "$TMP/10$n.st" "$TMP/s10.pam"
	done
	"$REFPY" -c '
import json, sys
a, b, c, d = ([json.loads(l)["train_loss"] for l in open(p)] for p in sys.argv[1:])
assert all(abs(x - y) < 1e-5 for x, y in zip(a, b)), (a, b)
assert all(abs(x - y) > 1e-3 for x, y in zip(c, d)), (c, d)
' "$TMP/8percentile.log" "$TMP/10percentile.log" "$TMP/8maxval.log" "$TMP/10maxval.log"
	assert_equal "$(meta "$TMP/10percentile.st" normalize)" percentile:1:99.8
	unet-train "${args[@]}" --normalize percentile:2:98 -o "$TMP/b.st" "$S16"
	assert_equal "$(meta "$TMP/b.st" normalize)" percentile:2:98
}

@test "--init keeps the model's normalisation unless --normalize; --resume the checkpoint's" {
	args=("${TINY[@]}" --depth 2 --epochs 1)
	unet-train "${args[@]}" --normalize percentile -o "$TMP/p.st" "$S16"
	unet-train "${args[@]}" --init "$TMP/p.st" -o "$TMP/i.st" "$S16"
	assert_equal "$(meta "$TMP/i.st" normalize)" percentile:1:99.8
	unet-train "${args[@]}" --init "$TMP/p.st" --normalize maxval -o "$TMP/j.st" "$S16"
	assert_equal "$(meta "$TMP/j.st" normalize)" maxval
	# Resumed without --normalize: the checkpoint's, the same bytes.
	unet-train "${TINY[@]}" --depth 2 --epochs 2 --normalize percentile -o "$TMP/a.st" "$S16"
	unet-train "${TINY[@]}" --depth 2 --epochs 2 --resume -o "$TMP/p.st" "$S16"
	cmp "$TMP/a.st" "$TMP/p.st"
}

@test "patch training, bad input: a sample smaller than the network, a patch not a multiple, bad values" {
	mixed
	run unet-train "${P[@]}" --depth 6 --patch 32 -o "$TMP/m.st" "$TMP/mixed.pam"
	assert_failure 1
	assert_output "unet-train: $TMP/mixed.pam: image 25: size 16x16 is smaller than the network's 32x32 minimum"
	run unet-train "${P[@]}" --depth 6 --patch 32 --val "$S16" -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_output "unet-train: $S16: image 1: size 16x16 is smaller than the network's 32x32 minimum"
	run unet-train "${P[@]}" --patch 18 -o "$TMP/m.st" "$TMP/mixed.pam"
	assert_failure 2
	assert_line --index 0 "unet-train: --patch 18: not a multiple of 4 (the network's 2^(depth-1))"
	# The network of --init decides the multiple.
	unet-train "${P[@]}" --epochs 1 -o "$TMP/d3.st" "$S32"
	run unet-train "${P[@]}" --depth 5 --init "$TMP/d3.st" --patch 12 -o "$TMP/ok.st" "$TMP/mixed.pam"
	assert_success
	run unet-train "${P[@]}" --init "$TMP/d3.st" --patch 10 -o "$TMP/m.st" "$TMP/mixed.pam"
	assert_failure 2
	assert_line --index 0 "unet-train: --patch 10: not a multiple of 4 (the network's 2^(depth-1))"
	for args in "--patch 0" "--patch x" "--patch 16x16" "--patch -16" \
		"--steps-per-epoch 0" "--steps-per-epoch x" "--steps-per-epoch 1.5" \
		"--normalize bogus" "--normalize percentile:50:10" "--normalize=" \
		"--memory 0" "--memory x"; do
		run unet-train $args -o "$TMP/m.st" "$TMP/mixed.pam"
		assert_failure 2
		assert_line --index 0 --regexp "^unet-train: --(patch|steps-per-epoch|normalize|memory)"
		assert_line --partial "Try 'unet-train --help'"
	done
	# Validation samples of another size need patch training.
	run unet-train "${P[@]}" --val "$TMP/mixed.pam" -o "$TMP/m.st" "$S32"
	assert_failure 1
	assert_output "unet-train: $TMP/mixed.pam: image 25: size 16x16, the training samples are 32x32 (or train on patches with --patch)"
	[[ ! -e $TMP/m.st ]]
}

# ---------------------------------------------------------------- Dice

@test "one step with --loss bce+dice equals the reference's step (weights and loss)" {
	"$REFPY" "$REFERENCE" init --in-channels 3 --base 4 --depth 3 --seed 0 \
		"$TMP/init.safetensors"
	ref_loss=$("$REFPY" "$REFERENCE" step --loss bce+dice \
		"$TMP/init.safetensors" "$TMP/ref.safetensors" <"$S16")
	run unet-train --init "$TMP/init.safetensors" --epochs 1 --batch 6 \
		--loss bce+dice --val-split 0 --threads 2 --quiet --log "$TMP/log" \
		-o "$TMP/out.safetensors" <"$S16"
	assert_success
	assert_output ""
	the_same_step "$TMP/out.safetensors" "$TMP/ref.safetensors" \
		"$TMP/init.safetensors" 0.001
	# The Dice term is there: the loss is above the BCE alone's.
	bce=$("$REFPY" "$REFERENCE" loss "$TMP/init.safetensors" <"$S16")
	"$REFPY" -c '
import json, sys
loss = json.loads(open(sys.argv[1]).read())["train_loss"]
ref, bce = float(sys.argv[2]), float(sys.argv[3])
assert abs(loss - ref) < 1e-6 * ref, (loss, ref)
assert ref > bce + 0.1, (ref, bce)
' "$TMP/log" "$ref_loss" "$bce"
}

@test "one step with --loss wbce+dice, two outputs and --border-weight equals the reference's step" {
	to_labels <"$G16" >"$TMP/l16.pam"
	"$REFPY" "$REFERENCE" init --in-channels 1 --base 2 --depth 2 --seed 3 \
		--outputs foreground,distance "$TMP/init.safetensors"
	ref_loss=$("$REFPY" "$REFERENCE" step --lr 0.01 --loss bce+dice \
		--border-weight 10 --border-sigma 2 --pos-weight 3 \
		"$TMP/init.safetensors" "$TMP/ref.safetensors" <"$TMP/l16.pam")
	run unet-train --init "$TMP/init.safetensors" --epochs 1 --batch 8 \
		--lr 0.01 --outputs foreground,distance --border-weight 10 \
		--border-sigma 2 --loss wbce+dice --pos-weight 3 --val-split 0 \
		--quiet --log "$TMP/log" -o "$TMP/out.safetensors" "$TMP/l16.pam"
	assert_success
	the_same_step "$TMP/out.safetensors" "$TMP/ref.safetensors" \
		"$TMP/init.safetensors" 0.01
	the_same_loss "$TMP/log" "$ref_loss"
	assert_equal "$(meta "$TMP/out.safetensors" loss)" wbce+dice
	assert_equal "$(meta "$TMP/out.safetensors" pos_weight)" 3
}

@test "--loss bce+dice: val_loss of whole samples and of patch training's native validation agree with the reference" {
	take 4 "$S32" >"$TMP/val.pam"
	# whole samples (validate through the training work) and patches
	# (whole images through the inference engine)
	unet-train "${TINY[@]}" --epochs 2 --loss bce+dice --val "$TMP/val.pam" \
		-o "$TMP/w.st" "$S32"
	unet-train "${TINY[@]}" --epochs 2 --loss bce+dice --patch 16 \
		--val "$TMP/val.pam" -o "$TMP/p.st" "$S32"
	for m in w p; do
		ref=$("$REFPY" "$REFERENCE" loss --loss bce+dice "$TMP/$m.st" \
			<"$TMP/val.pam")
		bce=$("$REFPY" "$REFERENCE" loss "$TMP/$m.st" <"$TMP/val.pam")
		ours=$(meta "$TMP/$m.st" val_loss)
		"$REFPY" -c 'import sys; a, b, c = map(float, sys.argv[1:])
assert abs(a - b) < 1e-5 * b, (a, b)
assert a > c + 0.1, (a, c)' "$ref" "$ours" "$bce"
	done
}

@test "--loss bce+dice: recorded in the model and the checkpoint; --resume refuses another loss" {
	unet-train "${TINY[@]}" --epochs 1 --loss bce+dice -o "$TMP/m.st" "$S32"
	assert_equal "$(meta "$TMP/m.st" loss)" bce+dice
	assert_equal "$(meta "$TMP/m.st.ckpt" loss)" bce+dice
	run has_key "$TMP/m.st" pos_weight
	assert_failure
	cp "$TMP/m.st" "$TMP/saved.st"
	cp "$TMP/m.st.ckpt" "$TMP/saved.ckpt"
	for loss in bce wbce wbce+dice; do
		run unet-train "${TINY[@]}" --epochs 2 --resume --loss $loss \
			-o "$TMP/m.st" "$S32"
		assert_failure 1
		assert_one_error_line unet-train
		assert_output --partial "cannot resume: loss differs"
		cmp "$TMP/m.st" "$TMP/saved.st"
		cmp "$TMP/m.st.ckpt" "$TMP/saved.ckpt"
	done
	run unet-train "${TINY[@]}" --epochs 2 --resume --loss bce+dice \
		-o "$TMP/m.st" "$S32"
	assert_success
	# A bce run's checkpoint refuses bce+dice.
	unet-train "${TINY[@]}" --epochs 1 -o "$TMP/b.st" "$S32"
	run unet-train "${TINY[@]}" --epochs 2 --resume --loss bce+dice \
		-o "$TMP/b.st" "$S32"
	assert_failure 1
	assert_output --partial "cannot resume: loss differs"
}

@test "--loss: dice alone, unknown names and --pos-weight without wbce: one line, exit 2" {
	for loss in dice dice+bce bce+dice+dice BCE "bce+" "" "bce dice"; do
		run unet-train --loss "$loss" -o "$TMP/m.st" "$S32"
		assert_failure 2
		assert_line --index 0 "unet-train: --loss: '$loss' is not bce, wbce, bce+dice or wbce+dice"
		assert_line --index 1 --partial "Try 'unet-train --help'"
		assert_equal "${#lines[@]}" 2
	done
	run unet-train --loss bce+dice --pos-weight 2 -o "$TMP/m.st" "$S32"
	assert_failure 2
	assert_line --index 0 "unet-train: --pos-weight needs --loss wbce or wbce+dice"
	run ls -A "$TMP"
	assert_output ""
}
