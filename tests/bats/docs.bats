#!/usr/bin/env bats
# The documentation: every program has a lint-clean man page that names
# every option of its --help, and make install puts both in place.

load helpers

programs() {
	for f in "$ROOT"/filters/*.c; do basename "$f" .c; done
	for f in "$ROOT"/pipelines/*; do basename "$f"; done
}

@test "every man page is clean under mandoc -T lint -W warning" {
	run mandoc -T lint -W warning "$ROOT"/man/*.[157]
	assert_success
	assert_output ""
}

@test "no document names a folder of the machine it was written on" {
	shopt -s nullglob
	run grep -nE '(/work|/home|/root)/' "$ROOT"/*.md "$ROOT"/*/*.md \
		"$ROOT"/*/*/*.md "$ROOT"/man/*.[157]
	assert_failure 1
	assert_output ""
}

@test "every program has a man page naming each option of its --help" {
	for p in $(programs); do
		[ -f "$ROOT/man/$p.1" ] || fail "no man page for $p"
		page=$(mandoc -T utf8 "$ROOT/man/$p.1" | col -b)
		for opt in $("$p" --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
			grep -q -- "$opt" <<<"$page" || fail "$p: $opt is not in $p(1)"
		done
	done
}

@test "every program answers --help on stdout with exit 0" {
	for p in $(programs); do
		run "$p" --help
		assert_success
		assert_line --index 0 --regexp "^usage: $p "
	done
}

@test "make install puts programs and pages under DESTDIR and PREFIX" {
	run make -C "$ROOT" -s install DESTDIR="$TMP/root" PREFIX=/opt/u
	assert_success
	for p in $(programs); do
		[ -x "$TMP/root/opt/u/bin/$p" ] || fail "$p not installed"
		[ -f "$TMP/root/opt/u/share/man/man1/$p.1" ] || fail "$p.1 not installed"
	done
	[ -f "$TMP/root/opt/u/share/man/man5/unetpipe-formats.5" ]
	[ -f "$TMP/root/opt/u/share/man/man7/unetpipe.7" ]
}
