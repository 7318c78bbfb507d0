module residency.local/mongosh-ping

go 1.21
