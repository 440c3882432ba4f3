module github.com/go-elb/elb/bench/taillab

go 1.26.0

require github.com/go-elb/elb v0.0.0

require (
	golang.org/x/sync v0.24.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/go-elb/elb => ../..
