module github.com/deepidv/deepidv-rs/examples/go

go 1.19
