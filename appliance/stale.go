package appliance

// staleRemover is a [System] that can remove the temporary files a write
// cut short by a power cut left ([Linux] can).
type staleRemover interface {
	RemoveStale(dir string) (removed []string, err error)
}

// removeStale removes those files from the persistent partition, and
// logs each.
func (in *Init) removeStale(perm bool) {
	r, ok := in.Sys.(staleRemover)
	if !perm || !ok {
		return
	}
	removed, err := r.RemoveStale(PermDir)
	for _, p := range removed {
		in.Log.Info("removed a temporary file a power cut left", "file", p)
	}
	if err != nil {
		in.Log.Error("remove stale temporary files", "dir", PermDir, "err", err)
	}
}
