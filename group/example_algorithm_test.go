package group_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/group"
)

// An algorithm with options, in Config.Algorithm: the name and its options
// in JSON. A mistake is an *elb.ConfigError naming the path from Config.
func ExampleConfig_algorithmOptions() {
	g, err := group.New(group.Config{
		Name:      "orders",
		Algorithm: `{"peak_ewma": {"choiceCount": 3, "decay": "5s", "failurePenalty": "500ms"}}`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close(context.Background())
	fmt.Println(g.Algorithm())

	_, err = group.New(group.Config{Name: "orders", Algorithm: `{"least_request": {"choiceCount": 1}}`})
	var ce *elb.ConfigError
	fmt.Println(errors.Is(err, elb.ErrInvalidConfig), errors.As(err, &ce), ce.Field)
	fmt.Println(err)
	// Output:
	// peak_ewma
	// true true Algorithm.least_request.choiceCount
	// elb: group "orders": Algorithm.least_request.choiceCount: 1 must be 2-10
}
