// Package atomicfile writes files so that a reader sees either the old file
// or the complete new one, never a partial write: WriteFile (bytes), Write
// (content streamed by a function) and WriteJSON (indented JSON). Each writes
// a temporary file ".NAME.tmp-*" in the same folder, syncs it, sets its mode
// and renames it over the target. Every package of the project that writes a
// result, a cohort or a checkpoint uses it.
package atomicfile
