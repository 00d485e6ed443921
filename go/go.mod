module github.com/deepidv/deepidv-rs/go

go 1.19
