package datasets

// Labelme is a labelme (4.x) annotation file as stored on disk. Unknown
// fields are ignored on reading.
type Labelme struct {
	Version     string         `json:"version"`
	Flags       map[string]any `json:"flags"`
	Shapes      []Shape        `json:"shapes"`
	ImagePath   string         `json:"imagePath"`
	ImageData   *string        `json:"imageData"`             // base64 JPEG or PNG; null when the image is not embedded
	ImageHeight int            `json:"imageHeight,omitempty"` // 0 when absent
	ImageWidth  int            `json:"imageWidth,omitempty"`  // 0 when absent
}

// Shape is one labelled shape of a labelme file. Points are (x, y) in pixel
// coordinates of the image, x to the right, y down; the centre of pixel
// (i, j) is at (i+0.5, j+0.5).
type Shape struct {
	Label     string         `json:"label"`
	Points    [][2]float64   `json:"points"`
	GroupID   *int           `json:"group_id"`
	ShapeType string         `json:"shape_type"`
	Flags     map[string]any `json:"flags"`
}
