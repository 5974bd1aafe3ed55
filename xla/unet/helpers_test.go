package unet

import "github.com/covidxray/opacity/xla/internal/xlatest"

// goBackend and assertClose are the shared test helpers.
var (
	goBackend   = xlatest.GoBackend
	assertClose = xlatest.AssertClose
)
