package unet_test

import (
	"context"
	"fmt"
	"image"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/xla/unet"
)

// ExampleTrain trains the tiny variant of the model for one epoch on four
// 64x64 images (two with a bright "opacity" square) and prints the metrics
// rows it evaluated.
func ExampleTrain() {
	var set []*transform.Prepared
	for i := 0; i < 4; i++ {
		img := image.NewGray(image.Rect(0, 0, 64, 64))
		op, lung := mask.New(64, 64), mask.New(64, 64)
		for y := 0; y < 64; y++ {
			for x := 0; x < 64; x++ {
				img.Pix[y*64+x] = 50
				lung.Set(x, y, true)
				if i%2 == 1 && x >= 20 && x < 40 && y >= 20 && y < 40 {
					img.Pix[y*64+x] = 200
					op.Set(x, y, true)
				}
			}
		}
		set = append(set, &transform.Prepared{Stem: fmt.Sprint("img", i), Patient: fmt.Sprint("p", i),
			Size: 64, Image: img, Masks: map[string]*mask.Mask{datasets.TargetLungs: lung, datasets.TargetOpacity: op}})
	}
	cfg := unet.DefaultTrainConfig()
	cfg.Model = unet.TinyConfig()
	cfg.Size, cfg.Epochs, cfg.Batch = 64, 1, 2
	cfg.Augment = transform.NoAugment()
	cfg.Backend = "go"
	res, err := unet.Train(context.Background(), cfg, set[:2], set[2:])
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Records {
		fmt.Println(r.Epoch, r.Split, r.Target, r.Loss > 0, r.IoUPerImage >= 0 && r.IoUPerImage <= 1)
	}
	// Output:
	// 1 train opacity true true
	// 1 test opacity true true
}
