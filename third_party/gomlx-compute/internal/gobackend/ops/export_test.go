package ops

// SliceConcatMinChunk lets the external tests split every fused
// Concatenate between idle cores (patch 7).
var SliceConcatMinChunk = &sliceConcatMinChunk
