package group_test

import (
	"context"
	"fmt"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
)

func init() {
	if err := balancer.Register("primary_backup", primaryBackup{}); err != nil {
		panic(err)
	}
}

// primaryBackup is a user-defined algorithm: every request goes to the
// first endpoint that takes requests, the next one only when it cannot.
type primaryBackup struct{}

func (primaryBackup) Build(eps []balancer.Endpoint) balancer.Picker { return first{} }

type first struct{}

func (first) Pick(balancer.Request) int { return 0 }

// A user-defined algorithm, registered by name, is selected like a
// built-in: here an active/standby policy.
func Example_customAlgorithm() {
	g, err := group.New(group.Config{Name: "db", Algorithm: "primary_backup"})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	_ = g.Add(group.Backend{ID: "primary", Addr: "10.0.0.1:5432"}, group.Backend{ID: "standby", Addr: "10.0.0.2:5432"})

	pick := func() string {
		p, err := g.Pick(context.Background(), group.Request{})
		if err != nil {
			return err.Error()
		}
		defer p.Done(nil)
		return p.ID()
	}
	fmt.Println(pick())
	_ = g.Update(group.Backend{ID: "primary", Addr: "10.0.0.1:5432", Weight: group.Weight(0)})
	fmt.Println(pick())
	// Output:
	// primary
	// standby
}
