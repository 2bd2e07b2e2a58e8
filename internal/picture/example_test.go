package picture_test

import (
	"fmt"
	"image"
	"image/color"

	"github.com/hilo-hpc/hilo/internal/picture"
)

// A framed box with a label above it.
func Example() {
	img := image.NewRGBA(image.Rect(0, 0, 80, 40))
	ink := color.RGBA{20, 20, 20, 255}
	picture.Text(img, 2, 0, "Ez", ink)
	picture.Frame(img, image.Rect(10, 20, 30, 30), ink)
	fmt.Println(picture.TextWidth("Ez"), img.RGBAAt(9, 19) == ink, img.RGBAAt(10, 20) == ink)
	// Output: 14 true false
}
