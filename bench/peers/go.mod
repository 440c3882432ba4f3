module github.com/go-elb/elb/bench/peers

go 1.26.0

replace github.com/go-elb/elb => ../..

require (
	github.com/bufbuild/httplb v0.4.1
	github.com/buraksezer/consistent v0.10.0
	github.com/go-elb/elb v0.0.0
	github.com/go-kratos/kratos/v2 v2.8.3
	github.com/mroth/weightedrand/v2 v2.1.0
	github.com/smallnest/weighted v0.0.0-20230419055410-36b780e40a7a
)

require (
	golang.org/x/exp v0.0.0-20200119233911-0405dc783f0a // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	google.golang.org/grpc v1.85.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
