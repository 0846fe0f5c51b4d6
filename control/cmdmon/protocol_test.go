package cmdmon

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestLengthsAsChrony compares RequestLen and the lengths of the replies
// ntpbox sends with chrony's pktlength.c, compiled with candm.h
// (testdata/pktlength.txt).
func TestLengthsAsChrony(t *testing.T) {
	f, err := os.Open("testdata/pktlength.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	replies := map[int]int{}
	requests := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] == "#" {
			continue
		}
		if fields[0] == "R" {
			typ, _ := strconv.Atoi(fields[1])
			n, _ := strconv.Atoi(fields[2])
			replies[typ] = n
			continue
		}
		cmd, _ := strconv.Atoi(fields[0])
		want, _ := strconv.Atoi(fields[1])
		if got := RequestLen(cmd); got != want {
			t.Errorf("RequestLen(%d) = %d, want %d", cmd, got, want)
		}
		requests++
	}
	if requests != numRequestTypes {
		t.Errorf("%d request types in the file, want %d", requests, numRequestTypes)
	}
	// The reply types ntpbox sends, with the data length it gives them.
	for typ, n := range map[int]int{
		rpyNull: 0, rpyNSources: 4, rpySourceData: 48, rpyTracking: 76, rpySourceStats: 56,
		rpyActivity: 20, rpyNTPData: 124, rpyManualList2: 388, rpyNTPSourceName: 256,
		rpyClientAccessesByIndex3: 492, rpyServerStats3: 44,
	} {
		if got, want := replyLen(n), replies[typ]; got != want {
			t.Errorf("reply type %d: %d bytes, chrony expects %d", typ, got, want)
		}
	}
	if got := replies[rpyClientAccessesByIndex3]; got != MaxReplyLen {
		t.Errorf("MaxReplyLen = %d, want %d", MaxReplyLen, got)
	}
	for cmd := range numRequestTypes {
		if RequestLen(cmd) > MaxRequestLen {
			t.Errorf("RequestLen(%d) = %d > MaxRequestLen %d", cmd, RequestLen(cmd), MaxRequestLen)
		}
	}
}
