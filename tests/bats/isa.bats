#!/usr/bin/env bats
# The instruction-set paths of the network (UNETPIPE_ISA, see isa.h): every
# path this CPU runs trains and infers alike, and a path that is unknown or
# that the CPU lacks ends in one error line, every file left as it was.

load helpers
bats_require_minimum_version 1.5.0

S16="$FIXTURES/train-16.pam" # 6 RGB_MASK samples, 16x16
RGB="$FIXTURES/infer-rgb.pam"
TRAIN=(--quiet --val-split 0 --epochs 1 --batch 6 --threads 2 --depth 3)

# The paths this CPU runs, best first (the default).
paths() {
	"$ROOT/${UNETPIPE_BUILD:-build}/tests/test_isa" --paths
}

# max_diff A B: the largest difference of the tensors of two models.
max_diff() {
	"$REFPY" -c '
import json, struct, sys
import numpy as np
def load(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    head = json.loads(data[8:8 + n])
    head.pop("__metadata__", None)
    return {k: np.frombuffer(data[8 + n + e["data_offsets"][0]:8 + n + e["data_offsets"][1]], "<f4")
            for k, e in head.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
assert sorted(a) == sorted(b)
print(max(float(np.abs(a[k] - b[k]).max()) for k in a))
' "$1" "$2"
}

# maps_diff A B: the largest difference of two streams of 16-bit maps.
maps_diff() {
	"$REFPY" -c '
import sys
import numpy as np
def maps(path):
    d, out, pos = open(path, "rb").read(), [], 0
    while pos < len(d):
        end = d.index(b"ENDHDR\n", pos) + 7
        f = dict(l.split(" ", 1) for l in d[pos:end].decode().split("\n") if " " in l)
        n = int(f["WIDTH"]) * int(f["HEIGHT"])
        out.append(np.frombuffer(d[end:end + 2 * n], ">u2").astype(int))
        pos = end + 2 * n
    return out
a, b = maps(sys.argv[1]), maps(sys.argv[2])
assert len(a) == len(b) == 4
print(max(int(abs(x - y).max()) for x, y in zip(a, b)))
' "$1" "$2"
}

needs_numpy() {
	"$REFPY" -c 'import numpy' 2>/dev/null || skip "$REFPY has no numpy"
}

@test "test_isa --paths lists plain last, the best first" {
	run paths
	assert_success
	assert_equal "${lines[-1]}" plain
	assert_regex "$output" '^(avx512
)?(avx2
)?plain$'
}

# Their kernels give the same bits but for the 3x3 forward, whose
# AVX-512 kernel sums in another order (test_isa).
@test "avx512 and avx2 train the same step within 0.1 % of the learning rate where both compute directly (8 and 16 channels)" {
	needs_numpy
	paths | grep -qx avx2 && paths | grep -qx avx512 || skip "this CPU lacks AVX-512 or AVX2"
	for p in avx512 avx2; do
		UNETPIPE_ISA=$p unet-train "${TRAIN[@]}" --depth 2 --base-filters 8 \
			-o "$TMP/$p.safetensors" "$S16"
	done
	d=$(max_diff "$TMP/avx512.safetensors" "$TMP/avx2.safetensors")
	echo "avx512 against avx2: $d"
	"$REFPY" -c "import sys; sys.exit(not float('$d') < 1e-6)"
}

# Base 16: the first convolution and those of the 4x4 maps direct, the
# others by Winograd F(4x4), whose transforms round more than a direct
# sum (test_winograd), against the plain path's GEMMs; Adam's first step
# (lr 1e-3) magnifies the rounding of the smallest gradients. Measured:
# 0.10 % of the rate from avx512 to avx2, 0.12 % to plain, 0.17 % from
# avx2 to plain.
@test "every path trains the same step within 0.5 % of the learning rate (base 16: Winograd and direct kernels against the plain GEMMs)" {
	needs_numpy
	for p in $(paths); do
		UNETPIPE_ISA=$p unet-train "${TRAIN[@]}" --base-filters 16 \
			-o "$TMP/$p.safetensors" "$S16"
	done
	best=$(paths | head -1)
	for p in $(paths); do
		d=$(max_diff "$TMP/$best.safetensors" "$TMP/$p.safetensors")
		echo "$best against $p: $d"
		"$REFPY" -c "import sys; sys.exit(not float('$d') < 5e-6)"
	done
	# the paths differ (GEMM against direct): the test compares something
	[[ $(paths | wc -l) == 1 ]] || ! cmp -s "$TMP/$best.safetensors" "$TMP/plain.safetensors"
}

@test "every path infers the same probabilities within 1/65535" {
	needs_numpy
	unet-train "${TRAIN[@]}" --base-filters 16 -o "$TMP/m.safetensors" "$S16"
	for p in $(paths); do
		UNETPIPE_ISA=$p unet-infer --threads 2 "$TMP/m.safetensors" "$RGB" >"$TMP/$p.pam"
	done
	best=$(paths | head -1)
	for p in $(paths); do
		run maps_diff "$TMP/$best.pam" "$TMP/$p.pam"
		assert_success
		(( output <= 1 ))
	done
}

@test "an empty UNETPIPE_ISA is the default, the best path" {
	UNETPIPE_ISA= unet-train "${TRAIN[@]}" --base-filters 8 -o "$TMP/empty.safetensors" "$S16"
	UNETPIPE_ISA=$(paths | head -1) unet-train "${TRAIN[@]}" --base-filters 8 \
		-o "$TMP/best.safetensors" "$S16"
	(unset UNETPIPE_ISA; unet-train "${TRAIN[@]}" --base-filters 8 \
		-o "$TMP/unset.safetensors" "$S16")
	cmp "$TMP/empty.safetensors" "$TMP/best.safetensors"
	cmp "$TMP/unset.safetensors" "$TMP/best.safetensors"
}

@test "an unknown UNETPIPE_ISA: one error line, status 1, the model as it was and no temporary left" {
	printf 'an old model\n' >"$TMP/model.safetensors"
	cp "$TMP/model.safetensors" "$TMP/saved"
	UNETPIPE_ISA=avx3 run unet-train "${TRAIN[@]}" --base-filters 8 \
		-o "$TMP/model.safetensors" "$S16"
	assert_failure 1
	assert_one_error_line unet-train
	assert_equal "$output" "unet-train: UNETPIPE_ISA=avx3: unknown (avx512, avx2 or plain)"
	cmp "$TMP/model.safetensors" "$TMP/saved"
	assert_equal "$(ls "$TMP")" "$(printf 'model.safetensors\nsaved')"
}

@test "an unknown UNETPIPE_ISA in unet-infer: one error line, no map written" {
	unet-train "${TRAIN[@]}" --base-filters 8 -o "$TMP/m.safetensors" "$S16"
	UNETPIPE_ISA=AVX2 run --separate-stderr unet-infer "$TMP/m.safetensors" "$RGB"
	assert_failure 1
	assert_equal "$output" ""
	assert_equal "$stderr" "unet-infer: UNETPIPE_ISA=AVX2: unknown (avx512, avx2 or plain)"
}

@test "a path this CPU lacks: one error line naming the best it runs" {
	lacks=
	for p in avx512 avx2; do
		paths | grep -qx $p || { lacks=$p; break; }
	done
	[[ -n $lacks ]] || skip "this CPU runs every path"
	UNETPIPE_ISA=$lacks run unet-train "${TRAIN[@]}" --base-filters 8 \
		-o "$TMP/m.safetensors" "$S16"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output "unet-train: UNETPIPE_ISA=$lacks: this CPU or build cannot run it (the best it runs is $(paths | head -1))"
	[[ ! -e $TMP/m.safetensors ]]
}

@test "--version names the kernels of the path in use, forced or not" {
	best=$(paths | head -1)
	for prog in unet-train unet-infer; do
		# unet-train also names its MPI (mpi.bats).
		UNETPIPE_ISA= run "$prog" --version
		assert_success
		assert_output --regexp "^$prog unetpipe 0\.1\.0 \(kernels: $best(; MPI: [^)]*)?\)\$"
		for p in $(paths); do
			UNETPIPE_ISA=$p run "$prog" --version
			assert_success
			assert_output --regexp "^$prog unetpipe 0\.1\.0 \(kernels: $p(; MPI: [^)]*)?\)\$"
		done
		UNETPIPE_ISA=sse9 run "$prog" --version
		assert_failure 1
		assert_one_error_line "$prog"
		assert_output --partial "UNETPIPE_ISA=sse9: unknown"
	done
}
