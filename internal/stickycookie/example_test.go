package stickycookie_test

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-elb/elb/internal/stickycookie"
)

func Example() {
	key := bytes.Repeat([]byte("k"), 32) // use 32 random bytes, kept secret
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	codec, err := stickycookie.NewCodec(stickycookie.CookieConfig{
		Keys: [][]byte{key},
		TTL:  30 * time.Minute,
		Now:  func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}

	// The group maps each member's tokens to the member.
	members := map[stickycookie.Token]string{}
	for _, addr := range []string{"10.0.1.5:8080", "10.0.2.7:8080"} {
		for _, t := range codec.Tokens(addr) {
			members[t] = addr
		}
	}

	// After picking a backend, set the cookie.
	value := codec.Encode("10.0.2.7:8080")
	fmt.Println(len(value), strings.Contains(value, "10.0"))

	// On the next request, read it back.
	if t, ok := codec.Decode(value); ok {
		fmt.Println("bound to", members[t])
	}

	// A changed, expired or foreign cookie is ignored: balance normally.
	_, ok := codec.Decode("x" + value[1:])
	fmt.Println("tampered:", ok)
	now = now.Add(time.Hour)
	_, ok = codec.Decode(value)
	fmt.Println("expired:", ok)
	// Output:
	// 55 false
	// bound to 10.0.2.7:8080
	// tampered: false
	// expired: false
}
