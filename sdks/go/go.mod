module github.com/example-sms/verify-go

go 1.19
