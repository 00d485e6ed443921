module github.com/deepidv/deepidv-rs/examples/go

go 1.19

require github.com/deepidv/deepidv-rs/go v0.0.0

// In this repository the example uses the module next to it; outside, drop this line and `go get` it.
replace github.com/deepidv/deepidv-rs/go => ../../go
