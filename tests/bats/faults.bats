#!/usr/bin/env bats
# Faults during training: unet-train killed by SIGINT, SIGTERM or SIGKILL
# at random moments, a file size limit, a full file system. Whatever
# happens, the model on disk is absent or a whole, loadable model (the last
# good one), and --resume finishes the run with the very model of a run
# that was never interrupted.
load helpers

setup_file() {
	export TRAIN=$FIXTURES/train-gray16.pam
	export ARGS="-q --threads 1 --base-filters 4 --depth 2 --epochs 30 --val-split 0 --seed 3"
	local d=$BATS_FILE_TMPDIR start
	start=$(date +%s%N)
	unet-train $ARGS --log "$d/ref.jsonl" -o "$d/ref.safetensors" <"$TRAIN"
	# the length of a whole run, in ms: the kills land anywhere in it
	export RUN_MS=$((($(date +%s%N) - start) / 1000000))
	export REF=$d/ref.safetensors REF_LOG=$d/ref.jsonl
}

teardown() {
	if mountpoint -q "$TMP/mnt" 2>/dev/null; then
		umount "$TMP/mnt"
	fi
}

# The metadata value KEY of a model file.
meta() {
	local n
	n=$(od -An -tu8 -N8 "$1" | tr -d ' ')
	tail -c +9 "$1" | head -c "$n" | jq -r ".__metadata__.$2"
}

# A model that unet-infer loads and that gives one map per sample.
assert_loadable() {
	unet-infer --quiet --threads 1 "$1" <"$TRAIN" >"$TMP/maps.pam"
	run pamfile -allimages "$TMP/maps.pam"
	assert_success
	assert_equal "$(grep -c 'Image [0-9]' <<<"$output")" \
		"$(pamfile -allimages "$TRAIN" | grep -c 'Image [0-9]')"
}

# wait_catching PID SIGNAL: wait until process PID runs unet-train and
# catches SIGNAL (or has ended). Before that, between fork and the handler,
# the signal's default action ends any program, which is not ours to test.
wait_catching() {
	local pid=$1 bit caught
	bit=$((1 << ($(kill -l "$2") - 1)))
	while [[ -e /proc/$pid ]]; do
		if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == unet-train ]]; then
			caught=$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
			(((16#${caught:-0} & bit) != 0)) && return 0
		fi
		sleep 0.001
	done
}

# kill_and_resume SIGNAL SEED: kill a run after a delay drawn from SEED,
# check what is on disk, resume, and compare with the uninterrupted run.
kill_and_resume() {
	local sig=$1 delay status m=$TMP/m.safetensors
	RANDOM=$2
	delay=$((RANDOM % (RUN_MS + 1)))
	rm -f "$TMP"/m.* "$TMP/log.jsonl"
	unet-train $ARGS --log "$TMP/log.jsonl" -o "$m" <"$TRAIN" 2>"$TMP/err" &
	local pid=$!
	if [[ $sig != KILL ]]; then
		wait_catching "$pid" "$sig"
	fi
	sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
	kill -s "$sig" "$pid" 2>/dev/null || true # it may have finished
	status=0
	wait "$pid" 2>/dev/null || status=$?
	case $sig:$status in
	*:0) ;; # finished before the signal
	INT:130 | TERM:143)
		# one line that says where the last good model is
		run cat "$TMP/err"
		assert_equal "${#lines[@]}" 1
		assert_regex "${lines[0]}" "^unet-train: interrupted; (no model was written yet|last good model \(epoch [0-9]+\) is in $m)$"
		;;
	KILL:137) ;;
	*)
		echo "SIG$sig after ${delay} ms: status $status: $(cat "$TMP/err")" >&2
		return 1
		;;
	esac
	if [[ -e $m ]]; then
		assert_loadable "$m"
		# the model is at most one epoch ahead of the checkpoint
		local me ce
		me=$(meta "$m" epoch)
		ce=$(meta "$m.ckpt" epoch 2>/dev/null || echo 0)
		((me >= 1 && me <= 30))
	fi
	# clean exits leave no temporary file; SIGKILL may (see unet-train(1))
	if [[ $sig != KILL ]]; then
		run compgen -G "$TMP/m.safetensors.??????"
		assert_failure
	fi
	if [[ ! -e $m.ckpt ]]; then
		run unet-train $ARGS --resume -o "$m" <"$TRAIN"
		assert_failure 1
		assert_output --partial "no checkpoint"
		return 0
	fi
	run unet-train $ARGS --resume --log "$TMP/log.jsonl" -o "$m" <"$TRAIN"
	assert_success
	# the same model, byte for byte, and the same epochs in the log
	cmp "$m" "$REF"
	assert_equal "$(jq -c '[.epoch, .train_loss]' "$TMP/log.jsonl")" \
		"$(jq -c '[.epoch, .train_loss]' "$REF_LOG")"
}

@test "SIGINT at random moments: the model on disk is whole, --resume finishes the run" {
	for seed in 1 2 3 4; do
		kill_and_resume INT $seed
	done
}

@test "SIGTERM at random moments: the model on disk is whole, --resume finishes the run" {
	for seed in 5 6 7 8; do
		kill_and_resume TERM $seed
	done
}

@test "SIGKILL at random moments: the model on disk is whole, --resume finishes the run" {
	for seed in 9 10 11 12 13; do
		kill_and_resume KILL $seed
	done
}

@test "a second SIGINT ends at once, the model stays whole" {
	local m=$TMP/m.safetensors
	unet-train ${ARGS/--epochs 30/--epochs 100000} -o "$m" <"$TRAIN" 2>"$TMP/err" &
	local pid=$!
	while [[ ! -e $m ]]; do sleep 0.01; done
	kill -INT "$pid"
	kill -INT "$pid"
	local status=0
	wait "$pid" || status=$?
	# either the handler saw both (killed by the second) or finished the
	# epoch after the first
	[[ $status == 130 ]]
	assert_loadable "$m"
}

@test "a file size limit (ulimit -f): the error is reported, the previous model stays" {
	local m=$TMP/m.safetensors
	unet-train $ARGS -o "$m" <"$TRAIN"
	cp "$m" "$TMP/before"
	# a wider network does not fit in 16 KiB
	run bash -c "ulimit -f 16; unet-train ${ARGS/--base-filters 4/--base-filters 16} -o '$m' <'$TRAIN'"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "File too large"
	cmp "$m" "$TMP/before"
	run compgen -G "$m.??????"
	assert_failure
	# the other writers are not killed by SIGXFSZ either
	run bash -c "ulimit -f 1; unet-infer --quiet --threads 1 '$m' <'$TRAIN' >'$TMP/maps.pam'"
	assert_failure 1
	assert_one_error_line unet-infer
	assert_output --partial "File too large"
}

@test "a full file system: the error is reported, the previous model stays" {
	local mnt=$TMP/mnt m
	mkdir "$mnt"
	mount -t tmpfs -o size=128k tmpfs "$mnt" 2>/dev/null ||
		skip "cannot mount a tmpfs here (not root, or no permission)"
	m=$mnt/m.safetensors
	run unet-train $ARGS -o "$m" <"$TRAIN"
	assert_success
	cp "$m" "$TMP/before"
	head -c 1M /dev/zero >"$mnt/filler" 2>/dev/null || true
	run unet-train $ARGS -o "$m" <"$TRAIN"
	assert_failure 1
	assert_one_error_line unet-train
	assert_output --partial "No space left on device"
	cmp "$m" "$TMP/before"
	assert_loadable "$m"
	# no temporary file left behind
	assert_equal "$(ls "$mnt")" "$(printf 'filler\nm.safetensors\nm.safetensors.ckpt')"
}

@test "a torn or corrupted checkpoint: --resume refuses with one line" {
	local m=$TMP/m.safetensors size off
	unet-train ${ARGS/--epochs 30/--epochs 3} -o "$m" <"$TRAIN"
	cp "$m.ckpt" "$TMP/good.ckpt"
	size=$(stat -c %s "$m.ckpt")
	for off in trunc-100 trunc-header 0 7 20 200; do
		cp "$TMP/good.ckpt" "$m.ckpt"
		case $off in
		trunc-100) truncate -s $((size - 100)) "$m.ckpt" ;;
		trunc-header) truncate -s 100 "$m.ckpt" ;;
		*) printf '\377' | dd of="$m.ckpt" bs=1 seek="$off" conv=notrunc status=none ;;
		esac
		run unet-train $ARGS --resume -o "$m" <"$TRAIN"
		assert_failure 1
		assert_one_error_line unet-train
	done
	# a checkpoint with a NaN weight: it used to be trained on (ReLU hides
	# the NaN from the loss) into a model that does not load
	cp "$TMP/good.ckpt" "$m.ckpt"
	printf '\377\377\377\377' | dd of="$m.ckpt" bs=1 seek=$((size - 4)) conv=notrunc status=none
	run unet-train $ARGS --resume -o "$m" <"$TRAIN"
	assert_failure 1
	assert_one_error_line unet-train
}

# signal_while_reading SIGNAL STATUS ARGS...: unet-train waits for samples
# that do not come yet (a pipe whose writer sleeps 30 s); SIGNAL, once
# caught, ends it within 2 s with the one line, no file left but its input.
signal_while_reading() {
	local sig=$1 want=$2 pid feeder start ms
	shift 2
	mkfifo "$TMP/in"
	sleep 30 >"$TMP/in" 3>&- &
	feeder=$!
	unet-train "$@" <"$TMP/in" 2>"$TMP/err" 3>&- &
	pid=$!
	wait_catching "$pid" "$sig"
	# give it time to block in its read
	sleep 0.2
	start=$(date +%s%N)
	kill -s "$sig" "$pid"
	status=0
	wait "$pid" || status=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	kill "$feeder" 2>/dev/null || true
	wait "$feeder" 2>/dev/null || true
	rm "$TMP/in"
	echo "SIG$sig ended it in $ms ms"
	((ms < 2000))
	assert_equal "$status" "$want"
}

@test "SIGTERM or SIGINT while the samples are still coming ends the run at once" {
	local m=$TMP/m.safetensors
	signal_while_reading TERM 143 $ARGS -o "$m"
	run cat "$TMP/err"
	assert_output "unet-train: interrupted; no model was written yet"
	assert_equal "$(ls -A "$TMP")" err
	signal_while_reading INT 130 $ARGS --log "$TMP/log.jsonl" -o "$m"
	run cat "$TMP/err"
	assert_output "unet-train: interrupted; no model was written yet"
	assert_equal "$(ls -A "$TMP")" err
	# with --resume: the model and log of the interrupted run stay as they
	# were, and the message names that model
	unet-train ${ARGS/--epochs 30/--epochs 2} --log "$TMP/log.jsonl" -o "$m" <"$TRAIN"
	cp "$m" "$TMP/model.prev"
	cp "$m.ckpt" "$TMP/ckpt.prev"
	cp "$TMP/log.jsonl" "$TMP/log.prev"
	signal_while_reading TERM 143 $ARGS --resume --log "$TMP/log.jsonl" -o "$m"
	run cat "$TMP/err"
	assert_output "unet-train: interrupted; last good model (epoch 2) is in $m"
	cmp "$m" "$TMP/model.prev"
	cmp "$m.ckpt" "$TMP/ckpt.prev"
	cmp "$TMP/log.jsonl" "$TMP/log.prev"
	assert_equal "$(cd "$TMP" && ls -A | sort | tr '\n' ' ')" \
		"ckpt.prev err log.jsonl log.prev m.safetensors m.safetensors.ckpt model.prev "
}
