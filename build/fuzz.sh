#!/bin/bash
# Coverage-guided fuzzing of each PKG:FuzzName given as an argument, for
# FUZZTIME each. Called by `make fuzz`.
#
# A run that finds a crasher fails at once: go test writes the input to
# PKG/testdata/fuzz/FuzzName/, to be committed as a regression seed.
#
# Go 1.26's fuzz coordinator has a shutdown race (golang/go#75804, fixed
# in Go 1.27): when -fuzztime runs out on a busy machine it can report a
# bare "context deadline exceeded" failure with no input behind it. Such
# a run -- nonzero exit, that message, and no new file under testdata --
# is run again, up to twice; three in a row fail the target.
set -u
FUZZTIME=${FUZZTIME:-60s}
GO=${GO:-go}
failed=0
for t in "$@"; do
	pkg=${t%%:*} name=${t#*:}
	dir="$pkg/testdata/fuzz/$name"
	for attempt in 1 2 3; do
		[ "$attempt" = 1 ] && echo "fuzz $name in $pkg for $FUZZTIME" || echo "fuzz $name in $pkg for $FUZZTIME, again (attempt $attempt)"
		before=$(ls "$dir" 2>/dev/null | sort)
		out=$(mktemp)
		$GO test -run XXX -fuzz "^$name\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
		after=$(ls "$dir" 2>/dev/null | sort)
		if [ "$rc" = 0 ]; then rm -f "$out"; break; fi
		if [ "$before" = "$after" ] && grep -q '^    context deadline exceeded$' "$out" &&
			! grep -q -e 'Failing input written' -e '^panic:' -e 'fuzzing process hung' "$out"; then
			echo "fuzz $name: the Go 1.26 fuzz coordinator's deadline race (golang/go#75804), no input behind it"
			rm -f "$out"
			if [ "$attempt" = 3 ]; then echo "fuzz $name: the race three times in a row"; failed=1; fi
			continue
		fi
		rm -f "$out"
		echo "fuzz $name in $pkg FAILED (exit $rc); a new input is in $dir:" $(comm -13 <(echo "$before") <(echo "$after"))
		failed=1
		break
	done
done
exit $failed
