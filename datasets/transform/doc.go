// Package transform turns a sample of package datasets into a model input
// and back: Prepare and PrepareBox frame it (crop to the lung fields with a
// margin, CropBox, or keep the whole image: the Framing, which FramingFor
// picks from a model's targets, framing.go) and resize it to Size x Size,
// bilinear for the image and nearest for the masks; ResizeProb maps a
// predicted probability map back to the image's grid (preprocess.go).
//
// The paper's augmentation — flip, crop, affine and perspective as one
// projective map, then brightness/contrast, blur or sharpen and noise on the
// image only — is drawn once per image (DrawAugment, AugmentPlan) and applied
// to the image and its masks alike (augment.go).
package transform
