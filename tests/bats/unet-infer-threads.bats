#!/usr/bin/env bats
# unet-infer on tiny inputs under many threads: maps of a few pixels, whose
# deepest level has fewer rows than there are threads, give the bytes of
# one thread. (unet-infer once lowered its thread count for such inputs,
# for a limitation of the layers since fixed.) Needs no reference model:
# the model is trained here.
load helpers

setup_file() {
	export MODEL=$BATS_FILE_TMPDIR/m.safetensors
	# the default F16/D5: 16x16 cells, the deepest level 1x1 per cell
	unet-train -q --threads 1 --epochs 1 --batch 8 --val-split 0 \
		-o "$MODEL" "$FIXTURES/train-32.pam"
}

# tiny OUT: 1x1, 5x3, 16x16 and 17x9 crops of the 128x128 fixture.
tiny() {
	local s
	for s in 1x1 5x3 16x16 17x9; do
		pamcut -left 40 -top 50 -width "${s%x*}" -height "${s#*x}" \
			"$FIXTURES/infer-128.pam"
	done >"$1"
}

@test "tiny images under 16 and 64 threads: the bytes of one thread" {
	tiny "$TMP/tiny.pam"
	unet-infer --quiet --threads 1 "$MODEL" "$TMP/tiny.pam" >"$TMP/t1.pam"
	run bash -c 'pamfile -allimages "$1" | grep -o "[0-9]* by [0-9]* by 1 maxval 65535"' \
		sh "$TMP/t1.pam"
	assert_output "1 by 1 by 1 maxval 65535
5 by 3 by 1 maxval 65535
16 by 16 by 1 maxval 65535
17 by 9 by 1 maxval 65535"
	for t in 16 64; do
		for b in 1 4; do
			unet-infer --quiet --threads "$t" --batch "$b" "$MODEL" \
				"$TMP/tiny.pam" >"$TMP/t$t-b$b.pam"
			cmp "$TMP/t1.pam" "$TMP/t$t-b$b.pam"
		done
	done
}

@test "a tiny image and a large one in one run of 16 threads: as each alone gives them" {
	# Results are deterministic for a given thread count: on the plain
	# path (GEMM) the large image's last bits may differ from one thread's.
	tiny "$TMP/tiny.pam"
	cat "$TMP/tiny.pam" "$FIXTURES/infer-128.pam" "$TMP/tiny.pam" >"$TMP/in.pam"
	unet-infer --quiet --threads 1 "$MODEL" "$TMP/tiny.pam" >"$TMP/tiny1.pam"
	unet-infer --quiet --threads 16 "$MODEL" "$FIXTURES/infer-128.pam" >"$TMP/big16.pam"
	cat "$TMP/tiny1.pam" "$TMP/big16.pam" "$TMP/tiny1.pam" >"$TMP/want.pam"
	unet-infer --quiet --threads 16 "$MODEL" "$TMP/in.pam" >"$TMP/t16.pam"
	cmp "$TMP/want.pam" "$TMP/t16.pam"
	run bash -c 'pamfile -allimages "$1" | grep -c "Image [0-8]:"' sh "$TMP/t16.pam"
	assert_output 9
}
