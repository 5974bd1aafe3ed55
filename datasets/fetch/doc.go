// Package fetch downloads the real data into the data layout that package
// datasets reads (opacity data fetch): Run takes each file from its source
// repository (pinned commits where the source moves), checks it against the
// git blob SHA-1 of the listing and checks that it parses before writing it
// atomically, resumes an interrupted run, and reports what is missing
// (fetch.go). The covid-qu-ex part selects the infection-segmentation images,
// writes index.csv, near-duplicates.csv and removed-overlap.csv, and drops
// the X-rays that are also in cohen or cxr-seg (quex.go); the image
// similarity behind both — 32x32 thumbnails compared by normalised
// cross-correlation — is similar.go.
package fetch
