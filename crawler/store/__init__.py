"""What the archive keeps on disk: atomic files, the text store, the manifest."""
