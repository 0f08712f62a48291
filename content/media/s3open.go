package media

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// FilePath tells whether a media URL names a file store, and its directory.
func FilePath(rawURL string) (path string, ok bool, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", false, fmt.Errorf("media URL %q: %v", rawURL, err)
	}
	if u.Scheme != "file" {
		return "", false, nil
	}
	path = u.Path
	if u.Host != "" {
		// file://relative/dir reads as host "relative".
		path = u.Host + u.Path
	}
	if path == "" {
		return "", false, fmt.Errorf("media URL %q: a file:// URL needs a path", rawURL)
	}
	return path, true, nil
}

// OpenStore opens the media store a URL names:
//
//	file://PATH
//	s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true
//
// An S3 store takes its credentials from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN if set), read through
// getenv; without endpoint it is AWS S3. The URL holds no secret, so it may
// be logged.
func OpenStore(ctx context.Context, rawURL string, getenv func(string) string) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("media URL %q: %v", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		path, _, err := FilePath(rawURL)
		if err != nil {
			return nil, err
		}
		return NewFSStore(path)
	case "s3":
		return openS3(ctx, u, getenv)
	}
	return nil, fmt.Errorf("media URL %q: the scheme must be file:// or s3://", rawURL)
}

func openS3(ctx context.Context, u *url.URL, getenv func(string) string) (*S3Store, error) {
	bucket := u.Host
	if bucket == "" {
		return nil, errors.New("media URL: an s3:// URL needs a bucket: s3://BUCKET/PREFIX")
	}
	if u.User != nil {
		return nil, errors.New("media URL: put the S3 credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL")
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "path_style":
		default:
			return nil, fmt.Errorf("media URL: unknown parameter %q (known: endpoint, region, path_style)", k)
		}
	}
	host, secure := "s3.amazonaws.com", true
	if e := q.Get("endpoint"); e != "" {
		eu, err := url.Parse(e)
		if err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" || strings.Trim(eu.Path, "/") != "" {
			return nil, fmt.Errorf("media URL: endpoint %q must be an http:// or https:// URL without a path", e)
		}
		host, secure = eu.Host, eu.Scheme == "https"
	}
	lookup := minio.BucketLookupAuto
	if v := q.Get("path_style"); v != "" {
		ps, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("media URL: path_style %q must be true or false", v)
		}
		if ps {
			lookup = minio.BucketLookupPath
		} else {
			lookup = minio.BucketLookupDNS
		}
	}
	key, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return nil, errors.New("media URL: an s3:// store needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
	}
	client, err := minio.New(host, &minio.Options{
		Creds:        credentials.NewStaticV4(key, secret, getenv("AWS_SESSION_TOKEN")),
		Secure:       secure,
		Region:       q.Get("region"),
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, fmt.Errorf("media URL: %w", err)
	}
	return NewS3Store(ctx, client, bucket, strings.TrimPrefix(u.Path, "/"))
}
