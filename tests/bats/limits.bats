#!/usr/bin/env bats
# Memory limits: unet-infer and unet-train under `ulimit -v`. Where the
# limit is enough they succeed; where it is not they end at once with one
# line "prog: out of memory (N bytes for WHAT)" (or a thread that cannot
# start, said in one line) and status 1. OpenBLAS's sgemm retries a failed
# mapping of its 128 MiB work buffer for ever at 100 % CPU, so every run
# here is under `timeout`: a regression fails in 20 s instead of hanging.
#
# Skipped in the sanitized build (UNETPIPE_SANITIZED): AddressSanitizer
# reserves terabytes of address space at start, so no program of that
# build runs under `ulimit -v` at all.
load helpers

setup_file() {
	[[ -z ${UNETPIPE_SANITIZED:-} ]] || return 0
	export MODEL=$BATS_FILE_TMPDIR/m.safetensors
	unet-train -q --threads 1 --epochs 1 --base-filters 4 --depth 3 \
		--val-split 0 -o "$MODEL" "$FIXTURES/train-32.pam"
}

setup() {
	[[ -z ${UNETPIPE_SANITIZED:-} ]] ||
		skip "ASan's shadow memory cannot run under ulimit -v"
	TMP="$BATS_TEST_TMPDIR"
}

# limited KIB PROG ARGS...: run PROG under `ulimit -v KIB` (and, when
# STACK_KIB is set, `ulimit -s STACK_KIB`), killed after 20 s (SIGKILL 2 s
# later: unet-train takes a first SIGTERM as a request to stop between
# batches); $ms is its run time in milliseconds.
limited() {
	local kib=$1 start
	shift
	start=$(date +%s%N)
	run timeout -k 2 20 bash -c '
		ulimit -v "$1" || exit 99
		[[ -z ${STACK_KIB:-} ]] || ulimit -s "$STACK_KIB" || exit 99
		shift
		exec "$@"' limited "$kib" "$@"
	ms=$((($(date +%s%N) - start) / 1000000))
}

infer() { # KIB THREADS
	limited "$1" unet-infer --threads "$2" "$MODEL" "$FIXTURES/infer-rgb.pam"
}

train() { # KIB THREADS
	limited "$1" unet-train -q --threads "$2" --epochs 1 --base-filters 4 \
		--depth 3 --val-split 0 -o "$TMP/out.safetensors" \
		"$FIXTURES/train-32.pam"
}

# The run failed at once with the one line "PROG: out of memory (N bytes
# for WHAT)", WHAT matching the regular expression $2.
assert_oom() {
	assert_equal "$status" 1
	assert_equal "${#lines[@]}" 1
	assert_regex "${lines[0]}" "^$1: out of memory \\([0-9]+ bytes for $2\\)\$"
	((ms < 10000))
}

buffer() { # K N: OpenBLAS's work buffer K of N
	echo "OpenBLAS's work buffer $1 of $2, one per thread"
}

@test "unet-infer under ulimit -v 80/120/50 MB: out of memory for OpenBLAS's buffer, at once" {
	for mb in 80 120 50; do
		infer $((mb * 1024)) 1
		assert_oom unet-infer "$(buffer 1 1)"
	done
}

@test "unet-train under ulimit -v 80/120/50 MB: out of memory for OpenBLAS's buffer, at once, no model" {
	for mb in 80 120 50; do
		train $((mb * 1024)) 1
		assert_oom unet-train "$(buffer 1 1)"
		[[ ! -e $TMP/out.safetensors ]]
	done
	run ls -A "$TMP"
	assert_output ""
}

@test "two threads under ulimit -v 220 MB: the second buffer is out of memory" {
	infer $((220 * 1024)) 2
	assert_oom unet-infer "$(buffer 2 2)"
	train $((220 * 1024)) 2
	assert_oom unet-train "$(buffer 2 2)"
}

@test "one thread under ulimit -v 250 MB: unet-infer and unet-train succeed" {
	unet-infer --threads 1 "$MODEL" "$FIXTURES/infer-rgb.pam" >"$TMP/free.pam"
	limited $((250 * 1024)) bash -c 'unet-infer --threads 1 "$1" "$2" >"$3"' \
		infer "$MODEL" "$FIXTURES/infer-rgb.pam" "$TMP/limited.pam"
	assert_success
	assert_output ""
	cmp "$TMP/limited.pam" "$TMP/free.pam"
	train $((250 * 1024)) 1
	assert_success
	assert_output ""
	unet-infer --quiet --threads 1 "$TMP/out.safetensors" \
		"$FIXTURES/infer-rgb.pam" >"$TMP/maps.pam"
	pamfile "$TMP/maps.pam"
}

@test "a thread that cannot start (stacks of 1 GB under ulimit -v 600 MB): one line, status 1" {
	export STACK_KIB=1000000
	infer 600000 2
	assert_equal "$status" 1
	assert_equal "${#lines[@]}" 1
	assert_equal "${lines[0]}" "unet-infer: cannot start thread 2 of 2: Resource temporarily unavailable"
	train 600000 2
	assert_equal "$status" 1
	assert_equal "${#lines[@]}" 1
	assert_equal "${lines[0]}" "unet-train: cannot start thread 2 of 2: Resource temporarily unavailable"
	[[ ! -e $TMP/out.safetensors ]]
}

@test "unet-infer's feature maps beyond ulimit -v 400 MB: out of memory names them" {
	local big=$TMP/big.pam
	unet-train -q --threads 1 --epochs 1 --base-filters 32 --depth 4 \
		--val-split 0 -o "$TMP/wide.safetensors" "$FIXTURES/train-32.pam"
	{
		printf 'P7\nWIDTH 1024\nHEIGHT 1024\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n'
		head -c $((1024 * 1024 * 3)) /dev/zero
	} >"$big"
	limited 400000 unet-infer --threads 1 "$TMP/wide.safetensors" "$big"
	assert_oom unet-infer \
		'the level-[0-9] feature maps of [0-9]+ image\(s\) of [0-9]+x[0-9]+'
}

@test "unet-train on a stream of samples beyond ulimit -v 300 MB: out of memory names the image" {
	{
		printf 'P7\nWIDTH 1024\nHEIGHT 1024\nDEPTH 2\nMAXVAL 255\nTUPLTYPE GRAYSCALE_MASK\nENDHDR\n'
		head -c $((1024 * 1024 * 2)) /dev/zero
	} >"$TMP/big.pam"
	run timeout -k 2 60 bash -c '
		ulimit -v 300000
		while cat "$1" 2>/dev/null; do :; done |
			unet-train -q --threads 1 --base-filters 1 --depth 2 \
				-o "$2"
		exit "${PIPESTATUS[1]}"' limited "$TMP/big.pam" "$TMP/m.safetensors"
	ms=0
	assert_oom unet-train '(the mask of )?image [0-9]+ of stdin'
	[[ ! -e $TMP/m.safetensors ]]
}
