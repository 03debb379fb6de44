package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/tierflow/tierflow/lake/storage"
	"github.com/tierflow/tierflow/lake/storage/file"
)

// A lake on local disk: write two objects, list a prefix, read one back and
// ask for one that is not there.
func Example() {
	dir, err := os.MkdirTemp("", "lake-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	st, err := file.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()

	for key, body := range map[string]string{
		"raw/month=2020-03/part-0.csv": "id,name\n1,ann\n",
		"raw/month=2020-04/part-0.csv": "id,name\n2,bob\n3,cy\n",
	} {
		if err := storage.Put(ctx, st, key, strings.NewReader(body), storage.PutOptions{}); err != nil {
			log.Fatal(err)
		}
	}

	err = st.List(ctx, "raw/", func(o storage.Object) error {
		fmt.Println(o.Key, o.Size)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	rc, err := st.Open(ctx, "raw/month=2020-03/part-0.csv")
	if err != nil {
		log.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", body)

	_, err = st.Stat(ctx, "raw/month=2020-05/part-0.csv")
	fmt.Println(errors.Is(err, storage.ErrNotExist))
	// Output:
	// raw/month=2020-03/part-0.csv 14
	// raw/month=2020-04/part-0.csv 19
	// "id,name\n1,ann\n"
	// true
}

func ExampleParseURI() {
	for _, uri := range []string{"file:///srv/lake/", "file://./lake", "s3://bucket/prefix", "lake"} {
		scheme, root, err := storage.ParseURI(uri)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(scheme, root)
	}
	// Output:
	// file /srv/lake
	// file ./lake
	// s3 bucket/prefix
	// parse "lake": storage: invalid lake URI: want scheme://root
}
