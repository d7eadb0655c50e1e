package main

// The bucket drivers `verify --bucket` opens URLs with: file://, s3://,
// gs:// and azblob://.
import (
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)
